"""The status workflow's fields, routing domain, replies and follow-ups, hot spots, satisfaction, the webhook
outbox, API tokens, and the conversation ownership tables (created with create_all before this revision).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hotspots",
        sa.Column("id", _ID, nullable=False),
        sa.Column("domain", sa.String(32), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotspots")),
    )
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("domain", sa.String(32), nullable=True))
        batch.add_column(sa.Column("assignee", sa.String(64), nullable=True))
        batch.add_column(sa.Column("updated_at", _AT, nullable=True))
        batch.add_column(sa.Column("escalated_at", _AT, nullable=True))
        batch.add_column(sa.Column("hotspot_id", _ID, nullable=True))
        batch.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("satisfaction_comment", sa.Text(), nullable=True))
        batch.create_index(batch.f("ix_tickets_domain"), ["domain"])
        batch.create_index(batch.f("ix_tickets_hotspot_id"), ["hotspot_id"])
        batch.create_foreign_key(batch.f("fk_tickets_hotspot_id_hotspots"), "hotspots", ["hotspot_id"], ["id"])
    op.create_table(
        "ticket_messages",
        sa.Column("id", _ID, nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_messages_ticket_id_tickets")),
    )
    op.create_index(op.f("ix_ticket_messages_ticket_id"), "ticket_messages", ["ticket_id"])
    op.create_table(
        "outbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("ticket_number", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _AT, nullable=False),
        sa.Column("delivered_at", _AT, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_next_attempt_at"), "outbox", ["next_attempt_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("revoked_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    # Databases from before this revision got these two from the gateway's create_all.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "conversations" not in existing:
        op.create_table(
            "conversations",
            sa.Column("sender_id", sa.String(128), nullable=False),
            sa.Column("channel", sa.String(16), nullable=False),
            sa.Column("owner", sa.String(16), nullable=False),
            sa.Column("handoff_reason", sa.String(64), nullable=True),
            sa.Column("priority", sa.String(16), nullable=False),
            sa.Column("updated_at", _AT, nullable=False),
            sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_conversations")),
        )
    if "held_messages" not in existing:
        op.create_table(
            "held_messages",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("sender_id", sa.String(128), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("received_at", _AT, nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_held_messages")),
        )
        op.create_index(op.f("ix_held_messages_sender_id"), "held_messages", ["sender_id"])


def downgrade() -> None:
    op.drop_table("held_messages")
    op.drop_table("conversations")
    op.drop_table("api_tokens")
    op.drop_table("outbox")
    op.drop_table("ticket_messages")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint(batch.f("fk_tickets_hotspot_id_hotspots"), type_="foreignkey")
        batch.drop_index(batch.f("ix_tickets_hotspot_id"))
        batch.drop_index(batch.f("ix_tickets_domain"))
        for column in (
            "satisfaction_comment",
            "satisfaction",
            "hotspot_id",
            "escalated_at",
            "updated_at",
            "assignee",
            "domain",
        ):
            batch.drop_column(column)
    op.drop_table("hotspots")
