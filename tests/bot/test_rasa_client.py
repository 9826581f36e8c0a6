"""Sender-pinned routing to several Rasa workers: real HTTP servers on loopback stand in for them."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.conversation.rasa_client import RasaClient, worker_for
from bot.settings import Settings
from bot.up import Ports, RasaOptions, services


class FakeRasa(ThreadingHTTPServer):
    """Answers our channel's webhook, and remembers which senders it served."""

    request_queue_size = 128  # the default backlog of 5 refuses some of 60 concurrent connections

    def __init__(self) -> None:
        self.senders: list[str] = []
        super().__init__(("127.0.0.1", 0), _Webhook)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Webhook(BaseHTTPRequestHandler):
    server: FakeRasa

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.senders.append(body["sender"])
        reply = json.dumps({"messages": [{"text": self.server.url}], "intent": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *_: object) -> None:  # sender ids stay out of the test output
        pass


@pytest.fixture
def workers() -> Iterator[list[FakeRasa]]:
    servers = [FakeRasa() for _ in range(3)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_each_sender_always_reaches_the_same_worker(workers):
    senders = [f"citizen-{i}" for i in range(60)]

    async def talk() -> None:
        client = RasaClient([w.url for w in workers])
        try:
            for _ in range(3):  # three turns each, interleaved across senders
                await asyncio.gather(*(client.send(s, "你好", {}) for s in senders))
        finally:
            await client.aclose()

    asyncio.run(talk())
    served_by = {s: [i for i, w in enumerate(workers) if s in w.senders] for s in senders}
    assert all(len(ws) == 1 for ws in served_by.values()), "a sender reached two workers"
    assert all(served_by[s] == [worker_for(s, len(workers))] for s in senders)
    assert all(len(w.senders) >= 10 for w in workers), [len(w.senders) for w in workers]  # spread, roughly even


def test_the_pinning_is_stable_across_processes_and_releases():
    # Fixed values: changing the hash would move live conversations to a worker without their tracker cache.
    assert [worker_for(f"s{i}", 2) for i in range(8)] == [1, 0, 0, 0, 0, 0, 1, 1]
    assert [worker_for(s, 3) for s in ("web-1234", "电话-5678")] == [2, 2]
    assert {worker_for(f"s{i}", 1) for i in range(20)} == {0}


def test_hotline_up_starts_one_rasa_per_worker_and_tells_the_gateway(tmp_path: Path):
    started = services("127.0.0.1", Ports(8000, 6000, 6100), tmp_path, tmp_path, tmp_path, RasaOptions(workers=2))
    rasa = [s for s in started if s.name.startswith("rasa")]
    assert [s.name for s in rasa] == ["rasa-0", "rasa-1"]
    assert [s.command[s.command.index("--port") + 1] for s in rasa] == ["6000", "6001"]
    assert {s.env["HOTLINE_TRACKER_DB"] for s in rasa} == {str(tmp_path / "rasa-trackers.db")}
    gateway = started[-1]
    settings = Settings(rasa_url=gateway.env["HOTLINE_RASA_URL"])
    assert settings.rasa_urls == ["http://127.0.0.1:6000", "http://127.0.0.1:6001"]


def test_one_worker_keeps_the_plain_service_name(tmp_path: Path):
    started = services("127.0.0.1", Ports(), tmp_path, tmp_path, tmp_path)
    assert [s.name for s in started] == ["rasa", "actions", "gateway"]
    assert started[0].env["HOTLINE_TRACKER_STORE"] == "rasa_addons.tracker_store.CachedSQLTrackerStore"
