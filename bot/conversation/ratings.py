"""满意度评议 of conversations: the citizen is asked once a handed-off conversation is closed, or an answered
one goes quiet, and may answer that request once, with 1–5 and an optional comment. The rating belongs to the
conversation and to its operator, if there was one. (Ticket ratings live with the tickets.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Integer, String, Text, UniqueConstraint, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.conversation.transcript import Outcome, Speaker, TurnRow
from bot.database import READ_ONLY, Base, Id, UTCDateTime
from bot.handoff.models import ConversationRow
from bot.handoff.workflow import Owner

#: A conversation quiet for longer than this is not asked any more when the quiet sweep first sees it (a page
#: closed long ago, or the sweep just switched on): the question would reach nobody.
QUIET_LOOKBACK = timedelta(days=1)


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


class RatingRefused(ValueError):
    """No rating was asked for, or this request was already answered."""


@dataclass(frozen=True)
class Rating:
    sender_id: str
    score: int
    comment: str | None
    operator: str | None
    at: datetime


class RatingStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.engine = engine
        self.clock = clock

    def rate(self, sender_id: str, score: int, comment: str | None = None) -> Rating:
        """The citizen's answer to the last rating request: RatingRefused if none is open, ValueError if the
        score is not 1–5. The rating goes to the operator who held the conversation last, if any."""
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise ValueError("评分须为1到5的整数")
        comment = (comment or "").strip()[:500] or None
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                conversation = session.get(ConversationRow, sender_id)
                if conversation is None or conversation.rating_asked_at is None:
                    raise RatingRefused("现在没有需要评价的服务")
                row = RatingRow(
                    sender_id=sender_id, asked_at=conversation.rating_asked_at, at=self.clock(), score=score,
                    comment=comment, operator=conversation.operator, channel=conversation.channel,
                )  # fmt: skip
                session.add(row)
        except IntegrityError:
            raise RatingRefused("这次服务已经评价过了，谢谢您") from None
        return Rating(sender_id, score, comment, row.operator, row.at)

    def is_open(self, sender_id: str) -> bool:
        """Whether the citizen was asked for a rating and has not answered that request yet."""
        with Session(self.engine.execution_options(**{READ_ONLY: True})) as session:
            asked = select(ConversationRow.rating_asked_at).where(ConversationRow.sender_id == sender_id)
            asked_at = session.scalar(asked)
            if asked_at is None:
                return False
            answered = session.scalar(
                select(RatingRow.id).where(RatingRow.sender_id == sender_id, RatingRow.asked_at == asked_at)
            )
            return answered is None

    def quiet_answered(self, quiet_s: float) -> list[str]:
        """Conversations to ask now because an answered one went quiet: the bot owns it, the citizen's last turn
        was answered and is older than `quiet_s`, and no rating was asked since that turn (once per stretch)."""
        now = self.clock()
        cutoff = now - timedelta(seconds=quiet_s)
        last = (
            select(TurnRow.sender_id, func.max(TurnRow.id).label("id"))
            .where(TurnRow.speaker == Speaker.CITIZEN, TurnRow.at >= cutoff - QUIET_LOOKBACK)
            .group_by(TurnRow.sender_id)
            .subquery()
        )
        query = (
            select(ConversationRow.sender_id)
            .join(last, last.c.sender_id == ConversationRow.sender_id)
            .join(TurnRow, TurnRow.id == last.c.id)
            .where(
                ConversationRow.owner == Owner.BOT,
                TurnRow.outcome == Outcome.ANSWERED,
                TurnRow.at < cutoff,
                or_(ConversationRow.rating_asked_at.is_(None), ConversationRow.rating_asked_at < TurnRow.at),
            )
            .order_by(ConversationRow.sender_id)
        )
        with Session(self.engine.execution_options(**{READ_ONLY: True})) as session:
            return list(session.scalars(query))

    def for_conversation(self, sender_id: str) -> list[Rating]:
        with Session(self.engine) as session:
            rows = session.scalars(select(RatingRow).where(RatingRow.sender_id == sender_id).order_by(RatingRow.id))
            return [Rating(r.sender_id, r.score, r.comment, r.operator, r.at) for r in rows]
