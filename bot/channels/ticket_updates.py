"""事后结果及时获知: when a ticket is replied to or closed, the citizen hears it on the channel they used.

The ticket service writes an outbox row with every status change (bot/tickets/service.py); this consumer reads
those rows, and for a ticket whose citizen consented to be contacted delivers the answer and a rating prompt
through the conversation's channel (`deliver`, bot/channels/base.py). Its own table, `citizen_notices`, keeps
one row per outbox event: delivered, skipped (nothing to tell, or no consent), unreachable (a channel that
cannot be written to), or pending with its attempts. A failed delivery is retried with backoff (10 s doubling
to an hour) and never given up, so nothing acknowledged is lost; a crash between delivering and recording
sends the notice again (at least once).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.channels.base import Channels, Kind, OutboundMessage
from bot.conversation.transcript import Speaker, TranscriptStore
from bot.database import READ_ONLY, Base, Id, UTCDateTime
from bot.handoff.desk import HandoffDesk
from bot.tickets.domain import KIND_LABELS, TicketKind, TicketStatus
from bot.tickets.models import OutboxEvent, Ticket, TicketContact, TicketMessage
from bot.tickets.workflow import status_label

logger = logging.getLogger(__name__)

#: The statuses a citizen is told about: the answer, and the end of the matter.
TOLD_STATUSES = frozenset({TicketStatus.REPLIED, TicketStatus.CLOSED, TicketStatus.ARCHIVED})
FIRST_RETRY_S = 10.0
MAX_RETRY_S = 3600.0
BATCH = 50


class NoticeState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    SKIPPED = "skipped"  # not a change the citizen is told about, or no consent to contact
    UNREACHABLE = "unreachable"  # the conversation's channel cannot be written to (a phone call)


class CitizenNoticeRow(Base):
    __tablename__ = "citizen_notices"

    outbox_id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Notice:
    outbox_id: int
    ticket_number: str
    sender_id: str
    text: str
    rating_prompt: bool


def notice_text(kind: TicketKind, number: str, status: TicketStatus, reply: str | None) -> str:
    label = KIND_LABELS[kind]
    if status is TicketStatus.REPLIED and reply:
        return f"您的{label}（工单号{number}）已有答复：{reply}"
    return f"您的{label}（工单号{number}）{status_label(kind, status)}。"


RATING_PROMPT = "请对办理结果作出评价：凭工单号和登记电话后四位，打1到5分（5分最满意），也可以留下意见。"


class TicketUpdates:
    def __init__(
        self,
        engine: Engine,
        channels: Channels,
        desk: HandoffDesk,
        transcript: TranscriptStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.engine = engine
        self.channels = channels
        self.desk = desk
        self.transcript = transcript
        self.clock = clock
        self._reader = engine.execution_options(**{READ_ONLY: True})

    async def run_once(self) -> int:
        """Take in new outbox events, then deliver what is due; returns how many were delivered."""
        await asyncio.to_thread(self._take_in)
        delivered = 0
        for notice in await asyncio.to_thread(self._due):
            if await self._deliver(notice):
                delivered += 1
        return delivered

    @asynccontextmanager
    async def running(self, interval_s: float) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await self.run_once()
                except SQLAlchemyError:
                    logger.exception("ticket updates: a round failed; the next one retries")
                await asyncio.sleep(interval_s)

        task = asyncio.create_task(loop(), name="ticket-updates")
        try:
            yield
        finally:
            task.cancel()

    def _take_in(self) -> None:
        """One notice row per status-change event not seen yet: pending if the citizen is to be told."""
        with Session(self._reader) as session:
            seen = select(CitizenNoticeRow.outbox_id)
            events = session.execute(
                select(OutboxEvent.id, OutboxEvent.ticket_number, OutboxEvent.payload)
                .where(OutboxEvent.event == "ticket.status_changed", OutboxEvent.id.not_in(seen))
                .order_by(OutboxEvent.id)
                .limit(BATCH * 4)
            ).all()
            consent = dict(
                session.execute(
                    select(Ticket.number, TicketContact.consent_to_contact)
                    .join(TicketContact, TicketContact.ticket_id == Ticket.id)
                    .where(Ticket.number.in_({number for _, number, _ in events}))
                ).all()
            )
        now = self.clock()
        for outbox_id, number, payload in events:
            status = json.loads(payload)["ticket"]["status"]
            told = status in TOLD_STATUSES and consent.get(number, False)
            state = NoticeState.PENDING if told else NoticeState.SKIPPED
            try:
                with Session(self.engine) as session, session.begin():
                    session.add(
                        CitizenNoticeRow(
                            outbox_id=outbox_id, ticket_number=number, state=state, attempts=0, next_attempt_at=now
                        )
                    )
            except IntegrityError:  # another gateway took it in first
                continue

    def _due(self) -> list[Notice]:
        now = self.clock()
        with Session(self._reader) as session:
            rows = session.execute(
                select(CitizenNoticeRow.outbox_id, OutboxEvent.payload, Ticket)
                .join(OutboxEvent, OutboxEvent.id == CitizenNoticeRow.outbox_id)
                .join(Ticket, Ticket.number == CitizenNoticeRow.ticket_number)
                .where(CitizenNoticeRow.state == NoticeState.PENDING, CitizenNoticeRow.next_attempt_at <= now)
                .order_by(CitizenNoticeRow.outbox_id)
                .limit(BATCH)
            ).all()
            notices = []
            for outbox_id, payload, ticket in rows:
                status = TicketStatus(json.loads(payload)["ticket"]["status"])
                reply = session.scalar(
                    select(TicketMessage.body)
                    .where(TicketMessage.ticket_id == ticket.id, TicketMessage.kind == "reply")
                    .order_by(TicketMessage.id.desc())
                    .limit(1)
                )
                text = notice_text(TicketKind(ticket.kind), ticket.number, status, reply)
                notices.append(
                    Notice(outbox_id, ticket.number, ticket.sender_id, text, status is not TicketStatus.REPLIED)
                )
        return notices

    async def _deliver(self, notice: Notice) -> bool:
        conversation = await asyncio.to_thread(self.desk.get, notice.sender_id)
        text = f"{notice.text}\n{RATING_PROMPT}" if notice.rating_prompt else notice.text
        try:
            turn = await asyncio.to_thread(self.transcript.record, notice.sender_id, Speaker.SYSTEM, text)
            message = OutboundMessage(Kind.MESSAGE, text, seq=turn.seq, data={"ticket_number": notice.ticket_number})
            if self.channels.can_deliver(conversation.channel):
                delivered = await self.channels.deliver(conversation, message)
            else:
                await asyncio.to_thread(self._finish, notice.outbox_id, NoticeState.UNREACHABLE, None)
                return False
        except Exception as exc:  # a platform's failure: retried, never lost
            await asyncio.to_thread(self._retry, notice.outbox_id, f"{type(exc).__name__}: {exc}"[:200])
            return False
        if not delivered:
            await asyncio.to_thread(self._retry, notice.outbox_id, "the channel did not take it")
            return False
        await asyncio.to_thread(self._finish, notice.outbox_id, NoticeState.DELIVERED, self.clock())
        return True

    def _finish(self, outbox_id: int, state: NoticeState, at: datetime | None) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(CitizenNoticeRow, outbox_id)
            if row is not None:
                row.state, row.delivered_at = state, at

    def _retry(self, outbox_id: int, error: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(CitizenNoticeRow, outbox_id)
            if row is None:
                return
            row.attempts = attempts = row.attempts + 1
            delay = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (attempts - 1))
            row.next_attempt_at = self.clock() + timedelta(seconds=delay)
            row.last_error = error
        logger.warning("ticket update for an outbox event not delivered (attempt %d): %s", attempts, error)
