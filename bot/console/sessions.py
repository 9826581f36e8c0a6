"""Console logins: checking a password, the lockout, and the sessions a login opens.

- Five wrong passwords in a row lock a login for 15 minutes. The count lives in the user's row, changed under
  a row lock, so it holds across gateway workers and processes.
- Every refusal gets the same answer (unknown login, wrong password, disabled, locked), and an unknown login
  is verified against a hash too (accounts.unknown_user_hash): neither the answer nor its timing tells an
  attacker which logins exist.
- A session's token is random and lives only in the cookie; the database keeps its SHA-256. A session ends at
  its absolute expiry (HOTLINE_SESSION_TTL_S) or after HOTLINE_SESSION_IDLE_S without a request, whichever
  comes first, and when its user is disabled or gets a new password.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.auth import Principal, Role
from bot.console.accounts import (
    AccountEvent,
    hash_password,
    needs_rehash,
    normalize_login,
    record_event,
    unknown_user_hash,
    verify_password,
)
from bot.console.models import ConsoleSessionRow, ConsoleUserRow
from bot.database import READ_ONLY

LOCKOUT_AFTER = 5  # wrong passwords in a row
LOCKOUT = timedelta(minutes=15)
#: last_seen_at is written at most this often: a page that polls must not write on every request.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class ConsoleSession:
    id: str  # the SHA-256 of the cookie's token
    principal: Principal
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; shown nowhere else
    session: ConsoleSession


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(
        self,
        engine: Engine,
        *,
        ttl: timedelta,
        idle: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self.ttl = ttl
        self.idle = idle
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def login(self, login: str, password: str, *, client: str | None = None) -> NewSession | None:
        """A new session if `password` is `login`'s and the login is neither disabled nor locked; else None."""
        try:
            login = normalize_login(login)
        except ValueError:
            login = ""  # matches no account; verified against the unknown-user hash like any other
        with Session(self._reader) as session:
            found = session.scalar(select(ConsoleUserRow).where(ConsoleUserRow.login == login)) if login else None
            stored_hash = found.password_hash if found else unknown_user_hash()
        # Outside any transaction: argon2 takes tens of milliseconds, and must not hold the write lock.
        matches = verify_password(stored_hash, password) and found is not None
        now = self._clock()
        with Session(self._engine) as session, session.begin():
            if found is None:
                record_event(session, now, AccountEvent.LOGIN_FAILED, login=None, actor="anonymous", client=client)
                return None
            user = session.get(ConsoleUserRow, found.id, with_for_update=True, populate_existing=True)
            assert user is not None  # users are never deleted
            actor = Principal(user.login, Role(user.role)).actor
            if user.disabled_at is not None or (user.locked_until is not None and now < user.locked_until):
                record_event(session, now, AccountEvent.LOGIN_FAILED, login=user.login, actor=actor, client=client)
                return None
            if not matches or user.password_hash != stored_hash:  # changed meanwhile: the old one no longer counts
                user.failed_logins += 1
                record_event(session, now, AccountEvent.LOGIN_FAILED, login=user.login, actor=actor, client=client)
                if user.failed_logins >= LOCKOUT_AFTER:
                    user.failed_logins = 0
                    user.locked_until = now + LOCKOUT
                    record_event(session, now, AccountEvent.LOCKED, login=user.login, actor=actor, client=client)
                return None
            user.failed_logins = 0
            user.locked_until = None
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            # The user's ended sessions go now: the table holds live logins, not history (that is the event log).
            session.execute(
                delete(ConsoleSessionRow).where(
                    ConsoleSessionRow.user_id == user.id,
                    or_(ConsoleSessionRow.expires_at <= now, ConsoleSessionRow.last_seen_at <= now - self.idle),
                )
            )
            token = secrets.token_urlsafe(32)
            row = ConsoleSessionRow(
                id=session_id(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + self.ttl,
                last_seen_at=now,
            )
            session.add(row)
            record_event(session, now, AccountEvent.LOGIN, login=user.login, actor=actor, client=client)
            principal = Principal(user.login, Role(user.role))
            return NewSession(token, ConsoleSession(row.id, principal, row.csrf_token, row.expires_at))

    def authenticate(self, token: str) -> ConsoleSession | None:
        """The live session the cookie's `token` opens, or None (unknown, expired, idle, or its user disabled)."""
        key = session_id(token)
        now = self._clock()
        with Session(self._reader) as session:
            found = session.execute(
                select(ConsoleSessionRow, ConsoleUserRow)
                .join(ConsoleUserRow, ConsoleUserRow.id == ConsoleSessionRow.user_id)
                .where(ConsoleSessionRow.id == key)
            ).first()
        if found is None:
            return None
        row, user = found
        if user.disabled_at is not None or now >= row.expires_at or now - row.last_seen_at >= self.idle:
            with Session(self._engine) as session, session.begin():
                session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.id == key))
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            with Session(self._engine) as session, session.begin():
                session.execute(update(ConsoleSessionRow).where(ConsoleSessionRow.id == key).values(last_seen_at=now))
        return ConsoleSession(key, Principal(user.login, Role(user.role)), row.csrf_token, row.expires_at)

    def logout(self, session_key: str, *, client: str | None = None) -> None:
        """End the session with id `session_key` (ConsoleSession.id); logging out twice is not an error."""
        now = self._clock()
        with Session(self._engine) as session, session.begin():
            found = session.execute(
                select(ConsoleUserRow)
                .join(ConsoleSessionRow, ConsoleUserRow.id == ConsoleSessionRow.user_id)
                .where(ConsoleSessionRow.id == session_key)
            ).scalar()
            if found is None:
                return
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.id == session_key))
            actor = Principal(found.login, Role(found.role)).actor
            record_event(session, now, AccountEvent.LOGOUT, login=found.login, actor=actor, client=client)
