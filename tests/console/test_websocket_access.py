"""Who may open an operator WebSocket (bot.api.access.websocket_principal), over a real handshake: a token, or
the session cookie from a page of this site; the cookie alone from another site's page is refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, WebSocket
from starlette.concurrency import run_in_threadpool
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.api.access import websocket_principal
from bot.auth import Role, TokenStore
from bot.console.accounts import AccountStore
from bot.console.sessions import SessionStore
from bot.database import create_ticket_engine, upgrade_schema
from bot.supervisor import free_port
from tests.console.conftest import PASSWORD


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, AccountStore, SessionStore, TokenStore]]:
    engine = create_ticket_engine(f"sqlite:///{tmp_path / 'hotline.db'}")
    upgrade_schema(engine)
    app = FastAPI()
    app.state.tokens = TokenStore(engine)
    app.state.sessions = SessionStore(engine, ttl=timedelta(hours=8), idle=timedelta(minutes=30))

    @app.websocket("/ws")
    async def whoami(websocket: WebSocket) -> None:
        caller = await run_in_threadpool(websocket_principal, websocket)
        if caller is None:
            await websocket.close(code=1008)  # before accept: the handshake is refused with 403
            return
        await websocket.accept()
        await websocket.send_text(caller.actor)
        await websocket.close()

    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.02)
    yield f"127.0.0.1:{port}", AccountStore(engine), app.state.sessions, app.state.tokens
    uv.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def test_a_websocket_needs_a_token_or_a_session_from_this_site(
    server: tuple[str, AccountStore, SessionStore, TokenStore],
) -> None:
    host, accounts, sessions, tokens = server
    accounts.add("li", PASSWORD, Role.OPERATOR, actor="test")
    opened = sessions.login("li", PASSWORD)
    assert opened is not None
    cookie = {"Cookie": f"hotline_session={opened.token}"}
    url = f"ws://{host}/ws"

    with connect(url, additional_headers={**cookie, "Origin": f"http://{host}"}) as ws:
        assert ws.recv() == "operator:li"
    with connect(url, additional_headers={"Authorization": f"Bearer {tokens.issue('zhou', Role.SUPERVISOR)}"}) as ws:
        assert ws.recv() == "supervisor:zhou"
    for headers in (
        {**cookie, "Origin": "http://evil.example"},  # another site's page: the browser sent the cookie anyway
        cookie,  # no Origin: not a browser on our page
        {"Origin": f"http://{host}"},  # no session
        {"Cookie": "hotline_session=forged", "Origin": f"http://{host}"},
        {"Authorization": "Bearer hl_not-a-token"},
    ):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers).close()
        assert refused.value.response.status_code == 403, headers
