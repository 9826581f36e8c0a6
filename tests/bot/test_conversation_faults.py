"""The conversation when something behind it fails: Rasa down, Rasa answering nonsense, the action server
silent, the database failing or locked. Real gateway over real HTTP, real SQLite and PostgreSQL, a real index.

Rasa itself cannot be made to send a non-JSON body or an intent without a confidence, so those faults come
from a small local HTTP server standing in for a misbehaving Rasa.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bot.app import serve_in_thread
from bot.auth import Principal, Role
from bot.conversation.callbacks import ASK_FOR_MESSAGE, ASK_FOR_PHONE
from bot.conversation.conversation_ids import ConversationRegistry
from bot.conversation.core import EMPTY_TURN, STORE_DOWN
from bot.conversation.emergency import assess, guidance
from bot.conversation.reduced_mode import NOTICE
from bot.handoff.desk import HandoffDesk
from bot.handoff.workflow import Owner, Priority
from bot.settings import Settings
from bot.supervisor import free_port
from bot.tickets import TicketDraft, TicketKind, open_ticket_service
from tests.chat_client import Conversations, texts

EMERGENCY = "我爸突然晕倒了，叫不醒"
EMERGENCY_GUIDANCE = guidance(assess(EMERGENCY))


def dead_rasa_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


class FakeRasa:
    """A local HTTP server that answers Rasa's webhook with whatever body the test sets."""

    def __init__(self) -> None:
        self.body: bytes = b"{}"
        self.content_type = "application/json"
        #: Every request received: (path, JSON body), e.g. to assert that a turn never reached Rasa.
        self.received: list[tuple[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    fake.received.append((self.path, json.loads(raw or b"null")))
                except ValueError:
                    fake.received.append((self.path, raw))
                self.send_response(200)
                self.send_header("content-type", fake.content_type)
                self.send_header("content-length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: dict[str, Any]) -> None:
        self.body, self.content_type = json.dumps(body, ensure_ascii=False).encode(), "application/json"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.close()


@contextmanager
def gateway(database_url: str, rasa_url: str, index: Path | None = None, **more: Any) -> Iterator[Conversations]:
    settings = Settings(
        **more, database_url=database_url, rasa_url=rasa_url, rasa_timeout_s=5, index=index or Path("/nonexistent")
    )
    with serve_in_thread(settings) as url, httpx.Client(base_url=url, timeout=120, trust_env=False) as http:
        yield Conversations(http)


def say(chats: Conversations, name: str, text: str) -> dict[str, Any]:
    return chats.say(name, text)


# --- emergencies come first, in every state ------------------------------------------------------------------


@pytest.mark.parametrize("owner", [Owner.QUEUE, Owner.OPERATOR])
def test_an_emergency_while_a_human_owns_the_conversation_gets_the_guidance_and_turns_urgent(
    database_url: str, owner: Owner
) -> None:
    with gateway(database_url, dead_rasa_url()) as chats:
        service = open_ticket_service(database_url)
        store = HandoffDesk(service.engine)
        waiting = chats.adopt("waiting-1", ConversationRegistry(service.engine).start_web())
        store.request(waiting, "web", "requested", Priority.NORMAL)
        if owner is Owner.OPERATOR:
            store.take(waiting, Principal("operator-1", Role.OPERATOR))
        # Waiting, the citizen is told their place; with an operator, the bot says nothing at all.
        said = texts(say(chats, "waiting-1", "还要等多久"))
        assert said.startswith("正在排队等待人工客服：您是下一位") if owner is Owner.QUEUE else said == ""
        assert store.held_messages(waiting) == ["还要等多久"]

        turn = say(chats, "waiting-1", EMERGENCY)
        assert turn["messages"][0]["text"] == EMERGENCY_GUIDANCE
        assert turn["handoff"] is True
        conversation = store.get(waiting)
        assert conversation.priority is Priority.URGENT
        assert conversation.owner is owner  # the one who has it keeps it, now flagged
        service.close()


def test_the_guidance_does_not_wait_for_a_failing_database_or_rasa(database_url: str) -> None:
    with gateway(database_url, dead_rasa_url()) as chats:
        service = open_ticket_service(database_url)
        with service.engine.begin() as connection:
            connection.execute(text("DROP TABLE held_messages"))
            connection.execute(text("DROP TABLE conversations"))
        service.close()

        # No conversation can be started (nor an id checked), and still the guidance comes.
        turn = say(chats, "broken-db", EMERGENCY)
        assert turn["messages"][0]["text"] == EMERGENCY_GUIDANCE
        assert turn["conversation_id"] is None
        # Anything else is told plainly that it failed: a 200 with words, not a 500.
        turn = say(chats, "broken-db", "出生医学证明怎么办")
        assert texts(turn) == STORE_DOWN
        assert "120" in STORE_DOWN


def test_self_harm_gets_the_configured_psychological_assistance_line_after_120_110(database_url: str) -> None:
    with gateway(database_url, dead_rasa_url(), psych_line="010-82951332") as chats:
        text = texts(say(chats, "self-harm", "我真的不想活了，药都准备好了"))
    assert "010-82951332" in text and text.index("120") < text.index("010-82951332")


# --- Rasa down: reduced mode ---------------------------------------------------------------------------------


def test_a_question_is_answered_from_retrieval_while_rasa_is_down(database_url: str, knowledge_index: Path) -> None:
    with gateway(database_url, dead_rasa_url(), knowledge_index) as chats:
        turn = say(chats, "reduced-1", "被狗咬了要不要打狂犬疫苗")
    assert turn["reduced_mode"] is True
    answer = turn["messages"][0]
    assert answer["text"].startswith(NOTICE)
    assert "狂犬" in answer["text"]
    assert answer["citations"] and answer["citations"][0]["doc_id"]
    assert {"title": "留言回电", "payload": "/leave_message"} in answer["buttons"]


def test_a_complaint_while_rasa_is_down_becomes_a_callback_ticket(database_url: str, knowledge_index: Path) -> None:
    with gateway(database_url, dead_rasa_url(), knowledge_index) as chats:
        asked = say(chats, "reduced-2", "我要投诉市三院乱收费")
        assert ASK_FOR_MESSAGE in texts(asked) and asked["ticket_id"] is None
        again = say(chats, "reduced-2", "就是乱收费，你们管不管")
        assert texts(again) == ASK_FOR_PHONE
        filed = say(chats, "reduced-2", "市三院挂号多收50元，电话 139 1234 5678")
        number = filed["ticket_id"]
        assert number and number in texts(filed)
        # Back to questions: the next message is not taken as another message to file.
        after = say(chats, "reduced-2", "出生医学证明丢了怎么补办")
        assert after["ticket_id"] is None and after["reduced_mode"] is True

    service = open_ticket_service(database_url)
    ticket = service.get(number)
    assert ticket is not None and ticket.kind is TicketKind.CALLBACK
    assert "13912345678" not in ticket.description and "多收50元" in ticket.description
    assert service.contact(number, actor="test").phone == "13912345678"
    assert ticket.due_date > service.today()  # the next working day at the latest
    service.close()


def test_asking_for_a_human_while_rasa_is_down_reaches_the_queue(database_url: str) -> None:
    with gateway(database_url, dead_rasa_url()) as chats:
        turn = say(chats, "reduced-3", "/request_human")
        assert turn["handoff"] is True
        assert texts(say(chats, "reduced-3", "在吗")).startswith("正在排队等待人工客服：您是下一位")


# --- Rasa answering badly ------------------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_handled_as_rasa_down(database_url: str, fake_rasa: FakeRasa) -> None:
    fake_rasa.body, fake_rasa.content_type = b"<html>502 Bad Gateway</html>", "text/html"
    with gateway(database_url, fake_rasa.url) as chats:
        turn = say(chats, "bad-1", "医院收费有问题找谁")
    assert turn["reduced_mode"] is True and turn["messages"]


def test_an_intent_without_confidence_and_a_malformed_citation_do_not_break_the_turn(
    database_url: str, fake_rasa: FakeRasa
) -> None:
    good = {"doc_id": "guide", "title": "办事指南", "section": "一、", "url": ""}
    fake_rasa.answer(
        {
            "messages": [
                {"text": "答复"},
                {"custom": {"citations": [{"title": 5}, "nonsense", good]}},
                {"text": "第二条", "buttons": [{"payload": "/x"}, {"title": "好", "payload": "/affirm"}]},
            ],
            "intent": {"name": "ask_service"},
            "slots_set": ["not", "a", "dict"],
        }
    )
    with gateway(database_url, fake_rasa.url) as chats:
        turn = say(chats, "bad-2", "出生医学证明怎么办")
    assert turn["intent"] == {"name": "ask_service", "confidence": None}
    assert turn["messages"][0]["citations"] == [good]
    assert turn["messages"][1]["buttons"] == [{"title": "好", "payload": "/affirm"}]


def test_an_empty_turn_is_said_out_loud_with_a_way_on(database_url: str, fake_rasa: FakeRasa) -> None:
    fake_rasa.answer({"messages": [], "intent": {"name": "complaint", "confidence": 0.9}})
    with gateway(database_url, fake_rasa.url) as chats:
        turn = say(chats, "empty-1", "我要投诉")
        assert texts(turn) == EMPTY_TURN
        payloads = [b["payload"] for b in turn["messages"][0]["buttons"]]
        assert payloads == ["我要投诉", "/request_human", "/leave_message"]
        # The human button works even though the bot's actions do not answer.
        fake_rasa.answer({"messages": [], "intent": {"name": "request_human", "confidence": 1.0}})
        assert say(chats, "empty-1", "/request_human")["handoff"] is True


def test_a_ticket_whose_confirmation_was_lost_is_told_on_the_next_turn(database_url: str, fake_rasa: FakeRasa) -> None:
    fake_rasa.answer({"messages": [{"text": "您好"}], "intent": {"name": "greet", "confidence": 1.0}})
    with gateway(database_url, fake_rasa.url) as chats:
        service = open_ticket_service(database_url)
        lost = chats.adopt("lost-1", ConversationRegistry(service.engine).start_web())
        # Filed by the action server, whose answer Rasa gave up waiting for: the citizen never saw the number.
        draft = TicketDraft(
            kind=TicketKind.COMPLAINT,
            description="诊所多收挂号费",
            location="某社区卫生服务中心",
            occurred_at="昨天",
            subject="收费处",
            name=None,
            phone="13912345678",
            consent_to_contact=True,
            channel="web",
            sender_id=lost,
            idempotency_key="lost-1-key",
        )
        receipt = service.create(draft)
        service.close()
        turn = say(chats, "lost-1", "喂？刚才提交成功了吗")
        assert receipt.number in turn["messages"][0]["text"]
        assert turn["messages"][-1]["text"] == "您好"
        assert receipt.number not in texts(say(chats, "lost-1", "好的"))  # told once
        assert receipt.number not in texts(say(chats, "another", "你好"))  # and only to its citizen


# --- no stalls -----------------------------------------------------------------------------------------------


def test_a_sender_waiting_on_a_database_lock_does_not_stall_the_gateway(tmp_path: Path, knowledge_index: Path) -> None:
    # Every turn writes the transcript, so a held write lock delays every turn; what must hold is that the event
    # loop is not blocked meanwhile: other requests are served.
    database_url = f"sqlite:///{tmp_path / 'hotline.db'}"
    with gateway(database_url, dead_rasa_url(), knowledge_index) as chats:
        service = open_ticket_service(database_url)
        queued = chats.adopt("queued", ConversationRegistry(service.engine).start_web())
        HandoffDesk(service.engine).request(queued, "web", "requested", Priority.NORMAL)
        service.close()
        say(chats, "free", "被狗咬了怎么办")  # warm the retriever: the race below is about the lock only

        locker = sqlite3.connect(tmp_path / "hotline.db", isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # the write lock: the queued sender's held message must wait for it
        finished: dict[str, float] = {}

        def turn(sender: str, words: str) -> dict[str, Any]:
            result = say(chats, sender, words)
            finished[sender] = time.monotonic()
            return result

        with ThreadPoolExecutor(2) as pool:
            held = pool.submit(turn, "queued", "我还在等")
            time.sleep(0.5)  # the queued sender is now blocked on the lock
            health = chats.http.get("/healthz")
            assert not held.done(), "the held message should still be waiting for the lock"
            locker.execute("COMMIT")
            assert texts(held.result(timeout=60)).startswith("正在排队等待人工客服：您是下一位")
        locker.close()
    assert health.status_code == 200
