"""What the gateway is waiting for in a conversation (a message left for a call back), and which tickets each
citizen has been told the number of.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("awaiting", sa.String(32), nullable=True))
    op.create_table(
        "ticket_acknowledgements",
        sa.Column("ticket_number", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_number", name=op.f("pk_ticket_acknowledgements")),
    )
    op.create_index(op.f("ix_ticket_acknowledgements_sender_id"), "ticket_acknowledgements", ["sender_id"])
    # Tickets filed before this revision were told in their own turn: do not announce them again.
    op.execute(
        "INSERT INTO ticket_acknowledgements (ticket_number, sender_id, at) "
        "SELECT number, sender_id, created_at FROM tickets"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_acknowledgements_sender_id"), table_name="ticket_acknowledgements")
    op.drop_table("ticket_acknowledgements")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("awaiting")
