"""Analytics (社情民意 and 电子监察): knowledge gaps, hot topics, handoffs, deadlines and satisfaction, each figure
one SQL query over a period (bot/analytics/figure.py), shown by the console, downloaded as CSV and printed by
`hotline report`."""

from bot.analytics.export import to_csv, to_markdown
from bot.analytics.figure import Chart, Column, Figure, Kind
from bot.analytics.period import Period, PeriodError
from bot.analytics.registry import BY_NAME, FIGURES, Analytics

__all__ = [
    "BY_NAME", "FIGURES", "Analytics", "Chart", "Column", "Figure", "Kind", "Period", "PeriodError", "to_csv",
    "to_markdown",
]  # fmt: skip
