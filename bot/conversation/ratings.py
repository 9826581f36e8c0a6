"""满意度评议 of conversations: the citizen is asked once a handed-off conversation is closed, or an answered
one goes quiet, and may answer that request once, with 1–5 and an optional comment. The rating belongs to the
conversation and to its operator, if there was one. (Ticket ratings live with the tickets.)"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.database import Base, Id, UTCDateTime


class RatingRow(Base):
    __tablename__ = "conversation_ratings"
    __table_args__ = (UniqueConstraint("sender_id", "asked_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(128))
    #: The request this answers (conversations.rating_asked_at): one rating per request.
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True, default=lambda: datetime.now(UTC))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    operator: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
