"""Accounts, logins and sessions against the real database (SQLite and PostgreSQL), on a clock the test moves:
the lockout's exact window, expiry idle and absolute, a lockout count shared by two gateway workers, the
append-only event log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.auth import Role
from bot.console.accounts import AccountError, AccountEvent, AccountStore
from bot.console.models import ConsoleUserRow
from bot.console.sessions import SessionStore
from bot.database import create_ticket_engine, upgrade_schema
from tests.console.conftest import PASSWORD
from tests.tickets.conftest import Clock

TTL = timedelta(hours=8)
IDLE = timedelta(minutes=30)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_ticket_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def accounts(engine: Engine, clock: Clock) -> AccountStore:
    return AccountStore(engine, clock)


@pytest.fixture
def sessions(engine: Engine, clock: Clock) -> SessionStore:
    return SessionStore(engine, ttl=TTL, idle=IDLE, clock=clock)


def test_the_lockout_lasts_exactly_15_minutes(accounts: AccountStore, sessions: SessionStore, clock: Clock) -> None:
    accounts.add("wang", PASSWORD, Role.OPERATOR, actor="test")
    for _ in range(4):
        assert sessions.login("wang", "wrong password!!") is None
    assert sessions.login("wang", PASSWORD) is not None  # a success clears the count
    for _ in range(5):
        assert sessions.login("wang", "wrong password!!") is None
    locked_at = clock.now
    assert sessions.login("wang", PASSWORD) is None
    clock.advance(minutes=14, seconds=59)
    assert sessions.login("wang", "wrong password!!") is None
    assert sessions.login("wang", PASSWORD) is None
    clock.now = locked_at + timedelta(minutes=15)
    opened = sessions.login("wang", PASSWORD)
    assert opened is not None and opened.session.principal.name == "wang"
    # The wrong password during the lock neither extended it nor counts towards the next: four more do not lock.
    for _ in range(4):
        assert sessions.login("wang", "wrong password!!") is None
    assert sessions.login("wang", PASSWORD) is not None
    kinds = [event.event for event in reversed(accounts.events())]
    assert kinds.count(AccountEvent.LOCKED) == 1 and kinds.count(AccountEvent.LOGIN) == 3


def test_two_workers_share_the_count(database_url: str, accounts: AccountStore, clock: Clock) -> None:
    """Five wrong passwords lock the login however they are spread over gateway processes."""
    accounts.add("wang", PASSWORD, Role.OPERATOR, actor="test")
    workers = [create_ticket_engine(database_url) for _ in range(2)]
    stores = [SessionStore(engine, ttl=TTL, idle=IDLE, clock=clock) for engine in workers]
    start = threading.Barrier(6)

    def attempt(store: SessionStore) -> None:
        start.wait()
        assert store.login("wang", "wrong password!!") is None

    threads = [threading.Thread(target=attempt, args=(stores[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert stores[0].login("wang", PASSWORD) is None and stores[1].login("wang", PASSWORD) is None
    events = [event.event for event in accounts.events()]
    assert events.count(AccountEvent.LOCKED) == 1
    # Six wrong and two right ones: each failed, none lost to the race.
    assert events.count(AccountEvent.LOGIN_FAILED) == 8
    for engine in workers:
        engine.dispose()


def test_a_session_ends_when_idle_and_at_its_absolute_expiry(
    accounts: AccountStore, sessions: SessionStore, clock: Clock
) -> None:
    accounts.add("wang", PASSWORD, Role.SUPERVISOR, actor="test")
    idle = sessions.login("wang", PASSWORD)
    assert idle is not None
    clock.advance(minutes=29, seconds=59)
    assert sessions.authenticate(idle.token) is not None  # and the request counts as activity
    clock.advance(minutes=29, seconds=59)
    assert sessions.authenticate(idle.token) is not None
    clock.advance(minutes=30)
    assert sessions.authenticate(idle.token) is None
    assert sessions.authenticate(idle.token) is None  # gone for good

    busy = sessions.login("wang", PASSWORD)
    assert busy is not None
    found = sessions.authenticate(busy.token)
    assert found is not None and found.principal.role == Role.SUPERVISOR and found.csrf_token == busy.session.csrf_token
    for _ in range(8 * 6 - 1):  # a request every 10 minutes for a whole shift
        clock.advance(minutes=10)
        assert sessions.authenticate(busy.token) is not None
    clock.advance(minutes=10)  # 8 hours after the login
    assert sessions.authenticate(busy.token) is None
    assert sessions.authenticate("not-a-token") is None


def test_a_new_password_or_disabling_ends_every_session(accounts: AccountStore, sessions: SessionStore) -> None:
    accounts.add("wang", PASSWORD, Role.OPERATOR, actor="test")
    first, second = sessions.login("wang", PASSWORD), sessions.login("wang", PASSWORD)
    assert first is not None and second is not None and first.token != second.token
    assert first.session.csrf_token != second.session.csrf_token
    assert accounts.set_password("wang", "a brand new passphrase", actor="admin:zhou")
    assert sessions.authenticate(first.token) is None and sessions.authenticate(second.token) is None
    assert sessions.login("wang", PASSWORD) is None
    third = sessions.login("wang", "a brand new passphrase")
    assert third is not None
    assert accounts.disable("wang", actor="admin:zhou")
    assert not accounts.disable("wang", actor="admin:zhou")
    assert sessions.authenticate(third.token) is None
    assert sessions.login("wang", "a brand new passphrase") is None
    assert not accounts.set_password("nobody", "a brand new passphrase", actor="admin:zhou")


def test_passwords_are_argon2_hashes_and_logins_are_never_reused(accounts: AccountStore, engine: Engine) -> None:
    accounts.add("Wang", PASSWORD, Role.ADMIN, actor="cli:root")
    with Session(engine) as session:
        stored = session.scalar(select(ConsoleUserRow.password_hash))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("wang", "another long password", Role.OPERATOR, actor="cli:root")
    with pytest.raises(AccountError, match="at least 12"):
        accounts.add("li", "elevenchars", Role.OPERATOR, actor="cli:root")
    with pytest.raises(AccountError, match="a login is"):
        accounts.add("li li", PASSWORD, Role.OPERATOR, actor="cli:root")
    with pytest.raises(ValueError, match="root"):
        accounts.add("li", PASSWORD, "root", actor="cli:root")
    assert [(user.login, user.role) for user in accounts.list()] == [("wang", Role.ADMIN)]


def test_the_event_log_is_append_only_and_keeps_no_typed_secret(
    accounts: AccountStore, sessions: SessionStore, engine: Engine
) -> None:
    accounts.add("wang", PASSWORD, Role.OPERATOR, actor="cli:root")
    assert sessions.login("correct horse battery staple", "wang") is None  # the fields swapped: a password as login
    opened = sessions.login("wang", PASSWORD, client="tag-of-the-client")
    assert opened is not None
    sessions.logout(opened.session.id, client="tag-of-the-client")
    sessions.logout(opened.session.id)  # twice: nothing more happens
    events = list(reversed(accounts.events()))
    assert [(e.event, e.login, e.actor) for e in events] == [
        (AccountEvent.USER_ADDED, "wang", "cli:root"),
        (AccountEvent.LOGIN_FAILED, None, "anonymous"),
        (AccountEvent.LOGIN, "wang", "operator:wang"),
        (AccountEvent.LOGOUT, "wang", "operator:wang"),
    ]
    assert events[2].client == "tag-of-the-client"
    for statement in ("UPDATE console_login_events SET actor = 'x'", "DELETE FROM console_login_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert len(accounts.events()) == 4
