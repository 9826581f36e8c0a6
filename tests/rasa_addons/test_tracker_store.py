"""CachedSQLTrackerStore: in Rasa's own venv, and inside a real Rasa server that is restarted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot import nlu
from bot.supervisor import free_port, wait_for_http
from bot.up import Ports, RasaOptions, services
from tests.rasa_addons.trackers import rasa_python, run_in_rasa, tracker_database

ROOT = Path(__file__).resolve().parents[2]

# Runs in .venv-rasa (the store imports Rasa). Two store objects on one file stand for two processes.
STORE_SCRIPT = """
import asyncio, sqlite3, sys
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa_addons.tracker_store import CachedSQLTrackerStore

db, wal = sys.argv[1], sys.argv[2] == "wal"

def stored(sender):
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute(
            "SELECT type_name FROM events WHERE sender_id = ? ORDER BY id", (sender,))]

async def main():
    domain = Domain.load("domain.yml")
    store = CachedSQLTrackerStore(domain=domain, dialect="sqlite", db=db, sqlite_wal=wal)
    tracker = await store.get_or_create_tracker("c1")
    tracker.update(UserUttered("我想投诉", {"name": "complaint", "confidence": 1.0}))
    tracker.update(SlotSet("ticket_kind", "complaint"))
    await store.save(tracker)
    assert await store.retrieve("c1") is tracker, "a hit is the tracker itself, not a copy"
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    assert stored("c1") == ["action", "user", "slot", "action"], stored("c1")  # appended, never twice

    # A turn that fails half-way leaves events that were never saved: the next retrieve reads SQL.
    tracker.update(SlotSet("ticket_kind", "report"))
    fresh = await store.retrieve("c1")
    assert fresh is not tracker and fresh.get_slot("ticket_kind") == "complaint"

    # Another process (a restarted Rasa) finds the conversation and continues it in place.
    restarted = CachedSQLTrackerStore(domain=domain, dialect="sqlite", db=db, sqlite_wal=wal)
    again = await restarted.retrieve("c1")
    assert again.get_slot("ticket_kind") == "complaint" and len(again.events) == 4
    again.update(UserUttered("在吗", {"name": "greet", "confidence": 1.0}))
    await restarted.save(again)
    assert stored("c1") == ["action", "user", "slot", "action", "user"], stored("c1")

    # A tracker it did not hand out (Rasa's HTTP API builds its own): counted in SQL, as Rasa's store does.
    outsider = await CachedSQLTrackerStore(domain=domain, dialect="sqlite", db=db).retrieve("c1")
    outsider.update(ActionExecuted("action_listen"))
    await restarted.save(outsider)
    assert len(stored("c1")) == 6
    assert await restarted.retrieve("c1") is outsider

    # A second session: not kept in memory; the next read gets only the new session, as from SQL.
    outsider.update(SessionStarted())
    outsider.update(ActionExecuted("action_listen"))
    await restarted.save(outsider)
    latest = await restarted.retrieve("c1")
    assert latest is not outsider, "kept"
    assert [e.type_name for e in latest.events] == ["session_started", "action"], [e.type_name for e in latest.events]

    assert await store.retrieve("nobody") is None
    small = CachedSQLTrackerStore(domain=domain, dialect="sqlite", db=db, max_cached=2)
    for sender in ("a", "b", "c"):
        await small.get_or_create_tracker(sender)
    assert list(small._cache) == ["b", "c"], "least recently used goes first"
    print("ok")

asyncio.run(main())
"""


@pytest.mark.parametrize("mode", ["fsync", "wal"])
def test_cached_store_appends_new_events_and_reads_sql_on_a_miss(tmp_path, mode):
    done = subprocess.run(
        [str(rasa_python()), "-c", STORE_SCRIPT, str(tmp_path / "trackers.db"), mode],
        cwd=ROOT,
        env=nlu.rasa_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def start_rasa(model: Path, var: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    rasa = services("127.0.0.1", Ports(rasa=port, actions=free_port()), model, var, var, RasaOptions())[0]
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(rasa.command),
            cwd=rasa.cwd,
            env={**os.environ, **rasa.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if not wait_for_http(rasa.health_url or "", timeout=240):
        process.kill()
        pytest.fail(f"Rasa did not come up:\n{log.read_text(errors='replace')[-3000:]}")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_conversation_survives_a_rasa_restart(tmp_path, trained_model):
    """Utter-only turns (greet, thanks): no action server is needed, only the tracker store."""
    port, sender, log = free_port(), f"restart-{uuid.uuid4().hex[:8]}", tmp_path / "rasa.log"
    webhook = f"http://127.0.0.1:{port}/webhooks/hotline/webhook"
    rasa = start_rasa(trained_model, tmp_path, port, log)
    try:
        first = httpx.post(webhook, json={"sender": sender, "message": "您好"}, timeout=60, trust_env=False)
        assert first.status_code == 200 and first.json()["messages"], first.text
    finally:
        stop(rasa)
    rasa = start_rasa(trained_model, tmp_path, port, log)
    try:
        second = httpx.post(webhook, json={"sender": sender, "message": "谢谢"}, timeout=60, trust_env=False)
        assert second.status_code == 200 and second.json()["messages"], second.text
    finally:
        stop(rasa)

    with sqlite3.connect(tmp_path / "rasa-trackers.db") as db:
        kinds = [k for (k,) in db.execute("SELECT type_name FROM events WHERE sender_id = ? ORDER BY id", (sender,))]
        texts = [
            t
            for (t,) in db.execute(
                "SELECT json_extract(data, '$.text') FROM events WHERE sender_id = ? AND type_name = 'user' "
                "ORDER BY id",
                (sender,),
            )
        ]
    # One session: the restarted Rasa continued the stored conversation instead of starting a new one.
    assert kinds.count("session_started") == 1, kinds
    assert texts == ["您好", "谢谢"]  # each stored once


# The form's answers, a cancelled attempt in an earlier session, and the filing turn, as Rasa's events.
REDACTION_SCRIPT = """
url = sys.argv[1]
NUMBER = "12320-20261123-000001"
STORY = "市第三医院挂号处多收费，我身份证11010519491231002X"

