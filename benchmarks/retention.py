"""The retention purge: how fast old conversation text is anonymised, and what a daily run costs once it is done.

A tracker table shaped like Rasa's SQLTrackerStore's is filled with conversations of 30 events in Rasa's JSON form
(messages with a phone number, bot replies, slots), half of them older than the retention period, in time order
as Rasa writes them. Then the purge runs three times: the first anonymises the old half, the second (the next
day's run) finds nothing past its watermark, and a third after a day's worth of new old events shows the steady
daily cost.

    .venv/bin/python benchmarks/retention.py [--conversations 4000] [--postgres URL]   (default: TEST_DATABASE_URL)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine
from sqlalchemy.engine import Engine, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import publish_report, table

from bot.conversation.retention import ConversationRetention
from bot.database import create_ticket_engine, upgrade_schema

EVENTS_PER_CONVERSATION = 30
NOW = datetime.now(UTC)


def rasa_events_table(metadata: MetaData) -> Table:
    """Rasa 3.6's `events` table (rasa/core/tracker_store.py, SQLEvent), index included."""
    return Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("sender_id", String(255), nullable=False, index=True),
        Column("type_name", String(255), nullable=False),
        Column("timestamp", Float),
        Column("intent_name", String(255)),
        Column("action_name", String(255)),
        Column("data", Text),
    )


def conversation(sender: str, start: float) -> list[dict]:
    rows = []
    for i in range(EVENTS_PER_CONVERSATION):
        at = start + i
        match i % 5:
            case 0:
                data = {"event": "user", "timestamp": at, "text": f"我电话1398765{i:04d}，医院多收费", "parse_data": {
                    "intent": {"name": "complaint", "confidence": 0.97}, "entities": [], "text": "…",
                    "message_id": uuid.uuid4().hex, "metadata": {"channel": "web"}}, "input_channel": "hotline",
                    "message_id": uuid.uuid4().hex, "metadata": {"channel": "web"}}  # fmt: skip
            case 1:
                data = {"event": "action", "timestamp": at, "name": "action_listen", "policy": None,
                        "confidence": None, "action_text": None, "hide_rule_turn": False}  # fmt: skip
            case 2:
                data = {"event": "slot", "timestamp": at, "name": "description", "value": "医院挂号处多收费" * 3}
            case 3:
                data = {"event": "bot", "timestamp": at, "text": "好的，我来帮您登记投诉。" * 4, "data": {},
                        "metadata": {"utter_action": "utter_x"}}  # fmt: skip
            case _:
                data = {"event": "slot", "timestamp": at, "name": "ticket_kind", "value": "complaint"}
        rows.append({"sender_id": sender, "type_name": data["event"], "timestamp": at, "data": json.dumps(data)})
    return rows


def fill(engine: Engine, events: Table, conversations: int, first: datetime, last: datetime) -> None:
    step = (last - first).total_seconds() / conversations
    with engine.begin() as connection:
        for n in range(conversations):
            connection.execute(events.insert(), conversation(f"c{n}", first.timestamp() + n * step))


@contextmanager
def databases(kind: str, postgres: str | None) -> Iterator[tuple[str, str]]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'hotline.db'}", f"sqlite:///{Path(directory) / 'trackers.db'}"
        return
    schema = f"bench_retention_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(postgres).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    try:
        yield url, url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def run(kind: str, postgres: str | None, conversations: int) -> list[object]:
    with databases(kind, postgres) as (ticket_url, tracker_url):
        tickets = create_ticket_engine(ticket_url)
        upgrade_schema(tickets)
        trackers = create_engine(tracker_url)
        events = rasa_events_table(MetaData())
        events.create(trackers)
        # Half the conversations from 200 to 180 days ago, half from the last 180 days.
        fill(trackers, events, conversations // 2, NOW - timedelta(days=200), NOW - timedelta(days=180, hours=1))
        fill(trackers, events, conversations // 2, NOW - timedelta(days=179), NOW - timedelta(hours=1))
        retention = ConversationRetention(tickets, tracker_url)
        timings = []
        for older_than in (timedelta(days=180), timedelta(days=180), timedelta(days=120)):
            started = time.perf_counter()
            report = retention.purge(older_than)
            timings.append((time.perf_counter() - started, report.tracker_events))
        retention.close()
        trackers.dispose()
        tickets.dispose()
    (first_s, first_n), (second_s, _), (third_s, third_n) = timings
    return [kind, conversations * EVENTS_PER_CONVERSATION, first_n, first_s, round(first_n / first_s), second_s * 1000,
            third_n, third_s]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=4000)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    rows = [run("sqlite", None, args.conversations)]
    if args.postgres:
        rows.append(run("postgresql", args.postgres, args.conversations))
    headers = [
        "database",
        "events",
        "first run: anonymised",
        "first run s",
        "anonymised/s",
        "next run (nothing new) ms",
        "60 more days: anonymised",
        "s",
    ]
    notes = (
        "Rasa's table, 30 events per conversation (a fifth of them messages, two fifths slots, a fifth bot replies), "
        "half older than 180 days. The first purge anonymises the old half; the next run stops at the watermark "
        "without reading anything it did; moving the period from 180 to 120 days stands for sixty daily runs' worth. "
        "One process, batches of 500 events per transaction."
    )
    publish_report("retention", "Retention purge", [notes, table(headers, rows)])


if __name__ == "__main__":
    main()
