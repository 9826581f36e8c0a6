"""TicketService on real databases: a SQLite file per test, and PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
import threading
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.tickets import TicketDraft, TicketKind, TicketService, TicketStatus, open_ticket_service
from bot.tickets.models import AuditEntry, Ticket, TicketContact
from tests.tickets import workers
from tests.tickets.conftest import MONDAY_MORNING, Clock

MakeDraft = Callable[..., TicketDraft]


def test_create_then_get(service: TicketService, make_draft: MakeDraft) -> None:
    receipt = service.create(make_draft())

    assert receipt.created
    assert receipt.number == "12320-20261123-000001"
    assert receipt.kind is TicketKind.COMPLAINT
    assert receipt.department == "12320 受理中心（待分派）"
    assert receipt.due_date == date(2026, 12, 14)  # 15 working days after Monday 2026-11-23
    view = service.get(receipt.number)
    assert view is not None
    assert view.status is TicketStatus.RECEIVED
    assert (view.kind, view.department, view.due_date) == (receipt.kind, receipt.department, receipt.due_date)
    assert view.description == "诊所挂号费多收了二十块，还不给发票"
    assert view.created_at == MONDAY_MORNING
    assert service.get("12320-20261123-000002") is None
    assert service.get("not a number") is None


def test_views_mask_personal_data(service: TicketService, make_draft: MakeDraft) -> None:
    receipt = service.create(make_draft(phone="+86 139 1234 5678", name="欧阳娜娜"))
    view = service.get(receipt.number)
    assert view is not None
    assert view.phone_masked == "139****5678"
    assert view.name_masked == "欧***"
    assert "13912345678" not in repr(view)


def test_anonymous_landline_ticket(service: TicketService, make_draft: MakeDraft) -> None:
    receipt = service.create(make_draft(name=None, phone="(0755)12345678", consent_to_contact=False))
    view = service.get(receipt.number)
    assert view is not None
    assert (view.name_masked, view.phone_masked, view.consent_to_contact) == (None, "0755-1234****", False)


def test_personal_data_is_stored_apart_from_the_ticket(service: TicketService, make_draft: MakeDraft) -> None:
    receipt = service.create(make_draft(phone="139 1234 5678"))
    with service.engine.connect() as connection:
        ticket_row = connection.execute(select(Ticket.__table__).where(Ticket.number == receipt.number)).one()
        contact = connection.execute(select(TicketContact.__table__)).one()
    assert "13912345678" not in repr(ticket_row) and "张三" not in repr(ticket_row)
    assert (contact.phone, contact.name) == ("13912345678", "张三")  # stored normalised


def test_same_idempotency_key_never_creates_a_second_ticket(service: TicketService, make_draft: MakeDraft) -> None:
    draft = make_draft(idempotency_key="rasa-sender-1-form-3")
    first = service.create(draft)
    again = service.create(dataclasses.replace(draft, description="重复提交"))

    assert first.created and not again.created
    assert dataclasses.replace(again, created=True) == first
    assert service.create(make_draft()).number.endswith("-000002")  # the replay used up no number
    with service.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Ticket)) == 2


def test_racing_writers_with_one_key_get_one_ticket(
    database_url: str, service: TicketService, make_draft: MakeDraft, clock: Clock
) -> None:
    draft = make_draft(idempotency_key="double-click")
    services = [TicketService(open_ticket_service(database_url).engine, clock) for _ in range(4)]
    barrier = threading.Barrier(len(services))
    receipts = []

    def file(store: TicketService) -> None:
        barrier.wait()
        receipts.append(store.create(draft))

    threads = [threading.Thread(target=file, args=(store,)) for store in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in services:
        store.close()

    assert len(receipts) == 4
    assert len({receipt.number for receipt in receipts}) == 1
    assert sum(receipt.created for receipt in receipts) == 1


def test_numbers_are_sequential_per_beijing_day(service: TicketService, make_draft: MakeDraft, clock: Clock) -> None:
    first_day = [service.create(make_draft()).number for _ in range(3)]
    clock.advance(hours=13, minutes=59)  # 23:59 in Beijing: still Monday
    last_of_monday = service.create(make_draft()).number
    clock.advance(minutes=2)  # 00:01 Tuesday in Beijing, 16:01 Monday in UTC
    tuesday = service.create(make_draft())

    assert first_day == [f"12320-20261123-00000{i}" for i in (1, 2, 3)]
    assert last_of_monday == "12320-20261123-000004"
    assert tuesday.number == "12320-20261124-000001"
    assert tuesday.due_date == date(2026, 12, 15)


def test_two_engines_in_threads_never_share_a_number(
    database_url: str, service: TicketService, make_draft: MakeDraft, clock: Clock
) -> None:
    stores = [TicketService(open_ticket_service(database_url).engine, clock) for _ in range(2)]
    numbers: list[str] = []

    def file(store: TicketService) -> None:
        numbers.extend(store.create(make_draft()).number for _ in range(20))

    threads = [threading.Thread(target=file, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()

    assert sorted(numbers) == [f"12320-20261123-{i:06d}" for i in range(1, 41)]


def test_two_processes_never_share_a_number(database_url: str) -> None:
    # Both processes start on a file that does not exist yet: they also race to create the schema.
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    pipes, processes = [], []
    for writer, first_phone in (("actions", 12_340_000), ("gateway", 12_350_000)):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=workers.file_tickets,
            args=(database_url, MONDAY_MORNING.isoformat(), writer, first_phone, 25, go, sender),
        )
        process.start()
        pipes.append(receiver)
        processes.append(process)
    go.set()
    for process in processes:
        process.join(timeout=120)  # a few hundred bytes each: the pipe never blocks the sender
        assert process.exitcode == 0, "a writer failed: see its traceback above"
    numbers = [number for receiver in pipes for number in receiver.recv()]

    assert sorted(numbers) == [f"12320-20261123-{i:06d}" for i in range(1, 51)]


def test_a_receipt_survives_the_process_being_killed(database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=workers.file_and_die, args=(database_url, sender))
    process.start()
    process.join(timeout=120)
    assert process.exitcode == -signal.SIGKILL
    number = receiver.recv()

    service = open_ticket_service(database_url)
    view = service.get(number)
    service.close()
    assert view is not None and view.phone_masked == "010-1234****"


def test_tickets_survive_a_restart(database_url: str, make_draft: MakeDraft, clock: Clock) -> None:
    before = open_ticket_service(database_url, clock=clock)
    receipt = before.create(make_draft())
    before.close()

    after = open_ticket_service(database_url, clock=clock)
    view = after.get(receipt.number)
    next_receipt = after.create(make_draft())
    after.close()

    assert view is not None and view.number == receipt.number
    assert next_receipt.number == "12320-20261123-000002"


def test_status_for_citizen_needs_the_right_pair(service: TicketService, make_draft: MakeDraft) -> None:
    mine = service.create(make_draft(phone="13912345678")).number
    other = service.create(make_draft(phone="13800001111")).number

    view = service.status_for_citizen(mine, "5678")
    assert view is not None and view.number == mine
    assert service.status_for_citizen(f" {mine.replace('-', '－')} ", "５６７８") is not None  # 全角, as typed
    assert service.status_for_citizen(mine, "1111") is None
    assert service.status_for_citizen(other, "5678") is None
    assert service.status_for_citizen("12320-20261123-000099", "5678") is None
    assert service.status_for_citizen(mine, "") is None
    assert service.status_for_citizen(mine, "678") is None
    assert service.status_for_citizen(mine, "15678") is None


def test_create_writes_one_audit_row(service: TicketService, make_draft: MakeDraft) -> None:
    receipt = service.create(make_draft(channel="wechat"))
    other_matter = {"description": "医院门口的共享单车乱停，救护车进出困难", "location": "东城区"}
    service.create(make_draft(idempotency_key="twice", **other_matter))
    service.create(make_draft(idempotency_key="twice", **other_matter))

    with service.engine.connect() as connection:
        rows = connection.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)).all()
    assert len(rows) == 2
    first = rows[0]
    assert (first.ticket_number, first.actor, first.action) == (receipt.number, "citizen:wechat", "create")
    assert (first.from_value, first.to_value) == (None, "received")


def test_audit_log_is_append_only(service: TicketService, make_draft: MakeDraft) -> None:
    service.create(make_draft())
    for statement in (update(AuditEntry).values(actor="someone else"), delete(AuditEntry)):
        with pytest.raises(DBAPIError, match="append-only"), service.engine.begin() as connection:
            connection.execute(statement)
    with service.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM audit_log")) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phone": "1391234567"}, "phone"),
        ({"phone": "+852 9123 4567"}, "phone"),
        ({"description": "  "}, "description"),
        ({"channel": "fax"}, "channel"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_unusable_drafts_are_refused(
    service: TicketService, make_draft: MakeDraft, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        service.create(make_draft(**overrides))
    assert "1391234567" not in str(refused.value) and "9123" not in str(refused.value)
    with service.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_draft_repr_leaks_no_personal_data(make_draft: MakeDraft) -> None:
    shown = repr(make_draft(name="张三", phone="13912345678"))
    assert "13912345678" not in shown and "张三" not in shown


def test_disclosure_requests_go_to_the_disclosure_office(service: TicketService, make_draft: MakeDraft) -> None:
    receipt = service.create(make_draft(kind=TicketKind.DISCLOSURE_REQUEST, description="2025年本区医疗机构抽检结果"))
    assert receipt.department == "政府信息公开办公室"
    assert receipt.due_date == date(2026, 12, 21)  # 20 working days


def test_kind_given_as_plain_string_is_accepted(service: TicketService, make_draft: MakeDraft) -> None:
    receipt = service.create(make_draft(kind="suggestion"))
    assert receipt.kind is TicketKind.SUGGESTION
