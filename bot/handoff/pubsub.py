"""Live events, fanned out: the queue to every console, a conversation to whoever watches it.

One small interface, `Hub`: publish(topic, event) from any thread, and subscribe(topic) in the event loop.
In process for one gateway (InProcessHub). With several gateways the same interface sits on PostgreSQL
LISTEN/NOTIFY or Redis pub/sub; nothing outside this module knows which.

Topics: QUEUE_TOPIC (queue changes, for every console), console_topic(id) (every turn and move of one
conversation, for operators), citizen_topic(id) (what is delivered to the citizen's web page).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
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
    def close(self) -> None:
        return None

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


#: PostgreSQL's NOTIFY payload limit is 8000 bytes; a bigger event travels as a "resync" hint instead.
_MAX_PAYLOAD = 7900


class PostgresHub:
    """Several gateways on one PostgreSQL: each publishes locally and with NOTIFY; a listener thread per gateway
    hands the other gateways' events to its local subscribers. Events are hints that something changed; a
    client that missed one resynchronises from the REST API, so NOTIFY's at-most-once delivery is enough."""

    CHANNEL = "hotline_events"

    def __init__(self, database_url: str):
        import psycopg

        self._local = InProcessHub()
        self._origin = uuid.uuid4().hex
        conninfo = _libpq_url(database_url)
        self._publisher = psycopg.connect(conninfo, autocommit=True)
        self._publisher_lock = threading.Lock()
        self._listener = psycopg.connect(conninfo, autocommit=True)
        self._listener.execute(f"LISTEN {self.CHANNEL}")
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="hotline-notify", daemon=True)
        self._thread.start()

    def publish(self, topic: str, event: Event) -> None:
        self._local.publish(topic, event)
        payload = json.dumps({"origin": self._origin, "topic": topic, "event": event}, ensure_ascii=False)
        if len(payload.encode()) > _MAX_PAYLOAD:
            payload = json.dumps({"origin": self._origin, "topic": topic, "event": {"type": "resync"}})
        try:
            with self._publisher_lock:
                self._publisher.execute("SELECT pg_notify(%s, %s)", (self.CHANNEL, payload))
        except Exception:  # the local subscribers have it; the other gateways resynchronise
            logger.exception("NOTIFY failed")

    def subscribe(self, topic: str) -> Any:
        return self._local.subscribe(topic)

    def subscribers(self, topic: str) -> int:
        return self._local.subscribers(topic)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self._publisher.close()

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                for notify in self._listener.notifies(timeout=0.5):
                    message = json.loads(notify.payload)
                    if message.get("origin") != self._origin:
                        self._local.publish(str(message["topic"]), dict(message["event"]))
            except Exception:
                if self._stopping.is_set():
                    return
                logger.exception("LISTEN failed; retrying")
                self._stopping.wait(1.0)


def _libpq_url(database_url: str) -> str:
    """SQLAlchemy's postgresql+psycopg://… as libpq's postgresql://…"""
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def open_hub(database_url: str, kind: str) -> InProcessHub | PostgresHub:
    """The hub the settings name (HOTLINE_HUB): "process" for one gateway, "postgresql" for several."""
    if kind == "postgresql":
        if not database_url.startswith("postgresql"):
            raise ValueError("HOTLINE_HUB=postgresql needs a PostgreSQL HOTLINE_DATABASE_URL")
        return PostgresHub(database_url)
    return InProcessHub()
