"""`hotline tickets …`: the ticket desk from the command line.

`route` reads JSONL {"id", "text"} on stdin and writes {"id", "domain", "department", "confidence"} per
line, in input order. A bad line (not JSON, no "text" string) does not stop the run: its place in the
output holds {"id", "error": "line N: …"} and the same message goes to stderr, as `hotline index query`
does. Blank lines are skipped. Lines are embedded in batches (--batch-size) for throughput; use
--batch-size 1 when feeding lines interactively.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO


def register(commands: argparse._SubParsersAction) -> None:
    tickets = commands.add_parser("tickets", help="tickets: routing (and, later, the ticket desk)")
    ticket_commands = tickets.add_subparsers(dest="tickets_command", required=True)

    route = ticket_commands.add_parser("route", help='JSONL {"id", "text"} → {"id", "domain", "department"}')
    route.add_argument("--table", type=Path, default=None, help="routing table (default: $HOTLINE_ROUTING_TABLE)")
    route.add_argument("--batch-size", type=int, default=512, help="lines embedded together (default 512)")
    route.set_defaults(handler=_route)

    train = ticket_commands.add_parser("train-router", help="retrain the domain model from routing_examples.yml")
    train.set_defaults(handler=_train_router)


def _route(args: argparse.Namespace) -> int:
    from bot.tickets.routing import load_router

    router = load_router(args.table)  # before reading stdin: a bad table or model fails once, not per line
    batch_size = max(1, args.batch_size)
    for batch in _batches(_parse_lines(sys.stdin), batch_size):
        texts = [record["text"] for _, record in batch if "error" not in record]
        decisions = iter(router.route_texts(texts))
        for query_id, record in batch:
            if "error" not in record:
                d = next(decisions)
                record = {"id": query_id, "domain": d.domain, "department": d.department, "confidence": d.confidence}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def _parse_lines(lines: TextIO) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(id, {"text"}) per good line; (id, {"id", "error"}) per bad one, reported on stderr as well."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        query_id = None
        try:
            record = json.loads(line)
            if isinstance(record, dict):
                query_id = record.get("id")  # kept on the error line too, so the caller can match it
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError('expected {"id": ..., "text": "..."}')
            yield query_id, {"text": record["text"]}
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            print(f"line {number}: {exc}", file=sys.stderr)
            yield query_id, {"id": query_id, "error": f"line {number}: {exc}"}


def _batches(items: Iterable[tuple[Any, dict[str, Any]]], size: int) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    batch: list[tuple[Any, dict[str, Any]]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _train_router(args: argparse.Namespace) -> int:
    from bot.tickets.domain_classifier import train

    print(train())
    return 0
