"""The handoff queue's state (who holds a conversation, since when, what was resolved), its event log, the
conversation transcript (every turn, who said it), and satisfaction ratings of conversations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)
_NEW_COLUMNS = ("operator", "queued_at", "reply_due_since", "last_citizen_at", "closed_at", "resolution_note")


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("operator", sa.String(64), nullable=True))
        batch.add_column(sa.Column("queued_at", _AT, nullable=True))
        batch.add_column(sa.Column("reply_due_since", _AT, nullable=True))
        batch.add_column(sa.Column("last_citizen_at", _AT, nullable=True))
        batch.add_column(sa.Column("closed_at", _AT, nullable=True))
        batch.add_column(sa.Column("resolution_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("offered", sa.String(32), nullable=True))
        batch.add_column(sa.Column("rating_asked_at", _AT, nullable=True))
        batch.create_index(op.f("ix_conversations_owner"), ["owner"])
    # Conversations waiting before this revision wait since their last change.
    op.execute("UPDATE conversations SET queued_at = updated_at WHERE owner = 'queue'")
    op.create_table(
        "handoff_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("move", sa.String(32), nullable=False),
        sa.Column("from_owner", sa.String(16), nullable=False),
        sa.Column("to_owner", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_events")),
    )
    op.create_index(op.f("ix_handoff_events_sender_id"), "handoff_events", ["sender_id"])
    op.create_index(op.f("ix_handoff_events_at"), "handoff_events", ["at"])
    op.create_table(
        "conversation_turns",
        sa.Column("id", _ID, nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("citations", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_turns")),
    )
    op.create_index(op.f("ix_conversation_turns_sender_id"), "conversation_turns", ["sender_id"])
    op.create_index(op.f("ix_conversation_turns_at"), "conversation_turns", ["at"])
    op.create_table(
        "conversation_ratings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("asked_at", _AT, nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_ratings")),
        sa.UniqueConstraint("sender_id", "asked_at", name=op.f("uq_conversation_ratings_sender_id")),
    )
    op.create_index(op.f("ix_conversation_ratings_at"), "conversation_ratings", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_conversation_ratings_at"), table_name="conversation_ratings")
    op.drop_table("conversation_ratings")
    op.drop_index(op.f("ix_conversation_turns_at"), table_name="conversation_turns")
    op.drop_index(op.f("ix_conversation_turns_sender_id"), table_name="conversation_turns")
    op.drop_table("conversation_turns")
    op.drop_index(op.f("ix_handoff_events_at"), table_name="handoff_events")
    op.drop_index(op.f("ix_handoff_events_sender_id"), table_name="handoff_events")
    op.drop_table("handoff_events")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index(op.f("ix_conversations_owner"))
        for column in (*_NEW_COLUMNS, "offered", "rating_asked_at"):
            batch.drop_column(column)
