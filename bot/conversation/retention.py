"""Retention (保存期限): after HOTLINE_RETENTION_DAYS (180 by default), conversation text is anonymised and the
statistics stay.

What stays: every row of Rasa's tracker `events` table, with its type, time, intent and action name (the columns
and the JSON), the channel, and the values of the slots that are facts (bot.redaction.STATISTICS_SLOTS). So
conversations, turns, intents and handoffs per day still count, and Rasa still reads the old trackers. What goes:
what the citizen and the bot said, entities, the other slots' values, other metadata (bot.redaction's
`anonymise_event`). Held messages keep their row (when, for whom) and lose their text. Tickets are not
conversation text: the ticket store keeps them under its own rules.

Tracker events are visited in id order, from a watermark kept in the tracker database itself (a table of ours,
`hotline_retention`, next to Rasa's): every event up to it is anonymised, so a daily run reads only the day's
new old rows, not the whole table again. The scan stops at the first event not yet old enough; ids follow time
closely (a turn's events are written when it ends), so an event a few seconds older behind it waits a day.
Batches are short transactions: Rasa, writing the same file, never waits long.

`hotline privacy purge --older-than 180d` runs it once; the gateway runs it daily (HOTLINE_PURGE_INTERVAL_S).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from bot.background import in_background, run_every
from bot.channels.followups import FollowupStore
from bot.conversation.transcript import TranscriptStore
from bot.database import SQLITE_BUSY_TIMEOUT_SECONDS, create_ticket_engine, upgrade_schema
from bot.handoff.desk import HandoffDesk
from bot.redaction import anonymise_event
from bot.tickets.numbering import CHINA_TZ

logger = logging.getLogger(__name__)

_tracker_tables = MetaData()
#: Rasa's SQLTrackerStore table (rasa/core/tracker_store.py, SQLEvent): the columns the purge reads and writes.
RASA_EVENTS = Table(
    "events",
    _tracker_tables,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("data", Text),
)
#: Ours, in the tracker database: one row, the id up to which every event is anonymised.
WATERMARK = Table(
    "hotline_retention",
    _tracker_tables,
    Column("id", Integer, primary_key=True),
    Column("anonymised_through", Integer, nullable=False),
)
_BATCH = 500


@dataclass(frozen=True)
class PurgeReport:
    """What one purge did."""

    cutoff: datetime  # text from before this moment is gone
    tracker_events: int  # events anonymised in this run
    held_messages: int  # held messages whose text was cleared
    tracker_database: bool  # False: there is no tracker database (Rasa never ran), nothing to do there
    complete: bool = True  # False: stopped early (the gateway shutting down); the next run goes on
    transcript_turns: int = 0  # transcript turns whose text was cleared
    channel_followups: int = 0  # replies kept for "更多" (phone, SMS) whose text was cleared


class ConversationRetention:
    """Anonymises conversation text older than a cutoff in the ticket database (held messages) and Rasa's
    tracker database. Safe to run in several processes at once: anonymising is idempotent."""

    def __init__(
        self,
        engine: Engine,
        tracker_database_url: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        batch_size: int = _BATCH,
    ) -> None:
        """`engine`'s schema must be at head (bot.database.upgrade_schema)."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._ownership = HandoffDesk(engine)
        self._transcript = TranscriptStore(engine)
        self._followups = FollowupStore(engine)
        self._tracker_url = make_url(tracker_database_url)
        self._tracker: Engine | None = None
        self._clock = clock
        self._batch_size = batch_size
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Finish the batch in flight, then stop: the watermark keeps what was done."""
        self._stopping.set()

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.dispose()

    def purge(self, older_than: timedelta) -> PurgeReport:
        if older_than < timedelta(days=1):
            raise ValueError("the retention period is at least one day: a conversation in progress keeps its text")
        cutoff = self._clock() - older_than
        held = self._ownership.clear_held_before(cutoff)
        turns = self._transcript.clear_before(cutoff)
        followups = self._followups.clear_before(cutoff)
        tracker = self._tracker_engine()
        events, complete = (0, True) if tracker is None else self._anonymise_events(tracker, cutoff.timestamp())
        done = complete and not self._stopping.is_set()
        return PurgeReport(
            cutoff, events, held, tracker is not None, done, transcript_turns=turns, channel_followups=followups
        )

    # --- the tracker database ---------------------------------------------------------------------------------

    def _tracker_engine(self) -> Engine | None:
        """The tracker database, or None while there is none: a purge never creates Rasa's database."""
        if self._tracker is not None:
            return self._tracker
        url = self._tracker_url
        if url.get_backend_name() == "sqlite":
            if not url.database or not Path(url.database).is_file():
                return None
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            event.listen(engine, "connect", _manual_transactions)
            event.listen(engine, "begin", _begin_immediate)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        with engine.connect() as connection:
            if not engine.dialect.has_table(connection, RASA_EVENTS.name):
                engine.dispose()
                return None
        _create_watermark(engine)
        self._tracker = engine
        return engine

    def _anonymise_events(self, engine: Engine, cutoff: float) -> tuple[int, bool]:
        """Anonymise events older than `cutoff` (Unix seconds) past the watermark; (how many, whether done)."""
        anonymised = 0
        while not self._stopping.is_set():
            with engine.begin() as connection:
                after = _watermark(connection)
                rows = connection.execute(
                    select(RASA_EVENTS.c.id, RASA_EVENTS.c.type_name, RASA_EVENTS.c.timestamp, RASA_EVENTS.c.data)
                    .where(RASA_EVENTS.c.id > after)
                    .order_by(RASA_EVENTS.c.id)
                    .limit(self._batch_size)
                ).all()
                through, reached_recent = after, False
                for row in rows:
                    if row.timestamp is not None and row.timestamp >= cutoff:
                        reached_recent = True
                        break
                    data = _anonymous_data(row)
                    if data != row.data:
                        connection.execute(update(RASA_EVENTS).where(RASA_EVENTS.c.id == row.id).values(data=data))
                        anonymised += 1
                    through = row.id
                if through != after:
                    connection.execute(
                        update(WATERMARK)
                        .where(WATERMARK.c.id == 1, WATERMARK.c.anonymised_through < through)
                        .values(anonymised_through=through)
                    )
            if reached_recent or len(rows) < self._batch_size:
                return anonymised, True
        return anonymised, False


