"""The Rasa server, seen from the gateway: one HTTP call per turn to our input channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

WEBHOOK = "/webhooks/hotline/webhook"


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (down, restarting, or timed out)."""


@dataclass(frozen=True)
class RasaTurn:
    messages: list[dict[str, Any]]
    intent: dict[str, Any] | None
    slots_set: dict[str, Any] = field(default_factory=dict)
    active_loop: str | None = None


class RasaClient:
    def __init__(self, base_url: str, timeout_s: float = 30.0):
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        try:
            response = await self._http.post(WEBHOOK, json={"sender": sender_id, "message": text, "metadata": metadata})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {self._http.base_url} failed: {type(exc).__name__}") from exc
        body = response.json()
        return RasaTurn(
            messages=body.get("messages") or [],
            intent=body.get("intent"),
            slots_set=body.get("slots_set") or {},
            active_loop=body.get("active_loop"),
        )

    async def aclose(self) -> None:
        await self._http.aclose()