async def turn(store, sender, *events):
    tracker = await store.get_or_create_tracker(sender)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker

async def main():
    store = store_for(url)
    # Session 1: a story with a name and a number, an address, then 取消. Nothing is filed: all of it stays.
    await turn(store, "c1", UserUttered("我要投诉，我叫张三，电话13987650123", intent("complaint")),
               SlotSet("description", "我叫张三，电话13987650123"), BotUttered("发生在什么地方？"),
               UserUttered("幸福路12号3单元", intent("inform")), SlotSet("location", "幸福路12号3单元"),
               UserUttered("取消", intent("deny")), SlotSet("location", None), SlotSet("ticket_cancelled", True))
    await turn(store, "c1", SessionStarted(), ActionExecuted("action_listen"))
    # Session 2: the form, read back, then filed. Another citizen's conversation runs alongside.
    await turn(store, "c1", UserUttered(STORY, intent("complaint")), SlotSet("description", STORY))
    await turn(store, "c2", UserUttered("我叫李四，电话13600001111", intent("inform")), SlotSet("phone", "13600001111"))
    await turn(store, "c1", UserUttered("王小明", intent("inform")), SlotSet("contact_name", "王小明"))
    await turn(store, "c1", UserUttered("+86 139 8765 0123", intent("inform")), SlotSet("phone", "13987650123"),
               BotUttered(f"请核对：\\n内容：{STORY}\\n姓名：王小明\\n联系电话：139****0123"))
    before = stored(store, "c1")
    assert any("王小明" in json.dumps(e, ensure_ascii=False) for e in before), "redacted before the filing"
    filing = [UserUttered("确认", intent("affirm")), SlotSet("confirmed", "yes"),
              *[SlotSet(slot, None) for slot in ("description", "contact_name", "phone", "confirmed")],
              SlotSet("filed_ticket", NUMBER), BotUttered(f"已受理您的投诉，工单号：{NUMBER}。")]
    filed = await turn(store, "c1", *filing)

    after = stored(store, "c1")
    assert len(after) == len(before) + len(filing), "rewritten in place, nothing added or lost"
    text = json.dumps(after, ensure_ascii=False)
    for secret in ("13987650123", "139 8765 0123", "110105194912", "王小明", "张三", "幸福路12号", "挂号处多收费"):
        assert secret not in text, secret
    assert "139****0123" in text and NUMBER in text  # the read-back's masked phone and the ticket number stay
    users = [e["text"] for e in after if e["event"] == "user"]
    assert users == ["我要投诉，[内容]", "[地点]", "取消", "[内容]", "[姓名]", "[电话]", "确认"], users
    assert {e["value"] for e in after if e["event"] == "slot" and e["name"] == "contact_name"} == {"[姓名]", None}

    # The tracker is read back from SQL, redacted, and the turn's result is still there for the channel.
    again = await store.retrieve("c1")
    assert again is not filed and again.get_slot("filed_ticket") == NUMBER
    assert again.events[-1].text.startswith("已受理")

    # Later in that session, a number typed is stored blanked; a new form's answers stay until it is filed.
    later = await turn(store, "c1", UserUttered("我的电话是13987650123，什么时候回电？", intent("inform")),
                       SlotSet("phone", "13512345678"))
    assert later.latest_message.text.startswith("我的电话是1398765"), "the tracker in use keeps what was said"
    last = stored(store, "c1")[-2:]
    assert last[0]["text"] == "我的电话是[电话]，什么时候回电？" and last[1]["value"] == "13512345678", last
    restarted = await store_for(url).retrieve("c1")
    assert restarted.get_slot("phone") == "13512345678"

    # The other conversation filed nothing: untouched.
    assert "13600001111" in json.dumps(stored(store, "c2"), ensure_ascii=False)
    print("ok")

asyncio.run(main())
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from tracker_database(request.param, tmp_path)


def test_filing_a_ticket_redacts_the_stored_conversation(tracker_database_url: str) -> None:
    run_in_rasa(REDACTION_SCRIPT, tracker_database_url)
