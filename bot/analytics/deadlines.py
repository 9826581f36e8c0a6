"""限时办结: of the tickets due in the period, the share answered by their due date, and the overdue ones, by
department.

The rule is the ticket store's (bot/tickets/workflow.py ANSWERED): the clock stops when the citizen gets the
answer, at replied, closed or archived. A ticket was answered in time if it first reached one of those on or
before its due date (the local day of the audit row that moved it there); a ticket not in one of those now is
open, and overdue once its due date has passed, as TicketService.overdue counts it (a reopened ticket is
open again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, and_, func, not_, select

from bot.analytics.figure import TOTAL, Chart, Column, Context, Figure, Kind
from bot.analytics.period import Period, local_day
from bot.tickets.models import AuditEntry, Ticket
from bot.tickets.workflow import ANSWERED

#: The audit action of a status move (TicketService._move); its to_value is the new status.
STATUS_MOVE = "transition"
_COUNTS = ("due", "on_time", "late", "overdue_open", "pending", "escalated")


def _query(period: Period) -> Select[Any]:
    answered = (
        select(AuditEntry.ticket_number, func.min(AuditEntry.at).label("answered_at"))
        .where(AuditEntry.action == STATUS_MOVE, AuditEntry.to_value.in_(sorted(ANSWERED)))
        .group_by(AuditEntry.ticket_number)
        .subquery("answered")
    )
    answered_on = local_day(answered.c.answered_at)
    is_answered = Ticket.status.in_(sorted(ANSWERED))
    count = func.count(Ticket.id)
    return (
        select(
            Ticket.department,
            count.label("due"),
            count.filter(is_answered, answered_on <= Ticket.due_date).label("on_time"),
            count.filter(is_answered, answered_on > Ticket.due_date).label("late"),
            count.filter(not_(is_answered), Ticket.due_date < period.today).label("overdue_open"),
            count.filter(not_(is_answered), Ticket.due_date >= period.today).label("pending"),
            count.filter(and_(not_(is_answered), Ticket.escalated_at.is_not(None))).label("escalated"),
        )
        .outerjoin(answered, answered.c.ticket_number == Ticket.number)
        .where(Ticket.due_date >= period.since, Ticket.due_date < period.until)
        .group_by(Ticket.department)
    )


def _with_share(row: dict[str, Any]) -> dict[str, Any]:
    decided = row["on_time"] + row["late"] + row["overdue_open"]
    return {**row, "on_time_share": row["on_time"] / decided if decided else None}


def _present(rows: Sequence[Row[Any]], _period: Period, _context: Context) -> list[dict[str, Any]]:
    # Sorted here, not in SQL: PostgreSQL would order Chinese names by the database's collation.
    ordered = sorted(rows, key=lambda row: row.department)
    out = [_with_share({"department": row.department, **{k: getattr(row, k) for k in _COUNTS}}) for row in ordered]
    out.append(_with_share({"department": TOTAL, **{k: sum(r[k] for r in out) for k in _COUNTS}}))
    return out


DEADLINES = Figure(
    name="deadlines",
    title="限时办结：按期答复率与逾期工单（按承办单位）",
    section="限时办结",
    columns=(
        Column("department", "承办单位"),
        Column("due", "本期到期", Kind.COUNT),
        Column("on_time", "按期答复", Kind.COUNT),
        Column("late", "超期答复", Kind.COUNT),
        Column("overdue_open", "逾期未答复", Kind.COUNT),
        Column("pending", "未到期未答复", Kind.COUNT),
        Column("escalated", "逾期已督办", Kind.COUNT),
        Column("on_time_share", "按期答复率", Kind.SHARE),
    ),
    query=_query,
    present=_present,
    chart=Chart(
        "stacked_bar",
        x="department",
        y=("on_time", "late", "overdue_open", "pending"),
        colors=("#1f7a4d", "#d4a017", "#b42318", "#9aa5b1"),  # in time, late, overdue, not yet due
    ),
    note=(
        "统计到期日在本期内的工单；答复（已答复、已办结或已归档）即停止计时，首次答复日不晚于到期日为按期。"
        "按期答复率 = 按期答复 ÷（按期答复 + 超期答复 + 逾期未答复），未到期的不计入。"
    ),
)
