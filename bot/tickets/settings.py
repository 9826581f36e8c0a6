"""Ticket store settings from the environment, with a laptop default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.tickets.database import default_database_url
from bot.tickets.deadlines import DEFAULT_DEADLINE_DAYS, SHIPPED_CALENDARS, DeadlinePolicy, WorkingCalendar
from bot.tickets.domain import TicketKind


class TicketSettings(BaseSettings):
    """DATABASE_URL picks the store: a SQLite file by default, postgresql+psycopg://… when scaled out.

    HOTLINE_DEADLINE_DAYS='{"complaint": 10}' overrides working days per kind (the rest keep their defaults);
    HOTLINE_HOLIDAY_CALENDARS='["/etc/hotline/cn-2027.yml"]' adds yearly calendars to the shipped ones.
    """

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(default_factory=default_database_url, validation_alias="DATABASE_URL")
    deadline_days: dict[TicketKind, int] = Field(default_factory=dict, validation_alias="HOTLINE_DEADLINE_DAYS")
    holiday_calendars: list[Path] = Field(default_factory=list, validation_alias="HOTLINE_HOLIDAY_CALENDARS")

    def deadline_policy(self) -> DeadlinePolicy:
        if any(days < 0 for days in self.deadline_days.values()):
            raise ValueError("HOTLINE_DEADLINE_DAYS: days must not be negative")
        if not self.deadline_days and not self.holiday_calendars:
            return DeadlinePolicy()
        calendar = WorkingCalendar.from_files([*sorted(SHIPPED_CALENDARS.glob("cn-*.yml")), *self.holiday_calendars])
        return DeadlinePolicy({**DEFAULT_DEADLINE_DAYS, **self.deadline_days}, calendar)
