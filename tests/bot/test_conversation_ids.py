"""Conversation ids: issued by the gateway over real HTTP (uvicorn on loopback, SQLite and PostgreSQL), refused
when not issued, and keyed hashes for the channels that derive them from a platform identity."""

from __future__ import annotations

import base64
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.orm import Session

from bot.app import create_app, serve_in_thread
from bot.conversation.conversation_ids import (
    ConversationRegistry,
    channel_id,
    issue_web_id,
    keyed_hash,
    load_or_create_key,
)
from bot.database import create_ticket_engine, upgrade_schema
from bot.handoff.desk import HandoffDesk
from bot.handoff.models import ConversationRow
from bot.handoff.workflow import Priority
from bot.settings import Settings
from bot.supervisor import free_port
from bot.up import Ports, services
from tests.chat_client import Citizen

WEB_ID = re.compile(r"^web-[A-Za-z0-9_-]{32}$")
KEY = "k" * 32
# Answered by the gateway's emergency net without Rasa, which these tests do not start.
EMERGENCY = "快来人，我爸突然晕倒了叫不醒"


def random_bits(conversation_id: str) -> int:
    token = conversation_id.removeprefix("web-")
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8


@dataclass
class Gateway:
    url: str
    registry: ConversationRegistry
    ownership: HandoffDesk


@pytest.fixture
def gateway(database_url: str) -> Iterator[Gateway]:
    settings = Settings(database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}")
    with serve_in_thread(settings, start_timeout=30) as url:
        engine = create_ticket_engine(database_url)
        upgrade_schema(engine)
        yield Gateway(url, ConversationRegistry(engine), HandoffDesk(engine))
        engine.dispose()


def test_a_turn_without_an_id_starts_a_conversation_with_at_least_128_random_bits(gateway: Gateway) -> None:
    ids = []
    for _ in range(20):
        citizen = Citizen(gateway.url)
        turn = citizen.say(EMERGENCY)
        assert "120" in turn["messages"][0]["text"]
        ids.append(turn["conversation_id"])
    assert len(set(ids)) == len(ids)
    assert all(WEB_ID.match(i) and random_bits(i) >= 128 for i in ids), ids
    with Session(gateway.registry.engine) as session:
        rows = [session.get(ConversationRow, i) for i in ids]
    assert all(row is not None and row.channel == "web" and row.created_at for row in rows)


def test_later_turns_continue_the_issued_conversation(gateway: Gateway) -> None:
    citizen = Citizen(gateway.url)
    citizen.say(EMERGENCY)  # the queue owns it now: later messages are held for the human
    held = citizen.say("在吗，还要等多久")
    assert held["handoff"] is True and "人工" in held["messages"][0]["text"]
    other = Citizen(gateway.url)
    other.say(EMERGENCY)
    conversation_id, other_id = citizen.conversation_id, other.conversation_id
    assert conversation_id and other_id and conversation_id != other_id
    assert gateway.ownership.held_messages(conversation_id) == ["在吗，还要等多久"]
    assert gateway.ownership.held_messages(other_id) == []  # two conversations share nothing


def test_an_id_the_server_did_not_issue_gets_404_and_the_same_body_whatever_it_is(gateway: Gateway) -> None:
    citizen = Citizen(gateway.url)
    citizen.say(EMERGENCY)
    issued = citizen.conversation_id
    assert issued
    # A phone conversation the server knows: still not an id the web may use.
    phone = channel_id("phone", "13912345678", KEY)
    gateway.ownership.request(phone, "phone", "requested", Priority.NORMAL)
    unknown = [
        issue_web_id(),  # well formed, never issued
        issued[:-1] + ("A" if issued[-1] != "A" else "B"),  # one character off a real one
        issued + "x",
        issued.upper(),
        phone,
        "",
        "web-1",
        "x" * 5000,
    ]
    bodies = set()
    with httpx.Client(base_url=gateway.url, timeout=30, trust_env=False) as http:
        for conversation_id in unknown:
            response = http.post("/api/chat", json={"conversation_id": conversation_id, "text": "你好"})
            assert response.status_code == 404, (conversation_id[:40], response.text)
            bodies.add(response.text)
    assert len(bodies) == 1
    body = bodies.pop()
    assert issued not in body and "conversation_id" in body  # says how to start, nothing about any conversation
    assert gateway.ownership.held_messages(issued) == []  # nothing reached the real conversation
    assert citizen.say("还在吗")["conversation_id"] == issued


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"sender_id": "web-mine", "text": "你好"}, "server issues conversation ids"),
        ({"sender_id": "web-mine", "conversation_id": "web-x", "text": "你好"}, "server issues conversation ids"),
        ({"text": "你好", "channel": "phone"}, "channel"),
        ({"conversation_id": 12345, "text": "你好"}, "conversation_id"),
        ({"text": "   "}, "text is empty"),
        ({}, "text"),
    ],
)
def test_a_client_chosen_id_and_other_bad_bodies_get_a_clear_422(gateway: Gateway, body: dict, says: str) -> None:
    response = httpx.post(f"{gateway.url}/api/chat", json=body, timeout=30, trust_env=False)
    assert response.status_code == 422
    assert says in response.text


def test_the_gateway_does_not_start_without_a_conversation_key(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'hotline.db'}"
    with pytest.raises(RuntimeError, match="HOTLINE_CONVERSATION_KEY"):
        create_app(Settings(database_url=database_url, conversation_key=None))
    with pytest.raises(ValidationError, match="at least 32 characters") as refused:
        Settings(database_url=database_url, conversation_key=SecretStr("short-key-1"))
    assert "short-key-1" not in str(refused.value)  # a refused secret is not quoted back


def test_channel_ids_are_keyed_hashes_of_the_platform_identity() -> None:
    number = "13912345678"
    first = channel_id("phone", number, KEY)
    assert first == channel_id("phone", number, KEY)  # the caller who rings again continues
    assert first.startswith("phone-") and len(first) <= 128
    assert number not in first
    assert first != channel_id("phone", number, "j" * 32)  # without the key, no id can be computed
    assert first != channel_id("phone", "13912345679", KEY)
    assert first.removeprefix("phone-") != channel_id("sms", number, KEY).removeprefix("sms-")
    assert keyed_hash("client", "127.0.0.1", KEY) != keyed_hash("conversation:phone", "127.0.0.1", KEY)


@pytest.mark.parametrize(
    ("channel", "identity", "key"),
    [("web", "x", KEY), ("Phone", "x", KEY), ("a-b", "x", KEY), ("phone", "", KEY), ("phone", "x", "short")],
)
def test_channel_ids_refuse_what_would_make_them_weak(channel: str, identity: str, key: str) -> None:
    with pytest.raises(ValueError):
        channel_id(channel, identity, key)


def test_hotline_up_generates_the_key_once_for_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "conversation.key"
    key = load_or_create_key(path)
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key  # a restart keeps every channel's conversations
    gateway = services("127.0.0.1", Ports(), tmp_path, tmp_path, tmp_path, conversation_key=key)[-1]
    assert gateway.env["HOTLINE_CONVERSATION_KEY"] == key
    assert "--no-proxy-headers" in gateway.command  # whose X-Forwarded-For counts is the app's decision
    path.write_text("too short\n")
    with pytest.raises(ValueError, match="at least 32"):
        load_or_create_key(path)
