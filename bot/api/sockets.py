"""What the live WebSockets share: one sender per socket (several tasks forward events into it), the forwarding
of a hub subscription, and reading the client's JSON without letting a bad frame end the socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.websockets import WebSocket

from bot.handoff.pubsub import Event, Subscription

#: RFC 6455 close codes: the credential is missing or wrong (the client learns nothing more); a store is down.
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


class Sender:
    """Sends JSON on one socket; the lock keeps two forwarding tasks from interleaving their frames."""

    def __init__(self, websocket: WebSocket):
        self.websocket = websocket
        self._lock = asyncio.Lock()

    async def __call__(self, event: Event) -> None:
        async with self._lock:
            await self.websocket.send_json(event)


async def forward(subscription: Subscription, send: Sender) -> None:
    """Every event of `subscription` to the socket, until cancelled or the socket is gone."""
    async for event in subscription:
        await send(event)


async def receive_object(websocket: WebSocket) -> dict[str, Any] | None:
    """The client's next JSON object; {} for a frame that is not one (the caller says so); None once it closed."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    try:
        value = json.loads(message.get("text") or message.get("bytes") or b"")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def stop(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel the socket's forwarding tasks and wait for them; their errors (the socket went away) are moot."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
