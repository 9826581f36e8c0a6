"""The typed interface the Rasa actions, the gateway and the tests share: drafts in, receipts and views out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class TicketKind(StrEnum):
    """What the citizen is filing: 投诉 / 举报 / 建议 / 依申请公开."""

    COMPLAINT = "complaint"
    REPORT = "report"
    SUGGESTION = "suggestion"
    DISCLOSURE_REQUEST = "disclosure_request"


class TicketStatus(StrEnum):
    """Where a ticket is in its workflow. The status-workflow issue adds the later states."""

    RECEIVED = "received"


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
    channel: str  # web / phone / sms / wechat
    sender_id: str
    idempotency_key: str  # the same key never creates a second ticket


@dataclass(frozen=True)
class TicketReceipt:
    """What the citizen is told: the 受理编号, who handles it and by when."""

    number: str  # 12320-20261123-000042
    kind: TicketKind
    department: str
    due_date: date  # 限时办结
    created: bool  # False when the idempotency key matched an existing ticket


@dataclass(frozen=True)
class TicketView:
    """A ticket as shown in a conversation: personal data masked (139****5678, 张*)."""

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
