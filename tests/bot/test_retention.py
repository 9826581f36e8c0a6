"""Retention: `hotline privacy purge` and the gateway's daily run anonymise old conversation text in a tracker
database written by Rasa's own store (in .venv-rasa) and in held messages, on SQLite and PostgreSQL; the
statistics (events per day by type, intent and action; conversations per day) come out the same."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.conversation.retention import RASA_EVENTS, ConversationRetention
from bot.database import create_ticket_engine, upgrade_schema
from bot.handoff.models import HeldMessageRow
from bot.settings import Settings
from bot.supervisor import free_port
from tests.rasa_addons.trackers import ROOT, run_in_rasa, tracker_database

NOW = datetime.now(UTC)
PHONE, OTHER_PHONE = "13987650123", "13600001111"

# Two conversations from long ago (on two days), one from an hour ago, in the order Rasa would have written them.
WRITE_SCRIPT = """
from rasa.shared.core.trackers import DialogueStateTracker

url = sys.argv[1]

def conversation(sender, start, phone):
    times = iter(start + i for i in range(100))
    events = [
        ActionExecuted("action_session_start", timestamp=next(times)), SessionStarted(timestamp=next(times)),
        ActionExecuted("action_listen", timestamp=next(times)),
        UserUttered(f"我要投诉，我叫张三，电话{phone}", intent("complaint"), timestamp=next(times),
                    metadata={"channel": "web", "client": "Mozilla"}),
        ActionExecuted("action_start_ticket", timestamp=next(times)),
        SlotSet("ticket_kind", "complaint", timestamp=next(times)),
        SlotSet("description", f"我叫张三，电话{phone}", timestamp=next(times)),
        BotUttered("好的，我来帮您登记投诉。", {"buttons": [{"title": "取消", "payload": "取消"}]},
                   {"utter_action": "utter_ticket_intro"}, timestamp=next(times)),
        ActionExecuted("action_listen", timestamp=next(times)),
        UserUttered(phone, intent("inform"), timestamp=next(times)),
        SlotSet("phone", phone, timestamp=next(times)), SlotSet("handoff", True, timestamp=next(times)),
    ]
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in events:
        tracker.update(event)
    return tracker

async def main():
    store = store_for(url)
    for sender, start, phone in zip(("old-1", "old-2", "new-1"), map(float, sys.argv[2:5]), sys.argv[5:8]):
        await store.save(conversation(sender, start, phone))
    print("ok")

asyncio.run(main())
"""

# What Rasa makes of the conversations after the purge: each one's user texts, bot texts, intents and two slots.
READ_SCRIPT = """
async def main():
    store = store_for(sys.argv[1])
    seen = {}
    for sender in ("old-1", "new-1"):
        tracker = await store.retrieve(sender)
        seen[sender] = {
            "intents": [e.intent.get("name") for e in tracker.events if isinstance(e, UserUttered)],
            "texts": [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered))],
            "ticket_kind": tracker.get_slot("ticket_kind"),
            "phone": tracker.get_slot("phone"),
        }
    print(json.dumps(seen, ensure_ascii=False))
    print("ok")

