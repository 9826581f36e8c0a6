"""Console fixtures: a real gateway on loopback (uvicorn via serve_in_thread) over SQLite or PostgreSQL, users
made through AccountStore as `hotline users add` makes them, and a browser-like HTTP client that logs in
through the login form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine

from bot.app import serve_in_thread
from bot.auth import Role
from bot.console.accounts import AccountStore
from bot.database import create_ticket_engine, upgrade_schema
from bot.settings import Settings
from bot.supervisor import free_port
from tests.tickets.conftest import clock  # noqa: F401

PASSWORD = "correct horse battery staple"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The csrf_token hidden field of a page."""
    found = _CSRF_FIELD.search(html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


@dataclass
class Gateway:
    url: str
    engine: Engine
    accounts: AccountStore

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)  # type: ignore[arg-type]

    def add_user(self, login: str, role: Role, password: str = PASSWORD) -> None:
        self.accounts.add(login, password, role, actor="test")

    @contextmanager
    def logged_in(self, login: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
        """A client holding `login`'s session cookie, logged in through the form like a browser."""
        with self.client() as client:
            response = login_through_form(client, login, password)
            assert response.status_code == 303, response.text
            yield client


def login_through_form(client: httpx.Client, login: str, password: str, next_path: str = "") -> httpx.Response:
    page = client.get("/console/login", params={"next": next_path} if next_path else None)
    assert page.status_code == 200
    form = {"login": login, "password": password, "csrf_token": csrf_of(page.text)}
    if next_path:
        form["next"] = next_path
    return client.post("/console/login", data=form)


def start_gateway(database_url: str, **settings: object) -> Iterator[Gateway]:
    # No Rasa: the console and the ticket API never call it, and the chat client connects lazily.
    config = Settings(database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}", **settings)
    with serve_in_thread(config, start_timeout=30) as url:
        engine = create_ticket_engine(database_url)
        upgrade_schema(engine)
        yield Gateway(url, engine, AccountStore(engine))
        engine.dispose()


@pytest.fixture
def gateway(database_url: str) -> Iterator[Gateway]:
    """The gateway behind a trusted proxy on loopback (the tests play that proxy)."""
    yield from start_gateway(database_url, trusted_proxies="127.0.0.1")
