"""Alembic environment: migrations run in one transaction, and one process at a time.

`upgrade_schema` passes its own connection in `config.attributes`; the `alembic` command line (run from the
repo root with `-c` pointing at a config whose script_location is this directory) falls back to the
settings' database (bot/settings.py: HOTLINE_DATABASE_URL or DATABASE_URL).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

# Every table shares Base.metadata: one database, one schema history. Importing a module registers its tables.
import bot.auth
import bot.channels.models
import bot.channels.ticket_updates
import bot.channels.wechat.models
import bot.console.models
import bot.conversation.ratings
import bot.conversation.receipts
import bot.conversation.transcript
import bot.handoff.models
import bot.ratelimit
import bot.tickets.models  # noqa: F401
from bot.database import Base, create_ticket_engine
from bot.settings import load_settings

# Any constant works; it only has to be the same in every process that migrates this database.
_MIGRATION_LOCK_ID = 12320_0001


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite can run DDL inside a transaction once sqlite3 no longer manages BEGIN (see database.py), so the
        # whole upgrade either lands or does not, and the version check happens under the write lock.
        transactional_ddl=True,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER on SQLite needs copy-and-move
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes starting together: the second waits here, then finds the schema at head.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = create_ticket_engine(context.config.get_main_option("sqlalchemy.url") or load_settings().database_url)
    try:
        with engine.connect() as own_connection:
            run_migrations(own_connection)
    finally:
        engine.dispose()


main()
