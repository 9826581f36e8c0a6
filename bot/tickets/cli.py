"""`hotline tickets …`: the ticket store from a terminal, on the database every process reads (bot/settings.py).

list, show and overdue print masked views; `token` issues and revokes operator API tokens; `audit` exports
the 电子监察 log as JSON Lines.

`route` reads JSONL {"id", "text"} on stdin and writes {"id", "domain", "department", "confidence"} per
line, in input order, with the shipped classifier and routing table. A bad line (not JSON, no "text" string)
does not stop the run: its place in the output holds {"id", "error": "line N: …"} and the same message goes to
stderr, as `hotline index query` does. Blank lines are skipped. Lines are embedded in batches (--batch-size)
for throughput; use --batch-size 1 when feeding lines interactively.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.auth import Role, TokenStore
from bot.tickets.domain import TicketFilter, TicketKind, TicketStatus, TicketView
from bot.tickets.service import TicketService, open_ticket_service
from bot.tickets.workflow import status_label


def register(commands: argparse._SubParsersAction) -> None:
    tickets = commands.add_parser("tickets", help="complaints, reports, suggestions and disclosure requests")
    tickets.add_argument(
        "--database-url",
        default=None,
        help="default: $HOTLINE_DATABASE_URL or $DATABASE_URL, else $HOTLINE_VAR/hotline.db",
    )
    sub = tickets.add_subparsers(dest="tickets_command", required=True)

    listing = sub.add_parser("list", help="newest first, personal data masked")
    listing.add_argument("--status", choices=[s.value for s in TicketStatus])
    listing.add_argument("--kind", choices=[k.value for k in TicketKind])
    listing.add_argument("--department")
    listing.add_argument("--domain")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help="one ticket with its replies")
    show.add_argument("number")
    show.set_defaults(handler=_show)

    overdue = sub.add_parser("overdue", help="open tickets past their 限时办结 date, and those due soon")
    overdue.add_argument("--on", type=date.fromisoformat, default=None, help="YYYY-MM-DD; default: today in China")
    overdue.add_argument("--escalate", action="store_true", help="send the overdue ones to the supervisor (once)")
    overdue.add_argument("--json", action="store_true")
    overdue.set_defaults(handler=_overdue)

    token = sub.add_parser("token", help="operator API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    issue = token_sub.add_parser("issue", help="print a new token once; only its hash is kept")
    issue.add_argument("name")
    issue.add_argument("--role", choices=[r.value for r in Role], default=Role.OPERATOR.value)
    issue.set_defaults(handler=_issue_token)
    revoke = token_sub.add_parser("revoke")
    revoke.add_argument("name")
    revoke.set_defaults(handler=_revoke_token)
    token_list = token_sub.add_parser("list")
    token_list.set_defaults(handler=_list_tokens)

    audit = sub.add_parser("audit", help="export the audit log as JSON Lines, oldest first")
    audit.add_argument("--since", type=_aware_datetime, default=None, help="e.g. 2026-11-01T00:00:00+08:00")
    audit.add_argument("--ticket", default=None)
    audit.set_defaults(handler=_audit)

    route = sub.add_parser("route", help='JSONL {"id", "text"} → {"id", "domain", "department"}')
    route.add_argument("--table", type=Path, default=None, help="routing table (default: $HOTLINE_ROUTING_TABLE)")
    route.add_argument("--batch-size", type=int, default=512, help="lines embedded together (default 512)")
    route.set_defaults(handler=_route)

    labels = sub.add_parser(
        "routing-labels", help="operators' domain corrections as JSONL {ticket, text, domain, by, at}, numbers blanked"
    )
    labels.add_argument("--since", type=_aware_datetime, default=None, help="e.g. 2026-11-01T00:00:00+08:00")
    labels.set_defaults(handler=_routing_labels)

    train = sub.add_parser("train-router", help="retrain the domain model from routing_examples.yml")
    train.add_argument(
        "--labels", type=Path, default=None, help="also learn from JSONL {text, domain}, e.g. `routing-labels` output"
    )
    train.add_argument("--out", type=Path, default=None, help="where to write the model (default: the shipped one)")
    train.set_defaults(handler=_train_router)


def _service(args: argparse.Namespace) -> TicketService:
    return open_ticket_service(args.database_url)


def _list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        raise ValueError("--limit must be 1 to 1000")
    service = _service(args)
    try:
        where = TicketFilter(
            status=args.status and TicketStatus(args.status),
            kind=args.kind and TicketKind(args.kind),
            department=args.department,
            domain=args.domain,
        )
        _print_views(service.list(where, limit=args.limit), as_json=args.json)
    finally:
        service.close()
    return 0


def _show(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        view = service.get(args.number)
    finally:
        service.close()
    if view is None:
        print(f"hotline: no ticket {args.number}", file=sys.stderr)
        return 1
    for label, value in (
        ("工单号", view.number),
        ("类型", view.kind),
        ("状态", f"{status_label(view.kind, view.status)} ({view.status})"),
        ("领域", view.domain or "待分类"),
        ("承办单位", view.department),
        ("承办人", view.assignee or "-"),
        ("办结期限", view.due_date.isoformat() + ("（已督办）" if view.escalated else "")),
        ("受理时间", view.created_at.isoformat()),
        ("渠道", view.channel),
        ("联系人", f"{view.name_masked or '匿名'} {view.phone_masked}"),
        ("地点", view.location),
        ("时间", view.occurred_at),
        ("涉及", view.subject),
        ("内容", view.description),
        ("满意度", view.satisfaction if view.satisfaction is not None else "-"),
    ):
        print(f"{label}：{value}")
    for message in view.messages:
        print(f"[{message.at.isoformat()}] {message.kind} {message.author}：{message.body}")
    return 0


def _overdue(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        today = args.on or service.today()
        late = service.overdue(today)
        soon = service.due_soon(today)
        escalated = (
            {view.number for view in service.escalate_overdue(f"cli:{getpass.getuser()}", today)}
            if args.escalate
            else set()
        )
    finally:
        service.close()
    if args.json:
        for state, views in (("overdue", late), ("due_soon", soon)):
            for view in views:
                row = {"state": state, **_row(view), "escalated_now": view.number in escalated}
                print(json.dumps(row, ensure_ascii=False, default=str))
        return 0
    print(f"{today}: {len(late)} overdue, {len(soon)} due within 2 working days")
    for view in late:
        mark = " → 已督办" if view.number in escalated else (" (已督办)" if view.escalated else "")
        print(f"  超期 {view.number}  due {view.due_date}  {view.department}{mark}")
    for view in soon:
        print(f"  临期 {view.number}  due {view.due_date}  {view.department}")
    return 0


def _issue_token(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        token = TokenStore(service.engine).issue(args.name, args.role)
    finally:
        service.close()
    print(token)
    print(f"issued to {args.name} ({args.role}); it is shown only now", file=sys.stderr)
    return 0


def _revoke_token(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        revoked = TokenStore(service.engine).revoke(args.name)
    finally:
        service.close()
    if not revoked:
        print(f"hotline: no live token named {args.name}", file=sys.stderr)
        return 1
    return 0


def _list_tokens(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        for name, role, live in TokenStore(service.engine).list():
            print(f"{name}\t{role}\t{'live' if live else 'revoked'}")
    finally:
        service.close()
    return 0


def _audit(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        for record in service.audit_entries(since=args.since, ticket_number=args.ticket):
            print(json.dumps(asdict(record), ensure_ascii=False, default=str))
    finally:
        service.close()
    return 0


def _print_views(views: list[TicketView], *, as_json: bool) -> None:
    for view in views:
        if as_json:
            print(json.dumps(_row(view), ensure_ascii=False, default=str))
        else:
            label = status_label(view.kind, view.status)
            print(f"{view.number}  {label:<6}  due {view.due_date}  {view.department}  {view.description[:30]}")


def _row(view: TicketView) -> dict[str, Any]:
    row = asdict(view)
    row["status_label"] = status_label(view.kind, view.status)
    return row


def _aware_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a timezone, e.g. 2026-11-01T00:00:00+08:00")
    return moment


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


def _routing_labels(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        for label in service.routing_labels(since=args.since):
            row = {"ticket": label.ticket_number, "text": label.text, "domain": label.domain}
            print(json.dumps({**row, "by": label.actor, "at": label.at.isoformat()}, ensure_ascii=False))
    finally:
        service.close()
    return 0


def _train_router(args: argparse.Namespace) -> int:
    from bot.tickets.domain_classifier import MODEL_PATH, train

    labels = _read_labels(args.labels) if args.labels is not None else []
    print(train(model_path=args.out or MODEL_PATH, labels=labels))
    if labels:
        print(f"with {len(labels)} labels from {args.labels}")
    return 0


def _read_labels(path: Path) -> list[tuple[str, str]]:
    """(text, domain) per line; a bad line stops training with its number, before anything is written."""
    labels = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            labels.append((str(record["text"]), str(record["domain"])))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: expected JSON with text and domain ({error})") from error
    return labels
