"""/api/tickets: the operator API (list, filter, assign, transition, reply, export) behind API tokens, and
the citizen's 满意度 rating, checked like a status query (number + last four phone digits) and rate-limited.

Handlers are plain `def`: FastAPI runs them in its thread pool, so a slow database never blocks the event loop.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from bot.api.access import Caller, Supervisor
from bot.api.clients import ClientTag
from bot.ratelimit import AttemptLimiter, ticket_check_keys
from bot.tickets.domain import TicketDraft, TicketFilter, TicketKind, TicketStatus, TicketView
from bot.tickets.service import TicketNotFound, TicketService
from bot.tickets.workflow import InvalidTransition, status_label

router = APIRouter(prefix="/api")

CSV_COLUMNS = (
    "number",
    "kind",
    "status",
    "status_label",
    "domain",
    "department",
    "assignee",
    "created_at",
    "due_date",
    "escalated",
    "channel",
    "phone_masked",
    "location",
    "subject",
    "description",
    "satisfaction",
)


def tickets(request: Request) -> TicketService:
    service: TicketService = request.app.state.tickets
    return service


Service = Annotated[TicketService, Depends(tickets)]


class Filters(BaseModel):
    status: TicketStatus | None = None
    kind: TicketKind | None = None
    department: str | None = None
    domain: str | None = None
    assignee: str | None = None
    overdue: bool = False
    q: str | None = Field(default=None, max_length=200)

    def to_filter(self, today: date) -> TicketFilter:
        return TicketFilter(
            status=self.status,
            kind=self.kind,
            department=self.department,
            domain=self.domain,
            assignee=self.assignee,
            overdue_on=today if self.overdue else None,
            text=self.q,
        )


class NewTicket(BaseModel):
    """A ticket an operator files for a citizen, e.g. from a phone call (the citizen's own channels go via Rasa)."""

    kind: TicketKind
    description: str = Field(min_length=1, max_length=8000)
    location: str = Field(default="", max_length=500)
    occurred_at: str = Field(default="", max_length=200)
    subject: str = Field(default="", max_length=500)
    name: str | None = Field(default=None, max_length=64)
    phone: str = Field(min_length=3, max_length=32)
    consent_to_contact: bool = False
    channel: str = "phone"
    sender_id: str = Field(default="", max_length=255)


class AssignBody(BaseModel):
    department: str | None = Field(default=None, max_length=100)
    assignee: str | None = Field(default=None, max_length=64)
    domain: str | None = Field(default=None, max_length=20)  # a correction: also sends it to that domain's department


class TransitionBody(BaseModel):
    to: TicketStatus


class ReplyBody(BaseModel):
    text: str = Field(min_length=1, max_length=8000)


class RatingBody(BaseModel):
    phone_last4: str = Field(min_length=4, max_length=8)
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


def ticket_json(view: TicketView) -> dict[str, Any]:
    data = asdict(view)
    data["status_label"] = status_label(view.kind, view.status)
    return data


@router.get("/tickets")
def list_tickets(
    service: Service,
    _caller: Caller,
    filters: Annotated[Filters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    where = filters.to_filter(service.today())
    items = service.list(where, limit=limit, offset=offset)
    return {"total": service.count(where), "items": [ticket_json(view) for view in items]}


@router.post("/tickets", status_code=201)
def create_ticket(
    body: NewTicket,
    service: Service,
    caller: Caller,
    response: Response,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """File a ticket. The Idempotency-Key header is required: a retried request returns the first ticket (200)."""
    draft = TicketDraft(
        **body.model_dump(exclude={"sender_id"}),
        sender_id=body.sender_id or caller.actor,
        idempotency_key=f"api:{caller.name}:{idempotency_key}",
    )
    with _ticket_errors():
        receipt = service.create(draft)
    if not receipt.created:
        response.status_code = 200
    return {**asdict(receipt), "due_date": receipt.due_date.isoformat()}


@router.get("/tickets/export.csv")
def export_csv(service: Service, _caller: Caller, filters: Annotated[Filters, Query()]) -> StreamingResponse:
    where = filters.to_filter(service.today())

    def rows() -> Iterator[str]:
        yield "\ufeff"  # a BOM, so that Excel, what offices open CSV with, reads the Chinese as UTF-8
        offset = 0
        while batch := service.list(where, limit=500, offset=offset):
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore")
            if offset == 0:
                writer.writeheader()
            writer.writerows(ticket_json(view) for view in batch)
            yield buffer.getvalue()
            offset += len(batch)

    headers = {"Content-Disposition": 'attachment; filename="tickets.csv"'}
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/tickets/hotspots")
def hotspots(service: Service, _caller: Caller, min_tickets: Annotated[int, Query(ge=2)] = 2) -> list[dict[str, Any]]:
    return [asdict(spot) for spot in service.hotspots(min_tickets)]


@router.post("/tickets/escalate-overdue")
def escalate_overdue(service: Service, caller: Supervisor) -> list[dict[str, Any]]:
    return [ticket_json(view) for view in service.escalate_overdue(caller.actor)]


@router.get("/tickets/{number}")
def show_ticket(number: str, service: Service, _caller: Caller) -> dict[str, Any]:
    view = service.get(number)
    if view is None:
        raise HTTPException(404, f"没有工单 {number}")
    return ticket_json(view)


@router.get("/tickets/{number}/contact")
def show_contact(number: str, service: Service, caller: Caller) -> dict[str, Any]:
    with _ticket_errors():
        return asdict(service.contact(number, caller.actor))


@router.post("/tickets/{number}/assign")
def assign(number: str, body: AssignBody, service: Service, caller: Caller) -> dict[str, Any]:
    with _ticket_errors():
        view = service.assign(
            number, caller.actor, department=body.department, assignee=body.assignee, domain=body.domain
        )
        return ticket_json(view)


@router.post("/tickets/{number}/transition")
def transition(number: str, body: TransitionBody, service: Service, caller: Caller) -> dict[str, Any]:
    with _ticket_errors():
        return ticket_json(service.transition(number, body.to, caller.actor))


@router.post("/tickets/{number}/reply")
def reply(number: str, body: ReplyBody, service: Service, caller: Caller) -> dict[str, Any]:
    with _ticket_errors():
        return ticket_json(service.reply(number, body.text, caller.actor))


@router.post("/tickets/{number}/rating")
def rate(number: str, body: RatingBody, service: Service, request: Request, client: ClientTag) -> dict[str, Any]:
    """The citizen's rating: no token, the ticket number and the last four digits of the phone instead."""
    limiter: AttemptLimiter = request.app.state.citizen_checks
    attempt = limiter.attempt(*ticket_check_keys(client=client))
    if attempt is None:
        raise HTTPException(429, "尝试次数过多，请稍后再试")
    with _ticket_errors():
        view = service.rate(number, body.phone_last4, body.score, body.comment)
    if view is None:
        raise HTTPException(404, "没有查到与工单号和电话后四位都匹配的工单")
    attempt.succeeded()
    return {"number": view.number, "satisfaction": view.satisfaction}


@router.get("/audit/export")
def export_audit(
    service: Service,
    _caller: Supervisor,
    since: datetime | None = None,
    ticket: str | None = None,
) -> StreamingResponse:
    """电子监察: the audit log as JSON Lines, oldest first."""
    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since needs a timezone, e.g. 2026-11-23T00:00:00+08:00")

    def lines() -> Iterator[str]:
        for record in service.audit_entries(since=since, ticket_number=ticket):
            yield json.dumps(asdict(record), ensure_ascii=False, default=str) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@contextmanager
def _ticket_errors() -> Iterator[None]:
    """Service errors as HTTP: unknown ticket 404, a move the workflow refuses 409, other bad input 422."""
    try:
        yield
    except TicketNotFound as error:
        raise HTTPException(404, str(error)) from error
    except InvalidTransition as error:
        raise HTTPException(409, str(error)) from error
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
