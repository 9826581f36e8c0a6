"""The Rasa server, seen from the gateway: one HTTP call per turn to our input channel.

Rasa may run as several worker processes (`hotline up --rasa-workers N`). Each sender is pinned to
one of them by a stable hash of its sender_id, so a conversation's tracker cache and its lock (Rasa's
in-memory lock store) live in one process, and no Redis lock store is needed for that.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

WEBHOOK = "/webhooks/hotline/webhook"
HISTORY = "/webhooks/hotline/history"  # operator turns appended at a handback
HEALTH = "/webhooks/hotline/"  # the channel's health route, the one `hotline up` waits for
#: A health probe is a GET on loopback; a Rasa that takes longer than this is as good as down for a citizen.
PROBE_TIMEOUT_S = 1.0


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (down, restarting, or timed out)."""


@dataclass(frozen=True)
class RasaTurn:
    messages: list[dict[str, Any]]
    intent: dict[str, Any] | None
    slots_set: dict[str, Any] = field(default_factory=dict)
    active_loop: str | None = None


def worker_for(sender_id: str, workers: int) -> int:
    """The worker that owns `sender_id`: the same in every process and run (Python's hash() is salted)."""
    digest = hashlib.blake2b(sender_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % workers


class RasaClient:
    def __init__(self, base_urls: str | Sequence[str], timeout_s: float = 30.0):
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError("no Rasa URL")
        self._workers = [httpx.AsyncClient(base_url=url, timeout=timeout_s) for url in urls]

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        http = self._workers[worker_for(sender_id, len(self._workers))]
        try:
            response = await http.post(WEBHOOK, json={"sender": sender_id, "message": text, "metadata": metadata})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {http.base_url} failed: {type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError as exc:  # a proxy's HTML error page, a truncated body: Rasa did not really answer
            raise RasaUnavailable(f"Rasa at {http.base_url} sent a body that is not JSON") from exc
        if not isinstance(body, dict):
            raise RasaUnavailable(f"Rasa at {http.base_url} sent JSON that is not an object")
        messages, slots = body.get("messages"), body.get("slots_set")
        return RasaTurn(
            messages=messages if isinstance(messages, list) else [],
            intent=body.get("intent") if isinstance(body.get("intent"), dict) else None,
            slots_set=slots if isinstance(slots, dict) else {},
            active_loop=body.get("active_loop") if isinstance(body.get("active_loop"), str) else None,
        )

    async def append_history(self, sender_id: str, turns: list[dict[str, str]]) -> None:
        """Append what operators said (`turns`: {text, operator}) to the conversation's tracker, on the worker
        that owns it (rasa_addons/hotline_channel.py `history`); RasaUnavailable if it cannot."""
        http = self._workers[worker_for(sender_id, len(self._workers))]
        try:
            response = await http.post(HISTORY, json={"sender": sender_id, "turns": turns})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {http.base_url} failed: {type(exc).__name__}") from exc

    async def workers_up(self) -> list[bool]:
        """For each worker, whether its input channel answers now (Rasa's own health, not a turn)."""
        return list(await asyncio.gather(*(_answers(http) for http in self._workers)))

    async def aclose(self) -> None:
        for http in self._workers:
            await http.aclose()


async def _answers(http: httpx.AsyncClient) -> bool:
    try:
        response = await http.get(HEALTH, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return response.is_success