def _anonymous_data(row: Any) -> str:
    try:
        stored = json.loads(row.data)
    except (TypeError, ValueError):
        stored = None
    if not isinstance(stored, dict):
        # Unreadable, so it cannot be shown to hold no text: what statistics need is in the columns anyway.
        return json.dumps({"event": row.type_name, "timestamp": row.timestamp})
    anonymous = anonymise_event(stored)
    return row.data if anonymous == stored else json.dumps(anonymous)


def _watermark(connection: Connection) -> int:
    return int(connection.scalar(select(WATERMARK.c.anonymised_through).where(WATERMARK.c.id == 1)) or 0)


def _create_watermark(engine: Engine) -> None:
    WATERMARK.create(engine, checkfirst=True)
    with engine.begin() as connection:
        if connection.scalar(select(WATERMARK.c.id).where(WATERMARK.c.id == 1)) is not None:
            return
    try:
        with engine.begin() as connection:
            connection.execute(WATERMARK.insert().values(id=1, anonymised_through=0))
    except IntegrityError:
        pass  # another purge made it first


def _manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN, not the sqlite3 module


def _begin_immediate(connection: Connection) -> None:
    # Each batch reads, then writes: take Rasa's file's write lock up front, so the upgrade cannot fail as busy.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- in the gateway -------------------------------------------------------------------------------------------


def purging(retention: ConversationRetention, older_than: timedelta, interval_s: float) -> AbstractAsyncContextManager:
    """Run the purge at once and then every `interval_s` seconds while the block runs; stop it cleanly after."""
    return in_background(
        lambda: run_every(
            interval_s, lambda: retention.purge(older_than), what="retention purge", stop=retention.stop, done=_log
        ),
        name="retention-purge",
        close=retention.close,
    )


def _log(report: PurgeReport) -> None:
    if report.tracker_events or report.held_messages:
        logger.info(
            "retention: %d tracker events anonymised, %d held messages cleared (before %s)",
            report.tracker_events,
            report.held_messages,
            report.cutoff.isoformat(timespec="seconds"),
        )


# --- `hotline privacy …` --------------------------------------------------------------------------------------


def parse_age(text: str) -> timedelta:
    """ "180d" (or "180"): a number of days, at least one."""
    found = re.fullmatch(r"\s*(\d+)\s*d?\s*", text)
    if found is None or int(found[1]) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of days, at least 1, e.g. 180d (got {text!r})")
    return timedelta(days=int(found[1]))


def register(commands: argparse._SubParsersAction) -> None:
    privacy = commands.add_parser("privacy", help="personal data in stored conversations (个人隐私)")
    sub = privacy.add_subparsers(dest="privacy_command", required=True)
    purge = sub.add_parser("purge", help="anonymise conversation text older than the retention period")
    purge.add_argument(
        "--older-than", type=parse_age, default=None, help="e.g. 180d (default: HOTLINE_RETENTION_DAYS, 180)"
    )
    purge.add_argument("--database-url", default=None, help="tickets and held messages (default: DATABASE_URL)")
    purge.add_argument(
        "--tracker-database-url", default=None, help="Rasa's conversations (default: var/rasa-trackers.db)"
    )
    purge.add_argument("--json", action="store_true", help="the counts as one JSON object")
    purge.set_defaults(handler=_purge)


def _purge(args: argparse.Namespace) -> int:
    from bot.settings import Settings

    settings = Settings()
    older_than = args.older_than or timedelta(days=settings.retention_days)
    engine = create_ticket_engine(args.database_url or settings.database_url)
    retention = None
    try:
        upgrade_schema(engine)
        retention = ConversationRetention(engine, args.tracker_database_url or settings.tracker_database_url)
        report = retention.purge(older_than)
    finally:
        if retention is not None:
            retention.close()
        engine.dispose()
    if args.json:
        row = {
            "cutoff": report.cutoff.isoformat(),
            "tracker_events_anonymised": report.tracker_events,
            "held_messages_cleared": report.held_messages,
            "transcript_turns_cleared": report.transcript_turns,
            "tracker_database": report.tracker_database,
        }
        print(json.dumps(row, ensure_ascii=False))
        return 0
    cutoff = report.cutoff.astimezone(CHINA_TZ).isoformat(timespec="seconds")
    print(f"conversation text from before {cutoff} ({older_than.days} days):")
    if report.tracker_database:
        print(f"  tracker events anonymised: {report.tracker_events} (text and slot values dropped;")
        print("    types, intents, actions and times kept)")
    else:
        print("  tracker events: no tracker database yet, nothing to do")
    print(f"  held messages cleared: {report.held_messages}")
    print(f"  transcript turns cleared: {report.transcript_turns}")
    return 0
