"""`hotline users …` in a subprocess, as an admin runs it: the password only ever on stdin."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.auth import Role, TokenStore
from bot.console.accounts import AccountStore
from bot.console.sessions import SessionStore
from bot.database import create_ticket_engine
from tests.console.conftest import PASSWORD
from tests.console.test_sessions import IDLE, TTL


def hotline(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_users_are_added_with_a_password_from_stdin(database_url: str) -> None:
    added = hotline(database_url, "users", "add", "Wang", "--role", "admin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    engine = create_ticket_engine(database_url)
    try:
        sessions = SessionStore(engine, ttl=TTL, idle=IDLE)
        opened = sessions.login("wang", PASSWORD)
        assert opened is not None and opened.session.principal.role == Role.ADMIN
        # The whole line is the password, spaces and all; only the line ending is not.
        assert (
            hotline(
                database_url, "users", "add", "li", "--role", "operator", stdin="  spaced out pass  \r\n"
            ).returncode
            == 0
        )
        assert sessions.login("li", "  spaced out pass  ") is not None

        listing = hotline(database_url, "users", "list")
        assert listing.returncode == 0
        assert [line.split("\t")[:3] for line in listing.stdout.splitlines()] == [
            ["li", "operator", "active"],
            ["wang", "admin", "active"],
        ]
        changed = hotline(database_url, "users", "password", "wang", stdin="a new and long passphrase\n")
        assert changed.returncode == 0 and sessions.authenticate(opened.token) is None
        assert sessions.login("wang", "a new and long passphrase") is not None
        assert hotline(database_url, "users", "disable", "li").returncode == 0
        again = hotline(database_url, "users", "disable", "li")
        assert again.returncode == 1 and "no active user li" in again.stderr
        assert "li\toperator\tdisabled" in hotline(database_url, "users", "list").stdout
        events = hotline(database_url, "users", "events", "--login", "li").stdout.splitlines()
        assert [line.split("\t")[2:] for line in events] == [
            ["disabled", f"cli:{_unix_user()}"],
            ["login", "operator:li"],
            ["user_added", f"cli:{_unix_user()}"],
        ]
        assert [user.login for user in AccountStore(engine).list()] == ["li", "wang"]
    finally:
        engine.dispose()


def test_no_password_no_user(database_url: str) -> None:
    add = ("users", "add", "wang", "--role", "operator")
    for stdin, message in [
        (None, "no password on stdin"),  # nothing on stdin: there is no default
        ("", "no password on stdin"),
        ("elevenchars\n", "at least 12 characters"),
    ]:
        refused = hotline(database_url, *add, stdin=stdin)
        assert refused.returncode == 2 and message in refused.stderr, (stdin, refused.stderr)
    as_argument = hotline(database_url, *add, PASSWORD, stdin=PASSWORD)  # never an argument: ps would show it
    assert as_argument.returncode == 2 and "unrecognized arguments" in as_argument.stderr
    no_role = hotline(database_url, "users", "add", "wang", stdin=PASSWORD + "\n")
    assert no_role.returncode == 2 and "--role" in no_role.stderr
    assert hotline(database_url, "users", "list").stdout == ""
    first, second = (hotline(database_url, *add, stdin=PASSWORD) for _ in range(2))
    assert first.returncode == 0 and second.returncode == 2 and "exists already" in second.stderr


def test_an_admin_api_token_can_be_issued(database_url: str) -> None:
    issued = hotline(database_url, "tickets", "token", "issue", "root", "--role", "admin")
    assert issued.returncode == 0 and issued.stdout.startswith("hl_")
    engine = create_ticket_engine(database_url)
    try:
        principal = TokenStore(engine).authenticate(issued.stdout.strip())
    finally:
        engine.dispose()
    assert principal is not None and principal.role == Role.ADMIN and principal.actor == "admin:root"


def _unix_user() -> str:
    import getpass

    return getpass.getuser()
