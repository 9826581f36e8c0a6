"""`hotline tickets …` in a subprocess, as an office clerk runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

from bot.tickets import TicketDraft, TicketService

MakeDraft = Callable[..., TicketDraft]


def hotline(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "tickets", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_list_show_and_audit(database_url: str, service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft(phone="13912345678", description="社区医院挂号费多收了二十块")).number
    service.transition(number, "assigned", "operator:li")

    listing = hotline(database_url, "list", "--json")
    assert listing.returncode == 0, listing.stderr
    [row] = [json.loads(line) for line in listing.stdout.splitlines()]
    assert (row["number"], row["status"], row["status_label"]) == (number, "assigned", "已分派承办单位")
    assert hotline(database_url, "list", "--status", "closed").stdout == ""

    shown = hotline(database_url, "show", number)
    assert shown.returncode == 0 and "社区医院挂号费多收了二十块" in shown.stdout
    assert "139****5678" in shown.stdout and "13912345678" not in shown.stdout + shown.stderr
    missing = hotline(database_url, "show", "12320-20261123-999999")
    assert missing.returncode == 1 and "no ticket" in missing.stderr

    audit = hotline(database_url, "audit", "--ticket", number)
    assert [json.loads(line)["action"] for line in audit.stdout.splitlines()] == ["create", "transition"]
    naive = hotline(database_url, "audit", "--since", "2026-11-01T00:00:00")
    assert naive.returncode == 2 and "timezone" in naive.stderr


def test_overdue_lists_and_escalates_once(database_url: str, service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft()).number  # received Monday 2026-11-23, due 2026-12-14

    assert "0 overdue" in hotline(database_url, "overdue", "--on", "2026-12-14").stdout
    first = hotline(database_url, "overdue", "--on", "2026-12-15", "--escalate", "--json")
    [row] = [json.loads(line) for line in first.stdout.splitlines()]
    assert (row["state"], row["number"], row["escalated_now"]) == ("overdue", number, True)
    second = hotline(database_url, "overdue", "--on", "2026-12-15", "--escalate")
    assert "1 overdue" in second.stdout and "(已督办)" in second.stdout and "→" not in second.stdout


def test_tokens_are_shown_once_and_can_be_revoked(database_url: str, service: TicketService) -> None:
    issued = hotline(database_url, "token", "issue", "wang", "--role", "supervisor")
    assert issued.returncode == 0 and issued.stdout.startswith("hl_")
    assert "wang\tsupervisor\tlive" in hotline(database_url, "token", "list").stdout
    assert issued.stdout.strip() not in hotline(database_url, "token", "list").stdout
    assert hotline(database_url, "token", "issue", "wang").returncode == 2  # names are never reused
    assert hotline(database_url, "token", "revoke", "wang").returncode == 0
    assert hotline(database_url, "token", "revoke", "wang").returncode == 1
    assert "wang\tsupervisor\trevoked" in hotline(database_url, "token", "list").stdout
