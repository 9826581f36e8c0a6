"""事后结果及时获知: a ticket's answer and its end reach the citizen on their channel, once, and a failing channel
is retried, never lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.base import Channels, OutboundMessage
from bot.channels.ticket_updates import RATING_PROMPT, CitizenNoticeRow, TicketUpdates
from bot.channels.web import WebChannel
from bot.conversation.conversation_ids import ConversationRegistry
from bot.conversation.transcript import Speaker, TranscriptStore
from bot.handoff.desk import Awaiting, Conversation, HandoffDesk
from bot.handoff.pubsub import InProcessHub, citizen_topic
from bot.tickets import TicketDraft, TicketKind, TicketService, TicketStatus, open_ticket_service
from tests.tickets.conftest import Clock


class FlakyChannel:
    """A channel whose platform fails the first `failures` deliveries (as Twilio or WeChat may)."""

    name = "sms"
    pushes = True

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("platform down")
        self.sent.append(message.text)
        return True


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(database_url: str, clock: Clock) -> Iterator[TicketService]:
    service = open_ticket_service(database_url, clock=clock)
    yield service
    service.close()


def _file(service: TicketService, sender_id: str, *, channel: str = "web", consent: bool = True) -> str:
    draft = TicketDraft(
        kind=TicketKind.COMPLAINT, description="诊所多收挂号费", location="某社区卫生服务中心", occurred_at="上周三",
        subject="收费窗口", name=None, phone="13912345678", consent_to_contact=consent, channel=channel,
        sender_id=sender_id, idempotency_key=f"key-{sender_id}",
    )  # fmt: skip
    return service.create(draft).number


def _conversation_on(service: TicketService, conversation_id: str, channel: str) -> None:
    """A platform conversation as its first turn leaves it (a row on its channel, the bot's)."""
    desk = HandoffDesk(service.engine)
    desk.set_awaiting(conversation_id, channel, Awaiting.CALLBACK_MESSAGE)
    desk.set_awaiting(conversation_id, channel, None)


def _answer(service: TicketService, number: str) -> None:
    for status in (TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS):
        service.transition(number, status, "operator:alice")
    service.reply(number, "经核实，已责令诊所退还多收的20元。", "operator:alice")


def _updates(service: TicketService, clock: Clock, *channels: Any) -> tuple[TicketUpdates, InProcessHub]:
    hub = InProcessHub()
    engine = service.engine
    updates = TicketUpdates(
        engine, Channels(WebChannel(hub), *channels), HandoffDesk(engine), TranscriptStore(engine), clock
    )
    return updates, hub


def _states(service: TicketService) -> list[tuple[str, int]]:
    with Session(service.engine) as session:
        rows = session.scalars(select(CitizenNoticeRow).order_by(CitizenNoticeRow.outbox_id))
        return [(row.state, row.attempts) for row in rows]


def test_the_answer_and_the_end_reach_the_web_citizen_once(service: TicketService, clock: Clock) -> None:
    citizen = ConversationRegistry(service.engine).start_web()
    number = _file(service, citizen)
    _answer(service, number)
    updates, hub = _updates(service, clock)

    async def run(then: Callable[[], None] | None = None) -> list[dict[str, Any]]:
        received = []
        async with hub.subscribe(citizen_topic(citizen)) as live:
            await updates.run_once()
            if then:
                then()
                await updates.run_once()
            while True:
                try:
                    received.append(await asyncio.wait_for(live.get(), 0.2))
                except TimeoutError:
                    return received

    (answer,) = asyncio.run(run())
    assert answer["text"] == f"您的投诉（工单号{number}）已有答复：经核实，已责令诊所退还多收的20元。"
    assert answer["ticket_number"] == number
    # Told once; the close then brings the rating prompt.
    (closed,) = asyncio.run(run(lambda: service.transition(number, TicketStatus.CLOSED, "operator:alice")))
    assert closed["text"].endswith(RATING_PROMPT) and "已办结" in closed["text"]
    system = [t.text for t in TranscriptStore(service.engine).turns(citizen) if t.speaker is Speaker.SYSTEM]
    assert system == [answer["text"], closed["text"]]  # the page that was closed reads them on its return
    assert [state for state, _ in _states(service)].count("delivered") == 2


def test_no_consent_no_message_and_other_changes_are_not_told(service: TicketService, clock: Clock) -> None:
    citizen = ConversationRegistry(service.engine).start_web()
    number = _file(service, citizen, consent=False)
    _answer(service, number)
    updates, _ = _updates(service, clock)
    assert asyncio.run(updates.run_once()) == 0
    assert {state for state, _ in _states(service)} == {"skipped"}
    assert [t for t in TranscriptStore(service.engine).turns(citizen) if t.speaker is Speaker.SYSTEM] == []


def test_a_failing_platform_is_retried_with_backoff_until_it_delivers(service: TicketService, clock: Clock) -> None:
    citizen = "sms-conversation-1"
    _conversation_on(service, citizen, "sms")
    number = _file(service, citizen, channel="sms")
    _answer(service, number)
    sms = FlakyChannel(failures=2)
    updates, _ = _updates(service, clock, sms)
    pending = [(s, a) for s, a in _states(service) if s != "skipped"]
    assert pending == []  # nothing taken in before the first round
    asyncio.run(updates.run_once())
    assert [(s, a) for s, a in _states(service) if s != "skipped"] == [("pending", 1)]
    asyncio.run(updates.run_once())  # not due yet: 10 s of backoff
    assert sms.failures == 1
    clock.advance(seconds=10)
    asyncio.run(updates.run_once())
    assert [(s, a) for s, a in _states(service) if s != "skipped"] == [("pending", 2)]
    clock.advance(seconds=19)
    asyncio.run(updates.run_once())
    assert sms.sent == []  # 20 s the second time
    clock.advance(seconds=1)
    asyncio.run(updates.run_once())
    assert sms.sent and number in sms.sent[0]
    assert [s for s, _ in _states(service) if s != "skipped"] == ["delivered"]


def test_a_channel_that_cannot_push_is_recorded_as_unreachable(service: TicketService, clock: Clock) -> None:
    citizen = "voice-caller-1"
    _conversation_on(service, citizen, "voice")
    number = _file(service, citizen, channel="voice")
    _answer(service, number)
    updates, _ = _updates(service, clock)
    asyncio.run(updates.run_once())
    assert [s for s, _ in _states(service) if s != "skipped"] == ["unreachable"]
