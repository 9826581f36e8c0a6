"""Partial indexes over the outbox's undelivered rows, in place of the full index on next_attempt_at.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNDELIVERED = sa.text("delivered_at IS NULL")


def upgrade() -> None:
    op.drop_index(op.f("ix_outbox_next_attempt_at"), table_name="outbox")
    op.create_index(
        "ix_outbox_due", "outbox", ["next_attempt_at"], sqlite_where=_UNDELIVERED, postgresql_where=_UNDELIVERED
    )
    op.create_index(
        "ix_outbox_pending_by_ticket",
        "outbox",
        ["ticket_number", "id"],
        sqlite_where=_UNDELIVERED,
        postgresql_where=_UNDELIVERED,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_by_ticket", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index(op.f("ix_outbox_next_attempt_at"), "outbox", ["next_attempt_at"])
