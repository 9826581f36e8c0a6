"""TicketService: the one way tickets are created, changed and read.

Every change writes its audit row (电子监察) and its outbox row (the webhook owed to the external system) in
the same transaction as the change; a session that changes a ticket without an audit row refuses to flush.
`create` commits before it returns a receipt, so an acknowledged ticket survives a crash.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from bot.database import READ_ONLY, create_ticket_engine, upgrade_schema
from bot.settings import Settings, load_settings
from bot.tickets.deadlines import DeadlinePolicy, configured_policy
from bot.tickets.domain import (
    RoutingDecision,
    TicketContactView,
    TicketDraft,
    TicketFilter,
    TicketKind,
    TicketMessageView,
    TicketReceipt,
    TicketStatus,
    TicketView,
)
from bot.tickets.models import AuditEntry, Hotspot, OutboxEvent, Ticket, TicketContact, TicketMessage
from bot.tickets.numbering import business_day, next_number, parse_number
from bot.tickets.privacy import mask_name, mask_phone, normalize_mainland_phone, phone_last4, redact_numbers
from bot.tickets.routing import RoutingTable, load_routing_table, route
from bot.tickets.similarity import bigrams, jaccard
from bot.tickets.workflow import ANSWERED, FINISHED, check_move

logger = logging.getLogger(__name__)

# "voice": the IVR (Twilio); "phone": a call an operator took and filed by hand.
CHANNELS = frozenset({"web", "voice", "phone", "sms", "wechat"})
_KEY_MAX = 255
_AUDITED = (Ticket, TicketContact, TicketMessage)
_BODY_MAX = 8000

Router = Callable[[TicketDraft], RoutingDecision]


class TicketNotFound(LookupError):
    """No ticket has this number."""


class UnauditedChange(RuntimeError):
    """A session tried to change a ticket without writing an audit row: a bug, never a citizen's error."""


@dataclass(frozen=True)
class MatchingPolicy:
    """When a new matter is the same citizen saying it again (linked), or one of many on one issue (hot spot)."""

    # Similarity of the descriptions (bot/tickets/similarity.py). Retellings of one matter measured .29–.60,
    # different matters ≤ .10 (tests/tickets/test_workflow.py). The same citizen filing the same kind within a
    # week is a strong prior, so the bar for a repeat is higher only to keep two matters of one citizen apart.
    duplicate_window: timedelta = timedelta(days=7)
    duplicate_similarity: float = 0.4
    hotspot_window: timedelta = timedelta(days=14)
    hotspot_similarity: float = 0.25
    candidates: int = 500  # the most recent tickets in the window that are compared


@dataclass(frozen=True)
class AuditRecord:
    ticket_number: str
    actor: str
    action: str
    from_value: str | None
    to_value: str | None
    at: datetime


