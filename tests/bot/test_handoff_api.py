"""The handoff, live: the operator API, the operators' and the citizen's WebSockets, polling and ratings.

A real gateway (uvicorn on loopback) on SQLite and PostgreSQL, real API tokens, real WebSockets (the
`websockets` client). Rasa is a local fake (tests/bot/test_conversation_faults.py FakeRasa) that records what
reaches it: the point is what the gateway sends it, and what it does not.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bot.api.chat import UNKNOWN_CONVERSATION
from bot.auth import Role, TokenStore
from bot.console.accounts import AccountStore
from bot.console.sessions import SessionStore
from bot.conversation.conversation_ids import ConversationRegistry
from bot.handoff import notices
from bot.handoff.desk import HandoffDesk
from bot.handoff.live import RATING_REQUEST
from bot.handoff.workflow import Owner, Priority
from bot.tickets import open_ticket_service
from tests.bot.test_conversation_faults import FakeRasa, gateway
from tests.chat_client import Conversations
from tests.console.conftest import PASSWORD

PHONE = "13912345678"
MASKED_PHONE = "[电话]"  # bot/redaction.py redact_numbers
HANDOFF_TURN = {
    "messages": [{"text": "好的，正在为您转接人工客服。"}],
    "intent": {"name": "request_human", "confidence": 0.99},
    "slots_set": {"handoff": True},
}
CITED = {"doc_id": "rabies", "title": "狂犬病暴露处置", "section": "一、", "url": ""}
ANSWER_TURN = {
    "messages": [{"text": "被狗咬伤后应尽快冲洗伤口并接种狂犬疫苗。"}, {"custom": {"citations": [CITED]}}],
    "intent": {"name": "ask_health", "confidence": 0.93},
    "slots_set": {},
}


@dataclass
class Desk:
    """A running gateway, its fake Rasa, and three callers with real API tokens."""

    url: str
    chats: Conversations
    rasa: FakeRasa
    desk: HandoffDesk
    wang: dict[str, str]  # operator
    li: dict[str, str]  # operator
    zhou: dict[str, str]  # supervisor
    tokens: dict[str, str]

    @property
    def ws(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, trust_env=False)

    def queued(self, name: str, first: str = "我要找人工客服") -> str:
        """A citizen who asked for a person through the chat: waiting in the queue."""
        self.rasa.answer(HANDOFF_TURN)
        turn = self.chats.say(name, first)
        assert turn["handoff"] is True, turn
        return self.chats.ids[name]

    def operator_socket(self, token: str) -> ClientConnection:
        socket = connect(f"{self.ws}/api/handoff/live?token={token}", open_timeout=10)
        assert receive(socket, "queue")["type"] == "queue"
        return socket

    def citizen_socket(self, conversation_id: str) -> ClientConnection:
        socket = connect(f"{self.ws}/api/chat/{conversation_id}/live", open_timeout=10)
        assert receive(socket, "ready")["conversation_id"] == conversation_id
        return socket


@contextmanager
def running(database_url: str, rasa: FakeRasa, **settings: Any) -> Iterator[Desk]:
    with gateway(database_url, rasa.url, **settings) as chats:
        service = open_ticket_service(database_url)
        store = TokenStore(service.engine)
        tokens = {name: store.issue(name, role) for name, role in [("wang", Role.OPERATOR), ("li", Role.OPERATOR),
                                                                    ("zhou", Role.SUPERVISOR)]}  # fmt: skip
        bearer = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
        try:
            yield Desk(
                str(chats.http.base_url).rstrip("/"), chats, rasa, HandoffDesk(service.engine),
                bearer["wang"], bearer["li"], bearer["zhou"], tokens,
            )  # fmt: skip
        finally:
            service.close()


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.close()


@pytest.fixture
def live(database_url: str, fake_rasa: FakeRasa) -> Iterator[Desk]:
    with running(database_url, fake_rasa) as desk:
        yield desk


def receive(socket: ClientConnection, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
    """The next event of type `kind` (and with the fields in `match`), skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind} event {match} within {timeout} s")
        event = json.loads(socket.recv(timeout=left))
        if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
            return event


