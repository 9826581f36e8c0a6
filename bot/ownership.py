"""Who owns a conversation: the bot, the handoff queue, or an operator (所有权只在一处判定).

Before a message reaches Rasa, the gateway asks here. While the queue or an operator owns the
conversation the bot is not called, and the citizen's messages are kept for the human.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.tickets.models import Base, UTCDateTime


class Owner(StrEnum):
    BOT = "bot"
    QUEUE = "queue"
    OPERATOR = "operator"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # emergencies jump the queue


class ConversationRow(Base):
    __tablename__ = "conversations"

    sender_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")
    owner: Mapped[str] = mapped_column(String(16), default=Owner.BOT)
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16), default=Priority.NORMAL)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=lambda: datetime.now(UTC))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HeldMessageRow(Base):
    """A citizen's message that arrived while a human owns the conversation."""

    __tablename__ = "held_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(String(128), index=True)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Conversation:
    sender_id: str
    owner: Owner
    handoff_reason: str | None
    priority: Priority


class OwnershipStore:
    def __init__(self, engine: Engine):
        """`engine`'s schema must be at head (bot.tickets.database.upgrade_schema): Alembic owns these tables."""
        self.engine = engine

    def get(self, sender_id: str) -> Conversation:
        with Session(self.engine) as session:
            row = session.get(ConversationRow, sender_id)
            if row is None:
                return Conversation(sender_id, Owner.BOT, None, Priority.NORMAL)
            return Conversation(row.sender_id, Owner(row.owner), row.handoff_reason, Priority(row.priority))

    def hand_to_queue(self, sender_id: str, channel: str, reason: str, priority: Priority) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id) or ConversationRow(sender_id=sender_id, channel=channel)
            row.owner = Owner.QUEUE
            row.handoff_reason = reason
            # An emergency stays urgent even if a later, calmer handoff follows.
            row.priority = Priority.URGENT if Priority.URGENT in (row.priority, priority) else Priority.NORMAL
            row.updated_at = datetime.now(UTC)
            session.add(row)

    def release_to_bot(self, sender_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id)
            if row is not None:
                row.owner, row.handoff_reason, row.priority = Owner.BOT, None, Priority.NORMAL
                row.updated_at = datetime.now(UTC)

    def hold(self, sender_id: str, text: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(HeldMessageRow(sender_id=sender_id, text=text, received_at=datetime.now(UTC)))

    def held_messages(self, sender_id: str) -> list[str]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(HeldMessageRow).where(HeldMessageRow.sender_id == sender_id).order_by(HeldMessageRow.id)
            )
            return [row.text for row in rows]