@dataclass(frozen=True)
class RoutingLabel:
    """A ticket whose domain an operator set: what the citizen wrote (personal numbers blanked) and the domain."""

    ticket_number: str
    text: str
    domain: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class HotspotView:
    id: int
    domain: str | None
    title: str
    ticket_numbers: tuple[str, ...]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TicketService:
    """Create, change and read tickets. Thread-safe: each call uses its own session."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime] = utc_now,
        *,
        deadlines: DeadlinePolicy | None = None,
        router: Router = route,
        matching: MatchingPolicy | None = None,
        supervisor: str = "值班长",
        routing_table: RoutingTable | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._deadlines = deadlines or DeadlinePolicy()
        self._router = router
        self._matching = matching or MatchingPolicy()
        self._supervisor = supervisor
        # Where an operator's domain correction sends a ticket; the same table the router files with.
        self._routing_table = routing_table or load_routing_table()
        self._write_sessions = sessionmaker(engine, expire_on_commit=False)
        event.listen(self._write_sessions, "before_flush", _refuse_unaudited_changes)
        self._read_sessions = sessionmaker(engine.execution_options(**{READ_ONLY: True}))

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def deadlines(self) -> DeadlinePolicy:
        return self._deadlines

    def today(self) -> date:
        """The business day in China now, by the service's clock."""
        return business_day(self._now())

    def close(self) -> None:
        """Release pooled connections. The service is unusable afterwards."""
        self._engine.dispose()

    # --- the citizen files ---------------------------------------------------------------------------------

    def create(self, draft: TicketDraft) -> TicketReceipt:
        """File `draft` and return its receipt. The same idempotency key returns the first receipt again; the
        same citizen repeating an open matter gets that ticket's receipt, with the new text added to it."""
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
        elif receipt.linked:
            logger.info("matter linked to ticket %s via %s", receipt.number, draft.channel)
        return receipt

    def _create(self, draft: TicketDraft) -> TicketReceipt:
        decision = self._router(draft)  # outside the transaction: a classifier must not hold the write lock
        with self._write_sessions.begin() as session:
            existing = session.scalar(select(Ticket).where(Ticket.idempotency_key == draft.idempotency_key))
            if existing is not None:
                return _receipt(existing, created=False)
            now = self._now()
            earlier = self._same_matter_from_same_citizen(session, draft, now)
            if earlier is not None:
                self._link(session, earlier, draft, now)
                return _receipt(earlier, created=False, linked=True)
            received_on = business_day(now)
            number = next_number(session, received_on)
            ticket = Ticket(
                number=number,
                kind=draft.kind,
                status=TicketStatus.RECEIVED,
                department=decision.department,
                domain=decision.domain,
                due_date=self._deadlines.due_date(draft.kind, received_on),
                description=draft.description,
                location=draft.location,
                occurred_at=draft.occurred_at,
                subject=draft.subject,
                channel=draft.channel,
                sender_id=draft.sender_id,
                idempotency_key=draft.idempotency_key,
                created_at=now,
                updated_at=now,
                contact=TicketContact(name=draft.name, phone=draft.phone, consent_to_contact=draft.consent_to_contact),
            )
            session.add(ticket)
            _audit(session, ticket, f"citizen:{draft.channel}", "create", None, TicketStatus.RECEIVED, now)
            self._join_hotspot(session, ticket, now)
            session.flush()
            _enqueue(session, "ticket.created", ticket, now)
            receipt = _receipt(ticket, created=True)
        # Leaving the block committed the transaction: only now does the receipt promise anything.
        return receipt

    def _same_matter_from_same_citizen(self, session: Session, draft: TicketDraft, now: datetime) -> Ticket | None:
        candidates = (
            select(Ticket.id, Ticket.description)
            .join(Ticket.contact)
            .where(
                TicketContact.phone == draft.phone,
                Ticket.kind == draft.kind,
                Ticket.created_at >= now - self._matching.duplicate_window,
                Ticket.status.not_in(FINISHED),
            )
        )
        found = self._most_similar(session, candidates, draft.description, self._matching.duplicate_similarity)
        return None if found is None else session.get(Ticket, found)

    def _link(self, session: Session, ticket: Ticket, draft: TicketDraft, now: datetime) -> None:
        if any(m.kind == "followup" and m.body == draft.description for m in ticket.messages):
            return  # the same words again (a retried message): already on the ticket
        ticket.messages.append(
            TicketMessage(kind="followup", author=f"citizen:{draft.channel}", body=draft.description, at=now)
        )
        ticket.updated_at = now
        _audit(session, ticket, f"citizen:{draft.channel}", "link_duplicate", None, draft.idempotency_key[:100], now)
        _enqueue(session, "ticket.followup", ticket, now)

    def _join_hotspot(self, session: Session, ticket: Ticket, now: datetime) -> None:
        """Many citizens on one matter: put `ticket` in the hot spot of the most similar recent ticket."""
        candidates = (
            select(Ticket.id, Ticket.description)
            .join(Ticket.contact)
            .where(
                Ticket.created_at >= now - self._matching.hotspot_window,
                TicketContact.phone != ticket.contact.phone,
                Ticket.status.not_in(FINISHED),
            )
        )
        if ticket.domain is not None:
            candidates = candidates.where(Ticket.domain == ticket.domain)
        found = self._most_similar(session, candidates, ticket.description, self._matching.hotspot_similarity)
        nearest = None if found is None else session.get(Ticket, found)
        if nearest is None:
            return
        if nearest.hotspot_id is None:
            spot = Hotspot(domain=nearest.domain, title=nearest.description[:100], created_at=now)
            session.add(spot)
            session.flush()
            nearest.hotspot_id = spot.id
            _audit(session, nearest, "system:hotspot", "hotspot", None, str(spot.id), now)
        ticket.hotspot_id = nearest.hotspot_id
        _audit(session, ticket, "system:hotspot", "hotspot", None, str(nearest.hotspot_id), now)

    def _most_similar(self, session: Session, candidates: Select[Any], text: str, threshold: float) -> int | None:
        """The id of the recent candidate whose description is most like `text`, if it reaches `threshold`.
        Only ids and descriptions are read: this runs inside the write transaction of every new ticket."""
        rows = session.execute(candidates.order_by(Ticket.id.desc()).limit(self._matching.candidates)).all()
        mine = bigrams(text)
        score, best = max(((jaccard(mine, bigrams(row.description)), row.id) for row in rows), default=(0.0, None))
        return best if score >= threshold else None

    def receipt_for(self, idempotency_key: str) -> TicketReceipt | None:
        """The receipt of the ticket filed under `idempotency_key`, if any (created=False): a form sent again
        learns its ticket without the facts the first filing took out of the conversation (its phone number)."""
        return self._existing_receipt(idempotency_key)

    def _existing_receipt(self, idempotency_key: str) -> TicketReceipt | None:
        with self._read_sessions() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.idempotency_key == idempotency_key))
            return None if ticket is None else _receipt(ticket, created=False)

    # --- reading -----------------------------------------------------------------------------------------

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
        with self._read_sessions() as session:
            ticket = _load_for_citizen(session, number, phone_last4)
            return None if ticket is None else _view(ticket)

    def list(self, where: TicketFilter | None = None, *, limit: int = 50, offset: int = 0) -> list[TicketView]:
        """Tickets matching `where`, newest first, masked."""
        if not 1 <= limit <= 1000 or offset < 0:
            raise ValueError("limit must be 1 to 1000 and offset not negative")
        query = _filtered(select(Ticket), where or TicketFilter())
        query = query.options(joinedload(Ticket.contact), selectinload(Ticket.messages))
        with self._read_sessions() as session:
            tickets = session.scalars(query.order_by(Ticket.id.desc()).limit(limit).offset(offset))
            return [_view(ticket) for ticket in tickets]

    def count(self, where: TicketFilter | None = None) -> int:
        query = _filtered(select(func.count(Ticket.id)), where or TicketFilter())
        with self._read_sessions() as session:
            return int(session.scalar(query) or 0)

    def overdue(self, today: date | None = None) -> list[TicketView]:
        """Open tickets past their 限时办结 date, most overdue first."""
        today = today or self.today()
        return sorted(self._all(TicketFilter(overdue_on=today)), key=lambda view: view.due_date)

    def due_soon(self, today: date | None = None, working_days: int = 2) -> list[TicketView]:
        """Open tickets due from today to `working_days` working days from now: the ones to chase."""
        today = today or self.today()
        horizon = self._deadlines.calendar.add_working_days(today, working_days)
        query = select(Ticket).where(Ticket.status.not_in(ANSWERED), Ticket.due_date.between(today, horizon))
        with self._read_sessions() as session:
            tickets = session.scalars(query.options(joinedload(Ticket.contact)).order_by(Ticket.due_date, Ticket.id))
            return [_view(ticket) for ticket in tickets]

    def hotspots(self, min_tickets: int = 2) -> list[HotspotView]:
        """Hot spots with at least `min_tickets` tickets, the largest first."""
        with self._read_sessions() as session:
            rows = session.execute(
                select(Hotspot, Ticket.number).join(Ticket, Ticket.hotspot_id == Hotspot.id).order_by(Ticket.id)
            ).all()
        grouped: dict[int, tuple[Hotspot, list[str]]] = {}
        for spot, number in rows:
            grouped.setdefault(spot.id, (spot, []))[1].append(number)
        views = [
            HotspotView(spot.id, spot.domain, redact_numbers(spot.title), tuple(numbers))
            for spot, numbers in grouped.values()
            if len(numbers) >= min_tickets
        ]
        return sorted(views, key=lambda view: (-len(view.ticket_numbers), view.id))

    def audit_entries(
        self, *, since: datetime | None = None, ticket_number: str | None = None
    ) -> Iterator[AuditRecord]:
        """The audit log in order, for export; streams, so a year of entries does not sit in memory."""
        query = select(AuditEntry).order_by(AuditEntry.id)
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        if ticket_number is not None:
            query = query.where(AuditEntry.ticket_number == (parse_number(ticket_number) or ticket_number))
        with self._read_sessions() as session:
            for entry in session.scalars(query.execution_options(yield_per=500)):
                yield AuditRecord(
                    entry.ticket_number, entry.actor, entry.action, entry.from_value, entry.to_value, entry.at
                )

    def routing_labels(self, *, since: datetime | None = None) -> list[RoutingLabel]:
        """Operators' domain corrections that still stand, oldest first: the office's own routing labels, for
        `hotline tickets train-router --labels`."""
        query = select(AuditEntry, Ticket).join(Ticket, Ticket.number == AuditEntry.ticket_number)
        query = query.where(AuditEntry.action == "assign_domain").order_by(AuditEntry.id)
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        latest: dict[str, RoutingLabel] = {}
        with self._read_sessions() as session:
            for entry, ticket in session.execute(query):
                if entry.to_value != ticket.domain:
                    continue  # corrected again later; the later entry is the label
                text = redact_numbers(f"{ticket.description} {ticket.subject or ''}".strip())
                latest[ticket.number] = RoutingLabel(ticket.number, text, ticket.domain, entry.actor, entry.at)
        return sorted(latest.values(), key=lambda label: label.at)

    def _all(self, where: TicketFilter) -> list[TicketView]:
        with self._read_sessions() as session:
            query = _filtered(select(Ticket), where).options(joinedload(Ticket.contact))
            return [_view(ticket) for ticket in session.scalars(query.order_by(Ticket.id))]

    # --- an office works the ticket ------------------------------------------------------------------------

    def contact(self, number: str, actor: str) -> TicketContactView:
        """The unmasked name and phone, for calling the citizen back, and the citizen's text unredacted: the one
        way to read them. Every read is written to the audit log."""
        with self._write_sessions.begin() as session:
            ticket = self._require(session, number)
            _audit(session, ticket, actor, "view_contact", None, None, self._now())
            contact = ticket.contact
            return TicketContactView(
                ticket.number,
                contact.name,
                contact.phone,
                contact.consent_to_contact,
                description=ticket.description,
                location=ticket.location,
                occurred_at=ticket.occurred_at,
                subject=ticket.subject,
            )

    def assign(
        self,
        number: str,
        actor: str,
        *,
        department: str | None = None,
        assignee: str | None = None,
        domain: str | None = None,
    ) -> TicketView:
        """Give the ticket to a department and/or a person, or correct its domain (the triage desk's job), which
        also sends it to that domain's department unless one is named. A new complaint, report or suggestion
        moves to assigned; a disclosure request keeps its step and its office (its workflow has no assigned
        state, and 依申请公开 is answered by the disclosure office whatever the topic)."""
        department = (department or "").strip() or None
        assignee = (assignee or "").strip() or None
        domain = (domain or "").strip() or None
        if department is None and assignee is None and domain is None:
            raise ValueError("assign needs a department, a domain or an assignee")
        if domain is not None and domain not in self._routing_table.departments:
            known = "、".join(self._routing_table.departments)
            raise ValueError(f"未知的领域 {domain!r}，可选：{known}")
        with self._write_sessions.begin() as session:
            ticket = self._require(session, number)
            if ticket.status in FINISHED:
                raise ValueError(f"工单 {ticket.number} 已结束，不能再分派")
            now = self._now()
            changed = False
            if domain is not None and domain != ticket.domain:
                _audit(session, ticket, actor, "assign_domain", ticket.domain, domain, now)
                ticket.domain, changed = domain, True
                if department is None and ticket.kind != TicketKind.DISCLOSURE_REQUEST:
                    department = self._routing_table.department_for(domain)
            if department is not None and department != ticket.department:
                _audit(session, ticket, actor, "assign_department", ticket.department, department, now)
                ticket.department, changed = department, True
            if assignee is not None and assignee != ticket.assignee:
                _audit(session, ticket, actor, "assign", ticket.assignee, assignee, now)
                ticket.assignee, changed = assignee, True
            if ticket.kind != TicketKind.DISCLOSURE_REQUEST and ticket.status == TicketStatus.RECEIVED:
                self._move(session, ticket, TicketStatus.ASSIGNED, actor, now)
            elif changed:
                ticket.updated_at = now
                _enqueue(session, "ticket.assigned", ticket, now)
            return _view(ticket)

    def transition(self, number: str, target: TicketStatus | str, actor: str) -> TicketView:
        """Move the ticket along its workflow; InvalidTransition (a ValueError) says which moves are allowed."""
        with self._write_sessions.begin() as session:
            ticket = self._require(session, number)
            self._move(session, ticket, _status(target), actor, self._now())
            return _view(ticket)

    def reply(self, number: str, body: str, actor: str) -> TicketView:
        """Record the office's answer to the citizen and move the ticket to replied."""
        body = body.strip()
        if not body or len(body) > _BODY_MAX:
            raise ValueError(f"a reply must be 1 to {_BODY_MAX} characters")
        with self._write_sessions.begin() as session:
            ticket = self._require(session, number)
            now = self._now()
            check_move(ticket.kind, ticket.status, TicketStatus.REPLIED)
            ticket.messages.append(TicketMessage(kind="reply", author=actor, body=body, at=now))
            _audit(session, ticket, actor, "reply", None, f"{len(body)} 字", now)
            self._move(session, ticket, TicketStatus.REPLIED, actor, now)
            return _view(ticket)

    def rate(self, number: str, phone_last4: str, score: int, comment: str = "") -> TicketView | None:
        """满意度: the citizen rates a finished ticket 1–5, once. None for a wrong number/phone pair, as in
        status_for_citizen; ValueError when the ticket is not finished yet or was already rated."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ValueError("满意度 is 1 to 5")
        comment = comment.strip()
        if len(comment) > _BODY_MAX:
            raise ValueError(f"a comment must be at most {_BODY_MAX} characters")
        with self._write_sessions.begin() as session:
            ticket = _load_for_citizen(session, number, phone_last4)
            if ticket is None:
                return None
            if ticket.status not in FINISHED:
                raise ValueError(f"工单 {ticket.number} 还未办结，办结后才能评价")
            if ticket.satisfaction is not None:
                raise ValueError(f"工单 {ticket.number} 已经评价过了")
            now = self._now()
            ticket.satisfaction, ticket.satisfaction_comment, ticket.updated_at = score, comment or None, now
            _audit(session, ticket, f"citizen:{ticket.channel}", "rate", None, str(score), now)
            _enqueue(session, "ticket.rated", ticket, now)
            return _view(ticket)

    def escalate_overdue(self, actor: str = "system:deadline", today: date | None = None) -> list[TicketView]:
        """Send every overdue ticket not yet escalated to the supervisor, once; returns those escalated now."""
        now = self._now()
        today = today or business_day(now)
        with self._write_sessions.begin() as session:
            query = _filtered(select(Ticket), TicketFilter(overdue_on=today)).where(Ticket.escalated_at.is_(None))
            escalated = []
            for ticket in session.scalars(query.options(joinedload(Ticket.contact)).order_by(Ticket.due_date)):
                ticket.escalated_at = ticket.updated_at = now
                _audit(session, ticket, actor, "escalate", ticket.department, self._supervisor, now)
                _enqueue(session, "ticket.escalated", ticket, now)
                escalated.append(_view(ticket))
        for view in escalated:
            logger.warning("ticket %s overdue since %s: escalated to %s", view.number, view.due_date, self._supervisor)
        return escalated

    def _move(self, session: Session, ticket: Ticket, target: TicketStatus, actor: str, now: datetime) -> None:
        check_move(ticket.kind, ticket.status, target)
        action = "reopen" if ticket.status in ANSWERED and target == TicketStatus.IN_PROGRESS else "transition"
        _audit(session, ticket, actor, action, ticket.status, target, now)
        ticket.status, ticket.updated_at = target, now
        _enqueue(session, "ticket.status_changed", ticket, now)

    def _require(self, session: Session, number: str) -> Ticket:
        canonical = parse_number(number)
        ticket = None if canonical is None else _load(session, canonical)
        if ticket is None:
            raise TicketNotFound(f"没有工单 {number}")
        return ticket

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock returned a naive datetime")
        return now


def open_ticket_service(
    database_url: str | None = None,
    *,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utc_now,
    router: Router = route,
) -> TicketService:
    """A service on `database_url`, else the settings' (bot/settings.py); migrates the schema first.

    Without `settings` they are read from the environment now, so a bad setting fails here, before any ticket
    is filed.
    """
    settings = settings or load_settings()
    deadlines = configured_policy(settings.deadline_days, settings.holiday_calendars)  # a bad calendar fails here
    routing_table = load_routing_table()  # and so does a bad $HOTLINE_ROUTING_TABLE
    engine = create_ticket_engine(database_url or settings.database_url)
    try:
        upgrade_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return TicketService(engine, clock, router=router, deadlines=deadlines, routing_table=routing_table)


def _refuse_unaudited_changes(session: Session, _context: Any, _instances: Any) -> None:
    changed = [obj for obj in (*session.new, *session.dirty) if isinstance(obj, _AUDITED) and session.is_modified(obj)]
    if changed and not any(isinstance(obj, AuditEntry) for obj in session.new):
        raise UnauditedChange(f"refusing to change {type(changed[0]).__name__} without an audit entry")


def _audit(
    session: Session,
    ticket: Ticket,
    actor: str,
    action: str,
    from_value: str | None,
    to_value: str | None,
    now: datetime,
) -> None:
    session.add(
        AuditEntry(
            ticket_number=ticket.number,
            actor=actor[:64],
            action=action,
            from_value=None if from_value is None else str(from_value)[:100],
            to_value=None if to_value is None else str(to_value)[:100],
            at=now,
        )
    )


def _enqueue(session: Session, event_name: str, ticket: Ticket, now: datetime) -> None:
    """The webhook for this change, committed with it: delivered later by bot.tickets.outbox, never lost."""
    payload = {"event": event_name, "at": now.isoformat(), "ticket": _webhook_ticket(ticket)}
    session.add(
        OutboxEvent(
            event=event_name,
            ticket_number=ticket.number,
            payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )


def _webhook_ticket(ticket: Ticket) -> dict[str, Any]:
    # The external system gets the masked phone and the text with numbers blanked: whoever calls back reads the
    # contact, and the text as written, through the audited API.
    return {
        "number": ticket.number,
        "kind": str(ticket.kind),
        "status": str(ticket.status),
        "domain": ticket.domain,
        "department": ticket.department,
        "assignee": ticket.assignee,
        "due_date": ticket.due_date.isoformat(),
        "created_at": ticket.created_at.isoformat(),
        "channel": ticket.channel,
        **_citizen_text(ticket),
        "phone_masked": mask_phone(ticket.contact.phone),
        "hotspot_id": ticket.hotspot_id,
        "satisfaction": ticket.satisfaction,
    }


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


def _status(value: TicketStatus | str) -> TicketStatus:
    try:
        return TicketStatus(value)
    except ValueError:
        raise ValueError(f"unknown status {value!r}; expected one of {[s.value for s in TicketStatus]}") from None


def _filtered(query: Any, where: TicketFilter) -> Any:
    if where.status is not None:
        query = query.where(Ticket.status == _status(where.status))
    if where.kind is not None:
        query = query.where(Ticket.kind == TicketKind(where.kind))
    if where.department is not None:
        query = query.where(Ticket.department == where.department)
    if where.domain is not None:
        query = query.where(Ticket.domain == where.domain)
    if where.assignee is not None:
        query = query.where(Ticket.assignee == where.assignee)
    if where.overdue_on is not None:
        query = query.where(Ticket.status.not_in(ANSWERED), Ticket.due_date < where.overdue_on)
    if where.text:
        query = query.where(Ticket.description.contains(where.text, autoescape=True))
    return query


def _load(session: Session, number: str) -> Ticket | None:
    return session.scalar(
        select(Ticket).options(joinedload(Ticket.contact), selectinload(Ticket.messages)).where(Ticket.number == number)
    )


def _load_for_citizen(session: Session, number: str, last4: str) -> Ticket | None:
    canonical = parse_number(number)
    last4 = unicodedata.normalize("NFKC", last4).strip()
    if canonical is None or not re.fullmatch(r"\d{4}", last4):
        return None
    ticket = _load(session, canonical)
    expected = phone_last4(ticket.contact.phone) if ticket is not None else "----"  # same work either way
    if not hmac.compare_digest(expected, last4) or ticket is None:
        return None
    return ticket


def _receipt(ticket: Ticket, *, created: bool, linked: bool = False) -> TicketReceipt:
    return TicketReceipt(
        number=ticket.number,
        kind=ticket.kind,
        department=ticket.department,
        due_date=ticket.due_date,
        created=created,
        linked=linked,
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
        **_citizen_text(ticket),
        name_masked=mask_name(contact.name),
        phone_masked=mask_phone(contact.phone),
        consent_to_contact=contact.consent_to_contact,
        channel=ticket.channel,
        domain=ticket.domain,
        assignee=ticket.assignee,
        escalated=ticket.escalated_at is not None,
        hotspot_id=ticket.hotspot_id,
        satisfaction=ticket.satisfaction,
        satisfaction_comment=ticket.satisfaction_comment,
        messages=tuple(
            # A followup is the citizen's own words again; a reply is the office's, whose numbers are meant.
            TicketMessageView(m.kind, m.author, redact_numbers(m.body) if m.kind == "followup" else m.body, m.at)
            for m in ticket.messages
        ),
    )


def _citizen_text(ticket: Ticket) -> dict[str, str]:
    """What the citizen wrote, as every view and the webhook carry it: phone and 身份证 numbers blanked."""
    return {
        "description": redact_numbers(ticket.description),
        "location": redact_numbers(ticket.location),
        "occurred_at": redact_numbers(ticket.occurred_at),
        "subject": redact_numbers(ticket.subject),
    }
