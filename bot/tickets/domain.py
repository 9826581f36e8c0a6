"""The typed interface the Rasa actions, the gateway and the tests share: drafts in, receipts and views out."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class TicketKind(StrEnum):
    """What the citizen is filing: 投诉 / 举报 / 建议 / 依申请公开 / 留言（回电）."""

    COMPLAINT = "complaint"
    REPORT = "report"
    SUGGESTION = "suggestion"
    DISCLOSURE_REQUEST = "disclosure_request"
    #: A message left for a call back, e.g. while the assistant runs in reduced mode (Rasa down).
    CALLBACK = "callback"


#: What each kind is called when the citizen is told about it.
KIND_LABELS: dict[TicketKind, str] = {
    TicketKind.COMPLAINT: "投诉",
    TicketKind.REPORT: "举报",
    TicketKind.SUGGESTION: "建议",
    TicketKind.DISCLOSURE_REQUEST: "政府信息公开申请",
    TicketKind.CALLBACK: "留言（回电）",
}


class TicketStatus(StrEnum):
    """Where a ticket is in its workflow (bot/tickets/workflow.py says which moves each kind may make).

    投诉/举报/建议: received → assigned → in_progress → replied → closed, and reopen.
    依申请公开: 接收 received → 登记 registered → 审核 reviewing → 办理 in_progress → 答复 replied → 归档 archived.
    """

    RECEIVED = "received"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    REPLIED = "replied"
    CLOSED = "closed"
    REGISTERED = "registered"
    REVIEWING = "reviewing"
    ARCHIVED = "archived"


def idempotency_key(sender_id: str, kind: str, fields: Mapping[str, object]) -> str:
    """The same citizen filing the same facts again (a retried message) gets the same ticket."""
    material = "\x1f".join([sender_id, kind, *(str(fields[k]) for k in sorted(fields))])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def spoken_date(day: date) -> str:
    """2026年12月3日: how a due date is told to a citizen."""
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class TicketDraft:
    """What a form action collected. Name and phone stay out of repr so a logged draft leaks neither."""

    kind: TicketKind
    description: str  # 事情经过; for disclosure requests, the information sought
    location: str  # 地点
    occurred_at: str  # 时间, as the citizen said it
    subject: str  # 涉及的单位或人员
    name: str | None = field(repr=False)  # None = anonymous
    phone: str = field(repr=False)  # normalised: 13912345678 or 010-12345678
    consent_to_contact: bool
    channel: str  # web / phone / voice / sms / wechat
    sender_id: str
    idempotency_key: str  # the same key never creates a second ticket


@dataclass(frozen=True)
class RoutingDecision:
    """Which domain a ticket is about and which department receives it (谁主管谁负责)."""

    domain: str | None  # 城建, 医疗, …; None = not recognised, so the triage desk decides
    department: str
    confidence: float = 1.0


@dataclass(frozen=True)
class TicketReceipt:
    """What the citizen is told: the 受理编号, who handles it and by when."""

    number: str  # 12320-20261123-000042
    kind: TicketKind
    department: str
    due_date: date  # 限时办结
    created: bool  # False when the key matched an existing ticket, or the matter was linked to one
    linked: bool = False  # the same citizen had already filed this matter: added to that ticket instead


@dataclass(frozen=True)
class TicketMessageView:
    kind: str  # reply (from the office) | followup (the citizen said it again)
    author: str
    body: str
    at: datetime


@dataclass(frozen=True)
class TicketFilter:
    """What an operator narrows a listing to; None means any."""

    status: TicketStatus | None = None
    kind: TicketKind | None = None
    department: str | None = None
    domain: str | None = None
    assignee: str | None = None
    overdue_on: date | None = None  # open tickets whose due date is before this day
    text: str | None = None  # a substring of the description


@dataclass(frozen=True)
class TicketView:
    """A ticket as shown in a conversation, a listing or an export: personal data masked (139****5678, 张*), and
    phone and 身份证 numbers blanked in what the citizen wrote (TicketContactView has it as written)."""

    number: str
    kind: TicketKind
    status: TicketStatus
    department: str
    due_date: date
    created_at: datetime  # timezone-aware, UTC
    description: str
    location: str
    occurred_at: str
    subject: str
    name_masked: str | None  # None = anonymous
    phone_masked: str
    consent_to_contact: bool
    channel: str
    domain: str | None = None
    assignee: str | None = None
    escalated: bool = False
    hotspot_id: int | None = None
    satisfaction: int | None = None
    satisfaction_comment: str | None = None
    messages: tuple[TicketMessageView, ...] = ()


@dataclass(frozen=True)
class TicketContactView:
    """The unmasked contact, for the operator who calls the citizen back, and the citizen's own words as they
    gave them (every other view blanks phone and 身份证 numbers in them). Reading it is audited."""

    number: str
    name: str | None = field(repr=False)
    phone: str = field(repr=False)
    consent_to_contact: bool
    description: str = field(repr=False)
    location: str = field(repr=False)
    occurred_at: str = field(repr=False)
    subject: str = field(repr=False)
