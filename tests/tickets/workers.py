"""Entry points for the separate processes the concurrency and crash tests start (spawned, so importable)."""

from __future__ import annotations

import os
import signal
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from bot.tickets import TicketDraft, TicketKind, open_ticket_service


def draft(key: str, sender: str, phone: str = "010-12345678") -> TicketDraft:
    return TicketDraft(
        kind=TicketKind.REPORT,
        description="小区旁边的诊所没有执业许可还在给人输液",
        location="海淀区",
        occurred_at="今天上午",
        subject="无名诊所",
        name=None,
        phone=phone,
        consent_to_contact=False,
        channel="phone",
        sender_id=sender,
        idempotency_key=key,
    )


def file_tickets(
    database_url: str, now: str, writer: str, first_phone: int, count: int, go: Event, results: Connection
) -> None:
    """Wait for the start signal, open the store (racing the other writer to migrate it) and file `count` tickets,
    each from another citizen (phones from 010-`first_phone` up), so none is linked to another as a repeat."""
    go.wait()
    service = open_ticket_service(database_url, clock=lambda: datetime.fromisoformat(now))
    drafts = [draft(f"{writer}-{i}", writer, f"010-{first_phone + i}") for i in range(count)]
    numbers = [service.create(each).number for each in drafts]
    service.close()
    results.send(numbers)
    results.close()


def file_and_die(database_url: str, results: Connection) -> None:
    """File one ticket, report the receipt, then die without any cleanup, like a killed action server."""
    service = open_ticket_service(database_url)
    receipt = service.create(draft("crash-1", "crash"))
    results.send(receipt.number)
    os.kill(os.getpid(), signal.SIGKILL)
