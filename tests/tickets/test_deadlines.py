"""限时办结: N working days after receipt, on a calendar that knows weekends, holidays and 调休."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.tickets import DEFAULT_DEADLINE_DAYS, DeadlinePolicy, TicketKind, WorkingCalendar, open_ticket_service
from bot.tickets.deadlines import SHIPPED_CALENDARS

PLAIN = WorkingCalendar()
# 国务院办公厅 2025 holiday notice: 国庆节、中秋节 10月1日至8日放假调休，9月28日（周日）、10月11日（周六）上班.
NATIONAL_DAY_2025 = WorkingCalendar(
    holidays={date(2025, 10, day) for day in range(1, 9)},
    makeup_workdays={date(2025, 9, 28), date(2025, 10, 11)},
)


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        (date(2026, 11, 23), 1, date(2026, 11, 24)),  # Monday: the day of receipt does not count
        (date(2026, 11, 27), 1, date(2026, 11, 30)),  # Friday → Monday
        (date(2026, 11, 28), 1, date(2026, 11, 30)),  # received on Saturday
        (date(2026, 11, 27), 5, date(2026, 12, 4)),
        (date(2026, 11, 23), 0, date(2026, 11, 23)),
    ],
)
def test_weekends_are_skipped(received: date, days: int, due: date) -> None:
    assert PLAIN.add_working_days(received, days) == due


def test_holidays_are_skipped_and_makeup_workdays_count() -> None:
    received = date(2025, 9, 26)  # Friday before the 8-day National Day break
    assert NATIONAL_DAY_2025.is_working_day(date(2025, 9, 28))  # Sunday, 调休上班
    assert not NATIONAL_DAY_2025.is_working_day(date(2025, 10, 6))  # Monday, 放假
    assert NATIONAL_DAY_2025.add_working_days(received, 3) == date(2025, 9, 30)  # 28th (Sun), 29th, 30th
    assert NATIONAL_DAY_2025.add_working_days(received, 4) == date(2025, 10, 9)  # straight over the holiday
    assert NATIONAL_DAY_2025.add_working_days(received, 15) == date(2025, 10, 23)
    assert PLAIN.add_working_days(received, 15) == date(2025, 10, 17)


def test_default_days_per_kind() -> None:
    policy = DeadlinePolicy()
    monday = date(2026, 11, 23)
    assert DEFAULT_DEADLINE_DAYS[TicketKind.DISCLOSURE_REQUEST] == 20  # 政府信息公开条例 Art. 33
    assert policy.due_date(TicketKind.DISCLOSURE_REQUEST, monday) == date(2026, 12, 21)
    for kind in (TicketKind.COMPLAINT, TicketKind.REPORT, TicketKind.SUGGESTION):
        assert policy.due_date(kind, monday) == date(2026, 12, 14)


def test_days_and_calendar_are_configurable() -> None:
    policy = DeadlinePolicy(days_by_kind={**DEFAULT_DEADLINE_DAYS, TicketKind.REPORT: 5}, calendar=NATIONAL_DAY_2025)
    # Received 9/30: the 9th, the 10th, Saturday the 11th (调休), the 13th, the 14th.
    assert policy.due_date(TicketKind.REPORT, date(2025, 9, 30)) == date(2025, 10, 14)


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError):
        PLAIN.add_working_days(date(2026, 11, 23), -1)


def test_the_shipped_calendar_knows_2026s_holidays_and_makeup_days() -> None:
    policy = DeadlinePolicy()  # the default: every notice in bot/tickets/calendars/
    calendar = policy.calendar
    assert 2026 in calendar.years
    assert not calendar.is_working_day(date(2026, 10, 5))  # 国庆节, a Monday
    assert calendar.is_working_day(date(2026, 10, 10))  # 调休上班, a Saturday
    assert not calendar.is_working_day(date(2026, 2, 16))  # 春节
    assert calendar.is_working_day(date(2026, 2, 14))  # 调休上班
    # Received Monday 28 September: 29–30, then 8–9 and Saturday 10 October, then two full weeks.
    assert policy.due_date(TicketKind.COMPLAINT, date(2026, 9, 28)) == date(2026, 10, 23)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("holidays: []\n", "year"),
        ("year: 2027\nholidays:\n  - 2026-12-31\n", "outside 2027"),
        ("year: 2027\nholidays:\n  - [2027-02-10, 2027-02-01]\n", "backwards"),
        ("year: 2027\nholidays:\n  - 2027-02-06\nmakeup_workdays:\n  - 2027-02-06\n", "both"),
        ("year: 2027\nholidays:\n  - 2027-13-01\n", "month"),
        ("year: [unclosed\n", "cn-2027.yml"),
    ],
)
def test_a_bad_calendar_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "cn-2027.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        WorkingCalendar.from_files([path])
    assert str(path) in str(error.value)


def test_calendars_merge_across_years(tmp_path: Path) -> None:
    path = tmp_path / "cn-2027.yml"
    path.write_text("year: 2027\nholidays:\n  - [2027-01-01, 2027-01-03]\nmakeup_workdays: []\n", encoding="utf-8")
    calendar = WorkingCalendar.from_files([*sorted(SHIPPED_CALENDARS.glob("cn-*.yml")), path])
    assert calendar.years == {2026, 2027}
    # Received Thursday 31 December 2026: Friday 1 January 2027 is 元旦, so one working day is Monday the 4th.
    assert calendar.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_deadlines_and_calendars_are_configured_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calendar = tmp_path / "cn-2027.yml"
    calendar.write_text("year: 2027\nholidays:\n  - 2027-01-01\n", encoding="utf-8")
    monkeypatch.setenv("HOTLINE_DEADLINE_DAYS", '{"complaint": 1}')
    monkeypatch.setenv("HOTLINE_HOLIDAY_CALENDARS", f'["{calendar}"]')
    service = open_ticket_service(f"sqlite:///{tmp_path / 'hotline.db'}")
    policy = service.deadlines
    service.close()
    assert policy.due_date(TicketKind.COMPLAINT, date(2026, 12, 31)) == date(2027, 1, 4)  # 元旦 2027 skipped
    assert policy.due_date(TicketKind.REPORT, date(2026, 11, 23)) == date(2026, 12, 14)  # default 15 kept

    monkeypatch.setenv("HOTLINE_DEADLINE_DAYS", '{"complaint": -3}')
    with pytest.raises(ValueError, match="negative"):
        open_ticket_service(f"sqlite:///{tmp_path / 'hotline.db'}")
    monkeypatch.setenv("HOTLINE_DEADLINE_DAYS", '{"complaints": 3}')
    with pytest.raises(ValueError, match=r"unknown ticket kinds \['complaints'\]"):
        open_ticket_service(f"sqlite:///{tmp_path / 'hotline.db'}")
