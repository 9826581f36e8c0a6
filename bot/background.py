"""The gateway's background work (webhooks, the retention purge): a blocking job run every so often in a worker
thread while the gateway serves, stopped cleanly when it shuts down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


async def off_loop(function: Callable[..., T], *args: Any) -> T:
    """A blocking call (a store, a client) in a worker thread: the event loop keeps serving others meanwhile."""
    return await asyncio.to_thread(function, *args)


async def run_every(
    interval_s: float,
    work: Callable[[], T],
    *,
    what: str,
    stop: Callable[[], None],
    done: Callable[[T], None] | None = None,
) -> None:
    """Run `work` every `interval_s` seconds, the first time at once, until cancelled; `done` gets each result.

    A failed round (the database away) is logged and tried again next time. `work` blocks (engines, clients), so
    it runs in a worker thread, which cancellation cannot interrupt: `stop` asks it to finish early, and the
    round in flight is awaited before the cancellation goes on.
    """
    while True:
        round_in_flight = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            result = await asyncio.shield(round_in_flight)
        except asyncio.CancelledError:
            stop()
            with suppress(Exception):
                await round_in_flight
            raise
        except Exception as error:
            # The type only: a database error's text quotes the statement's parameters, i.e. citizens' text.
            logger.error("%s failed (%s); next try in %.0f s", what, type(error).__name__, interval_s)
        else:
            if done is not None:
                done(result)
        await asyncio.sleep(interval_s)


@asynccontextmanager
async def in_background(
    start: Callable[[], Coroutine[Any, Any, None]], *, name: str, close: Callable[[], None]
) -> AsyncIterator[None]:
    """Run the coroutine `start()` makes for the duration of the block; cancel it, wait for it, then `close()`."""
    task = asyncio.create_task(start(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        close()
