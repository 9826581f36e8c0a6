"""Alembic owns the schema: migrations match the models, run both ways, and SQLite is set up for two writers."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from bot.database import alembic_config, create_ticket_engine, upgrade_schema
from bot.settings import ROOT, load_settings
from bot.tickets import open_ticket_service

TABLES = {
    "tickets",
    "ticket_contacts",
    "ticket_messages",
    "hotspots",
    "outbox",
    "api_tokens",
    "audit_log",
    "ticket_counters",
    "conversations",
    "held_messages",
    "rate_limits",
    "ticket_acknowledgements",
    "console_users",
    "console_sessions",
    "console_login_events",
    "citizen_notices",
    "alembic_version",
}


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_ticket_engine(database_url)
    upgrade_schema(engine)
    with engine.connect() as connection:
        command.check(alembic_config(connection))  # raises if autogenerate would write a migration
    engine.dispose()


def test_migrations_run_down_and_up_again(database_url: str) -> None:
    engine = create_ticket_engine(database_url)
    upgrade_schema(engine)
    upgrade_schema(engine)  # a second start finds nothing to do
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_schema(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    service = open_ticket_service(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'hotline.db'}")
    with service.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    service.close()


def test_database_url_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'from-env.db'}")
    open_ticket_service().close()
    assert (tmp_path / "from-env.db").exists()


def test_default_database_is_var_hotline_db_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("DATABASE_URL", "HOTLINE_DATABASE_URL", "HOTLINE_VAR"):
        monkeypatch.delenv(variable, raising=False)
    assert load_settings().database_url == f"sqlite:///{ROOT / 'var' / 'hotline.db'}"
    assert (ROOT / "pyproject.toml").exists()


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="file-backed"):
        create_ticket_engine("sqlite://")
