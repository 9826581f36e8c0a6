"""/console/analytics: every analytics figure (bot/analytics FIGURES) for a period, one ECharts chart each
(knowledge gaps as a table with links to the transcripts), and /console/analytics/{name}.csv for each.

Supervisors only: the figures rate operators and departments. The period is [since, until) in local days, as
`hotline report` takes it; without one, the last 30 days through today.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from bot.analytics import BY_NAME, FIGURES, Analytics, Figure, Period, PeriodError, to_csv
from bot.analytics.export import cell
from bot.analytics.figure import TOTAL, Kind
from bot.analytics.period import parse_day
from bot.console.auth import ConsoleSupervisor
from bot.console.templating import PAGE_HEADERS, render

router = APIRouter(prefix="/console/analytics", include_in_schema=False)

#: The period shown without one: the last 30 days, today included.
DEFAULT_DAYS = 30
#: Knowledge-gap groups listed on the page (the CSV has all of them).
GAPS_SHOWN = 50
_LOCK = threading.Lock()

Day = Annotated[str | None, Query(max_length=20)]


def _analytics(request: Request) -> Analytics:
    """One Analytics per gateway, so the embedder loads once, on the first knowledge-gap figure with questions."""
    with _LOCK:
        analytics = getattr(request.app.state, "analytics", None)
        if analytics is None:
            analytics = request.app.state.analytics = Analytics(request.app.state.tickets.engine)
        return analytics


def _period(since: str | None, until: str | None) -> Period:
    if not since:
        return Period.recent(DEFAULT_DAYS)
    return Period.of(parse_day(since, "开始日期"), parse_day(until, "结束日期") if until else None)


def _chart_data(figure: Figure, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What static/analytics.js draws: the chart spec, the columns' titles and kinds, the rows (without 合计)."""
    chart = figure.chart
    return {
        "kind": chart.kind,
        "x": chart.x,
        "y": list(chart.y),
        "series": chart.series,
        "colors": list(chart.colors),
        "columns": {c.key: {"title": c.title, "kind": str(c.kind)} for c in figure.columns},
        "rows": [row for row in rows if row.get(chart.x) != TOTAL],
    }


@router.get("", response_class=HTMLResponse)
def analytics_page(request: Request, _user: ConsoleSupervisor, since: Day = None, until: Day = None) -> HTMLResponse:
    try:
        period = _period(since, until)
    except PeriodError as exc:
        return render(
            request, "analytics.html", status_code=400, error=str(exc), since=since or "", until=until or "",
            sections=[], charts={}, period=None,
        )  # fmt: skip
    computed = _analytics(request).all(period)
    sections: list[tuple[str, list[tuple[Figure, list[dict[str, Any]]]]]] = []
    for figure, rows in computed:
        if not sections or sections[-1][0] != figure.section:
            sections.append((figure.section, []))
        sections[-1][1].append((figure, rows))
    return render(
        request,
        "analytics.html",
        period=period,
        since=period.since.isoformat(),
        until=period.until.isoformat(),
        sections=sections,
        charts={figure.name: _chart_data(figure, rows) for figure, rows in computed if figure.chart.kind != "table"},
        cell=cell,
        Kind=Kind,
        TOTAL=TOTAL,
        gaps_shown=GAPS_SHOWN,
        error=None,
    )


@router.get("/{name}.csv")
def analytics_csv(
    request: Request, name: str, _user: ConsoleSupervisor, since: Day = None, until: Day = None
) -> Response:
    figure = BY_NAME.get(name)
    if figure is None:
        known = "、".join(f.name for f in FIGURES)
        return Response(f"没有这项统计：{name}；可选：{known}", status_code=404, media_type="text/plain; charset=utf-8")
    try:
        period = _period(since, until)
    except PeriodError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain; charset=utf-8")
    rows = _analytics(request).rows(figure, period)
    filename = f"{figure.name}_{period.since:%Y%m%d}-{period.last_day:%Y%m%d}.csv"
    return Response(
        to_csv(figure, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )
