"""Roles, and API tokens for operators, supervisors and admins. Console logins (bot/console/accounts.py) hold
the same roles, so an endpoint states the least role it needs once (bot/api/access.py), whoever calls it.

A token is shown once, when it is issued; the database keeps only its SHA-256, so a copy of the database
does not let anyone call the API. The holder's name is the actor the audit log records.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.database import Base, Id, UTCDateTime

TOKEN_PREFIX = "hl_"


class Role(StrEnum):
    """Ranked: each role may do everything the roles below it may."""

    OPERATOR = "operator"  # works tickets and conversations: list, assign, transition, reply, read contacts
    SUPERVISOR = "supervisor"  # also exports the audit log, escalates and reassigns
    ADMIN = "admin"  # also manages console users

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank

    @property
    def label(self) -> str:
        """The role's name on the console."""
        return _LABELS[self]


_RANKS = {Role.OPERATOR: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}
_LABELS = {Role.OPERATOR: "话务员", Role.SUPERVISOR: "主管", Role.ADMIN: "管理员"}


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"{self.role}:{self.name}"


class ApiToken(Base):
    """An operator's API token. Only its SHA-256 is stored: the token is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # who holds it; written as the audit actor
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # a Role
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._clock = clock

    def issue(self, name: str, role: Role | str) -> str:
        """A new token for `name`; ValueError if the name is taken or unusable."""
        name = name.strip()
        if not name or len(name) > 64:
            raise ValueError("a token's name must be 1 to 64 characters")
        role = Role(role)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with Session(self._engine) as session, session.begin():
                session.add(ApiToken(name=name, token_hash=_digest(token), role=role, created_at=self._clock()))
        except IntegrityError:
            raise ValueError(f"a token named {name!r} was already issued; names are never reused") from None
        return token

    def authenticate(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        with Session(self._engine) as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
            if row is None or row.revoked_at is not None:
                return None
            return Principal(row.name, Role(row.role))

    def revoke(self, name: str) -> bool:
        """Revoke `name`'s token; False if there is no live one. The row stays, so the name is never reused."""
        with Session(self._engine) as session, session.begin():
            row = session.scalar(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)))
            if row is None:
                return False
            row.revoked_at = self._clock()
            return True

    def list(self) -> list[tuple[str, Role, bool]]:
        """(name, role, live) for every token ever issued."""
        with Session(self._engine) as session:
            rows = session.scalars(select(ApiToken).order_by(ApiToken.id))
            return [(row.name, Role(row.role), row.revoked_at is None) for row in rows]
