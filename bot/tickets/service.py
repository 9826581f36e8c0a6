"""TicketService: the one way tickets are created and read. Every change writes its audit row in the same
transaction, and `create` commits before it returns a receipt, so an acknowledged ticket survives a crash."""

from __future__ import annotations

import dataclasses
import hmac
import logging
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from bot.tickets.database import READ_ONLY, create_ticket_engine, upgrade_schema
from bot.tickets.deadlines import DeadlinePolicy
from bot.tickets.domain import TicketDraft, TicketKind, TicketReceipt, TicketStatus, TicketView
from bot.tickets.models import AuditEntry, Ticket, TicketContact
from bot.tickets.numbering import business_day, next_number, parse_number
from bot.tickets.privacy import mask_name, mask_phone, normalize_mainland_phone, phone_last4
from bot.tickets.routing import Router, route
from bot.tickets.settings import TicketSettings

logger = logging.getLogger(__name__)

CHANNELS = frozenset({"web", "phone", "sms", "wechat"})
_KEY_MAX = 255


def utc_now() -> datetime:
    return datetime.now(UTC)


class TicketService:
    """Create tickets and read them back, masked. Thread-safe: each call uses its own session."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime] = utc_now,
        *,
        deadlines: DeadlinePolicy | None = None,
        router: Router = route,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._deadlines = deadlines or DeadlinePolicy()
        self._router = router
        self._write_sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(engine.execution_options(**{READ_ONLY: True}))

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        """Release pooled connections. The service is unusable afterwards."""
        self._engine.dispose()

    def create(self, draft: TicketDraft) -> TicketReceipt:
        """File `draft` and return its receipt; the same idempotency key returns the first receipt again."""
        draft = _validated(draft)
        try:
            receipt = self._create(draft)
        except IntegrityError:
            # Two writers with one key (possible on PostgreSQL, where the check and the insert do not share a lock):
            # the loser's unique violation means the winner's ticket is the answer.
            receipt = self._existing_receipt(draft.idempotency_key)
            if receipt is None:
                raise
        if receipt.created:
            logger.info("ticket %s created: %s via %s", receipt.number, receipt.kind, draft.channel)
        return receipt

    def get(self, number: str) -> TicketView | None:
        """The ticket with this number, personal data masked; None if there is none."""
        canonical = parse_number(number)
        if canonical is None:
            return None
        with self._read_sessions() as session:
            ticket = _load(session, canonical)
            return None if ticket is None else _view(ticket)

    def status_for_citizen(self, number: str, phone_last4: str) -> TicketView | None:
        """The ticket if `phone_last4` matches its contact phone. A wrong pair and an unknown number look the
        same (None), so the answer reveals nothing. Callers must rate-limit: four digits are guessable."""
        canonical = parse_number(number)
        last4 = unicodedata.normalize("NFKC", phone_last4).strip()
        if canonical is None or not re.fullmatch(r"\d{4}", last4):
            return None
        with self._read_sessions() as session:
            ticket = _load(session, canonical)
            expected = _last4(ticket) if ticket is not None else "----"  # compare anyway: same work either way
            if not hmac.compare_digest(expected, last4) or ticket is None:
                return None
            return _view(ticket)

    def _create(self, draft: TicketDraft) -> TicketReceipt:
        with self._write_sessions.begin() as session:
            existing = session.scalar(select(Ticket).where(Ticket.idempotency_key == draft.idempotency_key))
            if existing is not None:
                return _receipt(existing, created=False)
            now = self._now()
            received_on = business_day(now)
            number = next_number(session, received_on)
            ticket = Ticket(
                number=number,
                kind=draft.kind,
                status=TicketStatus.RECEIVED,
                department=self._router(draft),
                due_date=self._deadlines.due_date(draft.kind, received_on),
                description=draft.description,
                location=draft.location,
                occurred_at=draft.occurred_at,
                subject=draft.subject,
                channel=draft.channel,
                sender_id=draft.sender_id,
                idempotency_key=draft.idempotency_key,
                created_at=now,
                contact=TicketContact(name=draft.name, phone=draft.phone, consent_to_contact=draft.consent_to_contact),
            )
            session.add(ticket)
            session.add(
                AuditEntry(
                    ticket_number=number,
                    actor=f"citizen:{draft.channel}",
                    action="create",
                    from_value=None,
                    to_value=TicketStatus.RECEIVED.value,
                    at=now,
                )
            )
            receipt = _receipt(ticket, created=True)
        # Leaving the block committed the transaction: only now does the receipt promise anything.
        return receipt

    def _existing_receipt(self, idempotency_key: str) -> TicketReceipt | None:
        with self._read_sessions() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.idempotency_key == idempotency_key))
            return None if ticket is None else _receipt(ticket, created=False)

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock returned a naive datetime")
        return now


def open_ticket_service(database_url: str | None = None, *, clock: Callable[[], datetime] = utc_now) -> TicketService:
    """A service on `database_url`, else DATABASE_URL, else var/hotline.db in the repo; migrates the schema first."""
    engine = create_ticket_engine(database_url or TicketSettings().database_url)
    try:
        upgrade_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return TicketService(engine, clock)


def _validated(draft: TicketDraft) -> TicketDraft:
    """The draft with its phone normalised and its name tidied; ValueError (never quoting the phone) if unusable."""
    phone = normalize_mainland_phone(draft.phone)
    if phone is None:
        raise ValueError("phone is not a mainland mobile or landline number")
    if not draft.description.strip():
        raise ValueError("description is empty")
    if draft.channel not in CHANNELS:
        raise ValueError(f"unknown channel {draft.channel!r}; expected one of {sorted(CHANNELS)}")
    for field_name in ("idempotency_key", "sender_id"):
        value = getattr(draft, field_name)
        if not value or len(value) > _KEY_MAX:
            raise ValueError(f"{field_name} must be 1 to {_KEY_MAX} characters")
    name = draft.name.strip() if draft.name else None
    return dataclasses.replace(draft, kind=TicketKind(draft.kind), phone=phone, name=name or None)


def _load(session: Session, number: str) -> Ticket | None:
    return session.scalar(select(Ticket).options(joinedload(Ticket.contact)).where(Ticket.number == number))


def _last4(ticket: Ticket) -> str:
    return phone_last4(ticket.contact.phone)


def _receipt(ticket: Ticket, *, created: bool) -> TicketReceipt:
    return TicketReceipt(
        number=ticket.number, kind=ticket.kind, department=ticket.department, due_date=ticket.due_date, created=created
    )


def _view(ticket: Ticket) -> TicketView:
    contact = ticket.contact
    return TicketView(
        number=ticket.number,
        kind=ticket.kind,
        status=ticket.status,
        department=ticket.department,
        due_date=ticket.due_date,
        created_at=ticket.created_at,
        description=ticket.description,
        location=ticket.location,
        occurred_at=ticket.occurred_at,
        subject=ticket.subject,
        name_masked=mask_name(contact.name),
        phone_masked=mask_phone(contact.phone),
        consent_to_contact=contact.consent_to_contact,
        channel=ticket.channel,
    )
