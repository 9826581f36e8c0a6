"""The ticket schema. Alembic owns it: change a model here, then add a migration under migrations/versions/."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.database import Base, Id, UTCDateTime
from bot.tickets.domain import TicketKind, TicketStatus


def _string_enum(enum: type[TicketKind] | type[TicketStatus]) -> SAEnum:
    # Stored as plain strings, no CHECK or native type: adding a status later is a code change, not a migration.
    return SAEnum(
        enum, native_enum=False, create_constraint=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class Ticket(Base):
    """One complaint, report, suggestion or disclosure request. Holds no personal data: see TicketContact."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # 受理编号
    kind: Mapped[TicketKind] = mapped_column(_string_enum(TicketKind))
    status: Mapped[TicketStatus] = mapped_column(_string_enum(TicketStatus))
    department: Mapped[str] = mapped_column(String(100))
    due_date: Mapped[date] = mapped_column(Date)  # 限时办结
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[str] = mapped_column(Text)  # free text, as the citizen said it
    subject: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    domain: Mapped[str | None] = mapped_column(String(32), index=True)  # 城建, 医疗, …; None = triage
    assignee: Mapped[str | None] = mapped_column(String(64))  # the operator or office clerk handling it
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # overdue, sent to a supervisor
    hotspot_id: Mapped[int | None] = mapped_column(Id, ForeignKey("hotspots.id"), index=True)
    satisfaction: Mapped[int | None]  # 1–5, given by the citizen after the ticket is finished
    satisfaction_comment: Mapped[str | None] = mapped_column(Text)

    contact: Mapped[TicketContact] = relationship(back_populates="ticket", uselist=False)
    messages: Mapped[list[TicketMessage]] = relationship(back_populates="ticket", order_by="TicketMessage.id")


class TicketContact(Base):
    """The citizen's name and phone, apart from the ticket text: a later migration encrypts these columns,
    and erasing them leaves the ticket intact."""

    __tablename__ = "ticket_contacts"

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id"), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)  # None = anonymous
    phone: Mapped[str] = mapped_column(String(32))
    consent_to_contact: Mapped[bool]

    ticket: Mapped[Ticket] = relationship(back_populates="contact")


class TicketMessage(Base):
    """Text added to a ticket after filing: an office's reply, or a citizen's repeat of the same matter."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reply | followup
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="messages")


class Hotspot(Base):
    """Many citizens on one matter (the same pothole, the same clinic): grouped so an office answers it once."""

    __tablename__ = "hotspots"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    domain: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)  # the first ticket's description, trimmed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxEvent(Base):
    """A webhook delivery owed to the external ticketing system, written in the same transaction as the change."""

    __tablename__ = "outbox"
    # Delivered rows stay (they are the delivery record), so the dispatcher's polls use partial indexes over
    # the undelivered few: an idle poll measured 44 ms with 300,000 delivered rows on SQLite, 0.8 ms with these.
    __table_args__ = (
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            sqlite_where=text("delivered_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL"),
        ),
        Index(
            "ix_outbox_pending_by_ticket",
            "ticket_number",
            "id",
            sqlite_where=text("delivered_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    event: Mapped[str] = mapped_column(String(32))  # ticket.created, ticket.status_changed, …
    ticket_number: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # JSON, exactly the bytes that are signed and sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Append-only: every change to a ticket, written in the same transaction as the change.

    The migration adds triggers that refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_value: Mapped[str | None] = mapped_column(String(100))
    to_value: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketCounter(Base):
    """The last sequence number issued per business day. Incrementing the row serialises concurrent writers."""

    __tablename__ = "ticket_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
