"""What a figure is: one SQL query over a period, the plain rows it makes, and how they are shown.

Every consumer (the console page, its CSV downloads, `hotline report`) iterates the same registry
(bot/analytics/registry.py FIGURES) and calls `Figure.compute`: the query runs once, `present` turns its rows
into plain dicts with the figure's columns, and every text value passes through redact_numbers, so no phone
or 身份证 number reaches a chart, a download or a report whatever the query selected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Engine, Row, Select

from bot.analytics.period import Period
from bot.database import READ_ONLY
from bot.redaction import redact_numbers
from index.embedders import Embedder

#: The label of a row that totals the others; charts leave it out.
TOTAL = "合计"


class Kind(StrEnum):
    """What a column holds: how it is masked, formatted and charted."""

    TEXT = "text"  # free text (a question, a title, a name): masked
    COUNT = "count"
    SHARE = "share"  # 0..1, shown as a percentage
    MEAN = "mean"  # a mean score
    SECONDS = "seconds"
    DAY = "day"  # an ISO date
    LINKS = "links"  # console paths to transcripts: server-issued ids, not citizen text


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # the Chinese heading of tables and CSV files
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class Chart:
    """How the console draws a figure with ECharts: `x` along the axis, one series per `y` key, or per value
    of `series` (summing `y[0]`). kind "table" draws no chart (knowledge gaps are read, not looked at)."""

    kind: str  # bar | stacked_bar | line | pie | table
    x: str = ""
    y: tuple[str, ...] = ()
    series: str | None = None
    #: A colour per y key where the colour means something (on time green, overdue red); else the palette's.
    colors: tuple[str, ...] = ()


class Context(Protocol):
    """What `present` may need beyond the rows: the embedder (knowledge gaps group questions by meaning)."""

    @property
    def embedder(self) -> Embedder: ...


Present = Callable[[Sequence[Row[Any]], Period, Context], list[dict[str, Any]]]


@dataclass(frozen=True)
class Figure:
    name: str  # the URL and file name: /console/analytics/{name}.csv
    title: str
    section: str  # the heading it belongs to: 知识盲区, 热点问题, 转人工, 限时办结, 满意度
    columns: tuple[Column, ...]
    query: Callable[[Period], Select[Any]]
    present: Present
    chart: Chart
    note: str = ""  # how it is counted, in Chinese, under the table

    def compute(self, engine: Engine, period: Period, context: Context) -> list[dict[str, Any]]:
        """The figure's rows for `period`, as JSON-ready dicts of its columns: one query, plain Python, masking."""
        reader = engine.execution_options(**{READ_ONLY: True})
        with reader.connect() as connection:
            rows = connection.execute(self.query(period)).all()
        return [self._masked(row) for row in self.present(rows, period, context)]

    def _masked(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out = {column.key: row.get(column.key) for column in self.columns}
        for column in self.columns:
            value = out[column.key]
            if column.kind == Kind.TEXT and isinstance(value, str):
                out[column.key] = redact_numbers(value)
        return out
