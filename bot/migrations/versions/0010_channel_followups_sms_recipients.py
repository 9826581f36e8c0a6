"""The phone and SMS channels' state between requests: the rest of a reply cut for its medium and the choices it
offered (channel_followups), and the numbers SMS may be sent to with their opt-outs (sms_recipients).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_followups",
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("rest", sa.JSON(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_channel_followups")),
    )
    op.create_index(op.f("ix_channel_followups_updated_at"), "channel_followups", ["updated_at"])
    op.create_table(
        "sms_recipients",
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("opted_out_at", _AT, nullable=True),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_sms_recipients")),
    )


def downgrade() -> None:
    op.drop_table("sms_recipients")
    op.drop_index(op.f("ix_channel_followups_updated_at"), table_name="channel_followups")
    op.drop_table("channel_followups")
