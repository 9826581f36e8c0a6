"""Which tickets each citizen has been told the number of (受理回执).

A ticket is committed before the citizen hears its number. If the turn that filed it never reached the
citizen (the action server answered after Rasa gave up), the number is told on the citizen's next turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.database import READ_ONLY, Base, UTCDateTime
from bot.tickets.domain import KIND_LABELS, TicketKind, spoken_date
from bot.tickets.models import Ticket

#: Older tickets are not announced: a citizen back after days asks about them by number.
LOOKBACK = timedelta(days=1)


class TicketAcknowledgementRow(Base):
    __tablename__ = "ticket_acknowledgements"

    ticket_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class UntoldTicket:
    number: str
    kind: TicketKind
    department: str
    due_date: date

    def notice(self) -> str:
        due = spoken_date(self.due_date)
        return (
            f"刚才的回复没能送达，这里补告：您的{KIND_LABELS[self.kind]}已受理，工单号：{self.number}，"
            f"承办单位：{self.department}，将于{due}前办结。"
        )


class ReceiptLedger:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def untold(self, sender_id: str, now: datetime | None = None) -> list[UntoldTicket]:
        since = (now or datetime.now(UTC)) - LOOKBACK
        told = select(TicketAcknowledgementRow.ticket_number).where(TicketAcknowledgementRow.sender_id == sender_id)
        query = (
            select(Ticket.number, Ticket.kind, Ticket.department, Ticket.due_date)
            .where(Ticket.sender_id == sender_id, Ticket.created_at >= since, Ticket.number.not_in(told))
            .order_by(Ticket.id)
        )
        with Session(self._reader) as session:
            return [UntoldTicket(*row) for row in session.execute(query)]

    def told(self, sender_id: str, number: str) -> None:
        try:
            with Session(self.engine) as session, session.begin():
                if session.get(TicketAcknowledgementRow, number) is None:
                    session.add(
                        TicketAcknowledgementRow(ticket_number=number, sender_id=sender_id, at=datetime.now(UTC))
                    )
        except IntegrityError:
            pass  # two turns told it at once: once is recorded, which is all this says
