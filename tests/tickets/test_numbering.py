"""受理编号 format and the business day it is counted in."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.tickets.numbering import business_day, format_number, parse_number


def test_format_number() -> None:
    assert format_number(date(2026, 11, 23), 42) == "12320-20261123-000042"


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("12320-20261123-000042", "12320-20261123-000042"),
        (" 12320-20261123-000042\n", "12320-20261123-000042"),
        ("１２３２０－２０２６１１２３－００００４２", "12320-20261123-000042"),
        ("12320 - 20261123 - 000042", "12320-20261123-000042"),
        ("12320—20261123—000042", "12320-20261123-000042"),
        ("12320-20261123-42", None),
        ("12345-20261123-000042", None),
        ("1232020261123000042", None),
        ("", None),
    ],
)
def test_parse_number(typed: str, canonical: str | None) -> None:
    assert parse_number(typed) == canonical


def test_business_day_is_beijing_time() -> None:
    assert business_day(datetime(2026, 11, 23, 15, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert business_day(datetime(2026, 11, 23, 16, 0, tzinfo=UTC)) == date(2026, 11, 24)
    with pytest.raises(ValueError):
        business_day(datetime(2026, 11, 23, 16, 0))
