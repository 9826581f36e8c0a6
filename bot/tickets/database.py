"""Engines for the ticket store, and schema upgrades through Alembic.

SQLite is the laptop default and runs in WAL mode, so the action server and the gateway, two processes,
can share one file: readers never block, writers queue behind a busy timeout.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# An execution option for read-only work; see _begin.
READ_ONLY = "hotline_read_only"


def create_ticket_engine(database_url: str | URL) -> Engine:
    """An engine for `database_url`; for SQLite also the file's directory, WAL and transaction control."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        # Each pooled connection would see its own empty database; two processes could never share one.
        raise ValueError("the ticket store needs a file-backed SQLite database")
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin)
    return engine


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN, instead of the sqlite3 module deciding when a transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    # NORMAL is WAL's usual setting but can lose the last commits on power loss; a receipt promises the ticket exists.
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _begin(connection: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock up front. A deferred transaction that reads and then writes cannot wait
    # for the lock in WAL mode: another process's commit makes it fail with SQLITE_BUSY at once. Writes are the
    # default so that code added later is safe; reads opt out with the READ_ONLY execution option.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code: no alembic.ini, the scripts live in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # `alembic revision` output passes `make lint` without a hand edit.
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    for hook, arguments in (("ruff_fix", "check --fix --quiet"), ("ruff_format", "format --quiet")):
        config.set_section_option("post_write_hooks", f"{hook}.type", "module")
        config.set_section_option("post_write_hooks", f"{hook}.module", "ruff")
        config.set_section_option("post_write_hooks", f"{hook}.options", f"{arguments} REVISION_SCRIPT_FILENAME")
    config.attributes["connection"] = connection
    return config


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Apply every migration not yet applied. Safe when two processes start at once: see migrations/env.py."""
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), revision)