def closed_code(socket_url: str, **headers: str) -> int:
    """The close code the server ends this socket with, before it says anything."""
    with (
        connect(socket_url, additional_headers=headers, open_timeout=10) as socket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        socket.recv(timeout=10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def webhook_texts(rasa: FakeRasa, conversation_id: str) -> list[str]:
    return [body["message"] for path, body in rasa.received if path.endswith("/webhook") and
            body.get("sender") == conversation_id]  # fmt: skip


# --- access ---------------------------------------------------------------------------------------------------


def test_every_handoff_endpoint_and_the_operator_socket_need_a_token(live: Desk) -> None:
    conversation_id = live.queued("c1")
    requests = [
        ("GET", "/api/handoff/queue", None),
        ("POST", f"/api/handoff/{conversation_id}/take", None),
        ("POST", f"/api/handoff/{conversation_id}/messages", {"text": "您好"}),
        ("POST", f"/api/handoff/{conversation_id}/typing", None),
        ("POST", f"/api/handoff/{conversation_id}/release", None),
        ("POST", f"/api/handoff/{conversation_id}/handback", None),
        ("POST", f"/api/handoff/{conversation_id}/close", {"note": "已解答"}),
        ("GET", f"/api/conversations/{conversation_id}", None),
    ]
    with live.http() as client:
        for method, path, body in requests:
            for headers in ({}, {"Authorization": "Bearer hl_not-a-token"}):
                response = client.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers)
    assert live.desk.get(conversation_id).owner is Owner.QUEUE  # nothing moved
    socket = f"{live.ws}/api/handoff/live"
    assert closed_code(socket) == 1008
    assert closed_code(f"{socket}?token=hl_not-a-token") == 1008
    assert closed_code(socket, Authorization="Bearer hl_not-a-token") == 1008
    with connect(socket, additional_headers=live.wang, open_timeout=10) as header_socket:
        assert receive(header_socket, "queue")["entries"][0]["conversation_id"] == conversation_id


def test_the_console_session_reaches_the_operator_socket_from_this_site_and_the_api_with_its_csrf(
    live: Desk,
) -> None:
    conversation_id = live.queued("c1")
    AccountStore(live.desk.engine).add("zhao", PASSWORD, Role.OPERATOR, actor="test")
    opened = SessionStore(live.desk.engine, ttl=timedelta(hours=1), idle=timedelta(minutes=30)).login("zhao", PASSWORD)
    assert opened is not None
    cookie = {"Cookie": f"hotline_session={opened.token}"}
    with connect(f"{live.ws}/api/handoff/live", additional_headers={**cookie, "Origin": live.url}) as socket:
        assert receive(socket, "presence")["online"] == ["zhao"]
    assert closed_code(f"{live.ws}/api/handoff/live", **cookie, Origin="http://evil.example") == 1008
    with live.http() as client:
        assert client.get("/api/handoff/queue", headers=cookie).status_code == 200
        take = f"/api/handoff/{conversation_id}/take"
        assert client.post(take, headers=cookie).status_code == 403  # a cookie alone may not change anything
        taken = client.post(take, headers={**cookie, "X-CSRF-Token": opened.session.csrf_token})
        assert taken.status_code == 200 and taken.json()["operator"] == "zhao"


# --- the REST contract ----------------------------------------------------------------------------------------


def test_the_queue_lists_waiting_conversations_urgent_first_with_the_last_message_masked(live: Desk) -> None:
    first = live.queued("first")
    live.chats.say("first", f"我的电话是{PHONE}，请尽快联系我")
    second = live.queued("second")
    urgent = live.queued("urgent")
    live.chats.say("urgent", "我爸突然晕倒了，叫不醒")  # an emergency: urgent, first in the queue
    with live.http() as client:
        response = client.get("/api/handoff/queue", headers=live.wang)
    assert response.status_code == 200
    entries = response.json()
    assert [e["conversation_id"] for e in entries] == [urgent, first, second]
    assert [e["position"] for e in entries] == [1, 2, 3]
    assert [e["priority"] for e in entries] == ["urgent", "normal", "normal"]
    for entry in entries:
        assert set(entry) == {"conversation_id", "channel", "reason", "priority", "position", "waiting_s",
                              "last_message", "expected_wait_s"}  # fmt: skip
        assert entry["channel"] == "web" and entry["waiting_s"] >= 0 and entry["expected_wait_s"] >= 0
    assert entries[1]["last_message"] == f"我的电话是{MASKED_PHONE}，请尽快联系我"
    assert entries[2]["last_message"] == "我要找人工客服" and entries[2]["reason"] == "requested"
    assert entries[0]["reason"] == "requested"  # it was queued already; the emergency raised its priority


def test_take_reply_release_handback_close_and_their_refusals(live: Desk) -> None:
    conversation_id = live.queued("c1")
    path = f"/api/handoff/{conversation_id}"
    with live.http() as client:
        assert client.post("/api/handoff/web-unknown/take", headers=live.wang).status_code == 404
        assert client.get("/api/conversations/web-unknown", headers=live.wang).status_code == 404
        unknown = client.post("/api/handoff/web-unknown/messages", json={"text": "在"}, headers=live.wang)
        assert unknown.status_code == 404 and unknown.json() == {"detail": "没有这个会话"}
        early = client.post(f"{path}/messages", json={"text": "您好"}, headers=live.wang)
        assert early.status_code == 409 and "请先接入" in early.json()["detail"]
        assert client.post(f"{path}/release", headers=live.wang).status_code == 409  # nobody holds it

        taken = client.post(f"{path}/take", headers=live.wang)
        assert taken.status_code == 200
        assert taken.json() == {"conversation_id": conversation_id, "channel": "web", "owner": "operator",
                                "operator": "wang", "priority": "normal", "reason": "requested"}  # fmt: skip
        again = client.post(f"{path}/take", headers=live.li)
        assert again.status_code == 409 and "wang" in again.json()["detail"]
        assert client.post(f"{path}/messages", json={"text": "我来"}, headers=live.li).status_code == 403
        assert client.post(f"{path}/handback", headers=live.li).status_code == 403
        for bad in ({"text": "   "}, {"text": "长" * 4001}):
            refused = client.post(f"{path}/messages", json=bad, headers=live.wang)
            assert refused.status_code == 422 and refused.json()["detail"].startswith("回复内容")
        assert client.post(f"{path}/messages", json={}, headers=live.wang).status_code == 422

        said = client.post(f"{path}/messages", json={"text": f"请拨打{PHONE}咨询"}, headers=live.wang)
        assert said.status_code == 200
        assert said.json()["speaker"] == "operator" and said.json()["text"] == f"请拨打{MASKED_PHONE}咨询"
        assert client.post(f"{path}/typing", headers=live.wang).json() == {"ok": True}

        released = client.post(f"{path}/release", headers=live.wang)
        assert released.status_code == 200 and released.json()["owner"] == "queue"
        assert client.post(f"{path}/handback", headers=live.wang).status_code == 409  # in the queue now
        assert client.post(f"{path}/take", headers=live.li).status_code == 200
        for note in ({}, {"note": " "}):
            refused = client.post(f"{path}/close", json=note, headers=live.li)
            assert refused.status_code == 422 and "处理结果" in refused.json()["detail"]
        assert client.post(f"{path}/close", headers=live.li).status_code == 422  # no body at all
        # A supervisor may act on a conversation another operator holds.
        closed = client.post(f"{path}/close", json={"note": f"已告知市民回电{PHONE}"}, headers=live.zhou)
        assert closed.status_code == 200 and closed.json()["owner"] == "closed"
        assert client.post(f"{path}/take", headers=live.wang).status_code == 409  # closed: not waiting

        view = client.get(f"/api/conversations/{conversation_id}", headers=live.wang).json()
    assert view["owner"] == "closed" and view["channel"] == "web" and view["reason"] == "requested"
    speakers = [(t["speaker"], t["text"]) for t in view["turns"]]
    assert speakers[0] == ("citizen", "我要找人工客服")
    assert ("bot", "好的，正在为您转接人工客服。") in speakers
    assert ("operator", f"请拨打{MASKED_PHONE}咨询") in speakers
    assert ("system", notices.TAKEN) in speakers and ("system", RATING_REQUEST) in speakers
    assert not any(PHONE in text for _, text in speakers)
    citizen_turn = view["turns"][0]
    assert citizen_turn["intent"] == "request_human" and citizen_turn["confidence"] == pytest.approx(0.99)
    operator_turns = [t for t in view["turns"] if t["speaker"] == "operator"]
    assert [t["operator"] for t in operator_turns] == ["wang"]
    moves = [(e["move"], e["actor"], e["from_owner"], e["to_owner"]) for e in view["events"]]
    assert moves == [
        ("handoff", "bot", "bot", "queue"),
        ("take", "operator:wang", "queue", "operator"),
        ("release", "operator:wang", "operator", "queue"),
        ("take", "operator:li", "queue", "operator"),
        ("close", "supervisor:zhou", "operator", "closed"),
    ]
    assert view["events"][-1]["note"] == f"已告知市民回电{MASKED_PHONE}"
    assert view["ratings"] == []


def take_at_once(desk: Desk, conversation_id: str) -> list[int]:
    """Two operators take the same conversation at the same moment, over real HTTP; their status codes."""
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def take(headers: dict[str, str]) -> None:
        with desk.http() as client:
            client.get("/healthz")  # connected before the barrier: the two POSTs leave together
            barrier.wait()
            codes.append(client.post(f"/api/handoff/{conversation_id}/take", headers=headers).status_code)

    threads = [threading.Thread(target=take, args=(headers,)) for headers in (desk.wang, desk.li)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return codes


def test_two_operators_taking_the_same_conversation_at_once_one_gets_it_the_other_409(
    live: Desk, database_url: str
) -> None:
    service = open_ticket_service(database_url)
    registry = ConversationRegistry(service.engine)
    try:
        for _ in range(8):
            conversation_id = registry.start_web()
            live.desk.request(conversation_id, "web", "requested", Priority.NORMAL)
            codes = take_at_once(live, conversation_id)
            assert sorted(codes) == [200, 409], codes
            conversation = live.desk.get(conversation_id)
            assert conversation.owner is Owner.OPERATOR and conversation.operator in ("wang", "li")
            takes = [e for e in live.desk.events(conversation_id) if e.move == "take"]
            assert len(takes) == 1 and takes[0].operator == conversation.operator  # one take, on record
    finally:
        service.close()


# --- live: the citizen's page ---------------------------------------------------------------------------------


def test_the_operators_reply_reaches_the_citizens_socket_and_polling_returns_the_same_turns(live: Desk) -> None:
    conversation_id = live.queued("c1")
    with live.http() as client:
        before = client.get(f"/api/chat/{conversation_id}/messages").json()
        assert before["owner"] == "queue"
        assert before["place"] == {"position": 1, "expected_wait_s": 120, "text": notices.place(1, 120)}
        seen = max(t["seq"] for t in before["turns"])
        citizen = live.citizen_socket(conversation_id)
        try:
            assert client.post(f"/api/handoff/{conversation_id}/take", headers=live.wang).status_code == 200
            owner = receive(citizen, "owner")
            assert owner["owner"] == "operator" and owner["text"] == notices.TAKEN and owner["speaker"] == "system"
            client.post(f"/api/handoff/{conversation_id}/typing", headers=live.wang)
            assert receive(citizen, "typing")["speaker"] == "operator"
            said = client.post(f"/api/handoff/{conversation_id}/messages", json={"text": "您好，请讲"},
                               headers=live.wang)  # fmt: skip
            message = receive(citizen, "message", speaker="operator")
            assert message["text"] == "您好，请讲" and message["seq"] == said.json()["seq"]
        finally:
            citizen.close()

        polled = client.get(f"/api/chat/{conversation_id}/messages", params={"after": seen}).json()
    assert polled["owner"] == "operator" and polled["place"] is None and polled["rating_open"] is False
    assert [(t["seq"], t["speaker"], t["text"]) for t in polled["turns"]] == [
        (owner["seq"], "system", notices.TAKEN),
        (message["seq"], "operator", "您好，请讲"),
    ]
    assert "wang" not in json.dumps(polled, ensure_ascii=False)  # the citizen is not told the operator's login


def test_a_turn_in_the_chat_response_names_its_seqs_so_the_page_shows_it_once(live: Desk) -> None:
    live.rasa.answer(ANSWER_TURN)
    turn = live.chats.say("c1", "被狗咬了怎么办")
    conversation_id = live.chats.ids["c1"]
    with live.http() as client:
        polled = client.get(f"/api/chat/{conversation_id}/messages").json()
    assert polled["owner"] == "bot"
    assert [t["speaker"] for t in polled["turns"]] == ["bot"]  # the citizen's own turn is not sent back
    bot_turn = polled["turns"][0]
    assert bot_turn["citations"] == [CITED] and bot_turn["text"] == turn["messages"][0]["text"]
    assert bot_turn["seq"] in turn["seqs"] and len(turn["seqs"]) == 2  # the citizen's turn and the reply


def test_unknown_ids_are_refused_on_the_socket_polling_and_rating_and_probing_is_limited(
    database_url: str, fake_rasa: FakeRasa
) -> None:
    with running(database_url, fake_rasa, conversation_check_limit=3) as live, live.http() as client:
        known = live.queued("c1")
        for _ in range(3):
            assert client.get(f"/api/chat/{known}/messages").status_code == 200  # a known id costs nothing
        # A phone conversation's id exists, but it is no web credential.
        phone_id = "sms-" + "x" * 43
        live.desk.request(phone_id, "sms", "requested")
        refused = client.get(f"/api/chat/{phone_id}/messages")
        assert refused.status_code == 404 and refused.json() == {"detail": UNKNOWN_CONVERSATION}
        assert closed_code(f"{live.ws}/api/chat/{phone_id}/live") == 1008
        rating = client.post("/api/chat/web-not-issued/rating", json={"score": 5})
        assert rating.status_code == 404 and rating.json() == {"detail": UNKNOWN_CONVERSATION}
        # The third unknown id locked the client: even a known id is refused now, so the lock tells nothing.
        assert client.get("/api/chat/web-not-issued/messages").status_code == 429
        assert client.get(f"/api/chat/{known}/messages").status_code == 429
        assert closed_code(f"{live.ws}/api/chat/{known}/live") == 1008


def test_a_closed_conversation_is_rated_once_and_the_rating_is_the_operators(live: Desk) -> None:
    conversation_id = live.queued("c1")
    rating = f"/api/chat/{conversation_id}/rating"
    with live.http() as client:
        assert client.post(rating, json={"score": 5}).status_code == 409  # nothing was asked yet
        client.post(f"/api/handoff/{conversation_id}/take", headers=live.wang)
        citizen = live.citizen_socket(conversation_id)
        try:
            client.post(f"/api/handoff/{conversation_id}/close", json={"note": "已解答"}, headers=live.wang)
            request = receive(citizen, "rating_request")
        finally:
            citizen.close()
        assert request["text"] == RATING_REQUEST and request["scale"] == [1, 2, 3, 4, 5] and request["seq"]
        polled = client.get(f"/api/chat/{conversation_id}/messages").json()
        assert polled["rating_open"] is True
        assert [t["type"] for t in polled["turns"] if t["seq"] == request["seq"]] == ["rating_request"]
        for bad in ({"score": 0}, {"score": 6}):
            refused = client.post(rating, json=bad)
            assert refused.status_code == 422 and "1到5" in refused.json()["detail"]
        assert client.post(rating, json={"score": "很好"}).status_code == 422
        rated = client.post(rating, json={"score": 4, "comment": f"很耐心，回电{PHONE}"})
        assert rated.status_code == 200 and rated.json()["score"] == 4
        again = client.post(rating, json={"score": 1})
        assert again.status_code == 409 and "已经评价" in again.json()["detail"]
        assert client.get(f"/api/chat/{conversation_id}/messages").json()["rating_open"] is False
        view = client.get(f"/api/conversations/{conversation_id}", headers=live.li).json()
    assert [(r["score"], r["operator"], r["comment"]) for r in view["ratings"]] == [
        (4, "wang", f"很耐心，回电{MASKED_PHONE}")
    ]


def test_an_answered_conversation_that_goes_quiet_is_asked_for_a_rating_once(
    database_url: str, fake_rasa: FakeRasa
) -> None:
    with running(database_url, fake_rasa, rating_after_quiet_s=1.5, handoff_sweep_interval_s=0.3) as live:
        live.rasa.answer({"messages": [{"text": "您好，请问有什么可以帮您？"}], "intent": {"name": "greet"}})
        live.chats.say("unanswered", "你好")  # no answer with a source: not asked
        live.rasa.answer(ANSWER_TURN)
        live.chats.say("c1", "被狗咬了怎么办")
        conversation_id = live.chats.ids["c1"]
        citizen = live.citizen_socket(conversation_id)
        try:
            asked = receive(citizen, "rating_request", timeout=15)
            time.sleep(2.5)  # several sweeps later: still once
        finally:
            citizen.close()
        with live.http() as client:
            turns = client.get(f"/api/chat/{conversation_id}/messages").json()["turns"]
            assert [t["seq"] for t in turns if t["type"] == "rating_request"] == [asked["seq"]]
            quiet = client.get(f"/api/chat/{live.chats.ids['unanswered']}/messages").json()
            assert quiet["rating_open"] is False and all(t["type"] == "message" for t in quiet["turns"])
            assert client.post(f"/api/chat/{conversation_id}/rating", json={"score": 5}).status_code == 200
            # The citizen asks again and is answered: a new quiet stretch, asked once more.
            live.chats.say("c1", "那要打几针")
            time.sleep(3)
            turns = client.get(f"/api/chat/{conversation_id}/messages").json()["turns"]
            assert len([t for t in turns if t["type"] == "rating_request"]) == 2


# --- live: the operators' console -----------------------------------------------------------------------------


def test_the_operator_socket_streams_the_queue_presence_and_a_watched_conversation(live: Desk) -> None:
    waiting = live.queued("c1")
    wang = live.operator_socket(live.tokens["wang"])
    li = live.operator_socket(live.tokens["li"])
    try:
        assert receive(wang, "presence", online=["li", "wang"])
        newcomer = live.queued("c2")
        arrived = receive(li, "owner", conversation_id=newcomer)
        assert arrived["owner"] == "queue"
        queue = receive(li, "queue")
        assert [e["conversation_id"] for e in queue["entries"]] == [waiting, newcomer]

        with live.http() as client:
            client.post(f"/api/handoff/{waiting}/take", headers=live.wang)
        for socket in (wang, li):
            taken = receive(socket, "owner", conversation_id=waiting, owner="operator")
            assert taken["operator"] == "wang"

        wang.send(json.dumps({"watch": waiting}))
        assert receive(wang, "watching")["conversation_id"] == waiting
        # The citizen writes while the operator holds the conversation: it reaches the operator, not Rasa.
        live.rasa.received.clear()
        assert live.chats.say("c1", f"我电话{PHONE}，麻烦快点")["messages"] == []
        turn = receive(wang, "turn", conversation_id=waiting)
        assert turn["speaker"] == "citizen" and turn["text"] == f"我电话{MASKED_PHONE}，麻烦快点"
        assert webhook_texts(live.rasa, waiting) == []

        wang.send(json.dumps({"watch": "web-unknown"}))
        assert receive(wang, "error")["conversation_id"] == "web-unknown"
        wang.send("not json")
        assert "watch" in receive(wang, "error")["detail"]
        wang.send(json.dumps({"queue": True}))
        assert [e["conversation_id"] for e in receive(wang, "queue")["entries"]] == [newcomer]
    finally:
        li.close()
    assert receive(wang, "presence", online=["wang"])
    wang.close()


def test_the_citizen_held_by_an_operator_does_not_reach_rasa_and_after_the_handback_the_bot_answers(
    live: Desk,
) -> None:
    conversation_id = live.queued("c1")
    with live.http() as client:
        client.post(f"/api/handoff/{conversation_id}/take", headers=live.wang)
        operator = live.operator_socket(live.tokens["wang"])
        try:
            operator.send(json.dumps({"watch": conversation_id}))
            receive(operator, "watching")
            live.chats.say("c1", "我想问医保报销的事")
            assert receive(operator, "turn", speaker="citizen")["text"] == "我想问医保报销的事"
            for said in ("医保报销请带上发票到社保窗口办理。", "还有别的问题可以问智能助手。"):
                client.post(f"/api/handoff/{conversation_id}/messages", json={"text": said}, headers=live.wang)
                assert receive(operator, "turn", speaker="operator")["text"] == said
        finally:
            operator.close()
        assert webhook_texts(live.rasa, conversation_id) == ["我要找人工客服"]

        handed = client.post(f"/api/handoff/{conversation_id}/handback", headers=live.wang)
        assert handed.status_code == 200 and handed.json()["owner"] == "bot"
    history = [body for path, body in live.rasa.received if path.endswith("/history")]
    assert history == [
        {
            "sender": conversation_id,
            "turns": [
                {"text": "医保报销请带上发票到社保窗口办理。", "operator": "wang"},
                {"text": "还有别的问题可以问智能助手。", "operator": "wang"},
            ],
        }
    ]
    live.rasa.answer(ANSWER_TURN)
    answer = live.chats.say("c1", "被狗咬了怎么办")
    assert answer["messages"][0]["text"] == ANSWER_TURN["messages"][0]["text"]
    assert webhook_texts(live.rasa, conversation_id) == ["我要找人工客服", "被狗咬了怎么办"]


def test_a_failing_database_is_a_503_in_words_never_a_500(live: Desk) -> None:
    conversation_id = live.queued("c1")
    with live.desk.engine.begin() as connection:
        connection.execute(text("DROP TABLE conversations"))
    with live.http() as client:
        for method, path, headers in [
            ("GET", "/api/handoff/queue", live.wang),
            ("POST", f"/api/handoff/{conversation_id}/take", live.wang),
            ("GET", f"/api/conversations/{conversation_id}", live.wang),
            ("GET", f"/api/chat/{conversation_id}/messages", {}),
        ]:
            response = client.request(method, path, headers=headers)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["detail"] == "系统暂时无法访问数据库，请稍后重试。"
    assert closed_code(f"{live.ws}/api/chat/{conversation_id}/live") == 1013
