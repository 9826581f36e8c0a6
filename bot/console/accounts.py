"""Console accounts: adding, listing and disabling users, setting passwords, and the log of it all.

Passwords are hashed with argon2id (argon2-cffi's RFC 9106 defaults) and never stored, logged or given a
default: an admin types one (`hotline users add` reads it from stdin). Logins are lower case ASCII, so that
"Wang" and "wang" are one person in the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.auth import Role
from bot.console.models import ConsoleSessionRow, ConsoleUserRow, LoginEventRow
from bot.database import READ_ONLY

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can ask for
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A refused account change. str() is English (the CLI); `zh` is what the console shows."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


class AccountEvent(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"  # unknown login, wrong password, disabled, or locked: one answer for all
    LOCKED = "locked"  # the fifth wrong password in a row
    LOGOUT = "logout"
    USER_ADDED = "user_added"
    DISABLED = "disabled"
    PASSWORD_CHANGED = "password_changed"


@dataclass(frozen=True)
class UserView:
    login: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None
    locked_until: datetime | None
    password_changed_at: datetime


@dataclass(frozen=True)
class EventView:
    at: datetime
    login: str | None
    event: AccountEvent
    actor: str
    client: str | None


def normalize_login(text: str) -> str:
    """`text` as a login (lower case); AccountError when it cannot be one."""
    login = text.strip().lower()
    if not _LOGIN.fullmatch(login):
        raise AccountError(
            "a login is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            "登录名须为 1 至 64 位字母、数字、“.”、“_”或“-”，以字母或数字开头",
        )
    return login


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters", f"密码最多 {MAX_PASSWORD_LENGTH} 个字符"
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehashed at the next login)."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def unknown_user_hash() -> str:
    """A hash no password matches, verified for a login that has no account, so that a wrong login takes
    as long as a wrong password and the answer's timing does not tell which logins exist."""
    import secrets

    return _hasher.hash(secrets.token_urlsafe(32))


def record_event(
    session: Session, at: datetime, event: AccountEvent, *, login: str | None, actor: str, client: str | None = None
) -> None:
    session.add(LoginEventRow(at=at, login=login, event=event, actor=actor, client=client))


class AccountStore:
    """The console's users. Every change writes an event in the same transaction."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._clock = clock

    def add(self, login: str, password: str, role: Role | str, *, actor: str) -> UserView:
        login = normalize_login(login)
        check_password(password)
        role = Role(role)
        now = self._clock()
        row = ConsoleUserRow(
            login=login,
            password_hash=hash_password(password),
            role=role,
            created_at=now,
            failed_logins=0,
            password_changed_at=now,
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
                session.flush()
                record_event(session, now, AccountEvent.USER_ADDED, login=login, actor=actor)
                return _view(row)
        except IntegrityError:
            raise AccountError(
                f"a user {login!r} exists already; logins are never reused",
                f"登录名 {login} 已存在（登录名不可重复使用）",
            ) from None

    def get(self, login: str) -> UserView | None:
        with Session(self._reader) as session:
            row = session.scalar(select(ConsoleUserRow).where(ConsoleUserRow.login == login.strip().lower()))
            return _view(row) if row else None

    def list(self) -> list[UserView]:
        with Session(self._reader) as session:
            return [_view(row) for row in session.scalars(select(ConsoleUserRow).order_by(ConsoleUserRow.login))]

    def disable(self, login: str, *, actor: str) -> bool:
        """Disable `login` and end its sessions; False if there is no such user or it is disabled already."""
        now = self._clock()
        with Session(self._engine) as session, session.begin():
            row = _locked_user(session, login)
            if row is None or row.disabled_at is not None:
                return False
            row.disabled_at = now
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.user_id == row.id))
            record_event(session, now, AccountEvent.DISABLED, login=row.login, actor=actor)
            return True

    def set_password(self, login: str, password: str, *, actor: str) -> bool:
        """A new password for `login`: its sessions end and a lockout is lifted. False if there is no such user."""
        check_password(password)
        password_hash = hash_password(password)  # outside the transaction: it takes a while, by design
        now = self._clock()
        with Session(self._engine) as session, session.begin():
            row = _locked_user(session, login)
            if row is None:
                return False
            row.password_hash = password_hash
            row.password_changed_at = now
            row.failed_logins = 0
            row.locked_until = None
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.user_id == row.id))
            record_event(session, now, AccountEvent.PASSWORD_CHANGED, login=row.login, actor=actor)
            return True

    def events(self, *, limit: int = 100, login: str | None = None) -> list[EventView]:
        """The latest account events, newest first."""
        query = select(LoginEventRow).order_by(LoginEventRow.id.desc()).limit(limit)
        if login is not None:
            query = query.where(LoginEventRow.login == login.strip().lower())
        with Session(self._reader) as session:
            return [
                EventView(row.at, row.login, AccountEvent(row.event), row.actor, row.client)
                for row in session.scalars(query)
            ]


def _locked_user(session: Session, login: str) -> ConsoleUserRow | None:
    query = select(ConsoleUserRow).where(ConsoleUserRow.login == login.strip().lower()).with_for_update()
    return session.scalar(query)


def _view(row: ConsoleUserRow) -> UserView:
    return UserView(
        row.login, Role(row.role), row.created_at, row.disabled_at, row.locked_until, row.password_changed_at
    )
