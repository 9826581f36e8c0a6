"""Webhooks to the external ticketing system, sent from the transactional outbox.

TicketService writes one `outbox` row in the same transaction as every change to a ticket; OutboxDispatcher sends
those rows, and run_dispatcher does that in the background of the gateway (started only when HOTLINE_WEBHOOK_URL
is set).

What a receiver implements
--------------------------
Each event is one ``POST`` to the webhook URL. The body is the row's JSON payload, UTF-8, byte for byte as stored.

    Content-Type:        application/json
    X-Hotline-Event:     ticket.created | ticket.status_changed | ticket.assigned | ticket.followup | …
    X-Hotline-Delivery:  the outbox id, e.g. 42: the idempotency key of this event
    X-Hotline-Timestamp: Unix seconds when this attempt was sent
    X-Hotline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The receiver recomputes the HMAC over the raw body bytes, before parsing them, and compares in constant time; it
refuses a timestamp more than five minutes from its own clock, so a captured request cannot be replayed later.
`verify_signature` does all three. Any 2xx means accepted. Anything else, a timeout or a network error means the
event is sent again later, with a new timestamp and signature and the same delivery id.

Delivery semantics: at least once, with a stable delivery id
------------------------------------------------------------
A row stays in the outbox until a 2xx is recorded for it, so an event is never lost: while the receiver is down,
tickets are still filed and their events wait, retried with exponential backoff (5 s, 10 s, 20 s, … capped at
1 h; never given up: `attempts` and `last_error` show an operator what is stuck). If the 2xx is lost on the way
back, or the gateway dies between sending and recording, the event is sent again with the same
X-Hotline-Delivery: a receiver treats a delivery id it has already processed as done and answers 2xx again.

Ordering
--------
Per ticket, events are sent in outbox id order, and a ticket's event is sent only after every earlier event of
that ticket has been delivered: a failing event holds back the later events of its ticket, and only of its
ticket. There is no order across tickets.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, Row, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.background import in_background, run_every
from bot.database import READ_ONLY
from bot.tickets.models import OutboxEvent
from bot.tickets.service import utc_now

logger = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
#: How far a receiver lets X-Hotline-Timestamp be from its own clock.
MAX_SIGNATURE_AGE_S = 300.0
_ERROR_MAX = 200


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The X-Hotline-Signature value for `body` sent at `timestamp` (Unix seconds, as a string)."""
    digest = hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age_s: float | None = MAX_SIGNATURE_AGE_S,
    now: float | None = None,
) -> bool:
    """For receivers: True if `signature` signs `timestamp` and the raw `body` with `secret`, and `timestamp` is
    within `max_age_s` of `now` (default: the current time; None: no age check)."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if max_age_s is not None and abs((time.time() if now is None else now) - sent_at) > max_age_s:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header can hold anything.
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())


@dataclass(frozen=True)
class BackoffPolicy:
    """The wait after the n-th failed attempt: base · factor^(n-1), capped, less up to `jitter` of it at random
    so that many events that failed together (the receiver was down) do not all retry in the same second."""

    base: timedelta = timedelta(seconds=5)
    factor: float = 2.0
    cap: timedelta = timedelta(hours=1)
    jitter: float = 0.1

    def delay(self, attempts: int, rand: float = 0.0) -> timedelta:
        """The wait after `attempts` failures (≥ 1); `rand` in [0, 1) picks the jitter."""
        exponent = max(attempts - 1, 0)
        # Compared in seconds before multiplying out: factor ** 1000 would overflow a timedelta.
        seconds = self.cap.total_seconds()
        if exponent < 64:
            seconds = min(seconds, self.base.total_seconds() * self.factor**exponent)
        return timedelta(seconds=seconds * (1 - self.jitter * rand))


@dataclass(frozen=True)
class DeliveryReport:
    """What one deliver_due round did, by outbox id."""

    delivered: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
    #: Claimed but not sent: behind a failed event of the same ticket, or left when the dispatcher was stopped.
    held_back: tuple[int, ...] = ()


class OutboxDispatcher:
    """Sends due outbox rows to one webhook URL, signed with one secret. Safe to run in several processes.

    A round claims rows, then sends them, then records each outcome, in three steps: no database transaction is
    open while a request is in flight. On SQLite a transaction that writes holds the one write lock of the file
    (BEGIN IMMEDIATE, bot/database.py), so holding it across a request to a receiver that hangs would
    stall every ticket the action server tries to file for as long as the request takes. Instead the claim is a
    lease written into the row: a short transaction moves `next_attempt_at` of the claimed rows forward by the
    lease, so no other dispatcher finds them due until the lease ends, and the outcome is recorded in another
    short transaction per row. On PostgreSQL the claiming SELECT also takes the rows FOR UPDATE SKIP LOCKED, so
    two dispatchers claiming at the same moment take disjoint rows instead of queueing on each other; on SQLite
    the write lock already serialises the claims. The lease outlasts the longest a batch may take (each request
    bounded by the timeout) and the dispatcher stops sending when the rest of its lease is too short for another
    request: a row is sent by one dispatcher at a time, and a dispatcher that dies leaves its rows to be claimed
    again when the lease ends. A response that trickles in slower than the timeout per read could outlive the
    lease; the worst that does is a duplicate, which the delivery id makes harmless.
    """

    def __init__(
        self,
        engine: Engine,
        url: str,
        secret: str | bytes,
        *,
        clock: Callable[[], datetime] = utc_now,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
        batch_size: int = 10,
        backoff: BackoffPolicy | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not secret:
            raise ValueError("a webhook secret is required")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if httpx.URL(url).scheme not in ("http", "https"):
            # Said at startup: a bad URL found at the first request would fail every round, quietly.
            raise ValueError("the webhook URL must be http:// or https://")
        self._url = url
        self._key = _key(secret)
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout_s)
        # httpx times connect, write and read apart, so one request may take up to three timeouts.
        self._request_budget_s = 3 * _longest_timeout(self._client.timeout, timeout_s)
        self._batch_size = batch_size
        self._lease = timedelta(seconds=batch_size * self._request_budget_s + 30)
        self._backoff = backoff or BackoffPolicy()
        self._rand = rand
        self._stopping = threading.Event()
        self._sessions = sessionmaker(engine)
        self._read_sessions = sessionmaker(engine.execution_options(**{READ_ONLY: True}))

    def __repr__(self) -> str:  # never the secret
        return f"OutboxDispatcher(batch_size={self._batch_size})"

    def stop(self) -> None:
        """Finish the request in flight, then send no more: a round in progress hands its other rows back."""
        self._stopping.set()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def deliver_due(self) -> DeliveryReport:
        """Send the due, undelivered rows (at most one batch) in id order and record each outcome."""
        if self._stopping.is_set() or not self._anything_due():
            return DeliveryReport()
        claimed_at = time.monotonic()
        rows = self._claim()
        delivered: list[int] = []
        failed: list[int] = []
        # Ticket → when its failed event is retried: its later events wait for it.
        retry_at: dict[str, datetime] = {}
        unsent: list[Row] = []
        for row in rows:
            if row.ticket_number in retry_at:
                unsent.append(row)
                continue
            out_of_lease = time.monotonic() - claimed_at + self._request_budget_s > self._lease.total_seconds()
            if self._stopping.is_set() or out_of_lease:
                unsent.append(row)
                continue
            error = self._send(row)
            if error is None:
                self._record_delivered(row.id)
                delivered.append(row.id)
            else:
                retry_at[row.ticket_number] = self._record_failed(row, error)
                failed.append(row.id)
        if unsent:
            self._hand_back(unsent, retry_at)
        return DeliveryReport(tuple(delivered), tuple(failed), tuple(row.id for row in unsent))

    # --- the three steps ------------------------------------------------------------------------------------

    def _anything_due(self) -> bool:
        # A read first: on SQLite an idle poll must not take the write lock the action server needs every second.
        with self._read_sessions() as session:
            return session.scalar(select(OutboxEvent.id).where(*_due(self._clock())).limit(1)) is not None

    def _claim(self) -> Sequence[Row]:
        now = self._clock()
        with self._sessions.begin() as session:
            candidates = session.execute(
                select(OutboxEvent.id, OutboxEvent.event, OutboxEvent.ticket_number, OutboxEvent.payload)
                .where(*_due(now))
                .order_by(OutboxEvent.id)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has no row locks and ignores it
            ).all()
            claimable = _in_ticket_order(session, candidates)
            if claimable:
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(claimable))
                    .values(next_attempt_at=now + self._lease)
                    .execution_options(synchronize_session=False)
                )
        return [row for row in candidates if row.id in claimable]

    def _send(self, row: Row) -> str | None:
        """POST one event; None if the receiver accepted it, else a short reason (never a header, so never the
        signature, and never the response body, which the receiver controls)."""
        body = row.payload.encode()
        timestamp = str(int(self._clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-Hotline-Event": row.event,
            "X-Hotline-Delivery": str(row.id),
            "X-Hotline-Timestamp": timestamp,
            "X-Hotline-Signature": sign(self._key, timestamp, body),
        }
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            logger.warning("webhook %s for ticket %s not sent: %s", row.id, row.ticket_number, type(error).__name__)
            return reason[:_ERROR_MAX]
        if response.is_success:
            return None
        logger.warning("webhook %s for ticket %s refused: HTTP %s", row.id, row.ticket_number, response.status_code)
        return f"HTTP {response.status_code}"

    def _record_delivered(self, outbox_id: int) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == outbox_id)
                .values(delivered_at=self._clock(), last_error=None)
                .execution_options(synchronize_session=False)
            )

    def _record_failed(self, row: Row, error: str) -> datetime:
        """Count the failure and schedule the retry; returns when the retry is due."""
        with self._sessions.begin() as session:
            attempts = 1 + session.scalar(select(OutboxEvent.attempts).where(OutboxEvent.id == row.id))
            retry_at = self._clock() + self._backoff.delay(attempts, self._rand())
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == row.id, OutboxEvent.delivered_at.is_(None))
                .values(attempts=attempts, next_attempt_at=retry_at, last_error=error)
                .execution_options(synchronize_session=False)
            )
        return retry_at

    def _hand_back(self, rows: Sequence[Row], retry_at: dict[str, datetime]) -> None:
        """End the lease of rows claimed but not sent: due with their ticket's failed event, or due now."""
        now = self._clock()
        with self._sessions.begin() as session:
            for row in rows:
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == row.id, OutboxEvent.delivered_at.is_(None))
                    .values(next_attempt_at=retry_at.get(row.ticket_number, now))
                    .execution_options(synchronize_session=False)
                )


