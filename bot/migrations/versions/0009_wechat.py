"""WeChat: the messages pushed (their dedup key and where the answer went), the citizens' OpenIDs with the
customer-service window, and the shared access token with its refresh lease.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wechat_messages",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("received_at", _AT, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_wechat_messages")),
    )
    op.create_index(op.f("ix_wechat_messages_received_at"), "wechat_messages", ["received_at"])
    op.create_table(
        "wechat_contacts",
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("last_message_at", _AT, nullable=True),
        sa.Column("window_until", _AT, nullable=False),
        sa.Column("quota_left", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_wechat_contacts")),
    )
    op.create_table(
        "wechat_access_tokens",
        sa.Column("appid", sa.String(64), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("expires_at", _AT, nullable=True),
        sa.Column("lease_until", _AT, nullable=True),
        sa.PrimaryKeyConstraint("appid", name=op.f("pk_wechat_access_tokens")),
    )


def downgrade() -> None:
    op.drop_table("wechat_access_tokens")
    op.drop_table("wechat_contacts")
    op.drop_index(op.f("ix_wechat_messages_received_at"), table_name="wechat_messages")
    op.drop_table("wechat_messages")
