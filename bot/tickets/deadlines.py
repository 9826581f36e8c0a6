"""限时办结: a ticket's due date is N working days after the day it was received.

The day of receipt is not counted (民法典 Art. 201: a period counted in days starts the next day), so a
ticket received on Friday with N = 1 is due on Monday.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot.tickets.domain import TicketKind

logger = logging.getLogger(__name__)

#: The State Council's yearly holiday notices, one file per year; add next year's when it is published.
SHIPPED_CALENDARS = Path(__file__).resolve().parent / "calendars"

# 15 working days is the usual 12345/12320 handling time; 依申请公开 gets 20 (政府信息公开条例 2019, Art. 33).
# A message left for a call back is the hotline's own promise: a person calls back by the next working day.
DEFAULT_DEADLINE_DAYS: Mapping[TicketKind, int] = MappingProxyType(
    {
        TicketKind.COMPLAINT: 15,
        TicketKind.REPORT: 15,
        TicketKind.SUGGESTION: 15,
        TicketKind.DISCLOSURE_REQUEST: 20,
        TicketKind.CALLBACK: 1,
    }
)


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days: Monday to Friday, minus 法定节假日, plus 调休 makeup Saturdays/Sundays.

    Empty sets give a plain weekday calendar; the State Council's yearly holiday notice fills them in.
    """

    holidays: AbstractSet[date] = field(default_factory=frozenset)
    makeup_workdays: AbstractSet[date] = field(default_factory=frozenset)  # 调休上班
    years: AbstractSet[int] = field(default_factory=frozenset)  # the years whose notice is loaded

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> WorkingCalendar:
        """Merge yearly calendar files (calendars/cn-2026.yml is the shape); ValueError naming the bad file."""
        holidays: set[date] = set()
        makeup: set[date] = set()
        years: set[int] = set()
        for path in paths:
            year, year_holidays, year_makeup = _read_calendar_file(Path(path))
            years.add(year)
            holidays |= year_holidays
            makeup |= year_makeup
        return cls(frozenset(holidays), frozenset(makeup), frozenset(years))

    def is_working_day(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start`; `start` itself never counts."""
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        remaining = days
        if self.years and (start.year + 1) not in self.years and start.month == 12:
            # A December deadline runs into a year whose holidays are unknown: 元旦 counts as a working day.
            logger.warning("no holiday calendar for %d: add calendars/cn-%d.yml", start.year + 1, start.year + 1)
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


@dataclass(frozen=True)
class DeadlinePolicy:
    """How many working days each kind of ticket gets, on which calendar."""

    days_by_kind: Mapping[TicketKind, int] = field(default_factory=lambda: DEFAULT_DEADLINE_DAYS)
    calendar: WorkingCalendar = field(default_factory=lambda: shipped_calendar())

    def due_date(self, kind: TicketKind, received_on: date) -> date:
        return self.calendar.add_working_days(received_on, self.days_by_kind[kind])


def configured_policy(days_by_kind: Mapping[str, int], extra_calendars: Iterable[Path] = ()) -> DeadlinePolicy:
    """The policy for settings (HOTLINE_DEADLINE_DAYS, HOTLINE_HOLIDAY_CALENDARS): `days_by_kind` overrides the
    defaults for the kinds it names, and `extra_calendars` join the shipped ones."""
    extra = list(extra_calendars)
    if not days_by_kind and not extra:
        return DeadlinePolicy()
    known = {kind.value for kind in TicketKind}
    if unknown := sorted(set(days_by_kind) - known):
        raise ValueError(f"deadline days for unknown ticket kinds {unknown}; the kinds are {sorted(known)}")
    if any(days < 0 for days in days_by_kind.values()):
        raise ValueError("deadline days must not be negative")
    days = {**DEFAULT_DEADLINE_DAYS, **{TicketKind(kind): n for kind, n in days_by_kind.items()}}
    return DeadlinePolicy(days, WorkingCalendar.from_files([*sorted(SHIPPED_CALENDARS.glob("cn-*.yml")), *extra]))


@cache
def shipped_calendar() -> WorkingCalendar:
    """Every yearly notice shipped in calendars/."""
    return WorkingCalendar.from_files(sorted(SHIPPED_CALENDARS.glob("cn-*.yml")))


def _read_calendar_file(path: Path) -> tuple[int, set[date], set[date]]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        year = int(data["year"])
        holidays = {day for entry in data.get("holidays") or [] for day in _days(entry)}
        makeup = {_day(entry) for entry in data.get("makeup_workdays") or []}
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"holiday calendar {path}: {exc}") from exc
    stray = sorted(str(day) for day in holidays | makeup if day.year != year)
    if stray:
        raise ValueError(f"holiday calendar {path}: dates outside {year}: {', '.join(stray)}")
    if holidays & makeup:
        raise ValueError(f"holiday calendar {path}: a day is both a holiday and a makeup workday")
    return year, holidays, makeup


def _days(entry: Any) -> list[date]:
    """A date, or [first, last] inclusive."""
    if isinstance(entry, list):
        if len(entry) != 2:
            raise ValueError(f"a range is [first, last], got {entry!r}")
        first, last = _day(entry[0]), _day(entry[1])
        if last < first:
            raise ValueError(f"range {first}..{last} runs backwards")
        return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [_day(entry)]


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
