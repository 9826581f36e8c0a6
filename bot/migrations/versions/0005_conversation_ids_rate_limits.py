"""Server-issued conversation ids are rows of conversations (with when they were issued); the limiter of
ticket checks keeps its counts in rate_limits, shared by the gateway and the action server.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("created_at", _AT, nullable=True))
    # Rows from before this revision were created at a handoff: the best date known is their last change.
    op.execute("UPDATE conversations SET created_at = updated_at WHERE created_at IS NULL")
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column("created_at", existing_type=_AT, nullable=False)
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("window_started_at", _AT, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", _AT, nullable=True),
        sa.Column("expires_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_index(op.f("ix_rate_limits_expires_at"), "rate_limits", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limits_expires_at"), table_name="rate_limits")
    op.drop_table("rate_limits")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("created_at")
