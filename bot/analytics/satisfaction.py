"""满意度: ratings of 1–5 of conversations (by operator; a conversation no person handled is the bot's) and of
tickets (by department), given in the period: mean and distribution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, and_, func, select

from bot.analytics.figure import TOTAL, Chart, Column, Context, Figure, Kind
from bot.analytics.period import Period
from bot.conversation.ratings import RatingRow
from bot.tickets.models import AuditEntry, Ticket

SCORES = (1, 2, 3, 4, 5)
#: The audit action that records a ticket's rating (TicketService.rate): when it was given.
RATED = "rate"
BOT_ONLY = "机器人（未转人工）"


def _distribution(score: Any) -> list[Any]:
    return [func.count(score).filter(score == n).label(f"s{n}") for n in SCORES]


def _conversation_query(period: Period) -> Select[Any]:
    return (
        select(RatingRow.operator.label("group"), func.count(RatingRow.id).label("ratings"),
               func.sum(RatingRow.score).label("total"), *_distribution(RatingRow.score))
        .where(RatingRow.at >= period.start, RatingRow.at < period.end)
        .group_by(RatingRow.operator)
    )  # fmt: skip


def _ticket_query(period: Period) -> Select[Any]:
    return (
        select(Ticket.department.label("group"), func.count(Ticket.id).label("ratings"),
               func.sum(Ticket.satisfaction).label("total"), *_distribution(Ticket.satisfaction))
        .join(AuditEntry, and_(AuditEntry.ticket_number == Ticket.number, AuditEntry.action == RATED))
        .where(Ticket.satisfaction.is_not(None), AuditEntry.at >= period.start, AuditEntry.at < period.end)
        .group_by(Ticket.department)
    )  # fmt: skip


def _row(group: str, ratings: int, total: int, counts: Sequence[int]) -> dict[str, Any]:
    # The mean from the sum, in Python: avg() is a float on SQLite and a numeric on PostgreSQL.
    mean = round(total / ratings, 2) if ratings else None
    return {
        "group": group,
        "ratings": ratings,
        "mean": mean,
        **{f"s{n}": c for n, c in zip(SCORES, counts, strict=True)},
    }


def _present(unnamed: str) -> Any:
    def present(rows: Sequence[Row[Any]], _period: Period, _context: Context) -> list[dict[str, Any]]:
        # Sorted here, not in SQL: the databases order NULL and Chinese text differently. The unnamed group last.
        ordered = sorted(rows, key=lambda row: (row.group is None, row.group or ""))
        out = [
            _row(row.group or unnamed, row.ratings, row.total or 0, [getattr(row, f"s{n}") for n in SCORES])
            for row in ordered
        ]
        ratings, total = sum(row.ratings for row in rows), sum(row.total or 0 for row in rows)
        out.append(_row(TOTAL, ratings, total, [sum(r[f"s{n}"] for r in out) for n in SCORES]))
        return out

    return present


def _columns(group_title: str) -> tuple[Column, ...]:
    return (
        Column("group", group_title),
        Column("ratings", "评价数", Kind.COUNT),
        Column("mean", "平均分", Kind.MEAN),
        *(Column(f"s{n}", f"{n} 分", Kind.COUNT) for n in SCORES),
    )


# From 1 (red) to 5 (green), so a bar's colour says how it went.
_CHART = Chart(
    "stacked_bar",
    x="group",
    y=tuple(f"s{n}" for n in SCORES),
    colors=("#b42318", "#e0772b", "#d4a017", "#7fb069", "#1f7a4d"),
)

CONVERSATION_SATISFACTION = Figure(
    name="conversation_satisfaction",
    title="会话满意度（按坐席）",
    section="满意度",
    columns=_columns("坐席"),
    query=_conversation_query,
    present=_present(BOT_ONLY),
    chart=_CHART,
    note="市民对会话的评价（1–5 分），按评价时间计入本期；转过人工的会话计入接待它的坐席。",
)

TICKET_SATISFACTION = Figure(
    name="ticket_satisfaction",
    title="工单满意度（按承办单位）",
    section="满意度",
    columns=_columns("承办单位"),
    query=_ticket_query,
    present=_present("未知"),
    chart=_CHART,
    note="市民对已办结工单的评价（1–5 分），按评价时间计入本期。",
)
