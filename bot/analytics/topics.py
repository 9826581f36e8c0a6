"""热点问题: tickets by domain and kind, per local day and per ISO week, and the hot spots.

Hot spots are the ticket service's (bot/tickets/service.py groups many citizens on one matter when a ticket is
filed, in the hotspots table): the figure counts their tickets in the period, it does not group anything anew.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, Select, func, select

from bot.analytics.figure import Chart, Column, Context, Figure, Kind
from bot.analytics.period import Period, local_day, local_week
from bot.tickets.domain import KIND_LABELS, TicketKind
from bot.tickets.models import Hotspot, Ticket
from bot.tickets.service import MatchingPolicy

#: A ticket whose domain the router did not recognise waits for the triage desk (bot/tickets/routing.py).
UNROUTED = "未分类（待分拣）"


def domain_label(domain: str | None) -> str:
    return domain or UNROUTED


def kind_label(kind: TicketKind | str) -> str:
    return KIND_LABELS.get(TicketKind(kind), str(kind))


def _iso(day: date | str) -> str:
    return day.isoformat() if isinstance(day, date) else str(day)


def _by_bucket(bucket: type[local_day] | type[local_week]) -> Any:
    def query(period: Period) -> Select[Any]:
        when = bucket(Ticket.created_at)
        return (
            select(when.label("bucket"), Ticket.domain, Ticket.kind, func.count(Ticket.id).label("tickets"))
            .where(Ticket.created_at >= period.start, Ticket.created_at < period.end)
            .group_by(when, Ticket.domain, Ticket.kind)
        )

    return query


def _present_buckets(key: str) -> Any:
    def present(rows: Sequence[Row[Any]], _period: Period, _context: Context) -> list[dict[str, Any]]:
        ordered = sorted(rows, key=lambda row: (_iso(row.bucket), row.domain is None, row.domain or "", row.kind))
        return [
            {key: _iso(row.bucket), "domain": domain_label(row.domain), "kind": kind_label(row.kind),
             "tickets": row.tickets}
            for row in ordered
        ]  # fmt: skip

    return present


TICKETS_BY_DAY = Figure(
    name="tickets_by_day",
    title="工单数量：按日、领域和类型",
    section="热点问题",
    columns=(
        Column("day", "日期", Kind.DAY),
        Column("domain", "领域"),
        Column("kind", "类型"),
        Column("tickets", "工单数", Kind.COUNT),
    ),
    query=_by_bucket(local_day),
    present=_present_buckets("day"),
    chart=Chart("stacked_bar", x="day", y=("tickets",), series="domain"),
    note="按受理时间（北京时间）所在日期统计；同一市民重复反映同一事项的，并入原工单，不另计。",
)

TICKETS_BY_WEEK = Figure(
    name="tickets_by_week",
    title="工单数量：按周、领域和类型",
    section="热点问题",
    columns=(
        Column("week", "周（周一）", Kind.DAY),
        Column("domain", "领域"),
        Column("kind", "类型"),
        Column("tickets", "工单数", Kind.COUNT),
    ),
    query=_by_bucket(local_week),
    present=_present_buckets("week"),
    chart=Chart("stacked_bar", x="week", y=("tickets",), series="domain"),
    note="按受理时间（北京时间）所在的周统计，周一为一周的第一天；期间首尾不满一周的，只计期间内的工单。",
)


def _hotspots_query(period: Period) -> Select[Any]:
    in_period = func.count(Ticket.id).filter(Ticket.created_at >= period.start)
    return (
        select(
            Hotspot.id,
            Hotspot.domain,
            Hotspot.title,
            in_period.label("in_period"),
            func.count(Ticket.id).label("total"),
            func.max(Ticket.created_at).label("latest"),
        )
        .join(Ticket, Ticket.hotspot_id == Hotspot.id)
        .where(Ticket.created_at < period.end)
        .group_by(Hotspot.id, Hotspot.domain, Hotspot.title)
        .having(in_period > 0)
        .order_by(in_period.desc(), func.count(Ticket.id).desc(), Hotspot.id)  # numbers only: no collation
    )


def _present_hotspots(rows: Sequence[Row[Any]], _period: Period, _context: Context) -> list[dict[str, Any]]:
    return [
        {"hotspot": row.id, "title": row.title, "domain": domain_label(row.domain), "in_period": row.in_period,
         "total": row.total}
        for row in rows
    ]  # fmt: skip


HOTSPOTS = Figure(
    name="hotspots",
    title="热点事项：多名市民反映的同一事项",
    section="热点问题",
    columns=(
        Column("hotspot", "热点编号", Kind.COUNT),
        Column("title", "事项"),
        Column("domain", "领域"),
        Column("in_period", "本期工单", Kind.COUNT),
        Column("total", "累计工单", Kind.COUNT),
    ),
    query=_hotspots_query,
    present=_present_hotspots,
    chart=Chart("bar", x="title", y=("in_period",)),
    note=(
        f"热点由工单受理时自动归并（不同市民在 {MatchingPolicy().hotspot_window.days} 天内反映的相似事项）；"
        "本期有新工单的热点才列出，累计含本期以前的工单。"
    ),
)
