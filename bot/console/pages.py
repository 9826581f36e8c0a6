"""/console pages for the people at the desk: the live queue, a conversation, tickets, and the supervisor's view.

Thin handlers: conversations through HandoffService (bot/handoff/live.py: take, reply, typing, release,
handback, close) and the desk's reads, tickets through TicketService, suggested replies through the bot's
own Answerer. Personal numbers are masked on every page; a ticket's contact is shown only after the audited
read (显示号码), as in the API.

Every form works without JavaScript (POST, then 303 to the page to see); the live parts re-fetch a fragment
with htmx whenever the operators' WebSocket (/api/handoff/live) reports a change, and every few seconds
without it. Every POST carries the session's CSRF token (bot/console/auth.py refuses it otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from actions.answering import Answerer
from bot.auth import Principal, Role
from bot.console import conversation_ticket, satisfaction
from bot.console.auth import ConsoleSupervisor, ConsoleUser, safe_next
from bot.console.labels import (
    audit_label,
    channel_label,
    duration,
    move_label,
    owner_label,
    priority_label,
    reason_label,
    speaker_label,
)
from bot.console.suggestions import suggest
from bot.console.templating import render, templates
from bot.conversation.receipts import ReceiptLedger
from bot.conversation.transcript import TranscriptStore
from bot.handoff.desk import Conversation, HandoffDesk, NotYours, TakenByAnother, UnknownConversation
from bot.handoff.live import HandoffService, NotHeld
from bot.handoff.workflow import InvalidMove, Owner, Priority
from bot.redaction import redact_numbers
from bot.tickets.domain import KIND_LABELS, TicketFilter, TicketKind, TicketReceipt, TicketStatus, TicketView
from bot.tickets.routing import CALLBACK_DESK, load_routing_table
from bot.tickets.service import TicketNotFound, TicketService
from bot.tickets.workflow import ANSWERED, FINISHED, STATUS_LABELS, InvalidTransition, allowed_moves, status_label

router = APIRouter(prefix="/console", include_in_schema=False)

T = TypeVar("T")

TICKETS_PER_PAGE = 20
MAX_REPLY = 4000  # as the REST API (bot/api/handoff.py)
MAX_NOTE = 2000
MAX_SEARCH = 200
TAKEN = "已被其他坐席接入"
UNKNOWN_CONVERSATION = "没有这个会话"

for _name, _function in {
    "channel_label": channel_label,
    "reason_label": reason_label,
    "owner_label": owner_label,
    "move_label": move_label,
    "speaker_label": speaker_label,
    "priority_label": priority_label,
    "duration": duration,
    "audit_label": audit_label,
    "mask_numbers": redact_numbers,
}.items():
    templates.env.filters[_name] = _function
templates.env.globals["status_label"] = status_label
templates.env.globals["KIND_LABELS"] = KIND_LABELS
templates.env.globals["ANSWERED"] = ANSWERED


# -- the app's services -----------------------------------------------------------------------------------------


def _handoff(request: Request) -> HandoffService:
    service: HandoffService = request.app.state.handoff
    return service


def _desk(request: Request) -> HandoffDesk:
    desk: HandoffDesk = request.app.state.desk
    return desk


def _transcript(request: Request) -> TranscriptStore:
    store: TranscriptStore = request.app.state.transcript
    return store


def _tickets(request: Request) -> TicketService:
    service: TicketService = request.app.state.tickets
    return service


def _answerer(request: Request) -> Answerer | None:
    load: Callable[[], Answerer | None] | None = getattr(request.app.state, "answerer", None)
    return load() if load is not None else None


def _htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _at(conversation_id: str) -> str:
    return f"/console/conversations/{conversation_id}"


def _too_long(text: str, limit: int, what: str) -> str:
    """The refusal for `text` over `limit` characters, in words; "" when it fits."""
    return f"{what}不能超过{limit}字" if len(text) > limit else ""


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    heading = {403: "无权操作", 404: "未找到", 409: "操作冲突"}.get(status_code, "无法完成")
    return render(request, "error.html", status_code=status_code, heading=heading, message=message)


@dataclass(frozen=True)
class _Refused(Exception):
    """A handoff action refused: the status code and what the operator is told."""

    status_code: int
    message: str


async def _act(action: Awaitable[T]) -> T:
    """A HandoffService action, its refusals as _Refused (the same codes as the REST API)."""
    try:
        return await action
    except TakenByAnother:
        raise _Refused(409, TAKEN) from None
    except UnknownConversation:
        raise _Refused(404, UNKNOWN_CONVERSATION) from None
    except NotYours as error:
        raise _Refused(403, str(error)) from None
    except (InvalidMove, NotHeld) as error:
        raise _Refused(409, str(error)) from None
    except ValueError as error:
        raise _Refused(422, str(error)) from None


# -- the queue --------------------------------------------------------------------------------------------------


def _queue_context(request: Request, user: Principal) -> dict[str, Any]:
    desk = _desk(request)
    return {
        "entries": desk.queue(),
        "mine": desk.held_by(user.name),
        "online": _handoff(request).operators_online_names(),
    }


@router.get("/queue")
async def queue_page(request: Request, user: ConsoleUser) -> HTMLResponse:
    context = await run_in_threadpool(_queue_context, request, user)
    return render(request, "queue.html", **context)


@router.get("/queue/live")
async def queue_fragment(request: Request, user: ConsoleUser) -> HTMLResponse:
    """The queue, my conversations and who is online: what the page re-fetches on every live event."""
    context = await run_in_threadpool(_queue_context, request, user)
    return render(request, "_queue_live.html", **context)


@router.post("/queue/{conversation_id}/take")
async def take(request: Request, conversation_id: str, user: ConsoleUser) -> Response:
    """接入: the conversation is this operator's (首问负责), or 409 when another operator was first."""
    try:
        await _act(_handoff(request).take(conversation_id, user))
    except _Refused as refused:
        context = await run_in_threadpool(_queue_context, request, user)
        return render(request, "queue.html", status_code=refused.status_code, error=refused.message, **context)
    return _see(_at(conversation_id))


