"""Who is calling: an API token (Authorization: Bearer) or a console login (the hotline_session cookie). One
role model for both (bot/auth.py). Every operator endpoint declares the least role it needs with one of these
types: `Caller` (any role), `Supervisor` (supervisor or admin), `Admin`.

A cookie is sent by the browser on its own, so a state-changing request that relies on it must also carry the
session's CSRF token (header X-CSRF-Token, or the csrf_token form field), which a page on another site cannot
read; a token in the Authorization header needs none. The console's page dependencies (bot/console/auth.py)
are built on the same functions.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from bot.auth import Principal, Role, TokenStore
from bot.console.sessions import ConsoleSession, SessionStore

SESSION_COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

_bearer = HTTPBearer(auto_error=False)
_NO_SESSION = object()


def console_session(request: HTTPConnection) -> ConsoleSession | None:
    """The live console session of the request's (or WebSocket's) cookie, looked up once per request."""
    cached = getattr(request.state, "console_session", _NO_SESSION)
    if cached is not _NO_SESSION:
        return cached  # type: ignore[return-value]
    token = request.cookies.get(SESSION_COOKIE)
    sessions: SessionStore = request.app.state.sessions
    found = sessions.authenticate(token) if token else None
    request.state.console_session = found
    return found


async def csrf_passes(request: Request, session: ConsoleSession) -> bool:
    """Whether a state-changing request carries `session`'s CSRF token (always true for a safe method)."""
    if request.method in SAFE_METHODS:
        return True
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(_FORMS):
        sent = (await request.form()).get(CSRF_FIELD)  # Starlette keeps the parsed form for the endpoint
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), session.csrf_token.encode())


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is not None:  # a token decides alone: a bad one is refused even beside a good cookie
        store: TokenStore = request.app.state.tokens
        found = await run_in_threadpool(store.authenticate, credentials.credentials)
        if found is None:
            raise _unauthenticated()
        return found
    session = await run_in_threadpool(console_session, request)
    if session is None:
        raise _unauthenticated()
    if not await csrf_passes(request, session):
        raise HTTPException(403, "缺少或错误的 CSRF 令牌：请刷新页面后重试")
    return session.principal


def _unauthenticated() -> HTTPException:
    return HTTPException(401, "请先登录控制台，或提供有效的 API 令牌", headers={"WWW-Authenticate": "Bearer"})


def at_least(role: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting `role` and every role above it."""

    def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if not caller.role.at_least(role):
            raise HTTPException(403, f"需要{role.label}及以上权限")
        return caller

    return check


Caller = Annotated[Principal, Depends(principal)]
Supervisor = Annotated[Principal, Depends(at_least(Role.SUPERVISOR))]
Admin = Annotated[Principal, Depends(at_least(Role.ADMIN))]


def websocket_principal(websocket: HTTPConnection) -> Principal | None:
    """Who opens a WebSocket (blocking: call it in a thread), or None to refuse it: a bearer token (in the
    Authorization header, or in the `token` query parameter: a browser cannot set headers on a WebSocket), or
    the session cookie when the page that opens it is from this site. A browser sends the cookie with a
    handshake from another page too, and a handshake carries no CSRF token: the Origin header is the check."""
    authorization = websocket.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else websocket.query_params.get("token", "")
    if token:
        store: TokenStore = websocket.app.state.tokens
        return store.authenticate(token)
    origin = websocket.headers.get("origin")
    if origin is None or urlsplit(origin).netloc != websocket.headers.get("host"):
        return None
    session = console_session(websocket)
    return session.principal if session else None
