"""The handoff tables: one row per conversation (who owns it and since when), the messages held for a person,
and the event log of every ownership move. Alembic owns the schema (bot/migrations)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.database import Base, Id, UTCDateTime
from bot.handoff.workflow import Owner, Priority


class ConversationRow(Base):
    __tablename__ = "conversations"

    sender_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")
    owner: Mapped[str] = mapped_column(String(16), default=Owner.BOT, index=True)
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16), default=Priority.NORMAL)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=lambda: datetime.now(UTC))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: What the gateway asked the citizen for and waits on (Awaiting); None = nothing.
    awaiting: Mapped[str | None] = mapped_column(String(32))
    #: The operator who holds it (owner = operator), or who held it last.
    operator: Mapped[str | None] = mapped_column(String(64))
    #: When it joined the queue. Kept when an operator releases it or times out: it goes back to its old place.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Since when the operator owes the citizen an answer (taken, or the citizen wrote after the last reply).
    reply_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_citizen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_note: Mapped[str | None] = mapped_column(Text)
    #: A handoff the gateway offered and the citizen may accept (e.g. "angry": after the apology).
    offered: Mapped[str | None] = mapped_column(String(32))
    #: When the citizen was last asked for a rating; a rating answers that one request, once.
    rating_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HeldMessageRow(Base):
    """A citizen's message that arrived while a human owns the conversation."""

    __tablename__ = "held_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(String(128), index=True)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HandoffEventRow(Base):
    """Append-only: one row per ownership move (and per priority raise), written with the move."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(80))  # "citizen", "bot", "system", or a Principal's actor
    move: Mapped[str] = mapped_column(String(32))
    from_owner: Mapped[str] = mapped_column(String(16))
    to_owner: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    operator: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
