"""Console users (argon2 password hashes, roles, the lockout count), their login sessions, and the append-only
log of logins and account changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)

_SQLITE_APPEND_ONLY = [
    f"""CREATE TRIGGER console_login_events_no_{verb.lower()} BEFORE {verb} ON console_login_events
        BEGIN SELECT RAISE(ABORT, 'console_login_events is append-only'); END"""
    for verb in ("UPDATE", "DELETE")
]
_POSTGRESQL_APPEND_ONLY = [
    """CREATE FUNCTION console_login_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'console_login_events is append-only'; END $$""",
    """CREATE TRIGGER console_login_events_no_change BEFORE UPDATE OR DELETE ON console_login_events
        FOR EACH ROW EXECUTE FUNCTION console_login_events_append_only()""",
    """CREATE TRIGGER console_login_events_no_truncate BEFORE TRUNCATE ON console_login_events
        FOR EACH STATEMENT EXECUTE FUNCTION console_login_events_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", _ID, nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("disabled_at", _AT, nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _AT, nullable=True),
        sa.Column("password_changed_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("login", name=op.f("uq_console_users_login")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("last_seen_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["console_users.id"], name=op.f("fk_console_sessions_user_id_console_users")
        ),
    )
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"])
    op.create_table(
        "console_login_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("login", sa.String(64), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_login_events")),
    )
    op.create_index(op.f("ix_console_login_events_at"), "console_login_events", ["at"])
    op.create_index(op.f("ix_console_login_events_login"), "console_login_events", ["login"])
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_APPEND_ONLY, "postgresql": _POSTGRESQL_APPEND_ONLY}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION console_login_events_append_only() CASCADE")
    op.drop_index(op.f("ix_console_login_events_login"), table_name="console_login_events")
    op.drop_index(op.f("ix_console_login_events_at"), table_name="console_login_events")
    op.drop_table("console_login_events")  # drops the SQLite triggers with it
    op.drop_index(op.f("ix_console_sessions_user_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
