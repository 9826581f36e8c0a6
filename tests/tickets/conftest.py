"""Ticket store fixtures: a fresh SQLite file per test, and a fresh PostgreSQL schema when TEST_DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.tickets import TicketDraft, TicketKind, TicketService, open_ticket_service

# 10:00 in Beijing on Monday 2026-11-23.
MONDAY_MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = MONDAY_MORNING) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(database_url: str, clock: Clock) -> Iterator[TicketService]:
    service = open_ticket_service(database_url, clock=clock)
    yield service
    service.close()


@pytest.fixture
def make_draft() -> Callable[..., TicketDraft]:
    counter = iter(range(1_000_000))

    def make(**overrides: object) -> TicketDraft:
        n = next(counter)
        fields: dict[str, object] = {
            "kind": TicketKind.COMPLAINT,
            "description": "诊所挂号费多收了二十块，还不给发票",
            "location": "朝阳区某社区卫生服务中心",
            "occurred_at": "上周三下午",
            "subject": "收费窗口工作人员",
            "name": "张三",
            "phone": f"139{n:04d}5678",  # a different citizen each time, same last four digits
            "consent_to_contact": True,
            "channel": "web",
            "sender_id": "web-session-1",
            "idempotency_key": f"key-{n}",
        }
        fields.update(overrides)
        return TicketDraft(**fields)  # type: ignore[arg-type]

    return make
