"""满意度评议 as the supervisor reads it: the latest ratings of conversations and of tickets, with their means.

Both kinds are written elsewhere (bot/conversation/ratings.py, TicketService.rate); this only reads them.
Comments are the citizen's words: numbers are blanked before they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.conversation.ratings import RatingRow
from bot.database import READ_ONLY
from bot.redaction import redact_numbers
from bot.tickets.models import AuditEntry, Ticket


@dataclass(frozen=True)
class ConversationRating:
    conversation_id: str
    score: int
    comment: str | None
    operator: str | None  # None: the bot alone served it
    channel: str
    at: datetime


@dataclass(frozen=True)
class TicketRating:
    number: str
    kind: str
    department: str
    score: int
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float | None  # None when there is no rating


@dataclass(frozen=True)
class Satisfaction:
    conversations: list[ConversationRating]
    conversations_summary: Summary
    tickets: list[TicketRating]
    tickets_summary: Summary


def _comment(text: str | None) -> str | None:
    return redact_numbers(text) if text else None


def _summary(count: int | None, mean: float | None) -> Summary:
    return Summary(int(count or 0), None if mean is None else round(float(mean), 2))


def latest(engine: Engine, limit: int = 20) -> Satisfaction:
    """The `limit` latest ratings of each kind, and the count and mean of all of them."""
    with Session(engine.execution_options(**{READ_ONLY: True})) as session:
        rows = session.scalars(select(RatingRow).order_by(RatingRow.at.desc(), RatingRow.id.desc()).limit(limit))
        conversations = [
            ConversationRating(r.sender_id, r.score, _comment(r.comment), r.operator, r.channel, r.at) for r in rows
        ]
        conversation_stats = session.execute(select(func.count(RatingRow.id), func.avg(RatingRow.score))).one()
        rated = (
            select(Ticket, func.max(AuditEntry.at).label("at"))
            .join(AuditEntry, (AuditEntry.ticket_number == Ticket.number) & (AuditEntry.action == "rate"))
            .where(Ticket.satisfaction.is_not(None))
            .group_by(Ticket.id)
            .order_by(func.max(AuditEntry.at).desc(), Ticket.id.desc())
            .limit(limit)
        )
        tickets = [
            TicketRating(t.number, str(t.kind), t.department, int(t.satisfaction), _comment(t.satisfaction_comment), at)
            for t, at in session.execute(rated)
        ]
        ticket_stats = session.execute(
            select(func.count(Ticket.id), func.avg(Ticket.satisfaction)).where(Ticket.satisfaction.is_not(None))
        ).one()
    return Satisfaction(conversations, _summary(*conversation_stats), tickets, _summary(*ticket_stats))
