"""Ticket store fixtures: a fresh SQLite file per test, and a fresh PostgreSQL schema when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

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


def _postgresql_url() -> Iterator[str]:
    """A URL whose search_path is a schema of its own, dropped afterwards, so tests never see each other's rows."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"test_tickets_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'hotline.db'}"
    else:
        yield from _postgresql_url()


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