# -- a conversation ---------------------------------------------------------------------------------------------


def _conversation_context(request: Request, conversation_id: str) -> dict[str, Any]:
    """UnknownConversation if there is none."""
    conversation = _desk(request).find(conversation_id)
    turns = _transcript(request).turns(conversation_id)
    return {
        "conversation": conversation,
        "turns": [turn.masked() for turn in turns],
        "events": _desk(request).events(conversation_id),
        "prefill": conversation_ticket.prefill(conversation, turns),
    }


def _may_act(conversation: Conversation, user: Principal) -> bool:
    """Whether `user` may reply, hand back, release or close: they hold it, or they supervise."""
    if conversation.owner is not Owner.OPERATOR:
        return False
    return conversation.operator == user.name or user.role.at_least(Role.SUPERVISOR)


def _conversation_page(
    request: Request, conversation_id: str, user: Principal, *, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    try:
        context = _conversation_context(request, conversation_id)
    except UnknownConversation:
        return _error_page(request, 404, UNKNOWN_CONVERSATION)
    context.update(extra)
    context["may_act"] = _may_act(context["conversation"], user)
    context["show_ticket_form"] = request.query_params.get("ticket") == "form"
    filed = request.query_params.get("filed")
    if filed and "filed_ticket" not in context:
        context["filed_ticket"] = _tickets(request).get(filed)
    return render(request, "conversation.html", status_code=status_code, kinds=KIND_LABELS, **context)


@router.get("/conversations/{conversation_id}")
def conversation_page(request: Request, conversation_id: str, user: ConsoleUser) -> HTMLResponse:
    return _conversation_page(request, conversation_id, user)


@router.get("/conversations/{conversation_id}/state")
def conversation_state(request: Request, conversation_id: str, user: ConsoleUser) -> HTMLResponse:
    """Who holds it and what this operator may do: re-fetched when its owner or priority changes."""
    return _fragment(request, conversation_id, user, "_conversation_state.html")


@router.get("/conversations/{conversation_id}/transcript")
def conversation_transcript(request: Request, conversation_id: str, user: ConsoleUser) -> HTMLResponse:
    """The transcript: re-fetched on every new turn."""
    return _fragment(request, conversation_id, user, "_transcript.html")


def _fragment(request: Request, conversation_id: str, user: Principal, name: str) -> HTMLResponse:
    try:
        context = _conversation_context(request, conversation_id)
    except UnknownConversation:
        return _error_page(request, 404, UNKNOWN_CONVERSATION)
    return render(request, name, may_act=_may_act(context["conversation"], user), kinds=KIND_LABELS, **context)


@router.get("/conversations/{conversation_id}/ticket-form")
def ticket_form(request: Request, conversation_id: str, user: ConsoleUser) -> HTMLResponse:
    """生成工单's form, pre-filled from the transcript as it is now (fetched when the operator opens it)."""
    return _fragment(request, conversation_id, user, "_ticket_form.html")


@router.get("/conversations/{conversation_id}/suggestions")
def suggestions_fragment(request: Request, conversation_id: str, _user: ConsoleUser) -> HTMLResponse:
    """参考答复 for the citizen's last message (loaded after the page: the first search loads the embedder)."""
    question = _transcript(request).last_citizen_text(conversation_id)
    answerer = _answerer(request)
    found = suggest(answerer, question) if answerer is not None and question else []
    return render(request, "_suggestions.html", suggestions=found, question=question, has_index=answerer is not None)


async def _conversation_action(
    request: Request, conversation_id: str, user: Principal, action: Awaitable[Any], then: str
) -> Response:
    try:
        await _act(action)
    except _Refused as refused:
        if _htmx(request):
            return PlainTextResponse(refused.message, status_code=refused.status_code)
        page = _conversation_page
        return await run_in_threadpool(
            page, request, conversation_id, user, status_code=refused.status_code, error=refused.message
        )
    if _htmx(request):
        return Response(status_code=204)
    return _see(then)


@router.post("/conversations/{conversation_id}/reply")
async def reply(
    request: Request, conversation_id: str, user: ConsoleUser, text: Annotated[str, Form()] = ""
) -> Response:
    """The operator's reply, delivered on the citizen's channel (htmx: 204, the transcript shows it live)."""
    message = _too_long(text, MAX_REPLY, "回复") or ("" if text.strip() else "回复不能为空")
    if message:
        if _htmx(request):
            return PlainTextResponse(message, status_code=422)
        page = _conversation_page
        return await run_in_threadpool(page, request, conversation_id, user, status_code=422, error=message)
    action = _handoff(request).reply(conversation_id, user, text.strip())
    return await _conversation_action(request, conversation_id, user, action, _at(conversation_id))


@router.post("/conversations/{conversation_id}/typing")
async def typing(request: Request, conversation_id: str, user: ConsoleUser) -> Response:
    """The operator is typing: the citizen's page shows it (nothing happens if they do not hold it)."""
    try:
        await _act(_handoff(request).typing(conversation_id, user))
    except _Refused as refused:
        return PlainTextResponse(refused.message, status_code=refused.status_code)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/release")
async def release(request: Request, conversation_id: str, user: ConsoleUser) -> Response:
    """放回队列: back to the queue at its old place, for another operator."""
    action = _handoff(request).release(conversation_id, user)
    return await _conversation_action(request, conversation_id, user, action, "/console/queue")


@router.post("/conversations/{conversation_id}/handback")
async def handback(request: Request, conversation_id: str, user: ConsoleUser) -> Response:
    """交还机器人: the bot answers the next message, with the operator's turns in its history."""
    action = _handoff(request).handback(conversation_id, user)
    return await _conversation_action(request, conversation_id, user, action, _at(conversation_id))


@router.post("/conversations/{conversation_id}/close")
async def close(
    request: Request, conversation_id: str, user: ConsoleUser, note: Annotated[str, Form()] = ""
) -> Response:
    """结束会话 with the resolution note (required); the citizen is asked for a rating."""
    action = _handoff(request).close(conversation_id, user, note[:MAX_NOTE])
    return await _conversation_action(request, conversation_id, user, action, _at(conversation_id))


@router.post("/conversations/{conversation_id}/ticket")
async def ticket_from_conversation(
    request: Request,
    conversation_id: str,
    user: ConsoleUser,
    kind: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    occurred_at: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    consent_to_contact: Annotated[bool, Form()] = False,
) -> Response:
    """生成工单 from the conversation. The citizen is told the number if this operator is with them now."""
    form = conversation_ticket.TicketForm(
        kind, description, location, occurred_at, subject, name, phone, consent_to_contact
    )
    try:
        receipt, conversation, untold = await run_in_threadpool(_file_ticket, request, conversation_id, form)
    except UnknownConversation:
        return _error_page(request, 404, UNKNOWN_CONVERSATION)
    except ValueError as error:
        return await run_in_threadpool(
            _conversation_page, request, conversation_id, user, status_code=422, ticket_error=str(error), form=form
        )
    if untold and conversation.owner is Owner.OPERATOR and conversation.operator == user.name:
        try:
            await _act(_handoff(request).reply(conversation_id, user, conversation_ticket.receipt_notice(receipt)))
            await run_in_threadpool(ReceiptLedger(_tickets(request).engine).told, conversation_id, receipt.number)
        except _Refused:
            pass  # the conversation moved on meanwhile: the bot tells the number on the citizen's next turn
    return _see(f"/console/conversations/{conversation_id}?{urlencode({'filed': receipt.number})}")


def _file_ticket(
    request: Request, conversation_id: str, form: conversation_ticket.TicketForm
) -> tuple[TicketReceipt, Conversation, bool]:
    """The receipt, the conversation, and whether the citizen is still to be told (a new ticket, or the matter
    added to their earlier one; not a form sent again)."""
    conversation = _desk(request).find(conversation_id)
    service = _tickets(request)
    earlier = service.receipt_for(conversation_ticket.ticket_key(conversation, form))
    if earlier is not None:
        return earlier, conversation, False
    turns = _transcript(request).turns(conversation_id)
    draft = conversation_ticket.draft(conversation, turns, form)
    receipt = service.create(draft)
    # The ticket holds the contact now; the conversation keeps placeholders (as for a ticket filed in chat).
    values = conversation_ticket.filed_values(draft)
    _transcript(request).redact(conversation_id, values)
    _desk(request).redact_held(conversation_id, values)
    return receipt, conversation, receipt.created or receipt.linked


# -- tickets ----------------------------------------------------------------------------------------------------


@cache
def _departments() -> list[str]:
    table = load_routing_table()
    return sorted({*table.departments.values(), table.triage, table.disclosure, CALLBACK_DESK})


@cache
def _domains() -> list[str]:
    return list(load_routing_table().departments)


def _choice(enum: type[T], value: str, what: str) -> T | None:
    if not value:
        return None
    try:
        return enum(value)  # type: ignore[call-arg]
    except ValueError:
        raise _Refused(422, f"未知的{what}：{value}") from None


@router.get("/tickets")
def tickets_page(
    request: Request,
    _user: ConsoleUser,
    status: str = "",
    kind: str = "",
    department: str = "",
    overdue: str = "",
    q: str = "",
    page: str = "1",
) -> HTMLResponse:
    service = _tickets(request)
    late = overdue in ("1", "true", "on")
    q = q.strip()[:MAX_SEARCH]
    number = int(page) if page.isdigit() else 1
    try:
        where = TicketFilter(
            status=_choice(TicketStatus, status, "状态"),
            kind=_choice(TicketKind, kind, "类型"),
            department=department or None,
            overdue_on=service.today() if late else None,
            text=q or None,
        )
    except _Refused as refused:
        return _error_page(request, refused.status_code, refused.message)
    total = service.count(where)
    pages = max(1, math.ceil(total / TICKETS_PER_PAGE))
    page_number = min(max(1, number), pages)
    items = service.list(where, limit=TICKETS_PER_PAGE, offset=(page_number - 1) * TICKETS_PER_PAGE)
    filters = {"status": status, "kind": kind, "department": department, "overdue": "1" if late else "", "q": q}
    kept = {key: value for key, value in filters.items() if value}
    return render(
        request,
        "tickets.html",
        tickets=items,
        total=total,
        page=page_number,
        pages=pages,
        filters=filters,
        page_url=lambda n: "/console/tickets?" + urlencode({**kept, "page": n}),
        statuses=STATUS_LABELS,
        kinds=KIND_LABELS,
        departments=_departments(),
        today=service.today(),
    )


def _ticket_page(
    request: Request, number: str, *, status_code: int = 200, contact: Any = None, **extra: Any
) -> HTMLResponse:
    view = _tickets(request).get(number)
    if view is None:
        return _error_page(request, 404, f"没有工单 {number}")
    return render(
        request,
        "ticket.html",
        status_code=status_code,
        ticket=view,
        contact=contact,
        moves=_moves(view),
        finished=view.status in FINISHED,
        may_reply=TicketStatus.REPLIED in allowed_moves(view.kind, view.status),
        departments=_departments(),
        domains=_domains(),
        overdue=view.status not in FINISHED and view.due_date < _tickets(request).today(),
        **extra,
    )


def _moves(view: TicketView) -> list[tuple[str, str]]:
    """The moves the ticket's workflow allows from here, with their labels (bot/tickets/workflow.py)."""
    targets = sorted(allowed_moves(view.kind, view.status), key=list(TicketStatus).index)
    return [(str(target), status_label(view.kind, target)) for target in targets]


@router.get("/tickets/{number}")
def ticket_page(request: Request, number: str, _user: ConsoleUser) -> HTMLResponse:
    return _ticket_page(request, number)


def _ticket_change(request: Request, number: str, change: Callable[[], object], then: str) -> Response:
    try:
        change()
    except TicketNotFound as error:
        return _error_page(request, 404, str(error))
    except InvalidTransition as error:
        return _ticket_page(request, number, status_code=409, error=str(error))
    except ValueError as error:
        return _ticket_page(request, number, status_code=422, error=str(error))
    return _see(then)


@router.post("/tickets/{number}/contact")
def show_contact(request: Request, number: str, user: ConsoleUser) -> HTMLResponse:
    """显示号码: the unmasked contact, read through the audited TicketService.contact (a POST: it is recorded)."""
    try:
        contact = _tickets(request).contact(number, user.actor)
    except TicketNotFound as error:
        return _error_page(request, 404, str(error))
    return _ticket_page(request, number, contact=contact)


@router.post("/tickets/{number}/assign")
def assign(
    request: Request,
    number: str,
    user: ConsoleUser,
    department: Annotated[str, Form()] = "",
    assignee: Annotated[str, Form()] = "",
    domain: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    service = _tickets(request)
    refused = (
        _too_long(department, 100, "承办单位") or _too_long(assignee, 64, "承办人") or _too_long(domain, 20, "领域")
    )
    if not (department.strip() or assignee.strip() or domain.strip()):
        refused = "请选择承办单位、领域，或填写承办人"
    if refused:
        return _ticket_page(request, number, status_code=422, error=refused)

    def change() -> object:
        return service.assign(number, user.actor, department=department, assignee=assignee, domain=domain)

    return _ticket_change(request, number, change, _back(next, number))


@router.post("/tickets/{number}/transition")
def transition(
    request: Request, number: str, user: ConsoleUser, to: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
) -> Response:
    service = _tickets(request)
    return _ticket_change(request, number, lambda: service.transition(number, to, user.actor), _back(next, number))


@router.post("/tickets/{number}/reply")
def ticket_reply(request: Request, number: str, user: ConsoleUser, text: Annotated[str, Form()] = "") -> Response:
    service = _tickets(request)
    refused = _too_long(text.strip(), 8000, "答复") or ("" if text.strip() else "答复内容不能为空")
    if refused:
        return _ticket_page(request, number, status_code=422, error=refused)
    return _ticket_change(request, number, lambda: service.reply(number, text, user.actor), _ticket_at(number))


def _ticket_at(number: str) -> str:
    return f"/console/tickets/{number}"


def _back(next_path: str, number: str) -> str:
    return safe_next(next_path) if next_path else _ticket_at(number)


# -- the supervisor ---------------------------------------------------------------------------------------------


@router.get("/supervisor")
def supervisor_page(request: Request, _user: ConsoleSupervisor, ticket: str = "") -> HTMLResponse:
    """督办: overdue tickets to reassign, the conversations operators hold, who is online, a ticket's audit
    trail, and both kinds of satisfaction."""
    service = _tickets(request)
    number = ticket.strip()[:40]
    trail, trail_error = None, None
    if number:
        if service.get(number) is None:
            trail_error = f"没有工单 {number}"
        else:
            trail = list(service.audit_entries(ticket_number=number))
    return render(
        request,
        "supervisor.html",
        overdue=service.overdue(),
        today=service.today(),
        held=_desk(request).held(),
        online=_handoff(request).operators_online_names(),
        trail=trail,
        trail_number=number,
        trail_error=trail_error,
        ratings=satisfaction.latest(service.engine),
        departments=_departments(),
        urgent=Priority.URGENT,
    )
