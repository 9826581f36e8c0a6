"""The ticket schema. Alembic owns it: change a model here, then add a migration under migrations/versions/."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Dialect, ForeignKey, Integer, MetaData, String, Text, TypeDecorator
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.tickets.domain import TicketKind, TicketStatus

# Named constraints: later migrations on SQLite (batch mode) can only drop or alter what has a name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only aliases the rowid for exactly INTEGER PRIMARY KEY; PostgreSQL gets 64-bit keys.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which drops the zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _string_enum(enum: type[TicketKind] | type[TicketStatus]) -> SAEnum:
    # Stored as plain strings, no CHECK or native type: adding a status later is a code change, not a migration.
    return SAEnum(
        enum, native_enum=False, create_constraint=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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

    contact: Mapped[TicketContact] = relationship(back_populates="ticket", uselist=False)


class TicketContact(Base):
    """The citizen's name and phone, apart from the ticket text: a later migration encrypts these columns,
    and erasing them leaves the ticket intact."""

    __tablename__ = "ticket_contacts"

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id"), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)  # None = anonymous
    phone: Mapped[str] = mapped_column(String(32))
    consent_to_contact: Mapped[bool]

    ticket: Mapped[Ticket] = relationship(back_populates="contact")


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
