"""`hotline report --since DATE [--until DATE]`: every analytics figure as Markdown, on the database every
process reads (bot/settings.py)."""

from __future__ import annotations

import argparse
import sys

from bot.analytics.export import to_markdown
from bot.analytics.period import Period, parse_day
from bot.analytics.registry import Analytics
from bot.database import create_ticket_engine, upgrade_schema


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="统计报告：知识盲区、热点、转人工、限时办结、满意度 (Markdown)")
    report.add_argument("--since", required=True, help="first day, YYYY-MM-DD (Beijing time)")
    report.add_argument("--until", default=None, help="the day after the last, YYYY-MM-DD (default: through today)")
    report.add_argument(
        "--database-url",
        default=None,
        help="default: $HOTLINE_DATABASE_URL or $DATABASE_URL, else $HOTLINE_VAR/hotline.db",
    )
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from bot.settings import load_settings

    since = parse_day(args.since, "开始日期")
    until = parse_day(args.until, "结束日期") if args.until else None
    period = Period.of(since, until)  # a bad period fails before the database is opened
    engine = create_ticket_engine(args.database_url or load_settings().database_url)
    try:
        upgrade_schema(engine)
        markdown = to_markdown(period, Analytics(engine).all(period))
    finally:
        engine.dispose()
    sys.stdout.write(markdown)
    return 0