asyncio.run(main())
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(tickets and held messages, Rasa's trackers): two SQLite files, or one PostgreSQL schema for both."""
    for tracker_url in tracker_database(request.param, tmp_path):
        yield (f"sqlite:///{tmp_path / 'hotline.db'}" if request.param == "sqlite" else tracker_url), tracker_url


@pytest.fixture
def ticket_engine(databases: tuple[str, str]) -> Iterator[Engine]:
    engine = create_ticket_engine(databases[0])
    upgrade_schema(engine)
    yield engine
    engine.dispose()


def write_conversations(tracker_url: str) -> None:
    starts = [NOW - timedelta(days=200), NOW - timedelta(days=190), NOW - timedelta(hours=1)]
    run_in_rasa(WRITE_SCRIPT, tracker_url, *(str(start.timestamp()) for start in starts), PHONE, PHONE, OTHER_PHONE)


def hold(engine: Engine, sender_id: str, text: str, age: timedelta) -> int:
    with Session(engine) as session, session.begin():
        row = HeldMessageRow(sender_id=sender_id, text=text, received_at=NOW - age)
        session.add(row)
        session.flush()
        return row.id


def held_texts(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        return {row.id: row.text for row in session.scalars(select(HeldMessageRow))}


def tracker_rows(tracker_url: str) -> list[dict]:
    engine = create_engine(tracker_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(RASA_EVENTS).order_by(RASA_EVENTS.c.id)).all()
    finally:
        engine.dispose()
    return [{**row._asdict(), "data": json.loads(row.data)} for row in rows]


def statistics(rows: list[dict]) -> tuple[Counter, Counter]:
    """Events per (day, type, intent, action), and conversations per day: what the office counts."""
    events = Counter((_day(r), r["type_name"], _intent(r["data"]), r["data"].get("name")) for r in rows)
    conversations = Counter(_day(r) for r in rows if r["type_name"] == "session_started")
    return events, conversations


def _day(row: dict) -> date:
    return datetime.fromtimestamp(row["timestamp"], UTC).date()


def _intent(data: dict) -> str | None:
    return ((data.get("parse_data") or {}).get("intent") or {}).get("name")


def purge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "privacy", "purge", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_purge_anonymises_old_conversation_text_and_keeps_the_statistics(
    databases: tuple[str, str], ticket_engine: Engine
) -> None:
    ticket_url, tracker_url = databases
    write_conversations(tracker_url)
    old_held = hold(ticket_engine, "old-1", f"我电话{PHONE}，怎么还没人回复", timedelta(days=181))
    new_held = hold(ticket_engine, "new-1", f"我电话{OTHER_PHONE}", timedelta(days=2))
    before = tracker_rows(tracker_url)

    done = purge("--older-than", "180d", "--database-url", ticket_url, "--tracker-database-url", tracker_url)
    assert done.returncode == 0, done.stderr
    # Per old conversation: two citizen messages, a bot reply, two personal slots (the kind and the handoff stay).
    assert "tracker events anonymised: 10" in done.stdout, done.stdout
    assert "held messages cleared: 1" in done.stdout

    after = tracker_rows(tracker_url)
    assert len(after) == len(before) and statistics(after) == statistics(before)
    old_text = json.dumps([r["data"] for r in after if r["sender_id"].startswith("old")], ensure_ascii=False)
    for gone in (PHONE, "张三", "好的，我来帮您登记", "Mozilla"):
        assert gone not in old_text, gone
    recent = [r["data"] for r in after if r["sender_id"] == "new-1"]
    assert recent == [r["data"] for r in before if r["sender_id"] == "new-1"], "a recent conversation is untouched"
    assert held_texts(ticket_engine) == {old_held: "", new_held: f"我电话{OTHER_PHONE}"}

    # Rasa still reads the old conversation: its intents and the facts, no words.
    seen = json.loads(run_in_rasa(READ_SCRIPT, tracker_url).strip().splitlines()[-2])
    assert seen["old-1"] == {
        "intents": ["complaint", "inform"],
        "texts": [None, None, None],
        "ticket_kind": "complaint",
        "phone": None,
    }
    assert seen["new-1"]["phone"] == OTHER_PHONE and f"电话{OTHER_PHONE}" in seen["new-1"]["texts"][0]

    again = purge("--older-than", "180d", "--database-url", ticket_url, "--tracker-database-url", tracker_url, "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["tracker_events_anonymised"], report["held_messages_cleared"]) == (0, 0)
    assert report["tracker_database"] is True

    # At least a day: a conversation in progress never loses its text mid-form.
    refused = purge("--older-than", "0d", "--database-url", ticket_url, "--tracker-database-url", tracker_url)
    assert refused.returncode == 2 and "at least 1" in refused.stderr
    assert purge("--older-than", "half a year").returncode == 2


def test_purge_works_in_batches_from_its_watermark_and_stops_when_asked(
    databases: tuple[str, str], ticket_engine: Engine
) -> None:
    _, tracker_url = databases
    write_conversations(tracker_url)
    stopped = ConversationRetention(ticket_engine, tracker_url, batch_size=3)
    stopped.stop()
    report = stopped.purge(timedelta(days=180))
    stopped.close()
    assert (report.tracker_events, report.complete) == (0, False)

    retention = ConversationRetention(ticket_engine, tracker_url, batch_size=3)
    first = retention.purge(timedelta(days=195))  # only the older of the two old conversations
    second = retention.purge(timedelta(days=180))  # the next one, from where the first stopped
    third = retention.purge(timedelta(days=180))
    retention.close()
    assert first.complete and first.tracker_events == 5 and second.tracker_events == 5 and third.tracker_events == 0
    by_sender = Counter(r["sender_id"] for r in tracker_rows(tracker_url) if PHONE in json.dumps(r["data"]))
    assert by_sender == Counter(), by_sender


def test_no_tracker_database_is_nothing_to_do_and_is_not_created(tmp_path: Path) -> None:
    engine = create_ticket_engine(f"sqlite:///{tmp_path / 'hotline.db'}")
    upgrade_schema(engine)
    missing = tmp_path / "never" / "rasa-trackers.db"
    report = ConversationRetention(engine, f"sqlite:///{missing}").purge(timedelta(days=180))
    engine.dispose()
    assert report.tracker_database is False and report.tracker_events == 0 and not missing.exists()


def test_the_gateway_purges_at_startup_and_then_every_interval(databases: tuple[str, str], tmp_path: Path) -> None:
    ticket_url, _ = databases
    settings = Settings(
        DATABASE_URL=ticket_url,
        rasa_url=f"http://127.0.0.1:{free_port()}",
        tracker_database_url=f"sqlite:///{tmp_path / 'no-rasa-here.db'}",
        retention_days=30,
        purge_interval_s=0.2,
    )
    engine = create_ticket_engine(ticket_url)
    upgrade_schema(engine)
    try:
        first = hold(engine, "s1", "第一条", timedelta(days=31))
        with TestClient(create_app(settings)):
            wait_until(lambda: held_texts(engine)[first] == "")
            second = hold(engine, "s2", "第二条", timedelta(days=31))
            recent = hold(engine, "s3", "最近的", timedelta(days=29))
            wait_until(lambda: held_texts(engine)[second] == "")
        after_shutdown = hold(engine, "s4", "关闭之后", timedelta(days=31))
        time.sleep(0.6)  # three intervals: a purge still running would have cleared it
        texts = held_texts(engine)
    finally:
        engine.dispose()
    assert texts[recent] == "最近的" and texts[after_shutdown] == "关闭之后"
    assert not (tmp_path / "no-rasa-here.db").exists()


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)
