"""The limiter for citizen checks of a guessable secret: a ticket number (sequential) plus the phone's last four
digits. Without it, the 10,000 digit combinations of any ticket can be tried in minutes.

The state lives in the database, so every process that checks a pair (the gateway for ratings, the action
server for the status query in chat) counts into the same rows, and a restart forgets nothing.

The rule: `limit` wrong pairs for a key within `window` of the first lock that key for `lockout`; while any
key of an attempt is locked, even a right pair is refused, and when the lock ends the count starts afresh.
An attempt is counted before the pair is checked, in one transaction, so parallel requests cannot all slip
through under the limit; a right pair gives its count back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Integer, String, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.database import Base, UTCDateTime
from bot.settings import Settings

#: Rows idle for this long after they stop mattering are deleted, a few at a time, by later attempts.
PURGE_AFTER = timedelta(days=1)
PURGE_BATCH = 100


class RateLimitRow(Base):
    """One limited key. The key is stored hashed: it may be a conversation id (a credential) or a client tag."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: After this the row says nothing any more (window over, not blocked).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True)
class Policy:
    name: str  # keys of different policies never meet
    limit: int
    window: timedelta
    lockout: timedelta | None = None  # how long the `limit`-th wrong pair locks the key; the window by default

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= timedelta(0) or self.lock_duration <= timedelta(0):
            raise ValueError("a rate-limit policy needs a limit of at least 1, a positive window and lockout")

    @classmethod
    def ticket_checks(cls, settings: Settings) -> Policy:
        """The policy of ticket checks (number + last four phone digits) that the settings describe."""
        lockout = (
            None if settings.ticket_check_lockout_s is None else timedelta(seconds=settings.ticket_check_lockout_s)
        )
        return cls(
            "ticket_check", settings.ticket_check_limit, timedelta(seconds=settings.ticket_check_window_s), lockout
        )

    @property
    def lock_duration(self) -> timedelta:
        return self.window if self.lockout is None else self.lockout


@dataclass(frozen=True)
class Attempt:
    """A counted attempt. It stays counted as a wrong pair unless `succeeded()` is called."""

    limiter: AttemptLimiter
    keys: tuple[str, ...]
    #: The keys this attempt locked (it was their `limit`-th wrong pair), with the time their lock ends.
    locks: tuple[tuple[str, datetime], ...]

    @property
    def locked(self) -> bool:
        """If the pair turns out wrong, this was the last try allowed: the check is locked now."""
        return bool(self.locks)

    def succeeded(self) -> None:
        self.limiter._refund(self)


def utc_now() -> datetime:
    return datetime.now(UTC)


class AttemptLimiter:
    def __init__(self, engine: Engine, policy: Policy, clock: Callable[[], datetime] = utc_now) -> None:
        """`engine`'s schema must be at head (bot.database.upgrade_schema): Alembic owns the table."""
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"the limiter supports SQLite and PostgreSQL, not {engine.dialect.name}")
        self.engine = engine
        self.policy = policy
        self._clock = clock

    def _hash(self, key: str) -> str:
        return hashlib.sha256(f"{self.policy.name}\x1f{key}".encode()).hexdigest()

    def attempt(self, *keys: str) -> Attempt | None:
        """Count one attempt against every key, or None (nothing counted) if any of them is locked."""
        if not keys:
            raise ValueError("an attempt needs at least one key")
        now = self._clock()
        window = self.policy.window
        hashed = tuple(sorted({self._hash(key) for key in keys}))  # one lock order in every process: no deadlock
        with Session(self.engine) as session, session.begin():
            rows = self._locked_rows(session, hashed, now)
            for row in rows:
                lock_over = row.blocked_until is not None and row.blocked_until <= now
                if lock_over or row.window_started_at + window <= now:
                    row.window_started_at, row.failures, row.blocked_until = now, 0, None
            if any(row.blocked_until is not None and row.blocked_until > now for row in rows):
                return None
            locks: list[tuple[str, datetime]] = []
            for row in rows:
                row.failures += 1
                if row.failures >= self.policy.limit:
                    row.blocked_until = now + self.policy.lock_duration
                    locks.append((row.key, row.blocked_until))
                row.expires_at = max(row.window_started_at + window, row.blocked_until or now)
            self._purge(session, now)
        return Attempt(self, hashed, tuple(locks))

    def _locked_rows(self, session: Session, hashed: Sequence[str], now: datetime) -> list[RateLimitRow]:
        """The keys' rows, created if missing, locked for this transaction (SQLite: the whole database is)."""
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        for _ in range(3):  # a purge in another process may delete a stale row between the insert and the lock
            values = [
                {"key": key, "window_started_at": now, "failures": 0, "blocked_until": None, "expires_at": now}
                for key in hashed
            ]
            session.execute(insert(RateLimitRow).values(values).on_conflict_do_nothing(index_elements=["key"]))
            query = select(RateLimitRow).where(RateLimitRow.key.in_(hashed)).order_by(RateLimitRow.key)
            rows = list(session.scalars(query.with_for_update()))
            if len(rows) == len(hashed):
                return rows
        raise RuntimeError("rate-limit rows vanished three times in a row")

    def _purge(self, session: Session, now: datetime) -> None:
        stale = (
            select(RateLimitRow.key)
            .where(RateLimitRow.expires_at < now - PURGE_AFTER)
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)  # never wait on a row another attempt holds
        )
        session.execute(delete(RateLimitRow).where(RateLimitRow.key.in_(stale)))

    def _refund(self, attempt: Attempt) -> None:
        """A right pair: give its count back, and lift a lock it set (the limit was not reached after all)."""
        locks = dict(attempt.locks)
        with Session(self.engine) as session, session.begin():
            query = select(RateLimitRow).where(RateLimitRow.key.in_(attempt.keys)).order_by(RateLimitRow.key)
            for row in session.scalars(query.with_for_update()):
                row.failures = max(0, row.failures - 1)
                if row.key in locks and row.blocked_until == locks[row.key] and row.failures < self.policy.limit:
                    row.blocked_until = None


def ticket_check_policy(settings: Settings) -> Policy:
    """Ticket checks as the settings say: every process that checks a pair must count by the same policy."""
    lockout = settings.ticket_check_lockout_s
    return Policy(
        "ticket_check",
        settings.ticket_check_limit,
        timedelta(seconds=settings.ticket_check_window_s),
        None if lockout is None else timedelta(seconds=lockout),
    )


def conversation_check_policy(settings: Settings) -> Policy:
    """Checks of a conversation id by the live page (socket, polling, rating): unknown ids counted per client."""
    return Policy(
        "conversation_check", settings.conversation_check_limit, timedelta(seconds=settings.conversation_check_window_s)
    )


def ticket_check_keys(*, conversation_id: str | None = None, client: str | None = None) -> list[str]:
    """The keys one ticket check counts against: its conversation and its client tag (bot/client_address.py),
    whichever are known. The rating endpoint and the status query in chat share the client's count."""
    keys = [f"conversation:{conversation_id}"] if conversation_id else []
    keys += [f"client:{client}"] if client else []
    if not keys:
        raise ValueError("a ticket check needs its conversation or its client")
    return keys
