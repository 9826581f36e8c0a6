"""The period a report covers, in the office's calendar days, and SQL that buckets moments into those days.

Tickets are filed on China's business day (bot/tickets/numbering.py, CHINA_TZ), and so are the figures: a
period is [since, until) in local days, a ticket filed at 07:00 Beijing time on the 2nd is the 2nd's. Moments
are stored in UTC; `local_day` and `local_week` shift them by CHINA_TZ's offset in SQL, per dialect (China
has had no daylight saving since 1991, so the offset is fixed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.tickets.numbering import CHINA_TZ, business_day

_OFFSET = CHINA_TZ.utcoffset(None)
assert _OFFSET is not None
_OFFSET_SECONDS = int(_OFFSET.total_seconds())
#: The longest period a report or the console computes (a year and a day): a typo of a year is refused.
MAX_DAYS = 367


class PeriodError(ValueError):
    """A period that cannot be reported; the message is Chinese, for the operator who asked for it."""


@dataclass(frozen=True)
class Period:
    """[since, until) in local days, and the office's today (what is overdue is overdue as of today)."""

    since: date
    until: date
    today: date

    def __post_init__(self) -> None:
        if self.until <= self.since:
            raise PeriodError(f"结束日期（{self.until}）必须晚于开始日期（{self.since}）")
        if (self.until - self.since).days > MAX_DAYS:
            raise PeriodError(f"统计期间最长 {MAX_DAYS} 天")

    @classmethod
    def of(cls, since: date, until: date | None = None, *, now: datetime | None = None) -> Period:
        """From `since` to `until` (exclusive); without `until`, through today."""
        today = business_day(now or datetime.now(CHINA_TZ))
        return cls(since, until or today + timedelta(days=1), today)

    @classmethod
    def recent(cls, days: int, *, now: datetime | None = None) -> Period:
        """The last `days` days, today included."""
        today = business_day(now or datetime.now(CHINA_TZ))
        return cls(today - timedelta(days=days - 1), today + timedelta(days=1), today)

    @property
    def start(self) -> datetime:
        """The first moment of the period (aware)."""
        return datetime.combine(self.since, time(0), CHINA_TZ)

    @property
    def end(self) -> datetime:
        """The first moment after the period (aware)."""
        return datetime.combine(self.until, time(0), CHINA_TZ)

    @property
    def last_day(self) -> date:
        return self.until - timedelta(days=1)

    def label(self) -> str:
        return f"{self.since.isoformat()} 至 {self.last_day.isoformat()}"


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{what}“{text}”不是日期，请写成 YYYY-MM-DD，如 2026-11-01") from None


class local_day(FunctionElement[date]):
    """The local (CHINA_TZ) date of a stored UTC moment."""

    type = Date()
    name = "local_day"
    inherit_cache = True


class local_week(FunctionElement[date]):
    """The Monday of the local (CHINA_TZ) ISO week of a stored UTC moment."""

    type = Date()
    name = "local_week"
    inherit_cache = True


# SQLite keeps UTC moments as naive 'YYYY-MM-DD HH:MM:SS.ffffff' text (bot/database.py UTCDateTime); its date
# functions read that and take the shift as a modifier. 'weekday 0' moves forward to a Sunday (or stays on one),
# six days back is that week's Monday.
@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '{_OFFSET_SECONDS:+d} seconds')"


@compiles(local_week, "sqlite")
def _local_week_sqlite(element: local_week, compiler: SQLCompiler, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    return f"date({moment}, '{_OFFSET_SECONDS:+d} seconds', 'weekday 0', '-6 days')"


# PostgreSQL: timestamptz → UTC wall time → local wall time; date_trunc('week') is the ISO (Monday) week.
def _local_wall_time_postgresql(element: FunctionElement[date], compiler: SQLCompiler, **kw: Any) -> str:
    return f"(timezone('UTC', {compiler.process(element.clauses, **kw)}) + interval '{_OFFSET_SECONDS} seconds')"


@compiles(local_day, "postgresql")
def _local_day_postgresql(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({_local_wall_time_postgresql(element, compiler, **kw)} AS DATE)"


@compiles(local_week, "postgresql")
def _local_week_postgresql(element: local_week, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(date_trunc('week', {_local_wall_time_postgresql(element, compiler, **kw)}) AS DATE)"
