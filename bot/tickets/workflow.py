"""Which status moves each kind of ticket may make, and what they are called in Chinese.

One table per workflow; the service refuses any move not in it, so an office cannot skip 审核 on a
disclosure request or close a complaint nobody answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.tickets.domain import TicketKind, TicketStatus

S = TicketStatus

CASE_MOVES: Mapping[TicketStatus, frozenset[TicketStatus]] = MappingProxyType(
    {
        S.RECEIVED: frozenset({S.ASSIGNED}),
        S.ASSIGNED: frozenset({S.IN_PROGRESS}),
        S.IN_PROGRESS: frozenset({S.REPLIED}),
        S.REPLIED: frozenset({S.CLOSED, S.IN_PROGRESS}),  # back to in_progress: the citizen is not satisfied
        S.CLOSED: frozenset({S.IN_PROGRESS}),  # reopen
    }
)

# 政府信息公开条例 (2019): 接收 → 登记 → 审核 → 办理 → 答复 → 归档. An archived request is final: a new
# request or an administrative review (行政复议) is a new case, not a reopen.
DISCLOSURE_MOVES: Mapping[TicketStatus, frozenset[TicketStatus]] = MappingProxyType(
    {
        S.RECEIVED: frozenset({S.REGISTERED}),
        S.REGISTERED: frozenset({S.REVIEWING}),
        S.REVIEWING: frozenset({S.IN_PROGRESS}),
        S.IN_PROGRESS: frozenset({S.REPLIED}),
        S.REPLIED: frozenset({S.ARCHIVED}),
        S.ARCHIVED: frozenset(),
    }
)

STATUS_LABELS: Mapping[TicketStatus, str] = MappingProxyType(
    {
        S.RECEIVED: "已受理",
        S.ASSIGNED: "已分派承办单位",
        S.IN_PROGRESS: "办理中",
        S.REPLIED: "已答复",
        S.CLOSED: "已办结",
        S.REGISTERED: "已登记",
        S.REVIEWING: "审核中",
        S.ARCHIVED: "已归档",
    }
)
# Disclosure requests name the shared steps as the regulation does.
DISCLOSURE_LABELS: Mapping[TicketStatus, str] = MappingProxyType(
    {**STATUS_LABELS, S.RECEIVED: "已接收", S.IN_PROGRESS: "办理中", S.REPLIED: "已答复"}
)

#: A ticket in one of these has been dealt with: not overdue, and the citizen may rate it.
FINISHED = frozenset({S.CLOSED, S.ARCHIVED})
#: Replied counts as answered in time for 限时办结: the clock stops when the citizen gets the answer.
ANSWERED = frozenset({S.REPLIED, *FINISHED})


class InvalidTransition(ValueError):
    """A move the ticket's workflow does not allow; the message says which moves it does."""


def moves_for(kind: TicketKind) -> Mapping[TicketStatus, frozenset[TicketStatus]]:
    return DISCLOSURE_MOVES if kind == TicketKind.DISCLOSURE_REQUEST else CASE_MOVES


def allowed_moves(kind: TicketKind, status: TicketStatus) -> frozenset[TicketStatus]:
    return moves_for(kind).get(status, frozenset())


def status_label(kind: TicketKind, status: TicketStatus) -> str:
    labels = DISCLOSURE_LABELS if kind == TicketKind.DISCLOSURE_REQUEST else STATUS_LABELS
    return labels.get(status, str(status))


def check_move(kind: TicketKind, current: TicketStatus, target: TicketStatus) -> None:
    """Raise InvalidTransition unless `kind`'s workflow moves `current` to `target`."""
    allowed = allowed_moves(kind, current)
    if target in allowed:
        return
    options = "、".join(f"{status_label(kind, s)}（{s}）" for s in sorted(allowed)) or "无（流程已结束）"
    raise InvalidTransition(
        f"不能从{status_label(kind, current)}（{current}）转为{status_label(kind, target)}（{target}）；"
        f"当前可转为：{options}"
    )