def _due(now: datetime) -> tuple:
    return (OutboxEvent.delivered_at.is_(None), OutboxEvent.next_attempt_at <= now)


def _in_ticket_order(session: Session, candidates: Sequence[Row]) -> set[int]:
    """The candidates that may be sent now: per ticket, those with no earlier undelivered event outside the batch.

    An earlier event outside the batch is waiting for its retry, or claimed by another dispatcher (leased, or
    locked by a claim in progress and so skipped here): sending the later one first would reorder the ticket.
    """
    if not candidates:
        return set()
    candidate_ids = {row.id for row in candidates}
    undelivered = session.execute(
        select(OutboxEvent.id, OutboxEvent.ticket_number)
        .where(OutboxEvent.ticket_number.in_({row.ticket_number for row in candidates}))
        .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.id <= max(candidate_ids))
        .order_by(OutboxEvent.id)
    ).all()
    blocked: set[str] = set()
    claimable: set[int] = set()
    for row in undelivered:
        if row.ticket_number in blocked:
            continue
        if row.id in candidate_ids:
            claimable.add(row.id)
        else:
            blocked.add(row.ticket_number)
    return claimable


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _longest_timeout(timeout: httpx.Timeout, default: float) -> float:
    phases = (timeout.connect, timeout.write, timeout.read, timeout.pool)
    return max((phase for phase in phases if phase is not None), default=default)


async def run_dispatcher(dispatcher: OutboxDispatcher, interval_s: float) -> None:
    """Deliver what is due every `interval_s` seconds until cancelled (bot/background.py: a failed round is tried
    again next time; on cancellation the round in flight finishes its current request and hands its other rows
    back)."""
    await run_every(interval_s, dispatcher.deliver_due, what="webhook round", stop=dispatcher.stop, done=_log_round)


def _log_round(report: DeliveryReport) -> None:
    if report.delivered or report.failed:
        logger.info("webhooks: %d delivered, %d failed", len(report.delivered), len(report.failed))


def dispatching(dispatcher: OutboxDispatcher, interval_s: float) -> AbstractAsyncContextManager[None]:
    """Run `dispatcher` in the background for the duration of the block; stop it cleanly and close it after."""
    return in_background(
        lambda: run_dispatcher(dispatcher, interval_s), name="outbox-dispatcher", close=dispatcher.close
    )
