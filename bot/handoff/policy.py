"""The handoff's rules of time: working hours, the longest acceptable wait, and the two timeouts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.settings import Settings

#: Where the office is: working hours are its local time.
OFFICE_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class WorkingHours:
    """Daily opening hours in the office's time; opens == closes means around the clock."""

    opens: time = time(0, 0)
    closes: time = time(0, 0)

    @classmethod
    def parse(cls, spec: str) -> WorkingHours:
        """ "08:00-20:00", or "00:00-24:00" for around the clock; ValueError on anything else."""
        try:
            start, end = (part.strip() for part in spec.split("-"))
            opens = time.fromisoformat(start)
            closes = time(0, 0) if end == "24:00" else time.fromisoformat(end)
        except ValueError as exc:
            raise ValueError(f"working hours {spec!r}: expected HH:MM-HH:MM, e.g. 08:00-20:00") from exc
        return cls(opens, closes)

    def is_open(self, moment: datetime) -> bool:
        if self.opens == self.closes:
            return True
        local = moment.astimezone(OFFICE_TZ).time()
        if self.opens < self.closes:
            return self.opens <= local < self.closes
        return local >= self.opens or local < self.closes  # a night shift past midnight

    def spoken(self) -> str:
        if self.opens == self.closes:
            return "全天24小时"
        closes = "24:00" if self.closes == time(0, 0) else self.closes.strftime("%H:%M")
        return f"每天{self.opens.strftime('%H:%M')}至{closes}"


@dataclass(frozen=True)
class HandoffPolicy:
    hours: WorkingHours = field(default_factory=WorkingHours)
    #: Above this expected wait the citizen is offered to leave a message instead.
    max_wait_s: int = 600
    #: An operator who owes an answer this long loses the conversation back to the queue.
    operator_reply_timeout_s: int = 180
    #: A citizen silent this long (while a person owns the conversation) ends it.
    citizen_silence_s: int = 900
    #: A conversation waiting this long in the queue, the citizen silent, is taken as abandoned (page closed).
    queue_abandon_s: int = 3600
    #: The handling time assumed before there is any history.
    default_handling_s: int = 240
    #: Operators connected to the console now (the live layer knows; 0 = unknown).
    operators_online: Callable[[], int] = lambda: 0


def policy_from_settings(settings: Settings, operators_online: Callable[[], int] = lambda: 0) -> HandoffPolicy:
    return HandoffPolicy(
        hours=WorkingHours.parse(settings.handoff_hours),
        max_wait_s=settings.handoff_max_wait_s,
        operator_reply_timeout_s=settings.operator_reply_timeout_s,
        citizen_silence_s=settings.citizen_silence_s,
        operators_online=operators_online,
    )
