"""What each citizen was told of their ticket's answer and end (事后结果及时获知): one row per status-change event.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "citizen_notices",
        sa.Column("outbox_id", _ID, nullable=False),
        sa.Column("ticket_number", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _AT, nullable=False),
        sa.Column("delivered_at", _AT, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("outbox_id", name=op.f("pk_citizen_notices")),
    )
    op.create_index(op.f("ix_citizen_notices_ticket_number"), "citizen_notices", ["ticket_number"])
    op.create_index(op.f("ix_citizen_notices_next_attempt_at"), "citizen_notices", ["next_attempt_at"])
    # Events from before this revision are history: the citizens were not promised a notice for them.
    op.execute(
        "INSERT INTO citizen_notices (outbox_id, ticket_number, state, attempts, next_attempt_at) "
        "SELECT id, ticket_number, 'skipped', 0, created_at FROM outbox WHERE event = 'ticket.status_changed'"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_citizen_notices_next_attempt_at"), table_name="citizen_notices")
    op.drop_index(op.f("ix_citizen_notices_ticket_number"), table_name="citizen_notices")
    op.drop_table("citizen_notices")
