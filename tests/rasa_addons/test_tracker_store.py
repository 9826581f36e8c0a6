"""CachedSQLTrackerStore: in Rasa's own venv, and inside a real Rasa server that is restarted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from bot import nlu
from bot.supervisor import free_port, wait_for_http
from bot.up import Ports, RasaOptions, services

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


def rasa_python() -> Path:
    python = nlu.rasa_venv() / "bin" / "python"
    if not python.exists():
        pytest.skip("run `make setup` to create .venv-rasa")
    return python


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
