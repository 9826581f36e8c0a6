"""Webhooks from the outbox to a real HTTP receiver on loopback, on SQLite and PostgreSQL.

The receiver stands in for the external ticketing system, the one thing that cannot exist here. It verifies every
signature with verify_signature and can refuse requests, drop its answers, or be down (nothing on its port).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from bot.app import create_app
from bot.database import create_ticket_engine, upgrade_schema
from bot.settings import Settings
from bot.tickets import TicketDraft, TicketService, TicketStatus
from bot.tickets.models import OutboxEvent
from bot.tickets.outbox import BackoffPolicy, DeliveryReport, OutboxDispatcher, run_dispatcher, sign, verify_signature
from tests.tickets.conftest import Clock

MakeDraft = Callable[..., TicketDraft]
SECRET = "s3cret-shared-with-the-ticketing-system"
NO_JITTER = BackoffPolicy(jitter=0)


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    event: str
    ticket_number: str
    timestamp: str
    payload: dict


class Receiver:
    """The external ticketing system: records each request, answers 2xx for a valid signature, deduplicates by
    X-Hotline-Delivery as a real receiver must, and misbehaves on request."""

    def __init__(self, secret: str, now: Callable[[], float] = time.time) -> None:
        self.secret = secret
        self.now = now
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/hotline"
        self.received: list[Delivery] = []  # every request with a valid signature, repeats included
        self.processed: dict[int, Delivery] = {}  # by delivery id: what the receiver acted on, once
        self.rejected = 0  # requests with a bad signature
        self.fail_next = 0  # answer 503 to this many requests
        self.drop_next = 0  # process this many, then hang up without answering: the 2xx is lost
        self.refuse_ticket: str | None = None  # answer 503 to every event of this ticket
        self.delay_s = 0.0
        self.requests_started = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.handle(self, body)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Go down: the port is closed, so a connection is refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        self.requests_started += 1
        headers = request.headers
        timestamp, signature = headers["X-Hotline-Timestamp"], headers["X-Hotline-Signature"]
        if headers["Content-Type"] != "application/json" or not verify_signature(
            self.secret, timestamp, body, signature, now=self.now()
        ):
            with self._lock:
                self.rejected += 1
            return _answer(request, 401)
        payload = json.loads(body)
        delivery_id, event = int(headers["X-Hotline-Delivery"]), headers["X-Hotline-Event"]
        delivery = Delivery(delivery_id, event, payload["ticket"]["number"], timestamp, payload)
        time.sleep(self.delay_s)
        with self._lock:
            self.received.append(delivery)
            if self.fail_next or delivery.ticket_number == self.refuse_ticket:
                self.fail_next = max(self.fail_next - 1, 0)
                return _answer(request, 503)
            self.processed.setdefault(delivery.delivery_id, delivery)
            if self.drop_next:
                self.drop_next -= 1
                request.close_connection = True
                return None  # processed, but the sender never hears so
        return _answer(request, 204)

    def sends_per_delivery_id(self) -> Counter[int]:
        return Counter(delivery.delivery_id for delivery in self.received)


def _answer(request: BaseHTTPRequestHandler, status: int) -> None:
    request.send_response(status)
    request.send_header("Content-Length", "0")
    request.end_headers()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def receiver(clock: Clock) -> Iterator[Receiver]:
    """A receiver whose clock is the test's, as the dispatcher's is; not started: it begins down."""
    receiver = Receiver(SECRET, now=lambda: clock().timestamp())
    yield receiver
    receiver.stop()


@pytest.fixture
def dispatcher(service: TicketService, receiver: Receiver, clock: Clock) -> Iterator[OutboxDispatcher]:
    dispatcher = OutboxDispatcher(service.engine, receiver.url, SECRET, clock=clock, timeout_s=5, backoff=NO_JITTER)
    yield dispatcher
    dispatcher.close()


def outbox_rows(service: TicketService) -> list[OutboxEvent]:
    with service.engine.connect() as connection:
        return list(connection.execute(select(OutboxEvent.__table__).order_by(OutboxEvent.id)).all())


def deliver_until_done(dispatcher: OutboxDispatcher, clock: Clock, rounds: int = 20) -> None:
    """Run rounds, each after the longest backoff (1 h) has passed, until a round finds nothing to do."""
    for _ in range(rounds):
        clock.advance(hours=1)
        report = dispatcher.deliver_due()
        if not (report.delivered or report.failed or report.held_back):
            return
    raise AssertionError("the outbox did not drain")


def file_with_history(service: TicketService, make_draft: MakeDraft) -> list[str]:
    """Three tickets, the first two with later events: 6 events, 3 on the first ticket."""
    numbers = [service.create(make_draft()).number for _ in range(3)]
    service.assign(numbers[0], "operator:王", assignee="李四")
    service.transition(numbers[0], TicketStatus.IN_PROGRESS, "operator:李四")
    service.assign(numbers[1], "operator:王", assignee="赵六")
    return numbers


def test_nothing_is_lost_while_the_receiver_is_down_and_each_event_arrives_once_in_order(
    service: TicketService, make_draft: MakeDraft, dispatcher: OutboxDispatcher, receiver: Receiver, clock: Clock
) -> None:
    numbers = file_with_history(service, make_draft)

    report = dispatcher.deliver_due()  # nothing listens on the receiver's port

    rows = outbox_rows(service)
    assert len(rows) == 6 and all(row.delivered_at is None for row in rows)
    assert all(service.get(number) is not None for number in numbers)
    # Only each ticket's first event was tried; its later ones wait behind it.
    first_events = [rows[0].id, rows[1].id, rows[2].id]
    assert list(report.failed) == first_events and report.delivered == ()
    assert sorted(report.held_back) == [row.id for row in rows[3:]]
    for row in rows:
        tried = row.id in first_events
        assert row.attempts == (1 if tried else 0)
        assert row.next_attempt_at == clock.now + timedelta(seconds=5)
        assert (row.last_error or "").startswith("ConnectError") if tried else row.last_error is None
        assert SECRET not in (row.last_error or "")
    assert dispatcher.deliver_due() == DeliveryReport()  # nothing is due before the backoff ends

    receiver.start()
    deliver_until_done(dispatcher, clock)

    assert receiver.rejected == 0
    assert receiver.sends_per_delivery_id() == Counter({row.id: 1 for row in rows})
    for number in numbers:
        events = [(d.delivery_id, d.event) for d in receiver.received if d.ticket_number == number]
        assert events == [(row.id, row.event) for row in rows if row.ticket_number == number]
    assert [d.event for d in receiver.received if d.ticket_number == numbers[0]] == [
        "ticket.created",
        "ticket.status_changed",
        "ticket.status_changed",
    ]
    assert [d.payload["ticket"]["status"] for d in receiver.received if d.ticket_number == numbers[0]] == [
        "received",
        "assigned",
        "in_progress",
    ]
    assert all(row.delivered_at is not None and row.last_error is None for row in outbox_rows(service))


def test_backoff_doubles_from_five_seconds_and_is_capped(
    service: TicketService, make_draft: MakeDraft, receiver: Receiver, clock: Clock
) -> None:
    service.create(make_draft())
    receiver.start()
    receiver.fail_next = 1_000
    backoff = BackoffPolicy(base=timedelta(seconds=5), cap=timedelta(minutes=1), jitter=0)
    dispatcher = OutboxDispatcher(service.engine, receiver.url, SECRET, clock=clock, backoff=backoff)

    waits = []
    for _ in range(7):
        assert dispatcher.deliver_due().failed
        (row,) = outbox_rows(service)
        waits.append((row.next_attempt_at - clock.now).total_seconds())
        clock.now = row.next_attempt_at
    dispatcher.close()

    assert waits == [5, 10, 20, 40, 60, 60, 60]
    assert (row.attempts, row.last_error, row.delivered_at) == (7, "HTTP 503", None)
    assert len(receiver.received) == 7


def test_backoff_policy_jitter_and_huge_attempt_counts() -> None:
    policy = BackoffPolicy(base=timedelta(seconds=5), cap=timedelta(hours=1), jitter=0.2)
    assert policy.delay(1, rand=0.0) == timedelta(seconds=5)
    assert policy.delay(2, rand=0.5) == timedelta(seconds=9)  # 10 s less 10 %
    assert policy.delay(10_000, rand=0.0) == timedelta(hours=1)  # no overflow after months of failures
    assert timedelta(minutes=48) <= policy.delay(10_000, rand=0.999) <= timedelta(hours=1)


def test_a_wrong_secret_is_rejected_by_the_receiver(
    service: TicketService, make_draft: MakeDraft, receiver: Receiver, clock: Clock
) -> None:
    service.create(make_draft())
    receiver.start()
    impostor = OutboxDispatcher(service.engine, receiver.url, "not-the-secret", clock=clock)

    report = impostor.deliver_due()
    impostor.close()

    assert report.failed and not report.delivered
    assert receiver.rejected == 1 and receiver.received == []
    (row,) = outbox_rows(service)
    assert (row.delivered_at, row.last_error) == (None, "HTTP 401")


def test_verify_signature() -> None:
    body = '{"event": "ticket.created", "note": "投诉"}'.encode()
    signature = sign(SECRET, "1795000000", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature(SECRET, "1795000000", body, signature, now=1795000000)
    assert verify_signature(SECRET, "1795000000", body, signature, now=1795000000 + 299)
    assert not verify_signature(SECRET, "1795000000", body, signature, now=1795000000 + 301)  # a replay
    assert not verify_signature(SECRET, "1795000001", body, signature, now=1795000000)  # timestamp is signed
    assert not verify_signature(SECRET, "1795000000", body + b" ", signature, now=1795000000)
    assert not verify_signature("other", "1795000000", body, signature, now=1795000000)
    assert not verify_signature(SECRET, "1795000000", body, "sha256=签名", now=1795000000)
    assert not verify_signature(SECRET, "yesterday", body, signature)
    assert verify_signature(SECRET, "1795000000", body, signature, max_age_s=None)


def test_a_lost_answer_means_a_redelivery_with_the_same_delivery_id(
    service: TicketService, make_draft: MakeDraft, dispatcher: OutboxDispatcher, receiver: Receiver, clock: Clock
) -> None:
    service.create(make_draft())
    receiver.start()
    receiver.drop_next = 1

    first = dispatcher.deliver_due()
    clock.advance(seconds=5)
    second = dispatcher.deliver_due()

    (row,) = outbox_rows(service)
    assert first.failed == (row.id,) and second.delivered == (row.id,)
    assert [d.delivery_id for d in receiver.received] == [row.id, row.id]
    assert receiver.received[0].timestamp != receiver.received[1].timestamp  # signed afresh for each attempt
    assert list(receiver.processed) == [row.id]  # the receiver acted once
    assert row.delivered_at == clock.now and row.attempts == 1


def test_a_failing_event_holds_back_only_its_own_ticket(
    service: TicketService, make_draft: MakeDraft, dispatcher: OutboxDispatcher, receiver: Receiver, clock: Clock
) -> None:
    stuck, _other = (service.create(make_draft()).number for _ in range(2))
    service.assign(stuck, "operator:王", assignee="李四")
    receiver.start()
    receiver.refuse_ticket = stuck

    report = dispatcher.deliver_due()

    created, created_other, assigned = outbox_rows(service)
    assert report.failed == (created.id,) and report.delivered == (created_other.id,)
    assert report.held_back == (assigned.id,)
    assert [d.delivery_id for d in receiver.received] == [created.id, created_other.id]  # never the later one
    assert assigned.next_attempt_at == created.next_attempt_at  # it waits with its ticket, not a lease
    assert assigned.attempts == 0

    receiver.refuse_ticket = None
    clock.advance(seconds=5)
    assert dispatcher.deliver_due().delivered == (created.id, assigned.id)
    resent = [d.delivery_id for d in receiver.received if d.ticket_number == stuck]
    assert resent == [created.id, created.id, assigned.id]


def test_a_later_event_never_overtakes_one_waiting_for_its_retry(
    service: TicketService, make_draft: MakeDraft, dispatcher: OutboxDispatcher, receiver: Receiver, clock: Clock
) -> None:
    number = service.create(make_draft()).number
    assert dispatcher.deliver_due().failed  # the receiver is down; ticket.created waits 5 s
    receiver.start()
    clock.advance(seconds=1)
    service.assign(number, "operator:王", assignee="李四")  # due at once, but behind ticket.created

    assert dispatcher.deliver_due() == DeliveryReport()
    clock.advance(seconds=4)
    created, assigned = outbox_rows(service)
    assert dispatcher.deliver_due().delivered == (created.id, assigned.id)
    assert [d.delivery_id for d in receiver.received] == [created.id, assigned.id]


def test_tickets_are_filed_while_the_receiver_hangs(
    service: TicketService, make_draft: MakeDraft, dispatcher: OutboxDispatcher, receiver: Receiver
) -> None:
    """No transaction is open across a request: on SQLite it would hold the write lock the action server needs."""
    service.create(make_draft())
    receiver.start()
    receiver.delay_s = 3.0
    sending = threading.Thread(target=dispatcher.deliver_due)
    sending.start()
    while not receiver.requests_started:
        time.sleep(0.01)

    started = time.monotonic()
    service.create(make_draft())
    service.assign(service.list()[0].number, "operator:王", assignee="李四")
    elapsed = time.monotonic() - started
    sending.join()

    assert elapsed < 1.0, f"filing waited {elapsed:.1f} s for the webhook"
    assert len(receiver.processed) == 1


def test_two_dispatchers_never_send_one_row_twice(
    database_url: str, service: TicketService, make_draft: MakeDraft, receiver: Receiver, clock: Clock
) -> None:
    for _ in range(12):
        number = service.create(make_draft()).number
        service.assign(number, "operator:王", assignee="李四")
        service.transition(number, TicketStatus.IN_PROGRESS, "operator:李四")
    receiver.start()
    receiver.delay_s = 0.01  # long enough that the two interleave
    # Two engines, as two gateway processes would have.
    engines = [create_ticket_engine(database_url) for _ in range(2)]
    dispatchers = [OutboxDispatcher(e, receiver.url, SECRET, clock=clock, batch_size=4) for e in engines]
    start = threading.Barrier(2)
    sent: list[list[int]] = [[], []]

    def run(index: int) -> None:
        start.wait()
        while report := dispatchers[index].deliver_due():
            if not (report.delivered or report.failed or report.held_back):
                break
            sent[index].extend(report.delivered)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for dispatcher, engine in zip(dispatchers, engines, strict=True):
        dispatcher.close()
        engine.dispose()

    rows = outbox_rows(service)
    assert len(rows) == 36 and all(row.delivered_at is not None for row in rows)
    assert receiver.sends_per_delivery_id() == Counter({row.id: 1 for row in rows})
    assert sorted(sent[0] + sent[1]) == [row.id for row in rows]
    assert sent[0] and sent[1], "both dispatchers took part"
    for number in {row.ticket_number for row in rows}:
        arrived = [d.delivery_id for d in receiver.received if d.ticket_number == number]
        assert arrived == sorted(arrived)


def test_the_background_loop_survives_a_failing_round(database_url: str, make_draft: MakeDraft) -> None:
    """The loop starts before the schema exists (every round fails), keeps going, and delivers once it does."""
    receiver = Receiver(SECRET)
    receiver.start()
    engine = create_ticket_engine(database_url)
    dispatcher = OutboxDispatcher(engine, receiver.url, SECRET)

    async def scenario() -> None:
        loop = asyncio.create_task(run_dispatcher(dispatcher, interval_s=0.02))
        await asyncio.sleep(0.1)
        assert not loop.done()
        await asyncio.to_thread(upgrade_schema, engine)
        await asyncio.to_thread(TicketService(engine).create, make_draft())
        for _ in range(250):
            if receiver.processed:
                break
            await asyncio.sleep(0.02)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop

    try:
        asyncio.run(scenario())
    finally:
        dispatcher.close()
        engine.dispose()
        receiver.stop()
    assert [d.event for d in receiver.processed.values()] == ["ticket.created"]


def test_the_gateway_sends_webhooks_while_it_runs(database_url: str, make_draft: MakeDraft) -> None:
    receiver = Receiver(SECRET)
    receiver.start()
    settings = Settings(
        DATABASE_URL=database_url, webhook_url=receiver.url, webhook_secret=SECRET, webhook_interval_s=0.05
    )
    try:
        with TestClient(create_app(settings)) as client:
            number = client.app.state.tickets.create(make_draft()).number
            for _ in range(200):
                if receiver.processed:
                    break
                time.sleep(0.05)
    finally:
        receiver.stop()

    assert receiver.rejected == 0
    assert [(d.event, d.ticket_number) for d in receiver.processed.values()] == [("ticket.created", number)]


def test_a_webhook_url_without_a_secret_is_a_startup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_WEBHOOK_URL", "https://tickets.example.org/hooks")
    monkeypatch.delenv("HOTLINE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ValidationError, match="HOTLINE_WEBHOOK_SECRET is required"):
        Settings()
    monkeypatch.setenv("HOTLINE_WEBHOOK_SECRET", SECRET)
    settings = Settings()
    assert settings.webhook_secret is not None and SECRET not in repr(settings)


def test_a_dispatcher_refuses_what_it_cannot_use(service: TicketService) -> None:
    with pytest.raises(ValueError, match="secret"):
        OutboxDispatcher(service.engine, "https://tickets.example.org/hooks", "")
    with pytest.raises(ValueError, match="http"):
        OutboxDispatcher(service.engine, "tickets.example.org/hooks", SECRET)
    dispatcher = OutboxDispatcher(service.engine, "https://tickets.example.org/hooks", SECRET)
    assert SECRET not in repr(dispatcher)
    dispatcher.close()
