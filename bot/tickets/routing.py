"""Which department a new ticket goes to.

For now the kind alone decides; the routing issue replaces `route` with a classifier over the description
(卫生监督, 医政, 疾控, …) behind the same signature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from bot.tickets.domain import RoutingDecision, TicketDraft, TicketKind

INTAKE_CENTRE = "12320 受理中心（待分派）"

DEPARTMENT_BY_KIND: Mapping[TicketKind, str] = MappingProxyType(
    {
        TicketKind.COMPLAINT: INTAKE_CENTRE,
        TicketKind.REPORT: INTAKE_CENTRE,
        TicketKind.SUGGESTION: INTAKE_CENTRE,
        TicketKind.DISCLOSURE_REQUEST: "政府信息公开办公室",
    }
)

Router = Callable[[TicketDraft], RoutingDecision]


def route(draft: TicketDraft) -> RoutingDecision:
    """The department that receives this draft."""
    return RoutingDecision(domain=None, department=DEPARTMENT_BY_KIND[draft.kind])
