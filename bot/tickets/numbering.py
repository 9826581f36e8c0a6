"""受理编号: 12320-YYYYMMDD-NNNNNN, a sequence per business day that is never reused.

The sequence is a counter row incremented inside the transaction that inserts the ticket. The row lock
(PostgreSQL) or the write lock (SQLite, BEGIN IMMEDIATE) makes concurrent writers take turns, and a rolled
back ticket rolls its number back with it, so numbers have no gaps and no duplicates.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.tickets.models import TicketCounter

NUMBER_PREFIX = "12320"
NUMBER_PATTERN = re.compile(rf"{NUMBER_PREFIX}-(?P<day>\d{{8}})-(?P<sequence>\d{{6}})")
# China has had no daylight saving since 1991, so a fixed offset is exact and needs no tzdata.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_DASHES = re.compile(r"[‐‑‒–—―]")


def business_day(moment: datetime) -> date:
    """The date in China at `moment`: a ticket filed at 07:00 Beijing time belongs to that day, not UTC's."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return moment.astimezone(CHINA_TZ).date()


def format_number(day: date, sequence: int) -> str:
    return f"{NUMBER_PREFIX}-{day:%Y%m%d}-{sequence:06d}"


def parse_number(text: str) -> str | None:
    """A ticket number as a citizen typed it (全角 digits, stray spaces or dashes) in canonical form, or None."""
    compact = "".join(_DASHES.sub("-", unicodedata.normalize("NFKC", text)).split())
    return compact if NUMBER_PATTERN.fullmatch(compact) else None


def next_number(session: Session, day: date) -> str:
    """Issue the next number for `day`. Call it inside the transaction that inserts the ticket."""
    dialect = session.get_bind().dialect.name
    dialect_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if dialect_insert is None:
        raise NotImplementedError(f"ticket numbering is not implemented for {dialect}")
    session.execute(
        dialect_insert(TicketCounter).values(day=day, last_value=0).on_conflict_do_nothing(index_elements=["day"])
    )
    sequence = session.execute(
        update(TicketCounter)
        .where(TicketCounter.day == day)
        .values(last_value=TicketCounter.last_value + 1)
        .returning(TicketCounter.last_value)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return format_number(day, sequence)
