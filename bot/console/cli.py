"""`hotline users …`: console accounts from a terminal, on the database every process reads (bot/settings.py).

A password is read from stdin, one line (from a terminal: typed twice, not echoed). It is never an argument,
which `ps` and the shell's history would show, and there is no default: a user without a password typed by
an admin does not exist.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bot.auth import Role
from bot.console.accounts import AccountStore
from bot.console.templating import local_time
from bot.database import create_ticket_engine, upgrade_schema
from bot.settings import load_settings


def register(commands: argparse._SubParsersAction) -> None:
    users = commands.add_parser("users", help="console logins: add, list, disable, set a password")
    users.add_argument(
        "--database-url",
        default=None,
        help="default: $HOTLINE_DATABASE_URL or $DATABASE_URL, else $HOTLINE_VAR/hotline.db",
    )
    sub = users.add_subparsers(dest="users_command", required=True)

    add = sub.add_parser("add", help="a new user; the password is read from stdin")
    add.add_argument("login")
    add.add_argument("--role", choices=[r.value for r in Role], required=True)
    add.set_defaults(handler=_add)

    listing = sub.add_parser("list", help="every user, disabled ones too")
    listing.set_defaults(handler=_list)

    disable = sub.add_parser("disable", help="refuse the user's logins and end their sessions")
    disable.add_argument("login")
    disable.set_defaults(handler=_disable)

    password = sub.add_parser("password", help="a new password from stdin; ends the user's sessions")
    password.add_argument("login")
    password.set_defaults(handler=_password)

    events = sub.add_parser("events", help="the latest logins, failures, lockouts and account changes")
    events.add_argument("--login", default=None)
    events.add_argument("--limit", type=int, default=50)
    events.set_defaults(handler=_events)


@contextmanager
def _accounts(args: argparse.Namespace) -> Iterator[AccountStore]:
    engine = create_ticket_engine(args.database_url or load_settings().database_url)
    try:
        upgrade_schema(engine)
        yield AccountStore(engine)
    finally:
        engine.dispose()


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def read_password() -> str:
    """One line of stdin without its line ending; typed twice, unseen, when stdin is a terminal."""
    if sys.stdin is None or sys.stdin.closed:
        raise ValueError("no password: give it on stdin, one line")
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise ValueError("no password on stdin: pipe one line, e.g. `hotline users add LOGIN --role operator < FILE`")
    return line.removesuffix("\n").removesuffix("\r")


def _add(args: argparse.Namespace) -> int:
    password = read_password()
    with _accounts(args) as accounts:
        user = accounts.add(args.login, password, args.role, actor=_actor())
    print(f"added {user.login} ({user.role})", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    with _accounts(args) as accounts:
        for user in accounts.list():
            state = "disabled" if user.disabled_at else "active"
            print(f"{user.login}\t{user.role}\t{state}\tcreated {local_time(user.created_at)}")
    return 0


def _disable(args: argparse.Namespace) -> int:
    with _accounts(args) as accounts:
        if not accounts.disable(args.login, actor=_actor()):
            print(f"hotline: no active user {args.login}", file=sys.stderr)
            return 1
    return 0


def _password(args: argparse.Namespace) -> int:
    password = read_password()
    with _accounts(args) as accounts:
        if not accounts.set_password(args.login, password, actor=_actor()):
            print(f"hotline: no user {args.login}", file=sys.stderr)
            return 1
    print(f"new password set for {args.login}; their sessions ended", file=sys.stderr)
    return 0


def _events(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 10_000:
        raise ValueError("--limit must be 1 to 10000")
    with _accounts(args) as accounts:
        for event in accounts.events(limit=args.limit, login=args.login):
            print(f"{local_time(event.at)}\t{event.login or '-'}\t{event.event}\t{event.actor}")
    return 0
