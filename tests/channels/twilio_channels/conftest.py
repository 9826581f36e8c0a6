"""Fixtures for the channels: a fake of Twilio's REST API, a fake Rasa that records what reached it, and the real
stack started with the Twilio channels on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.channels.twilio_channels.twilio_client import FakeTwilioApi, twilio_env
from tests.conftest import Stack, running_stack


class RecordingRasa:
    """Rasa's webhook on loopback: answers with the body the test sets and records every message it was sent."""

    def __init__(self) -> None:
        self.body: dict[str, Any] = {"messages": [], "intent": None, "slots_set": {}}
        self.received: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                fake.received.append(json.loads(self.rfile.read(length) or b"{}"))
                data = json.dumps(fake.body, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # the health probe
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, text: str, *, citations: list[dict[str, str]] | None = None, **more: Any) -> None:
        messages: list[dict[str, Any]] = [{"text": text, "buttons": more.pop("buttons", [])}]
        if citations:
            messages.append({"custom": {"citations": citations}})
        self.body = {"messages": messages, "intent": {"name": "ask_service", "confidence": 0.97}, "slots_set": {}}
        self.body.update(more)

    def texts(self) -> list[str]:
        return [message["message"] for message in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rasa() -> Iterator[RecordingRasa]:
    fake = RecordingRasa()
    yield fake
    fake.close()


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    fake = FakeTwilioApi()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def stack_twilio_api() -> Iterator[FakeTwilioApi]:
    fake = FakeTwilioApi()
    yield fake
    fake.close()


#: The stack's duty number for emergencies: a caller who stays on the line is put through to it.
DUTY_NUMBER = "+8657100000120"


@pytest.fixture(scope="session")
def twilio_stack(tmp_path_factory, trained_model, knowledge_index, stack_twilio_api) -> Iterator[Stack]:
    """`hotline up` (real Rasa, actions, index, gateway) with the Twilio channels on, its REST API a local fake."""
    var = tmp_path_factory.mktemp("twilio-var")
    database_url = f"sqlite:///{var / 'hotline.db'}"
    env = twilio_env(stack_twilio_api.url, HOTLINE_TWILIO_DUTY_NUMBER=DUTY_NUMBER)
    with running_stack(knowledge_index, var, {"DATABASE_URL": database_url}, database_url, extra_env=env) as stack:
        yield stack
