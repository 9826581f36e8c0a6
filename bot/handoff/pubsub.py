"""Live events, fanned out: the queue to every console, a conversation to whoever watches it.

One small interface, `Hub`: publish(topic, event) from any thread, and subscribe(topic) in the event loop.
In process for one gateway (InProcessHub). With several gateways the same interface sits on PostgreSQL
LISTEN/NOTIFY or Redis pub/sub; nothing outside this module knows which.

Topics: QUEUE_TOPIC (queue changes, for every console), console_topic(id) (every turn and move of one
conversation, for operators), citizen_topic(id) (what is delivered to the citizen's web page).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

logger = logging.getLogger(__name__)

QUEUE_TOPIC = "queue"
#: A subscriber that falls this far behind loses the oldest events (it resynchronises from the REST API).
MAX_BACKLOG = 1000


def console_topic(conversation_id: str) -> str:
    return f"console:{conversation_id}"


def citizen_topic(conversation_id: str) -> str:
    return f"citizen:{conversation_id}"


Event = dict[str, Any]


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def get(self) -> Event: ...


class Hub(Protocol):
    def publish(self, topic: str, event: Event) -> None:
        """Deliver `event` to the topic's subscribers; never blocks, callable from any thread."""

    def subscribe(self, topic: str) -> Any:
        """An async context manager yielding a Subscription to `topic`."""

    def subscribers(self, topic: str) -> int: ...


class NullHub:
    """No one listens: for the CLI, the action server and tests of the desk alone."""

    def publish(self, topic: str, event: Event) -> None:
        return None

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        raise RuntimeError("NullHub has no subscribers")
        yield  # pragma: no cover

    def subscribers(self, topic: str) -> int:
        return 0


class _Queue:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue(MAX_BACKLOG)

    def put(self, event: Event) -> None:  # runs in the subscriber's loop
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class InProcessHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: defaultdict[str, list[_Queue]] = defaultdict(list)

    def publish(self, topic: str, event: Event) -> None:
        with self._lock:
            queues = list(self._topics.get(topic, ()))
        for queue in queues:
            try:
                queue.loop.call_soon_threadsafe(queue.put, event)
            except RuntimeError:  # that loop has closed; its subscriber is gone
                logger.debug("dropped an event for a closed loop")

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        queue = _Queue(asyncio.get_running_loop())
        with self._lock:
            self._topics[topic].append(queue)
        try:
            yield queue
        finally:
            with self._lock:
                self._topics[topic].remove(queue)
                if not self._topics[topic]:
                    del self._topics[topic]

    def subscribers(self, topic: str) -> int:
        with self._lock:
            return len(self._topics.get(topic, ()))
