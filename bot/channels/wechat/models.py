"""The WeChat adapter's tables (Alembic owns the schema, bot/migrations): every process of the gateway shares
them, so a retry that reaches another process is still a retry, and one access token serves them all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.database import Base, UTCDateTime


class WeChatMessageRow(Base):
    """One message (or event) WeChat pushed, by its dedup key: the unique key makes a retry a retry.

    `state` is where its answer went (bot/channels/wechat/ledger.py); `parts` the answer, once ready. Rows are
    deleted an hour on: WeChat retries within seconds, and a request older than the signature's clock window
    is refused anyway.
    """

    __tablename__ = "wechat_messages"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[str] = mapped_column(String(16))
    parts: Mapped[list[str] | None] = mapped_column(JSON)


class WeChatContactRow(Base):
    """A citizen on WeChat: their OpenID (the API sends to it), and how long and how often the customer-service
    API may still write to them (客服消息: 48 hours and 5 messages after their last message)."""

    __tablename__ = "wechat_contacts"

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64))
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_until: Mapped[datetime] = mapped_column(UTCDateTime())
    quota_left: Mapped[int] = mapped_column(Integer)
    #: What a bare number replied next stands for (bot/channels/wechat/render.py): the numbered options last
    #: shown, or a rating request's scale. None: a number is just text.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WeChatTokenRow(Base):
    """The access token of the customer-service API, one per AppID, with the lease of the one process that
    refreshes it (WeChat invalidates the old token 5 minutes after a new one is fetched)."""

    __tablename__ = "wechat_access_tokens"

    appid: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
