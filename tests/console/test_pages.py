"""The console's working pages over real HTTP (uvicorn on loopback, SQLite and PostgreSQL): the queue, a
conversation, tickets and the supervisor's page. Each needs a login, the supervisor's page a supervisor, every
form the CSRF token; each action changes what it says, through HandoffService and TicketService."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import Principal, Role
from bot.conversation.ratings import RatingStore
from bot.conversation.receipts import ReceiptLedger
from bot.conversation.transcript import Speaker, TranscriptStore
from bot.handoff.desk import HandoffDesk
from bot.handoff.workflow import Owner, Priority
from bot.tickets.domain import TicketDraft, TicketKind, TicketStatus
from bot.tickets.models import AuditEntry, Ticket
from bot.tickets.service import TicketService
from tests.console.conftest import Gateway, csrf_of, start_gateway

PHONE = "13912345678"
MASKED = "139****5678"


def new_id() -> str:
    return f"web-{uuid.uuid4().hex[:16]}"


def waiting(gateway: Gateway, text: str = "我要找人工客服", *, reason: str = "requested", urgent: bool = False) -> str:
    """A conversation the bot handed to the queue after the citizen said `text`."""
    sender = new_id()
    TranscriptStore(gateway.engine).record(sender, Speaker.CITIZEN, text)
    priority = Priority.URGENT if urgent else Priority.NORMAL
    HandoffDesk(gateway.engine).request(sender, "web", reason, priority)
    return sender


def owner(gateway: Gateway, sender: str) -> tuple[Owner, str | None]:
    conversation = HandoffDesk(gateway.engine).find(sender)
    return conversation.owner, conversation.operator


def turns(gateway: Gateway, sender: str, speaker: Speaker) -> list[str]:
    return [t.text for t in TranscriptStore(gateway.engine).turns(sender) if t.speaker is speaker]


def tickets(gateway: Gateway, clock: object = None) -> TicketService:
    return TicketService(gateway.engine, clock) if clock else TicketService(gateway.engine)


def file_ticket(
    service: TicketService, description: str = "市第三医院挂号处多收了我50元挂号费", **fields: object
) -> str:
    values: dict[str, object] = {
        "kind": TicketKind.COMPLAINT,
        "description": description,
        "location": "市第三医院",
        "occurred_at": "上周五",
        "subject": "挂号处",
        "name": "王小明",
        "phone": PHONE,
        "consent_to_contact": True,
        "channel": "web",
        "sender_id": new_id(),
        "idempotency_key": uuid.uuid4().hex,
        **fields,
    }
    return service.create(TicketDraft(**values)).number  # type: ignore[arg-type]


def csrf(client: httpx.Client, path: str = "/console/queue") -> str:
    return csrf_of(client.get(path).text)


# --- access ---------------------------------------------------------------------------------------------------


def test_every_page_needs_a_login_and_no_action_runs_without_one(gateway: Gateway) -> None:
    sender = waiting(gateway)
    number = file_ticket(tickets(gateway))
    pages = [
        "/console/queue",
        "/console/queue/live",
        f"/console/conversations/{sender}",
        f"/console/conversations/{sender}/state",
        f"/console/conversations/{sender}/transcript",
        f"/console/conversations/{sender}/suggestions",
        f"/console/conversations/{sender}/ticket-form",
        "/console/tickets",
        f"/console/tickets/{number}",
        "/console/supervisor",
    ]
    actions = [
        f"/console/queue/{sender}/take",
        *(
            f"/console/conversations/{sender}/{a}"
            for a in ("reply", "typing", "release", "handback", "close", "ticket")
        ),
        *(f"/console/tickets/{number}/{a}" for a in ("contact", "assign", "transition", "reply")),
    ]
    with gateway.client() as client:
        for path in pages:
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/console/login?next=/console/"), path
        for path in actions:
            response = client.post(path, data={"text": "你好", "note": "好", "to": "assigned", "department": "x"})
            assert response.status_code == 303 and response.headers["location"].startswith("/console/login"), path
    assert owner(gateway, sender) == (Owner.QUEUE, None)
    assert turns(gateway, sender, Speaker.OPERATOR) == []
    with Session(gateway.engine) as session:
        actions_done = session.scalars(select(AuditEntry.action).where(AuditEntry.ticket_number == number)).all()
    assert actions_done == ["create"]


def test_the_supervisor_page_is_a_supervisors(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    gateway.add_user("zhou", Role.SUPERVISOR)
    with gateway.logged_in("li") as operator:
        page = operator.get("/console/supervisor")
        assert page.status_code == 403 and "主管" in page.text
        assert operator.get("/console/queue").status_code == 200
        assert operator.get("/console/tickets").status_code == 200
    with gateway.logged_in("zhou") as supervisor:
        page = supervisor.get("/console/supervisor")
        assert page.status_code == 200 and "超期工单" in page.text and "工单审计记录" in page.text


def test_every_form_post_needs_the_csrf_token(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    sender = waiting(gateway, f"我电话{PHONE}")
    number = file_ticket(tickets(gateway))
    with gateway.logged_in("li") as client:
        token = csrf(client)
        # Taken with the token, so that every other action would be allowed but for the token.
        assert client.post(f"/console/queue/{sender}/take", data={"csrf_token": token}).status_code == 303
        forms = {
            f"/console/conversations/{sender}/reply": {"text": "您好"},
            f"/console/conversations/{sender}/typing": {},
            f"/console/conversations/{sender}/release": {},
            f"/console/conversations/{sender}/handback": {},
            f"/console/conversations/{sender}/close": {"note": "已解答"},
            f"/console/conversations/{sender}/ticket": {"kind": "complaint", "description": "多收费"},
            f"/console/tickets/{number}/contact": {},
            f"/console/tickets/{number}/assign": {"assignee": "张三"},
            f"/console/tickets/{number}/transition": {"to": "assigned"},
            f"/console/tickets/{number}/reply": {"text": "已处理"},
        }
        for path, form in forms.items():
            for sent in (form, {**form, "csrf_token": "not-the-token"}):
                refused = client.post(path, data=sent)
                assert refused.status_code == 403, path
                assert "CSRF" in refused.text, path
            # htmx sends the token as a header; a wrong one is refused the same way.
            assert client.post(path, data=form, headers={"X-CSRF-Token": "forged"}).status_code == 403
        other = waiting(gateway)
        assert client.post(f"/console/queue/{other}/take").status_code == 403
    assert owner(gateway, sender) == (Owner.OPERATOR, "li") and owner(gateway, other) == (Owner.QUEUE, None)
    assert turns(gateway, sender, Speaker.OPERATOR) == []
    view = tickets(gateway).get(number)
    assert view is not None and view.status is TicketStatus.RECEIVED and view.assignee is None
    assert tickets(gateway).count() == 1
    with Session(gateway.engine) as session:
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.ticket_number == number)).all() == ["create"]


# --- the queue and a conversation -----------------------------------------------------------------------------


def test_the_queue_shows_who_waits_and_why_masked_urgent_first(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    calm = waiting(gateway, f"我想问一下医保报销，电话{PHONE}")
    urgent = waiting(gateway, "我家老人晕倒了", reason="emergency", urgent=True)
    sensitive = waiting(gateway, "医院把我的手术做坏了", reason="sensitive:医疗纠纷")
    with gateway.logged_in("li") as client:
        page = client.get("/console/queue")
        assert page.status_code == 200
        html = page.text
        assert PHONE not in html and "[电话]" in html
        rows = re.findall(r'<tr data-conversation="([^"]+)"', html)
        assert rows == [urgent, calm, sensitive]  # urgent first, then by waiting time
        assert "紧急" in html and "市民要求转人工" in html and "敏感事项：医疗纠纷" in html and "紧急情况" in html
        assert "网页" in html and "接入" in html
        assert "/api/handoff/live" in client.get("/console/static/console-live.js").text
        fragment = client.get("/console/queue/live")
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert re.findall(r'<tr data-conversation="([^"]+)"', fragment.text) == rows


def test_take_reply_typing_release_handback_close(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    gateway.add_user("wu", Role.OPERATOR)
    sender = waiting(gateway, f"我要投诉，电话{PHONE}")
    with gateway.logged_in("li") as li, gateway.logged_in("wu") as wu:
        token, other = csrf(li), csrf(wu)
        taken = li.post(f"/console/queue/{sender}/take", data={"csrf_token": token})
        assert taken.status_code == 303 and taken.headers["location"] == f"/console/conversations/{sender}"
        assert owner(gateway, sender) == (Owner.OPERATOR, "li")
        late = wu.post(f"/console/queue/{sender}/take", data={"csrf_token": other})
        assert late.status_code == 409 and "已被其他坐席接入" in late.text
        assert owner(gateway, sender) == (Owner.OPERATOR, "li")

        page = li.get(f"/console/conversations/{sender}")
        assert page.status_code == 200
        assert PHONE not in page.text and "[电话]" in page.text
        assert "交还机器人" in page.text and "放回队列" in page.text and "结束会话" in page.text
        mine = li.get("/console/queue/live").text
        assert sender in mine[mine.index('id="mine"') :]  # under 我正在处理的会话, no longer in the queue
        assert f'data-conversation="{sender}"' not in mine

        # Someone else's conversation: they may read it, not answer it.
        refused = wu.post(f"/console/conversations/{sender}/reply", data={"csrf_token": other, "text": "我来"})
        assert refused.status_code == 403 and "li" in refused.text
        assert "交还机器人" not in wu.get(f"/console/conversations/{sender}").text

        sent = li.post(f"/console/conversations/{sender}/reply", data={"csrf_token": token, "text": "您好，请讲"})
        assert sent.status_code == 303
        htmx = li.post(
            f"/console/conversations/{sender}/reply",
            data={"text": "我在听"},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert htmx.status_code == 204
        assert turns(gateway, sender, Speaker.OPERATOR) == ["您好，请讲", "我在听"]
        empty = li.post(f"/console/conversations/{sender}/reply", data={"csrf_token": token, "text": "  "})
        assert empty.status_code == 422 and "回复不能为空" in empty.text
        long = li.post(f"/console/conversations/{sender}/reply", data={"csrf_token": token, "text": "长" * 4001})
        assert long.status_code == 422 and "回复不能超过4000字" in long.text
        transcript = li.get(f"/console/conversations/{sender}/transcript").text
        assert "您好，请讲" in transcript and "坐席 li" in transcript
        assert li.post(f"/console/conversations/{sender}/typing", headers={"X-CSRF-Token": token}).status_code == 204

        released = li.post(f"/console/conversations/{sender}/release", data={"csrf_token": token})
        assert released.status_code == 303 and released.headers["location"] == "/console/queue"
        assert owner(gateway, sender)[0] is Owner.QUEUE
        again = wu.post(f"/console/queue/{sender}/take", data={"csrf_token": other})
        assert again.status_code == 303 and owner(gateway, sender) == (Owner.OPERATOR, "wu")

        handed = wu.post(f"/console/conversations/{sender}/handback", data={"csrf_token": other})
        assert handed.status_code == 303 and owner(gateway, sender)[0] is Owner.BOT
        twice = wu.post(f"/console/conversations/{sender}/handback", data={"csrf_token": other})
        assert twice.status_code == 409 and "机器人" in twice.text

        HandoffDesk(gateway.engine).request(sender, "web", "requested")
        assert wu.post(f"/console/queue/{sender}/take", data={"csrf_token": other}).status_code == 303
        unnoted = wu.post(f"/console/conversations/{sender}/close", data={"csrf_token": other, "note": " "})
        assert unnoted.status_code == 422 and "处理结果" in unnoted.text
        assert owner(gateway, sender)[0] is Owner.OPERATOR
        closed = wu.post(
            f"/console/conversations/{sender}/close", data={"csrf_token": other, "note": "已告知医保报销流程"}
        )
        assert closed.status_code == 303
        conversation = HandoffDesk(gateway.engine).find(sender)
        assert conversation.owner is Owner.CLOSED and conversation.resolution_note == "已告知医保报销流程"
        assert conversation.rating_asked_at is not None  # the citizen is asked to rate
        moves = [event.move for event in HandoffDesk(gateway.engine).events(sender)]
        assert moves == ["handoff", "take", "release", "take", "handback", "handoff", "take", "close"]
        state = wu.get(f"/console/conversations/{sender}/state").text
        assert "已结束" in state and "已告知医保报销流程" in state

    with gateway.client() as client:
        assert client.get(f"/console/conversations/{sender}").status_code == 303
    with gateway.logged_in("li") as li:
        missing = li.get("/console/conversations/web-nobody")
        assert missing.status_code == 404 and "没有这个会话" in missing.text
        assert li.post("/console/queue/web-nobody/take", data={"csrf_token": csrf(li)}).status_code == 404


def test_a_ticket_filed_from_a_conversation_is_prefilled_and_filed_once(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    sender = new_id()
    transcript = TranscriptStore(gateway.engine)
    transcript.record(sender, Speaker.CITIZEN, "挂号费怎么收", intent="ask_service", confidence=0.9)
    transcript.record(sender, Speaker.CITIZEN, "转人工", intent="request_human")
    HandoffDesk(gateway.engine).request(sender, "web", "requested")
    with gateway.logged_in("li") as client:
        token = csrf(client)
        assert client.post(f"/console/queue/{sender}/take", data={"csrf_token": token}).status_code == 303
        transcript.record(sender, Speaker.CITIZEN, "市第三医院挂号处多收了我50元挂号费，还不给退")
        transcript.record(sender, Speaker.CITIZEN, f"我叫王小明，电话{PHONE}")
        page = client.get(f"/console/conversations/{sender}").text
        assert PHONE not in page and 'id="ticket-form"' not in page  # the form is filled when it is opened
        form = client.get(f"/console/conversations/{sender}/ticket-form").text
        assert 'id="ticket-form"' in form and "<html" not in form
        assert PHONE not in form and MASKED in form
        without_javascript = client.get(f"/console/conversations/{sender}", params={"ticket": "form"}).text
        assert 'id="ticket-form"' in without_javascript and MASKED in without_javascript
        assert "多收了我50元挂号费" in form and "我叫王小明，电话[电话]" in form
        assert "转人工" not in form and "挂号费怎么收" not in form  # asking for a person, a question the bot answered
        assert re.search(r'<option value="complaint" selected>', form)

        fields = {
            "csrf_token": token,
            "kind": "complaint",
            "description": "市第三医院挂号处多收了50元挂号费，不给退",
            "location": "市第三医院",
            "name": "王小明",
            "consent_to_contact": "true",
        }
        filed = client.post(f"/console/conversations/{sender}/ticket", data=fields)
        assert filed.status_code == 303
        number = filed.headers["location"].split("filed=")[1]
        shown = client.get(filed.headers["location"]).text
        assert "已生成工单" in shown and number in shown
        again = client.post(f"/console/conversations/{sender}/ticket", data=fields)  # sent twice: one ticket
        assert again.status_code == 303 and again.headers["location"].endswith(number)

        refused = client.post(
            f"/console/conversations/{sender}/ticket", data={**fields, "kind": "nonsense", "description": "x"}
        )
        assert refused.status_code == 422 and "请选择工单类型" in refused.text
        blank = client.post(f"/console/conversations/{sender}/ticket", data={**fields, "description": " "})
        assert blank.status_code == 422 and "请填写事情经过" in blank.text
        far = client.post(f"/console/conversations/{sender}/ticket", data={**fields, "location": "路" * 501})
        assert far.status_code == 422 and "地点不能超过500字" in far.text and 'id="ticket-form"' in far.text

    service = tickets(gateway)
    assert service.count() == 1
    contact = service.contact(number, "test:pages")
    assert (contact.name, contact.phone, contact.consent_to_contact) == ("王小明", PHONE, True)
    view = service.get(number)
    assert view is not None and view.kind is TicketKind.COMPLAINT and view.channel == "web"
    with Session(gateway.engine) as session:
        assert session.scalar(select(Ticket.sender_id).where(Ticket.number == number)) == sender
    # The citizen was told the number, once; the conversation keeps placeholders for what the ticket holds.
    said = turns(gateway, sender, Speaker.OPERATOR)
    assert len(said) == 1 and number in said[0]
    assert ReceiptLedger(gateway.engine).untold(sender) == []  # the bot will not announce it again
    citizen = turns(gateway, sender, Speaker.CITIZEN)
    assert citizen[-1] == "我叫[姓名]，电话[电话]" and all(PHONE not in text for text in citizen)


def test_a_conversation_without_a_phone_asks_the_operator_for_one(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    sender = new_id()
    TranscriptStore(gateway.engine).record(
        sender, Speaker.CITIZEN, "我要举报一家无证诊所", intent="report", confidence=0.93
    )
    HandoffDesk(gateway.engine).request(sender, "web", "requested")
    with gateway.logged_in("li") as client:
        token = csrf(client)
        page = client.get(f"/console/conversations/{sender}/ticket-form").text
        assert "会话中没有号码" in page and '<option value="report" selected>' in page
        fields = {"csrf_token": token, "kind": "report", "description": "小区门口有无证诊所"}
        refused = client.post(f"/console/conversations/{sender}/ticket", data=fields)
        assert refused.status_code == 422 and "请询问市民后填写" in refused.text
        filed = client.post(f"/console/conversations/{sender}/ticket", data={**fields, "phone": "010-87654321"})
        assert filed.status_code == 303
    assert tickets(gateway).count() == 1
    # Not held by this operator (it waits in the queue): nobody was told; the bot tells it on the next turn.
    assert turns(gateway, sender, Speaker.OPERATOR) == []
    assert [ticket.kind for ticket in ReceiptLedger(gateway.engine).untold(sender)] == [TicketKind.REPORT]


# --- tickets --------------------------------------------------------------------------------------------------


def test_tickets_list_filters_and_pages(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    service = tickets(gateway)
    old = tickets(gateway, lambda: datetime(2025, 3, 3, 2, 0, tzinfo=UTC))
    late = file_ticket(old, "去年三月的投诉，一直没人处理", phone="13800000001")
    suggestions = [
        file_ticket(
            service, f"建议在第{i}社区卫生服务中心增加夜间门诊", kind=TicketKind.SUGGESTION, phone=f"1370000{i:04d}"
        )
        for i in range(22)
    ]
    with gateway.logged_in("li") as client:
        everything = client.get("/console/tickets").text
        assert "共 23 件" in everything and "第 1/2 页" in everything
        second = client.get("/console/tickets", params={"page": 2}).text
        assert "13800000001" not in second and "138****0001" in second  # newest first: the old one is last
        assert "第 2/2 页" in second and 'rel="prev"' in second and 'rel="next"' not in second
        shown = set(re.findall(r'<tr data-number="([^"]+)"', everything)) | set(
            re.findall(r'<tr data-number="([^"]+)"', second)
        )
        assert shown == {late, *suggestions}
        overdue = client.get("/console/tickets", params={"overdue": "1"}).text
        assert re.findall(r'<tr data-number="([^"]+)"', overdue) == [late] and "超期" in overdue
        by_kind = client.get("/console/tickets", params={"kind": "suggestion"}).text
        assert "共 22 件" in by_kind and late not in by_kind
        by_status = client.get("/console/tickets", params={"status": "assigned"}).text
        assert "共 0 件" in by_status
        department = service.get(late).department  # type: ignore[union-attr]
        by_department = client.get("/console/tickets", params={"department": department, "kind": "complaint"}).text
        assert re.findall(r'<tr data-number="([^"]+)"', by_department) == [late]
        bogus = client.get("/console/tickets", params={"status": "bogus"})
        assert bogus.status_code == 422 and "未知的状态" in bogus.text
        assert "第 1/2 页" in client.get("/console/tickets", params={"page": "abc"}).text  # not an error page
        assert "第 2/2 页" in client.get("/console/tickets", params={"page": "99"}).text  # the last one
        text = client.get("/console/tickets", params={"q": "第3社区"}).text
        assert re.findall(r'<tr data-number="([^"]+)"', text) == [suggestions[3]]


def test_a_ticket_detail_unmasks_on_an_audited_read_and_is_worked_through_the_service(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    number = file_ticket(tickets(gateway), f"挂号处多收了我50元，我的电话{PHONE}")
    with gateway.logged_in("li") as client:
        token = csrf(client)
        page = client.get(f"/console/tickets/{number}")
        assert page.status_code == 200
        assert PHONE not in page.text and MASKED in page.text and "王**" in page.text and "显示号码" in page.text
        assert "王小明" not in page.text
        shown = client.post(f"/console/tickets/{number}/contact", data={"csrf_token": token})
        assert (
            shown.status_code == 200 and PHONE in shown.text and "王小明" in shown.text and "记入审计日志" in shown.text
        )
        assert PHONE not in client.get(f"/console/tickets/{number}").text  # shown once, not kept on

        moves = re.findall(r'name="to" value="([^"]+)"', page.text)
        assert moves == ["assigned"]  # only what the workflow allows from 已受理
        skipped = client.post(f"/console/tickets/{number}/transition", data={"csrf_token": token, "to": "closed"})
        assert skipped.status_code == 409 and "不能从已受理" in skipped.text
        assigned = client.post(
            f"/console/tickets/{number}/assign",
            data={"csrf_token": token, "department": "市市场监督管理局", "assignee": "张三"},
        )
        assert assigned.status_code == 303 and assigned.headers["location"] == f"/console/tickets/{number}"
        moved = client.post(f"/console/tickets/{number}/transition", data={"csrf_token": token, "to": "in_progress"})
        assert moved.status_code == 303
        page = client.get(f"/console/tickets/{number}").text
        assert "办理中" in page and "答复市民" in page and "张三" in page
        replied = client.post(
            f"/console/tickets/{number}/reply", data={"csrf_token": token, "text": "已核实，退还50元"}
        )
        assert replied.status_code == 303
        empty = client.post(f"/console/tickets/{number}/reply", data={"csrf_token": token, "text": ""})
        assert empty.status_code == 422 and "答复内容不能为空" in empty.text
        nothing = client.post(f"/console/tickets/{number}/assign", data={"csrf_token": token})
        assert nothing.status_code == 422 and "请选择承办单位" in nothing.text
        too_long = client.post(f"/console/tickets/{number}/assign", data={"csrf_token": token, "assignee": "张" * 65})
        assert too_long.status_code == 422 and "承办人不能超过64字" in too_long.text
        assert client.get("/console/tickets/12320-20260101-999999").status_code == 404
        assert client.post("/console/tickets/nonsense/contact", data={"csrf_token": token}).status_code == 404

    view = tickets(gateway).get(number)
    assert view is not None
    assert (view.status, view.department, view.assignee) == (TicketStatus.REPLIED, "市市场监督管理局", "张三")
    assert [m.body for m in view.messages if m.kind == "reply"] == ["已核实，退还50元"]
    with Session(gateway.engine) as session:
        entries = session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.ticket_number == number)
            .order_by(AuditEntry.id)
        ).all()
    actions = [action for action, _ in entries]
    assert actions == [
        "create",
        "view_contact",
        "assign_department",
        "assign",
        "transition",
        "transition",
        "reply",
        "transition",
    ]
    assert {actor for action, actor in entries if action != "create"} == {"operator:li"}


# --- the supervisor -------------------------------------------------------------------------------------------


def test_the_supervisor_sees_overdue_tickets_reassigns_reads_the_trail_and_both_satisfactions(gateway: Gateway) -> None:
    gateway.add_user("zhou", Role.SUPERVISOR)
    gateway.add_user("li", Role.OPERATOR)
    old = tickets(gateway, lambda: datetime(2025, 3, 3, 2, 0, tzinfo=UTC))
    late = file_ticket(old, "去年三月的投诉，一直没人处理")
    service = tickets(gateway)
    rated = file_ticket(service, "社区医院输液室太挤", phone="13600001111")
    service.assign(rated, "test", department="市卫生健康委员会")
    service.transition(rated, TicketStatus.IN_PROGRESS, "test")
    service.reply(rated, "已增加座位", "test")
    service.transition(rated, TicketStatus.CLOSED, "test")
    assert service.rate(rated, "1111", 5, "很满意") is not None

    desk = HandoffDesk(gateway.engine)
    held = waiting(gateway)
    li = Principal("li", Role.OPERATOR)
    desk.take(held, li)
    served = waiting(gateway)
    desk.take(served, li)
    desk.close(served, li, "已解答")
    desk.ask_rating(served)
    RatingStore(gateway.engine).rate(served, 4, f"还行，回电{PHONE}")

    with gateway.logged_in("zhou") as client:
        page = client.get("/console/supervisor")
        assert page.status_code == 200
        html = page.text
        overdue = html[html.index('id="overdue"') : html.index('id="online"')]
        assert re.findall(r'<tr data-number="([^"]+)"', overdue) == [late] and "超期" in overdue
        assert held in html and "离线" in html  # li holds it without a console open
        ratings = html[html.index('id="conversation-ratings"') :]
        assert served in ratings and "<td>4</td>" in ratings and "<td>li</td>" in ratings
        assert PHONE not in html and "还行，回电[电话]" in html
        assert rated in ratings and "<td>5</td>" in ratings and "很满意" in ratings
        assert "平均 <strong>4.0</strong>" in html and "平均 <strong>5.0</strong>" in html

        token = csrf_of(html)
        before = service.get(late)
        assert before is not None
        target = next(d for d in ("市卫生健康委员会", "市教育委员会") if d != before.department)
        reassigned = client.post(
            f"/console/tickets/{late}/assign",
            data={"csrf_token": token, "department": target, "assignee": "赵六", "next": "/console/supervisor"},
        )
        assert reassigned.status_code == 303 and reassigned.headers["location"] == "/console/supervisor"
        offsite = client.post(
            f"/console/tickets/{late}/assign",
            data={"csrf_token": token, "assignee": "钱七", "next": "https://evil.example/"},
        )
        assert offsite.headers["location"] == "/console/queue"  # never an open redirect
        trail = client.get("/console/supervisor", params={"ticket": late}).text
        audit = trail[trail.index('id="trail"') :]
        assert "受理" in audit and "分派承办单位" in audit and "指定承办人" in audit and "supervisor:zhou" in audit
        unknown = client.get("/console/supervisor", params={"ticket": "12320-20260101-999999"}).text
        assert "没有工单 12320-20260101-999999" in unknown

        released = client.post(f"/console/conversations/{held}/release", data={"csrf_token": token})
        assert released.status_code == 303  # a supervisor may hand another's conversation on
    assert owner(gateway, held)[0] is Owner.QUEUE
    view = service.get(late)
    assert view is not None and view.assignee == "钱七" and view.department == target


# --- suggested replies ----------------------------------------------------------------------------------------


@pytest.fixture
def indexed(tmp_path: Path, knowledge_index: Path) -> Iterator[Gateway]:
    yield from start_gateway(f"sqlite:///{tmp_path / 'hotline.db'}", index=knowledge_index)


@pytest.fixture
def unindexed(tmp_path: Path) -> Iterator[Gateway]:
    yield from start_gateway(f"sqlite:///{tmp_path / 'hotline.db'}", index=tmp_path / "no-index")


def test_suggested_replies_come_from_the_knowledge_index_with_their_citations(indexed: Gateway) -> None:
    indexed.add_user("li", Role.OPERATOR)
    sender = waiting(indexed, f"我被狗咬了，应该怎么处理？我电话{PHONE}")
    with indexed.logged_in("li") as client:
        fragment = client.get(f"/console/conversations/{sender}/suggestions", timeout=120)
        assert fragment.status_code == 200
        html = fragment.text
        assert PHONE not in html
        inserts = re.findall(r'data-insert="([^"]+)"', html)
        assert 1 <= len(inserts) <= 3
        assert "狂犬" in html and "推荐" in html
        assert all("来源：《" in text for text in inserts)  # one click inserts the passage with its source
        sources = re.findall(r'<span class="source">([^<]+)</span>', html)
        assert sources and all(source.startswith("《") for source in sources)
    quiet = new_id()
    HandoffDesk(indexed.engine).request(quiet, "web", "requested")
    with indexed.logged_in("li") as client:
        assert "市民还没有发言" in client.get(f"/console/conversations/{quiet}/suggestions").text


def test_without_an_index_the_page_says_so(unindexed: Gateway) -> None:
    unindexed.add_user("li", Role.OPERATOR)
    sender = waiting(unindexed, "被狗咬了怎么办")
    with unindexed.logged_in("li") as client:
        assert "知识库索引不可用" in client.get(f"/console/conversations/{sender}/suggestions").text
