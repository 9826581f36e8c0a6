"""Who is on the other end of a request (for the limiter) and over which scheme (for the console cookie): the
socket's peer, or what a trusted proxy says.

X-Forwarded-For is written by whoever sends the request, so it is believed only when the peer is a proxy the
settings name (HOTLINE_TRUSTED_PROXIES), and then only up to the first address that is not such a proxy:
everything left of it may be the client's own invention.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from bot.conversation.conversation_ids import keyed_hash

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def parse_trusted_proxies(setting: str) -> tuple[Network, ...]:
    """`"127.0.0.1, 10.0.0.0/8"` → networks; a bad entry is an error that names it (a typo must not open it)."""
    networks: list[Network] = []
    for entry in (part.strip() for part in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as error:
            raise ValueError(f"HOTLINE_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from error
    return tuple(networks)


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: `peer` unless it is a trusted proxy; then the right-most X-Forwarded-For hop that
    is not one (`forwarded_for`: every X-Forwarded-For header of the request, in order)."""
    if not peer:
        return UNKNOWN
    if not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer  # only proxies in the chain: the first one is as far as we can see


def client_tag(address: str, key: str) -> str:
    """An opaque, stable tag of a client address: what the limiter counts by and what travels to Rasa in the
    message metadata (its tracker store keeps metadata; the address itself is personal data)."""
    return keyed_hash("client", address, key)


def request_scheme(peer: str | None, forwarded_proto: Sequence[str], scheme: str, trusted: Sequence[Network]) -> str:
    """The scheme the client used: the socket's, unless the peer is a trusted proxy that says (X-Forwarded-Proto:
    every such header, in order; the right-most value is the one the trusted peer wrote)."""
    if not peer or not _is_trusted(peer, trusted):
        return scheme
    values = [value.strip().lower() for header in forwarded_proto for value in header.split(",") if value.strip()]
    return values[-1] if values and values[-1] in ("http", "https") else scheme


class TrustedProxyScheme:
    """ASGI middleware: request.url.scheme is https (wss) when a trusted proxy says the client used https, so
    that what depends on it (the console cookie's Secure flag) believes a proxy exactly as far as
    client_address does. uvicorn's own proxy handling stays off (`--no-proxy-headers`)."""

    def __init__(self, app: Any, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            client = scope.get("client")
            proto = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-proto"]
            web_scheme = {"ws": "http", "wss": "https"}.get(scope["scheme"], scope["scheme"])
            scheme = request_scheme(client[0] if client else None, proto, web_scheme, self.trusted)
            if scope["type"] == "websocket":
                scheme = "wss" if scheme == "https" else "ws"
            scope = {**scope, "scheme": scheme}
        await self.app(scope, receive, send)
