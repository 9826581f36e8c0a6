"""Ticket creation throughput: in the store and through the operator API, on SQLite and on PostgreSQL.

Every created ticket is a committed transaction with its number, contact row, audit row and outbox row, and
the duplicate / hot-spot checks against recent tickets. All variants run in one process, one after another,
on fresh databases, so ratios are comparable even on a noisy machine.

    .venv/bin/python benchmarks/tickets.py [--tickets 400] [--postgres URL]   (default: TEST_DATABASE_URL)
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import percentile_ms, publish_report, table

from bot.app import serve_in_thread
from bot.auth import Role, TokenStore
from bot.settings import Settings
from bot.supervisor import free_port
from bot.tickets import TicketDraft, TicketKind, open_ticket_service

# Distinct matters from distinct citizens, so none is linked as a repeat; descriptions vary like real ones.
TOPICS = ["挂号费多收", "药店卖过期药", "医院停车乱收费", "疫苗接种预约不上", "诊所无证行医", "救护车收费不透明"]


def draft(i: int, run: str) -> TicketDraft:
    return TicketDraft(
        kind=TicketKind.COMPLAINT,
        description=f"{TOPICS[i % len(TOPICS)]}，第{i}位市民反映，编号{run}-{i}",
        location=f"某区某街道{i}号",
        occurred_at="上周",
        subject="某单位",
        name=None,
        phone=f"139{i:08d}",
        consent_to_contact=True,
        channel="web",
        sender_id=f"bench-{run}",
        idempotency_key=f"{run}-{i}",
    )


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'hotline.db'}"


@contextmanager
def postgres_url(base: str) -> Iterator[str]:
    """A schema of its own, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def timed(calls: list[Callable[[], object]], threads: int) -> tuple[float, list[float]]:
    """Wall time for all calls on `threads` threads, and each call's latency."""
    latencies: list[float] = []

    def run(call: Callable[[], object]) -> None:
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, calls))
    return time.perf_counter() - started, latencies


def store_run(url: str, count: int, threads: int) -> tuple[float, list[float]]:
    service = open_ticket_service(url)
    try:
        run = uuid.uuid4().hex[:6]
        return timed([lambda i=i: service.create(draft(i, run)) for i in range(count)], threads)
    finally:
        service.close()


def api_run(url: str, count: int, threads: int) -> tuple[float, list[float]]:
    settings = Settings(
        database_url=url,
        rasa_url=f"http://127.0.0.1:{free_port()}",
        conversation_key=os.environ.get("HOTLINE_CONVERSATION_KEY") or secrets.token_urlsafe(32),
    )
    with serve_in_thread(settings) as base:
        return _post_tickets(base, url, count, threads)


def _post_tickets(base: str, url: str, count: int, threads: int) -> tuple[float, list[float]]:
    store = open_ticket_service(url)
    token = TokenStore(store.engine).issue(f"bench-{uuid.uuid4().hex[:6]}", Role.OPERATOR)
    store.close()
    run = uuid.uuid4().hex[:6]
    client = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=threads))

    def create(i: int) -> None:
        body = draft(i, run)
        response = client.post(
            "/api/tickets",
            json={
                "kind": body.kind,
                "description": body.description,
                "location": body.location,
                "phone": body.phone,
                "channel": body.channel,
            },
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": body.idempotency_key},
        )
        response.raise_for_status()

    try:
        return timed([lambda i=i: create(i) for i in range(count)], threads)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()

    backends: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = [("SQLite (WAL)", sqlite_url)]
    if args.postgres:
        backends.append(("PostgreSQL", lambda: postgres_url(args.postgres)))
    rows, baseline = [], None
    for backend, make_url_for in backends:
        for path, runner in (("store", store_run), ("API", api_run)):
            for threads in (1, 8):
                with make_url_for() as url:
                    wall, latencies = runner(url, args.tickets, threads)
                rate = args.tickets / wall
                baseline = baseline or rate
                rows.append(
                    (
                        backend,
                        path,
                        threads,
                        round(rate, 1),
                        f"{rate / baseline:.2f}",
                        round(percentile_ms(latencies, 50), 1),
                        round(percentile_ms(latencies, 95), 1),
                    )
                )
                print(rows[-1], flush=True)
    headers = ("backend", "through", "threads", "tickets/s", "vs SQLite store 1 thread", "p50 ms", "p95 ms")
    notes = (
        f"{args.tickets} tickets per row, each from a different citizen, on a fresh database. A ticket is one "
        "transaction: number counter, ticket, contact, audit and outbox rows, plus the repeat and hot-spot "
        "checks over the last 7/14 days. SQLite runs with synchronous=FULL (a receipt promises durability) and "
        "BEGIN IMMEDIATE, so writers queue; the API rows add HTTP, token lookup and JSON on the same machine."
        + ("" if args.postgres else "\n\nPostgreSQL not measured: no --postgres / TEST_DATABASE_URL.")
    )
    publish_report("tickets", "Ticket creation throughput", [notes, table(headers, rows)])


if __name__ == "__main__":
    main()
