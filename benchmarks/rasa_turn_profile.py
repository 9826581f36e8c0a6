"""Where a Rasa turn's time goes, in process: run with .venv-rasa's Python (benchmarks/turns.py does).

Loads the model into an Agent the way `rasa run` does, points it at a running action server, and
times each step of every turn by wrapping Rasa's own methods: the tracker retrieve and save, NLU,
each policy prediction, and each custom action (Rasa's side: the tracker and domain serialised into
the call, the HTTP round trip, the returned events applied). Our input channel's second retrieve,
after the turn, is counted in the tracker retrieve. Conversations run one after another (no
concurrency), so a step's wall time is its own, not a wait for other senders; its CPU time (all
threads of the process) is what it takes from the cores, which on a shared machine is steadier than
wall time. Prints one JSON object: per tracker store, a list of turns, each a dict of
"<step> wall|cpu|calls" -> seconds or count.

    .venv-rasa/bin/python benchmarks/rasa_turn_profile.py MODEL ACTIONS_URL DIR CONVERSATIONS_JSON ROUNDS [STORES]

STORES: the names of the stores to run, as below, separated by "|" (default: all of them).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

logging.disable(logging.WARNING)

from rasa.core.actions.action import RemoteAction  # noqa: E402
from rasa.core.agent import Agent  # noqa: E402
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage  # noqa: E402
from rasa.core.processor import MessageProcessor  # noqa: E402
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore, TrackerStore  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402

sys.path.insert(0, os.getcwd())
from rasa_addons.tracker_store import CachedSQLTrackerStore  # noqa: E402

STEPS: Counter[str] = Counter()  # seconds per step, for the turn being run


def timed(step: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the step's wall time, and the CPU time of the whole process (every thread) meanwhile, to STEPS."""

    def record(wall: float, cpu: float) -> None:
        STEPS[f"{step} wall"] += time.perf_counter() - wall
        STEPS[f"{step} cpu"] += time.process_time() - cpu
        STEPS[f"{step} calls"] += 1

    if asyncio.iscoroutinefunction(method):

        @functools.wraps(method)
        async def wrapper_async(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return await method(*args, **kwargs)
            finally:
                record(wall, cpu)

        return wrapper_async

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            record(wall, cpu)

    return wrapper


def instrument(store_class: type[TrackerStore]) -> None:
    store_class.retrieve = timed("tracker retrieve", store_class.retrieve)  # type: ignore[method-assign]
    store_class.save = timed("tracker save", store_class.save)  # type: ignore[method-assign]


def instrument_rasa() -> None:
    MessageProcessor.parse_message = timed("NLU", MessageProcessor.parse_message)  # type: ignore[method-assign]
    MessageProcessor._predict_next_with_tracker = timed(  # type: ignore[method-assign]
        "policy predictions", MessageProcessor._predict_next_with_tracker
    )
    RemoteAction.run = timed("custom action (Rasa side + HTTP)", RemoteAction.run)  # type: ignore[method-assign]
    EndpointConfig.request = timed("action server HTTP round trip", EndpointConfig.request)  # type: ignore[method-assign]


async def profile(
    model: str, actions_url: str, directory: str, conversations: list[list[str]], rounds: int, only: set[str]
) -> dict:
    stores: dict[str, Callable[[], TrackerStore]] = {
        "SQLTrackerStore (current)": lambda: SQLTrackerStore(dialect="sqlite", db=os.path.join(directory, "sql.db")),
        "CachedSQLTrackerStore": lambda: CachedSQLTrackerStore(dialect="sqlite", db=os.path.join(directory, "c.db")),
        "CachedSQLTrackerStore, WAL": lambda: CachedSQLTrackerStore(
            dialect="sqlite", db=os.path.join(directory, "w.db"), sqlite_wal=True
        ),
        "InMemoryTrackerStore (no durability; floor)": lambda: InMemoryTrackerStore(domain=None),
    }
    if only:
        stores = {name: make for name, make in stores.items() if name in only}
    configure_structlog(logging.INFO)  # as `rasa run` does: without it every debug event is printed
    for cls in (SQLTrackerStore, CachedSQLTrackerStore, InMemoryTrackerStore):
        instrument(cls)
    instrument_rasa()
    endpoint = EndpointConfig(url=f"{actions_url}/webhook")
    agent = Agent(action_endpoint=endpoint)
    agent.load_model(model)
    made = {name: make() for name, make in stores.items()}
    out: dict[str, list[dict[str, float]]] = {name: [] for name in stores}

    async def turn(text: str, sender: str) -> None:
        await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
        await agent.tracker_store.retrieve(sender)  # what our input channel does after the turn

    whole_turn = timed("whole turn", turn)
    for r in range(rounds + 1):  # round 0 warms up
        for c, texts in enumerate(conversations):
            for s, (name, store) in enumerate(made.items()):  # stores interleaved: drift hits them alike
                store.domain = agent.domain
                agent.tracker_store = agent.processor.tracker_store = store
                sender = f"profile-{s}-{r}-{c}"
                for text in texts:
                    STEPS.clear()
                    await whole_turn(text, sender)
                    if r:
                        out[name].append(dict(STEPS))
    return out


def main() -> None:
    model, actions_url, directory, conversations, rounds = sys.argv[1:6]
    only = set(filter(None, sys.argv[6].split("|"))) if len(sys.argv) > 6 else set()
    result = asyncio.run(profile(model, actions_url, directory, json.loads(conversations), int(rounds), only))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
