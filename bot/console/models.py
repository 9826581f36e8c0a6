"""The console's tables: its users, their login sessions, and the log of logins and account changes.
Alembic owns the schema (bot/migrations, revision 0007)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.database import Base, Id, UTCDateTime


class ConsoleUserRow(Base):
    """A person who logs in to the console. Never deleted: disabled, so the login is never reused."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)  # lower case; the audit actor's name
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, in its PHC string form
    role: Mapped[str] = mapped_column(String(16))  # a bot.auth.Role
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Wrong passwords since the last success or lockout; five lock the login (bot/console/sessions.py).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsoleSessionRow(Base):
    """A login. The key is the SHA-256 of the cookie's token: a copy of the database logs nobody in."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("console_users.id"), index=True)
    #: Sent back with every state-changing request (X-CSRF-Token or the csrf_token form field).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # created_at + HOTLINE_SESSION_TTL_S
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())  # idle past HOTLINE_SESSION_IDLE_S: ended


class LoginEventRow(Base):
    """Append-only (the migration adds triggers, as on audit_log): logins, failures, lockouts, logouts, and
    every change to an account, for the admin to read."""

    __tablename__ = "console_login_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: The account; None for a login name that matches no account (what was typed may be a password).
    login: Mapped[str | None] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(32))  # an AccountEvent
    actor: Mapped[str] = mapped_column(String(80))  # who did it: the user, an admin, or cli:<unix user>
    #: A keyed tag of the client's address (bot/client_address.py client_tag), never the address.
    client: Mapped[str | None] = mapped_column(String(64))
