"""A ticket after filing: workflow, replies, satisfaction, repeats, hot spots, deadlines and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.tickets import TicketDraft, TicketKind, TicketService, TicketStatus
from bot.tickets.domain import TicketFilter
from bot.tickets.models import AuditEntry, OutboxEvent, Ticket
from bot.tickets.service import TicketNotFound, UnauditedChange
from bot.tickets.workflow import InvalidTransition
from tests.tickets.conftest import Clock

MakeDraft = Callable[..., TicketDraft]
S = TicketStatus
OPERATOR = "operator:wang"


def audit_actions(service: TicketService, number: str) -> list[tuple[str, str | None, str | None]]:
    return [(e.action, e.from_value, e.to_value) for e in service.audit_entries(ticket_number=number)]


def outbox_events(service: TicketService, number: str) -> list[str]:
    with Session(service.engine) as session:
        return list(
            session.scalars(
                select(OutboxEvent.event).where(OutboxEvent.ticket_number == number).order_by(OutboxEvent.id)
            )
        )


def test_a_complaint_goes_through_its_whole_workflow(service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft()).number

    assigned = service.assign(number, OPERATOR, department="朝阳区卫生健康委员会", assignee="li")
    assert (assigned.status, assigned.department, assigned.assignee) == (S.ASSIGNED, "朝阳区卫生健康委员会", "li")
    assert service.transition(number, "in_progress", "li").status == S.IN_PROGRESS
    replied = service.reply(number, "经核查，多收的20元已退还，并补开发票。", "li")
    assert replied.status == S.REPLIED
    assert [(m.kind, m.author, m.body) for m in replied.messages] == [
        ("reply", "li", "经核查，多收的20元已退还，并补开发票。")
    ]
    assert service.transition(number, S.CLOSED, OPERATOR).status == S.CLOSED

    assert audit_actions(service, number) == [
        ("create", None, "received"),
        ("assign_department", "12320 受理中心（待分派）", "朝阳区卫生健康委员会"),
        ("assign", None, "li"),
        ("transition", "received", "assigned"),
        ("transition", "assigned", "in_progress"),
        ("reply", None, "20 字"),
        ("transition", "in_progress", "replied"),
        ("transition", "replied", "closed"),
    ]
    assert outbox_events(service, number) == ["ticket.created", *["ticket.status_changed"] * 4]


def test_a_closed_ticket_can_be_reopened(service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft()).number
    service.assign(number, OPERATOR, assignee="li")
    service.transition(number, S.IN_PROGRESS, "li")
    service.reply(number, "已处理。", "li")
    service.transition(number, S.CLOSED, OPERATOR)

    assert service.transition(number, S.IN_PROGRESS, OPERATOR).status == S.IN_PROGRESS
    assert audit_actions(service, number)[-1] == ("reopen", "closed", "in_progress")


@pytest.mark.parametrize(
    ("moves", "target"),
    [
        ([], S.CLOSED),  # nobody answered it yet
        ([], S.REPLIED),
        ([S.ASSIGNED], S.REPLIED),  # a reply needs someone to have worked on it
        ([], S.REGISTERED),  # a disclosure step, not a complaint's
        ([S.ASSIGNED], S.RECEIVED),
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(
    service: TicketService, make_draft: MakeDraft, moves: list[TicketStatus], target: TicketStatus
) -> None:
    number = service.create(make_draft()).number
    for move in moves:
        service.transition(number, move, OPERATOR)
    before = service.get(number)
    trail = audit_actions(service, number)

    with pytest.raises(InvalidTransition, match="当前可转为"):
        service.transition(number, target, OPERATOR)

    assert service.get(number) == before
    assert audit_actions(service, number) == trail


def test_a_reply_before_work_started_is_refused(service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft()).number
    with pytest.raises(InvalidTransition):
        service.reply(number, "已处理。", OPERATOR)
    view = service.get(number)
    assert view is not None and view.messages == () and view.status == S.RECEIVED


def test_disclosure_requests_follow_the_regulations_steps(service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft(kind=TicketKind.DISCLOSURE_REQUEST, name="李四")).number
    with pytest.raises(InvalidTransition):
        service.transition(number, S.ASSIGNED, OPERATOR)  # 接收 → 登记, not the complaint workflow
    with pytest.raises(InvalidTransition):
        service.transition(number, S.REVIEWING, OPERATOR)  # 登记 cannot be skipped

    assigned = service.assign(number, OPERATOR, assignee="zhao")  # a person, but no assigned state
    assert (assigned.status, assigned.assignee) == (S.RECEIVED, "zhao")
    for step in (S.REGISTERED, S.REVIEWING, S.IN_PROGRESS):
        assert service.transition(number, step, "zhao").status == step
    assert service.reply(number, "您申请的信息属于主动公开范围，见……", "zhao").status == S.REPLIED
    assert service.transition(number, S.ARCHIVED, "zhao").status == S.ARCHIVED
    with pytest.raises(InvalidTransition, match="流程已结束"):
        service.transition(number, S.IN_PROGRESS, OPERATOR)


def test_unknown_numbers_and_statuses_are_clear_errors(service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft()).number
    with pytest.raises(TicketNotFound):
        service.transition("12320-20261123-999999", S.ASSIGNED, OPERATOR)
    with pytest.raises(TicketNotFound):
        service.assign("not-a-number", OPERATOR, assignee="li")
    with pytest.raises(ValueError, match="unknown status 'done'"):
        service.transition(number, "done", OPERATOR)
    with pytest.raises(ValueError, match="a department, a domain or an assignee"):
        service.assign(number, OPERATOR, assignee="  ")
    with pytest.raises(ValueError, match="reply"):
        service.reply(number, "   ", OPERATOR)


def test_reading_the_contact_is_audited(service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft(phone="13912345678", name="张三")).number
    contact = service.contact(number, OPERATOR)
    assert (contact.name, contact.phone) == ("张三", "13912345678")
    assert "13912345678" not in repr(contact)
    entry = list(service.audit_entries(ticket_number=number))[-1]
    assert (entry.actor, entry.action) == (OPERATOR, "view_contact")


def test_satisfaction_once_after_closing_with_the_right_phone(service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft(phone="13912345678")).number
    with pytest.raises(ValueError, match="办结后才能评价"):
        service.rate(number, "5678", 5)
    service.transition(number, S.ASSIGNED, OPERATOR)
    service.transition(number, S.IN_PROGRESS, OPERATOR)
    service.reply(number, "已处理。", OPERATOR)
    service.transition(number, S.CLOSED, OPERATOR)

    assert service.rate(number, "1111", 5) is None  # a wrong pair reveals nothing and rates nothing
    with pytest.raises(ValueError, match="1 to 5"):
        service.rate(number, "5678", 6)
    rated = service.rate(number, "5678", 4, " 处理及时，态度好 ")
    assert rated is not None and (rated.satisfaction, rated.satisfaction_comment) == (4, "处理及时，态度好")
    with pytest.raises(ValueError, match="已经评价过了"):
        service.rate(number, "5678", 1)
    assert audit_actions(service, number)[-1] == ("rate", None, "4")


def test_the_same_citizen_repeating_a_matter_is_linked_not_duplicated(
    service: TicketService, make_draft: MakeDraft, clock: Clock
) -> None:
    told, retold = "社区医院挂号费多收了二十块，还不给发票", "社区医院挂号多收我二十块钱，不给开发票"
    first = service.create(make_draft(phone="13912345678", description=told))
    clock.advance(days=2)
    again = service.create(make_draft(phone="139 1234 5678", description=retold))
    retried = service.create(make_draft(phone="13912345678", description=retold))
    other_matter = service.create(make_draft(phone="13912345678", description="小区垃圾站夏天臭味很大"))
    other_citizen = service.create(make_draft(phone="13800001111", description=told))

    assert (again.number, again.created, again.linked) == (first.number, False, True)
    assert retried.number == first.number
    assert other_matter.created and other_matter.number != first.number
    assert other_citizen.created and other_citizen.number != first.number
    view = service.get(first.number)
    assert view is not None
    assert [(m.kind, m.body) for m in view.messages] == [("followup", "社区医院挂号多收我二十块钱，不给开发票")]
    assert service.count() == 3


def test_a_repeat_after_the_window_is_a_new_ticket(service: TicketService, make_draft: MakeDraft, clock: Clock) -> None:
    first = service.create(make_draft(phone="13912345678"))
    clock.advance(days=8)
    later = service.create(make_draft(phone="13912345678"))
    assert later.created and later.number != first.number


def test_many_citizens_on_one_matter_form_a_hot_spot(service: TicketService, make_draft: MakeDraft) -> None:
    same_pothole = [
        "朝阳路和建国路路口有个大坑，好几辆电动车摔了",
        "建国路朝阳路路口那个大坑，电动车经过摔了好几次",
        "朝阳路建国路口路面大坑一直没人修，电动车摔倒",
    ]
    numbers = [
        service.create(make_draft(phone=f"1391234{i:04d}", description=text, location="朝阳路与建国路路口")).number
        for i, text in enumerate(same_pothole)
    ]
    unrelated = service.create(
        make_draft(phone="13800001111", description="医保报销比例是多少", location="海淀区")
    ).number

    [spot] = service.hotspots()
    assert set(spot.ticket_numbers) == set(numbers)
    view = service.get(unrelated)
    assert view is not None and view.hotspot_id is None


def test_overdue_and_due_soon_follow_the_working_day_calendar(
    service: TicketService, make_draft: MakeDraft, clock: Clock
) -> None:
    number = service.create(make_draft()).number  # Monday 2026-11-23: due in 15 working days, 2026-12-14
    view = service.get(number)
    assert view is not None and view.due_date == date(2026, 12, 14)

    assert service.overdue(date(2026, 12, 14)) == []
    assert [v.number for v in service.due_soon(date(2026, 12, 10))] == [number]  # Thu: due by Mon
    assert [v.number for v in service.overdue(date(2026, 12, 15))] == [number]

    service.transition(number, S.ASSIGNED, OPERATOR)
    service.transition(number, S.IN_PROGRESS, OPERATOR)
    service.reply(number, "已处理。", OPERATOR)
    assert service.overdue(date(2026, 12, 15)) == []  # answered: the clock stopped


def test_overdue_tickets_are_escalated_once(service: TicketService, make_draft: MakeDraft, clock: Clock) -> None:
    late = service.create(make_draft()).number
    clock.advance(days=30)
    fresh = service.create(make_draft(description="另一件事：药店不给退药", location="西城区")).number

    escalated = service.escalate_overdue()
    assert [v.number for v in escalated] == [late]
    assert service.escalate_overdue() == []
    view = service.get(late)
    assert view is not None and view.escalated
    assert audit_actions(service, late)[-1] == ("escalate", "12320 受理中心（待分派）", "值班长")
    assert outbox_events(service, late)[-1] == "ticket.escalated"
    assert not service.get(fresh).escalated  # type: ignore[union-attr]


def test_listing_filters(service: TicketService, make_draft: MakeDraft) -> None:
    complaint = service.create(make_draft(description="医院停车场乱收费")).number
    report = service.create(make_draft(kind=TicketKind.REPORT, description="无证诊所给人输液")).number
    service.assign(report, OPERATOR, assignee="li")

    assert [v.number for v in service.list()] == [report, complaint]  # newest first
    assert [v.number for v in service.list(TicketFilter(kind=TicketKind.REPORT))] == [report]
    assert [v.number for v in service.list(TicketFilter(status=S.RECEIVED))] == [complaint]
    assert [v.number for v in service.list(TicketFilter(assignee="li"))] == [report]
    assert [v.number for v in service.list(TicketFilter(text="停车场"))] == [complaint]
    assert [v.number for v in service.list(TicketFilter(text="%"))] == []  # LIKE wildcards are literal
    assert service.count(TicketFilter(kind=TicketKind.COMPLAINT)) == 1
    assert all(v.phone_masked.count("*") == 4 for v in service.list())
    with pytest.raises(ValueError, match="limit"):
        service.list(limit=0)


def test_no_code_path_changes_a_ticket_without_an_audit_row(service: TicketService, make_draft: MakeDraft) -> None:
    number = service.create(make_draft()).number
    service.assign(number, OPERATOR, assignee="li")
    service.transition(number, S.IN_PROGRESS, "li")
    service.reply(number, "已处理。", "li")
    service.transition(number, S.CLOSED, OPERATOR)
    service.rate(number, "5678", 5)
    service.contact(number, OPERATOR)

    # Every change above left a row; and a session of the service that skips the audit cannot flush.
    assert len(audit_actions(service, number)) == 9
    sessions = service._write_sessions  # the only sessions that write tickets
    with pytest.raises(UnauditedChange), sessions.begin() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None
        ticket.department = "某个不留痕的部门"
    view = service.get(number)
    assert view is not None and view.department == "12320 受理中心（待分派）"
    with Session(service.engine) as session:
        assert session.scalar(select(func.count(AuditEntry.id))) == 9


def test_the_triage_desk_corrects_the_domain_and_the_ticket_goes_to_that_department(
    service: TicketService, make_draft: MakeDraft
) -> None:
    number = service.create(make_draft(description="楼下烧烤店油烟直冲我家窗户")).number  # kind routing: triage desk
    corrected = service.assign(number, OPERATOR, domain="环保")
    assert (corrected.domain, corrected.department, corrected.status) == ("环保", "市生态环境局", S.ASSIGNED)
    assert audit_actions(service, number)[-3:] == [
        ("assign_domain", None, "环保"),
        ("assign_department", "12320 受理中心（待分派）", "市生态环境局"),
        ("transition", "received", "assigned"),
    ]
    # A named department wins over the table's; the domain is still corrected.
    again = service.assign(number, OPERATOR, domain="城建", department="朝阳区城市管理委员会")
    assert (again.domain, again.department) == ("城建", "朝阳区城市管理委员会")

    with pytest.raises(ValueError, match=r"未知的领域 '天文'.*城建"):
        service.assign(number, OPERATOR, domain="天文")
    assert service.get(number).domain == "城建"  # nothing changed

    request = service.create(make_draft(kind=TicketKind.DISCLOSURE_REQUEST)).number
    disclosure = service.assign(request, OPERATOR, domain="医疗")
    assert (disclosure.domain, disclosure.department) == ("医疗", "政府信息公开办公室")  # the office answers 依申请公开


def test_domain_corrections_that_stand_become_routing_labels_without_personal_numbers(
    service: TicketService, make_draft: MakeDraft
) -> None:
    first = service.create(make_draft(description="村里土地流转费没发，我电话13900001234", subject="村委会")).number
    second = service.create(make_draft(description="小区暖气不热")).number
    untouched = service.create(make_draft(description="公交站牌被撞坏了")).number
    service.assign(first, OPERATOR, domain="城建")
    service.assign(first, "operator:li", domain="三农")  # corrected again: the later one is the label
    service.assign(second, OPERATOR, domain="城建")
    service.assign(untouched, OPERATOR, assignee="li")

    labels = service.routing_labels()
    assert [(label.ticket_number, label.domain, label.actor) for label in labels] == [
        (first, "三农", "operator:li"),
        (second, "城建", OPERATOR),
    ]
    assert labels[0].text == "村里土地流转费没发，我电话[电话] 村委会"
    assert "13900001234" not in repr(labels)
