"""The /api/chat contract as tests and benchmarks use it: one place that knows how a conversation starts and
continues (`{"text"}` first, then `{"conversation_id", "text"}` with the id the server issued)."""

from __future__ import annotations

from typing import Any

import httpx


def chat_body(conversation_id: str | None, text: str) -> dict[str, str]:
    return {"text": text} if conversation_id is None else {"conversation_id": conversation_id, "text": text}


class Citizen:
    """One conversation through the gateway. `forwarded_for`: the client address a trusted proxy would report
    (X-Forwarded-For), for stacks started with HOTLINE_TRUSTED_PROXIES; the limiter counts by it."""

    def __init__(self, url: str, *, forwarded_for: str | None = None, timeout: float = 120) -> None:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        self.http = httpx.Client(base_url=url, timeout=timeout, headers=headers, trust_env=False)
        self.conversation_id: str | None = None

    def post(self, text: str) -> httpx.Response:
        """One turn, whatever the answer; the conversation id is taken from the first successful one."""
        response = self.http.post("/api/chat", json=chat_body(self.conversation_id, text))
        if response.status_code == 200 and self.conversation_id is None:
            self.conversation_id = response.json()["conversation_id"]
        return response

    def say(self, text: str) -> dict[str, Any]:
        response = self.post(text)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["conversation_id"] == self.conversation_id
        return body

    def close(self) -> None:
        self.http.close()


class Conversations:
    """Several conversations through one client, under names the test gives them: a name's first turn starts a
    conversation, later turns continue it. `adopt` names a conversation issued otherwise (e.g. by
    bot.conversation.conversation_ids.ConversationRegistry, to set it up in the database before its first turn)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.ids: dict[str, str] = {}

    def adopt(self, name: str, conversation_id: str) -> str:
        self.ids[name] = conversation_id
        return conversation_id

    def post(self, name: str, text: str) -> httpx.Response:
        response = self.http.post("/api/chat", json=chat_body(self.ids.get(name), text))
        issued = response.json().get("conversation_id") if response.status_code == 200 else None
        if issued and name not in self.ids:
            self.ids[name] = issued
        return response

    def say(self, name: str, text: str) -> dict[str, Any]:
        response = self.post(name, text)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def say_async(
    client: httpx.AsyncClient, url: str, conversation_id: str | None, text: str
) -> tuple[str, dict[str, Any]]:
    """One turn with a shared async client: returns the conversation id (issued on the first turn) and the body.
    Raises httpx.HTTPStatusError on a refusal."""
    response = await client.post(f"{url}/api/chat", json=chat_body(conversation_id, text))
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body["conversation_id"], body


def texts(turn: dict[str, Any]) -> str:
    return "\n".join(message["text"] for message in turn["messages"])
