"""限时办结: a ticket's due date is N working days after the day it was received.

The day of receipt is not counted (民法典 Art. 201: a period counted in days starts the next day), so a
ticket received on Friday with N = 1 is due on Monday.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType

from bot.tickets.domain import TicketKind

# 15 working days is the usual 12345/12320 handling time; 依申请公开 gets 20 (政府信息公开条例 2019, Art. 33).
DEFAULT_DEADLINE_DAYS: Mapping[TicketKind, int] = MappingProxyType(
    {
        TicketKind.COMPLAINT: 15,
        TicketKind.REPORT: 15,
        TicketKind.SUGGESTION: 15,
        TicketKind.DISCLOSURE_REQUEST: 20,
    }
)


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days: Monday to Friday, minus 法定节假日, plus 调休 makeup Saturdays/Sundays.

    Empty sets give a plain weekday calendar; the State Council's yearly holiday notice fills them in.
    """

    holidays: AbstractSet[date] = field(default_factory=frozenset)
    makeup_workdays: AbstractSet[date] = field(default_factory=frozenset)  # 调休上班

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
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


@dataclass(frozen=True)
class DeadlinePolicy:
    """How many working days each kind of ticket gets, on which calendar."""

    days_by_kind: Mapping[TicketKind, int] = field(default_factory=lambda: DEFAULT_DEADLINE_DAYS)
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)

    def due_date(self, kind: TicketKind, received_on: date) -> date:
        return self.calendar.add_working_days(received_on, self.days_by_kind[kind])
