"""Who sent a request, as the routers that limit citizens see it: an opaque tag of the client's address."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from bot.client_address import client_address, client_tag


def request_client_tag(request: HTTPConnection) -> str:
    """Of a request or a WebSocket."""
    address = client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        request.app.state.trusted_proxies,
    )
    return client_tag(address, request.app.state.conversation_key)


ClientTag = Annotated[str, Depends(request_client_tag)]
