"""Who is calling: an API token (Authorization: Bearer) or, for the console, a login session. One role model
for both (bot/auth.py). Every operator endpoint declares the least role it needs with one of these types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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
