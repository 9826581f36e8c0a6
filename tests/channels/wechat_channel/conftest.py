"""Fixtures for the channels: WeChat's fake API, and a stand-in for Rasa that records what it was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import serve_in_thread
from bot.settings import Settings
from bot.supervisor import free_port
from tests.channels.wechat_channel.wechat_platform import FakeWeChatApi, WeChatPlatform, wechat_env, wechat_settings
from tests.stack import StackDidNotStart, hotline_up


class RecordingRasa:
    """Rasa's webhook answering every turn with `answer`, recording each (sender, message). While `gate` is
    clear, turns wait for it: a test holds a turn open for as long as it needs, without sleeping."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {"messages": [{"text": "您好"}], "intent": {"name": "greet", "confidence": 0.9}}
        self.turns: list[tuple[str, str]] = []
        self.gate = threading.Event()
        self.gate.set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                if self.path.startswith("/webhooks/hotline/webhook"):
                    fake.turns.append((request.get("sender", ""), request.get("message", "")))
                    fake.gate.wait(60)
                body = json.dumps(fake.answer, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def messages(self) -> list[str]:
        return [message for _, message in self.turns]

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rasa() -> Iterator[RecordingRasa]:
    fake = RecordingRasa()
    yield fake
    fake.close()


@pytest.fixture
def wechat_api() -> Iterator[FakeWeChatApi]:
    fake = FakeWeChatApi()
    yield fake
    fake.close()


@pytest.fixture
def platform() -> WeChatPlatform:
    return WeChatPlatform()


def gateway_settings(database_url: str, rasa_url: str, api_url: str, **more: Any) -> Settings:
    """A gateway's settings with the WeChat channel on (the account of wechat_platform)."""
    return Settings(
        **{**wechat_settings(api_url), **more},
        database_url=database_url,
        rasa_url=rasa_url,
        rasa_timeout_s=30,
        index=Path("/nonexistent"),
    )


@contextmanager
def wechat_gateway(database_url: str, rasa_url: str, api_url: str, **more: Any) -> Iterator[tuple[str, httpx.Client]]:
    """A gateway over real HTTP with the WeChat channel on, and a client."""
    settings = gateway_settings(database_url, rasa_url, api_url, **more)
    with serve_in_thread(settings) as url, httpx.Client(timeout=60, trust_env=False) as http:
        yield url, http


@dataclass(frozen=True)
class WeChatStack:
    """`hotline up` with the WeChat channel on: real Rasa with the trained model, real actions, a real index."""

    url: str
    rasa_url: str
    database_url: str
    index: Path
    conversation_key: str
    api: FakeWeChatApi


@pytest.fixture(scope="module")
def wechat_stack(tmp_path_factory, trained_model, knowledge_index) -> Iterator[WeChatStack]:
    """One stack for a module's tests (a stack costs minutes and a gigabyte): the shared hotline_stack started
    the same way, plus the WeChat settings and a fake WeChat API it sends to."""
    var = tmp_path_factory.mktemp("wechat-var")
    database_url = f"sqlite:///{var / 'hotline.db'}"
    ports = (free_port(), free_port(), free_port())
    api = FakeWeChatApi()
    env = {"DATABASE_URL": database_url, **wechat_env(api.url)}
    try:
        with hotline_up(knowledge_index, var, env, ports=ports, log=var.parent / "wechat-hotline-up.log") as url:
            key = (var / "conversation.key").read_text(encoding="ascii").strip()
            yield WeChatStack(url, f"http://127.0.0.1:{ports[1]}", database_url, knowledge_index, key, api)
    except StackDidNotStart as exc:
        pytest.fail(str(exc))
    finally:
        api.close()
