"""Rasa's SQL tracker store with the trackers it serves kept in memory, and its SQL work off the event loop.

Rasa's SQLTrackerStore rebuilds the tracker from every event of the session on each retrieve (our
channel retrieves twice per turn), counts the stored events on each save to find the new ones, and
commits (an fsync on SQLite) inside Rasa's one event loop, so no other sender runs meanwhile. This
store keeps each tracker it served or saved in memory, appends only the events added since, and runs
every SQL statement in one writer thread: the loop serves other senders while a commit is on disk.

Durability is unchanged: `save` returns only after the commit, so a reply is never sent for a turn
whose events are not stored, and a restarted Rasa reads the conversation back from SQL on a miss.
The cache is per process, which is safe as long as each sender's turns reach one Rasa process (the
gateway pins senders to workers; the in-memory lock store relies on the same thing).

Privacy (bot/redaction.py): the turn that files a ticket (it sets `filed_ticket`) is saved together with a
rewrite of every stored event of the conversation, all sessions, in which the name, phone and story now held by
the ticket store are replaced by placeholders and phone and 身份证 numbers are blanked; later turns of that
session are stored with numbers blanked in what the citizen types.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.redaction import FILED_TICKET_SLOT, personal_values, redact_event

logger = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_MAX_CACHED = 5_000  # trackers; a session of ~50 events is ~100 kB in memory


@dataclass
class _Cached:
    tracker: DialogueStateTracker  # the very object Rasa works on: no copy, no deserialisation
    stored: int  # how many of tracker.events are in SQL


def _holds_an_earlier_session(events: list[Event]) -> bool:
    """Whether a citizen spoke before the last session start (a new conversation starts with one)."""
    starts = [i for i, event in enumerate(events) if isinstance(event, SessionStarted)]
    return bool(starts) and any(isinstance(event, UserUttered) for event in events[: starts[-1]])


class CachedSQLTrackerStore(SQLTrackerStore):
    """endpoints.yml: `type: rasa_addons.tracker_store.CachedSQLTrackerStore`, with SQLTrackerStore's keys."""

    def __init__(
        self, *args: Any, max_cached: int = DEFAULT_MAX_CACHED, sqlite_wal: bool | str = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            self._reuse_one_sqlite_connection(wal=str(sqlite_wal).lower() in ("true", "1", "yes"))
        self.max_cached = int(max_cached)
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        # One thread: statements run in the order issued, so a read always sees the writes before it.
        self._sql = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-sql")

    async def _in_sql_thread(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._sql, work)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        cached = self._cache.get(sender_id)
        if cached is not None and len(cached.tracker.events) == cached.stored:
            self._cache.move_to_end(sender_id)
            return cached.tracker
        # A miss, or a tracker with events never saved (a turn that failed half-way): SQL is the truth.
        self._cache.pop(sender_id, None)
        events = await self._in_sql_thread(lambda: self._session_events(sender_id))
        if not events or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        self._remember(tracker, stored=len(tracker.events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        cached = self._cache.get(tracker.sender_id)
        known = cached.stored if cached is not None and cached.tracker is tracker else None
        events = list(tracker.events)
        after_filing = tracker.get_slot(FILED_TICKET_SLOT) is not None
        rewritten = await self._in_sql_thread(lambda: self._append(tracker.sender_id, events, known, after_filing))
        if rewritten or _holds_an_earlier_session(events):
            # Redacted, SQL is the truth, and the tracker in memory still holds what was redacted. Or a new
            # session began: SQL now serves only that one, so the next turn reads it from there, as with
            # SQLTrackerStore, instead of carrying the earlier sessions in memory.
            self._cache.pop(tracker.sender_id, None)
            return
        self._remember(tracker, stored=len(events))

    def _remember(self, tracker: DialogueStateTracker, stored: int) -> None:
        self._cache[tracker.sender_id] = _Cached(tracker, stored)
        self._cache.move_to_end(tracker.sender_id)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)

    def _reuse_one_sqlite_connection(self, wal: bool) -> None:
        """SQLAlchemy 1.4 gives SQLite files a NullPool: a new connection, and schema read, per statement.

        Only the SQL thread touches the database, so one connection kept for it is enough. With `wal`,
        a commit is written to the WAL without waiting for the disk (synchronous=NORMAL): a restarted
        process still finds every turn, only a power cut may lose the last ones.
        """
        engine = sa.create_engine(self.engine.url, poolclass=sa.pool.SingletonThreadPool)
        if wal:

            @sa.event.listens_for(engine, "connect")
            def _wal(connection: Any, _record: Any) -> None:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")

        self.engine.dispose()
        self.engine = engine
        self.sessionmaker = sa.orm.session.sessionmaker(bind=engine)

    # --- in the SQL thread ---------------------------------------------------------------------------

    def _session_events(self, sender_id: str) -> list[dict[str, Any]]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
            return [json.loads(row.data) for row in rows]

    def _append(self, sender_id: str, events: list[Event], known: int | None, after_filing: bool) -> bool:
        """Store the events not stored yet; True if this turn filed a ticket and the conversation was redacted."""
        with self.session_scope() as session:
            # Not a tracker we handed out (a new conversation, an HTTP API edit): count, as SQLTrackerStore does.
            start = known if known is not None else self._event_query(session, sender_id, False).count()
            new = [(event, event.as_dict()) for event in events[start:]]
            rewritten = any(_files_a_ticket(data) for _, data in new)
            if rewritten:
                values = self._redact_stored(session, sender_id, [data for _, data in new])
                new = [(event, redact_event(data, values)) for event, data in new]
            elif after_filing:
                # The slots stay: a form in progress must survive a restart; its own filing redacts them.
                new = [(event, redact_event(data, {}, slot_values=False)) for event, data in new]
            for event, data in new:
                session.add(
                    self.SQLEvent(
                        sender_id=sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
            return rewritten

    def _redact_stored(self, session: sa.orm.Session, sender_id: str, new: list[dict[str, Any]]) -> dict[str, str]:
        """Rewrite the conversation's stored events, every session, with its personal values blanked; returns the
        values (from its slot events, stored and `new`)."""
        rows = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).all()
        stored = [(row, json.loads(row.data)) for row in rows]
        values = personal_values([*(data for _, data in stored), *new])
        for row, data in stored:
            redacted = redact_event(data, values)
            if redacted != data:
                row.data = json.dumps(redacted)
        return values


def _files_a_ticket(data: dict[str, Any]) -> bool:
    return data.get("event") == "slot" and data.get("name") == FILED_TICKET_SLOT and data.get("value") is not None
