"""The operator API over real HTTP: a uvicorn gateway on loopback, the ticket store on SQLite and PostgreSQL.

Tickets are filed through TicketService, as the action server files them; operators then work them over HTTP.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from bot.app import serve_in_thread
from bot.auth import Role, TokenStore
from bot.settings import Settings
from bot.supervisor import free_port
from bot.tickets import TicketDraft, TicketKind, TicketService, open_ticket_service
from bot.tickets.models import OutboxEvent

MakeDraft = Callable[..., TicketDraft]


@dataclass
class Gateway:
    url: str
    store: TicketService
    operator: dict[str, str]
    supervisor: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@pytest.fixture
def gateway(database_url: str) -> Iterator[Gateway]:
    # No Rasa here: the ticket API never calls it, and the chat client connects lazily.
    settings = Settings(database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}")
    with serve_in_thread(settings, start_timeout=30) as url:
        store = open_ticket_service(database_url)
        tokens = TokenStore(store.engine)
        operator = {"Authorization": f"Bearer {tokens.issue('wang', Role.OPERATOR)}"}
        supervisor = {"Authorization": f"Bearer {tokens.issue('zhou', Role.SUPERVISOR)}"}
        yield Gateway(url, store, operator, supervisor)
    store.close()


def test_every_operator_endpoint_needs_a_valid_token(gateway: Gateway, make_draft: MakeDraft) -> None:
    number = gateway.store.create(make_draft()).number
    requests = [
        ("GET", "/api/tickets", None),
        ("GET", "/api/tickets/export.csv", None),
        ("GET", "/api/tickets/hotspots", None),
        ("GET", f"/api/tickets/{number}", None),
        ("GET", f"/api/tickets/{number}/contact", None),
        ("POST", f"/api/tickets/{number}/assign", {"assignee": "li"}),
        ("POST", f"/api/tickets/{number}/transition", {"to": "assigned"}),
        ("POST", f"/api/tickets/{number}/reply", {"text": "已处理"}),
        ("POST", "/api/tickets/escalate-overdue", None),
        ("GET", "/api/audit/export", None),
    ]
    with gateway.client() as client:
        for method, path, body in requests:
            for headers in ({}, {"Authorization": "Bearer hl_not-a-token"}, {"Authorization": "Basic d2FuZzp4"}):
                response = client.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"] == "Bearer"
        assert client.get("/api/audit/export", headers=gateway.operator).status_code == 403
        assert client.post("/api/tickets/escalate-overdue", headers=gateway.operator).status_code == 403
    view = gateway.store.get(number)
    assert view is not None and view.status == "received" and view.assignee is None  # nothing changed


def test_a_revoked_token_stops_working(gateway: Gateway) -> None:
    tokens = TokenStore(gateway.store.engine)
    token = tokens.issue("temp", Role.OPERATOR)
    with gateway.client() as client:
        assert client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert tokens.revoke("temp")
        assert client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with pytest.raises(ValueError, match="never reused"):
        tokens.issue("temp", Role.OPERATOR)


def test_an_operator_works_a_ticket_from_list_to_close(gateway: Gateway, make_draft: MakeDraft) -> None:
    number = gateway.store.create(make_draft(phone="13912345678")).number
    other = gateway.store.create(make_draft(kind=TicketKind.REPORT, description="无证诊所给人输液")).number
    auth = gateway.operator
    with gateway.client() as client:
        listing = client.get("/api/tickets", params={"kind": "complaint"}, headers=auth).json()
        assert listing["total"] == 1 and [t["number"] for t in listing["items"]] == [number]
        assert listing["items"][0]["phone_masked"] == "139****5678"
        assert "13912345678" not in json.dumps(listing)

        assigned = client.post(
            f"/api/tickets/{number}/assign", json={"department": "朝阳区卫生健康委员会", "assignee": "li"}, headers=auth
        )
        assert assigned.status_code == 200
        assert (assigned.json()["status"], assigned.json()["status_label"]) == ("assigned", "已分派承办单位")
        refused = client.post(f"/api/tickets/{number}/transition", json={"to": "closed"}, headers=auth)
        assert refused.status_code == 409 and "当前可转为" in refused.json()["detail"]
        assert client.post(f"/api/tickets/{number}/transition", json={"to": "in_progress"}, headers=auth).is_success
        replied = client.post(f"/api/tickets/{number}/reply", json={"text": "已退还多收的费用。"}, headers=auth)
        assert replied.json()["messages"][0]["body"] == "已退还多收的费用。"
        closed = client.post(f"/api/tickets/{number}/transition", json={"to": "closed"}, headers=auth).json()
        assert closed["status"] == "closed"

        contact = client.get(f"/api/tickets/{number}/contact", headers=auth).json()
        assert contact["phone"] == "13912345678"
        shown = client.get(f"/api/tickets/{other}", headers=auth).json()
        assert shown["kind"] == "report" and shown["status"] == "received"

        audit = client.get("/api/audit/export", params={"ticket": number}, headers=gateway.supervisor)
        entries = [json.loads(line) for line in audit.text.splitlines()]
        assert [(e["actor"], e["action"]) for e in entries] == [
            ("citizen:web", "create"),
            ("operator:wang", "assign_department"),
            ("operator:wang", "assign"),
            ("operator:wang", "transition"),
            ("operator:wang", "transition"),
            ("operator:wang", "reply"),
            ("operator:wang", "transition"),
            ("operator:wang", "transition"),
            ("operator:wang", "view_contact"),
        ]


def test_the_triage_desk_re_routes_by_domain(gateway: Gateway, make_draft: MakeDraft) -> None:
    number = gateway.store.create(make_draft(description="村里的承包地被占了")).number
    with gateway.client() as client:
        routed = client.post(f"/api/tickets/{number}/assign", json={"domain": "三农"}, headers=gateway.operator)
        assert routed.status_code == 200
        assert (routed.json()["domain"], routed.json()["department"]) == ("三农", "市农业农村局")
        listed = client.get("/api/tickets", params={"domain": "三农"}, headers=gateway.operator).json()
        assert [t["number"] for t in listed["items"]] == [number]


def test_bad_requests_get_clear_errors(gateway: Gateway, make_draft: MakeDraft) -> None:
    number = gateway.store.create(make_draft()).number
    auth = gateway.operator
    with gateway.client() as client:
        assert client.get("/api/tickets/12320-20261123-999999", headers=auth).status_code == 404
        assert client.post("/api/tickets/nonsense/assign", json={"assignee": "li"}, headers=auth).status_code == 404
        assert client.post(f"/api/tickets/{number}/transition", json={"to": "done"}, headers=auth).status_code == 422
        empty = client.post(f"/api/tickets/{number}/assign", json={}, headers=auth)
        assert empty.status_code == 422 and "a department, a domain or an assignee" in empty.json()["detail"]
        unknown = client.post(f"/api/tickets/{number}/assign", json={"domain": "天文"}, headers=auth)
        assert unknown.status_code == 422 and "未知的领域" in unknown.json()["detail"]
        assert client.post(f"/api/tickets/{number}/reply", json={"text": ""}, headers=auth).status_code == 422
        assert client.get("/api/tickets", params={"limit": 0}, headers=auth).status_code == 422
        assert client.get("/api/tickets", params={"status": "done"}, headers=auth).status_code == 422
        naive = client.get("/api/audit/export", params={"since": "2026-11-23T00:00:00"}, headers=gateway.supervisor)
        assert naive.status_code == 422


def test_csv_export_is_masked_excel_friendly_and_filtered(gateway: Gateway, make_draft: MakeDraft) -> None:
    for i in range(3):
        gateway.store.create(make_draft(phone=f"1391234{i:04d}", description=f"第{i}件：医院收费问题{'甲乙丙'[i]}"))
    gateway.store.create(make_draft(kind=TicketKind.SUGGESTION, description="建议医院周末多开门诊"))
    with gateway.client() as client:
        response = client.get("/api/tickets/export.csv", params={"kind": "complaint"}, headers=gateway.operator)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 3 and {row["kind"] for row in rows} == {"complaint"}
    assert {row["phone_masked"] for row in rows} == {"139****0000", "139****0001", "139****0002"}
    assert rows[0]["status_label"] == "已受理"
    assert "13912340000" not in response.text


def test_numbers_in_the_citizens_text_are_blanked_everywhere_but_the_audited_read(
    gateway: Gateway, make_draft: MakeDraft
) -> None:
    story = "医院多收费，我身份证11010519491231002X，电话139 8765 0123，家住幸福路"
    number = gateway.store.create(make_draft(description=story, subject="收费员，电话010-87654321")).number
    blanked = "医院多收费，我身份证[身份证号]，电话[电话]，家住幸福路"
    with gateway.client() as client:
        auth = gateway.operator
        shown = client.get(f"/api/tickets/{number}", headers=auth).json()
        listed = client.get("/api/tickets", headers=auth).json()["items"][0]
        exported = client.get("/api/tickets/export.csv", headers=auth)
        row = next(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        contact = client.get(f"/api/tickets/{number}/contact", headers=auth).json()
        audit = client.get("/api/audit/export", params={"ticket": number}, headers=gateway.supervisor).text
    with gateway.store.engine.connect() as connection:
        payloads = [json.loads(p) for (p,) in connection.execute(select(OutboxEvent.payload))]
    webhook = payloads[0]["ticket"]
    for view in (shown, listed, row, webhook):
        assert (view["description"], view["subject"]) == (blanked, "收费员，电话[电话]")
    for text in (json.dumps([shown, listed, payloads], ensure_ascii=False), exported.text):
        assert "11010519491231002X" not in text and "8765" not in text and "87654321" not in text
    # The one way to the text as written: the contact read, which the audit log records.
    assert (contact["description"], contact["subject"]) == (story, "收费员，电话010-87654321")
    assert [json.loads(line)["action"] for line in audit.splitlines()][-1] == "view_contact"


def test_a_citizen_rates_a_closed_ticket_with_number_and_last_four(gateway: Gateway, make_draft: MakeDraft) -> None:
    number = gateway.store.create(make_draft(phone="13912345678")).number
    for status in ("assigned", "in_progress"):
        gateway.store.transition(number, status, "operator:li")
    gateway.store.reply(number, "已处理。", "operator:li")
    gateway.store.transition(number, "closed", "operator:li")
    with gateway.client() as client:
        wrong = client.post(f"/api/tickets/{number}/rating", json={"phone_last4": "0000", "score": 5})
        assert wrong.status_code == 404
        bad = client.post(f"/api/tickets/{number}/rating", json={"phone_last4": "5678", "score": 9})
        assert bad.status_code == 422
        ok = client.post(f"/api/tickets/{number}/rating", json={"phone_last4": "5678", "score": 5, "comment": "很好"})
        assert ok.json() == {"number": number, "satisfaction": 5}
        again = client.post(f"/api/tickets/{number}/rating", json={"phone_last4": "5678", "score": 1})
        assert again.status_code == 422 and "已经评价过了" in again.json()["detail"]
        # Guessing the four digits: the limiter answers 429 long before 10,000 tries.
        codes = [
            client.post(f"/api/tickets/{number}/rating", json={"phone_last4": f"{i:04d}", "score": 5}).status_code
            for i in range(12)
        ]
        assert codes[-1] == 429


def test_an_operator_files_a_ticket_once_per_idempotency_key(gateway: Gateway) -> None:
    body = {
        "kind": "complaint",
        "description": "电话反映：药店卖过期药",
        "phone": "139 1234 5678",
        "location": "西城区",
    }
    headers = {**gateway.operator, "Idempotency-Key": "call-0001"}
    with gateway.client() as client:
        first = client.post("/api/tickets", json=body, headers=headers)
        retried = client.post("/api/tickets", json=body, headers=headers)
        missing_key = client.post("/api/tickets", json=body, headers=gateway.operator)
        bad_phone = client.post("/api/tickets", json={**body, "phone": "12345"}, headers=headers)
        bad_kind = client.post("/api/tickets", json={**body, "kind": "praise"}, headers=headers)
    assert first.status_code == 201 and retried.status_code == 200
    assert first.json()["number"] == retried.json()["number"]
    assert missing_key.status_code == 422
    assert bad_phone.status_code == 422 and "phone" in bad_phone.json()["detail"]
    assert "12345" not in bad_phone.text  # the error never echoes what was typed as a phone
    assert bad_kind.status_code == 422
    assert gateway.store.count() == 1
    view = gateway.store.get(first.json()["number"])
    assert view is not None and (view.channel, view.phone_masked) == ("phone", "139****5678")
