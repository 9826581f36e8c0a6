"""A figure's rows as CSV (for Excel) and as Markdown (for `hotline report`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from bot.analytics.figure import Column, Figure, Kind
from bot.analytics.period import Period

#: Excel reads a CSV file without a byte-order mark in the machine's ANSI code page (GBK on a Chinese Windows,
#: cp1252 elsewhere) and garbles UTF-8 Chinese; with the BOM it reads UTF-8. Other readers skip it.
CSV_BOM = "\ufeff"
#: Transcript links a Markdown table cell shows before "等 N 个会话".
LINKS_SHOWN = 5


def to_csv(figure: Figure, rows: Sequence[dict[str, Any]]) -> str:
    """UTF-8 text with a BOM (encode it as UTF-8), the Chinese headings first, CRLF line ends as Excel writes."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([column.title for column in figure.columns])
    for row in rows:
        writer.writerow([_csv_cell(column, row.get(column.key)) for column in figure.columns])
    return CSV_BOM + out.getvalue()


def _csv_cell(column: Column, value: Any) -> Any:
    if value is None:
        return ""
    if column.kind == Kind.LINKS:
        return " ".join(value)
    if column.kind == Kind.SHARE:
        return f"{value:.4f}"
    return value


def cell(column: Column, value: Any) -> str:
    """A value as a person reads it: 37.5%, 4.25, 12.0 秒."""
    if value is None or value == []:
        return "—"
    if column.kind == Kind.SHARE:
        return f"{value * 100:.1f}%"
    if column.kind == Kind.MEAN:
        return f"{value:.2f}"
    if column.kind == Kind.SECONDS:
        return f"{value:.1f}"
    return str(value)


def _markdown_cell(column: Column, value: Any) -> str:
    if column.kind == Kind.LINKS and value:
        shown = " ".join(f"[{n}]({link})" for n, link in enumerate(value[:LINKS_SHOWN], start=1))
        return shown + (f" 等 {len(value)} 个会话" if len(value) > LINKS_SHOWN else "")
    return " ".join(cell(column, value).replace("|", "\\|").split())


def figure_markdown(figure: Figure, rows: Sequence[dict[str, Any]]) -> str:
    lines = [f"### {figure.title}", ""]
    if not rows:
        lines.append("本期无数据。")
    else:
        lines.append("| " + " | ".join(column.title for column in figure.columns) + " |")
        lines.append("|" + "|".join("---" if c.kind in (Kind.TEXT, Kind.DAY, Kind.LINKS) else "---:"
                                    for c in figure.columns) + "|")  # fmt: skip
        for row in rows:
            lines.append("| " + " | ".join(_markdown_cell(c, row.get(c.key)) for c in figure.columns) + " |")
    if figure.note:
        lines += ["", f"> {figure.note}"]
    return "\n".join(lines)


def to_markdown(period: Period, figures: Sequence[tuple[Figure, Sequence[dict[str, Any]]]]) -> str:
    """The whole report: a heading per section of the issue, a table per figure."""
    parts = [f"# 12320 热线统计报告（{period.label()}）", ""]
    section = None
    for figure, rows in figures:
        if figure.section != section:
            section = figure.section
            parts += [f"## {section}", ""]
        parts += [figure_markdown(figure, rows), ""]
    return "\n".join(parts)
