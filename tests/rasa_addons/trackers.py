"""Helpers for tests that drive Rasa's tracker store in its own venv: run a script there, and a tracker database
on SQLite or on a PostgreSQL schema of its own."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import nlu
from tests.conftest import postgresql_schema_url

ROOT = Path(__file__).resolve().parents[2]

#: Prepended to every script: `store_for(url)` opens our store on a SQLAlchemy URL (a PostgreSQL one is read by
#: Rasa's psycopg2 dialect), `stored(store, sender)` is what SQL holds for a sender, decoded.
PRELUDE = """
import asyncio, json, sys
from sqlalchemy.engine import make_url
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa_addons.tracker_store import CachedSQLTrackerStore

DOMAIN = Domain.load("domain.yml")

def store_for(url, **options):
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=u.database, **options)
    return CachedSQLTrackerStore(
        domain=DOMAIN, dialect="postgresql", host=u.host, port=u.port, db=u.database, username=u.username,
        password=u.password, query=dict(u.query), **options)

def stored(store, sender):
    with store.session_scope() as session:
        rows = session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender).order_by(store.SQLEvent.id)
        return [json.loads(row.data) for row in rows]

def intent(name):
    return {"name": name, "confidence": 1.0}
"""


def rasa_python() -> Path:
    python = nlu.rasa_venv() / "bin" / "python"
    if not python.exists():
        pytest.skip("run `make setup` to create .venv-rasa")
    return python


def run_in_rasa(script: str, *args: str) -> str:
    """Run PRELUDE + `script` in .venv-rasa from the project root; its stdout, which must end with "ok"."""
    done = subprocess.run(
        [str(rasa_python()), "-c", PRELUDE + script, *args],
        cwd=ROOT,
        env=nlu.rasa_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def tracker_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL for an empty tracker database: a SQLite file, or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'rasa-trackers.db'}"
    else:
        yield from postgresql_schema_url()
