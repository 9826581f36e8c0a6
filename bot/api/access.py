"""Who is calling: an API token (Authorization: Bearer) or, for the console, a login session. One role model
for both (bot/auth.py). Every operator endpoint declares the least role it needs with one of these types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from bot.auth import Principal, Role, TokenStore

_bearer = HTTPBearer(auto_error=False)


def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    store: TokenStore = request.app.state.tokens
    found = store.authenticate(credentials.credentials) if credentials else None
    if found is None:
        raise HTTPException(401, "a valid API token is required", headers={"WWW-Authenticate": "Bearer"})
    return found


def supervisor(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    if caller.role != Role.SUPERVISOR:
        raise HTTPException(403, "this needs a supervisor's token")
    return caller


Caller = Annotated[Principal, Depends(principal)]
Supervisor = Annotated[Principal, Depends(supervisor)]


#: The console's login check, once the console is installed: `app.state.session_principal(connection)` returns
#: the Principal of the session cookie on an HTTP connection (a request or a WebSocket), or None.
SESSION_HOOK = "session_principal"


def principal_for_websocket(websocket: WebSocket) -> Principal | None:
    """Who opened this WebSocket, or None (refuse it): an API token in `Authorization: Bearer` or in the `token`
    query parameter (a browser cannot set headers on a WebSocket), else the console's session cookie.
    Blocking (a database read): call it in a worker thread."""
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else websocket.query_params.get("token")
    if token:
        store: TokenStore = websocket.app.state.tokens
        return store.authenticate(token)
    session_principal: Callable[[HTTPConnection], Principal | None] | None = getattr(
        websocket.app.state, SESSION_HOOK, None
    )
    return session_principal(websocket) if session_principal is not None else None
