"""The channels' memory between requests (bot/channels/models.py): what is left of the last reply and the choices
it offered, and the SMS recipients with their opt-outs. Synchronous SQLAlchemy: async callers use a thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.channels.models import FollowupRow, SmsRecipientRow
from bot.database import READ_ONLY

logger = logging.getLogger(__name__)

T = TypeVar("T")
D = TypeVar("D")


async def best_effort(default: D, function: Callable[..., T], *args: Any) -> T | D:
    """A store call in a worker thread, or `default` if the database fails: what a channel remembers between
    requests is a convenience, never a reason to leave a caller without an answer (or an emergency without its
    guidance). The failure is logged; the core reports its own."""
    try:
        return await asyncio.to_thread(function, *args)
    except SQLAlchemyError:
        logger.exception("channel store failed in %s", getattr(function, "__qualname__", function))
        return default


@dataclass(frozen=True)
class Followup:
    rest: list[str] = field(default_factory=list)
    choices: dict[str, str] = field(default_factory=dict)
    prompt: str | None = None
    answer: dict[str, Any] | None = None


class FollowupStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.engine = engine
        self.clock = clock
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def get(self, sender_id: str) -> Followup:
        with Session(self._reader) as session:
            row = session.get(FollowupRow, sender_id)
            if row is None:
                return Followup()
            return Followup(list(row.rest), dict(row.choices), row.prompt, row.answer)

    def put(self, sender_id: str, channel: str, followup: Followup) -> None:
        """The reply just given replaces the last one: its rest, its choices."""
        with Session(self.engine) as session, session.begin():
            row = session.get(FollowupRow, sender_id) or FollowupRow(sender_id=sender_id)
            row.channel = channel
            row.rest, row.choices = list(followup.rest), dict(followup.choices)
            row.prompt, row.answer = followup.prompt, followup.answer
            row.updated_at = self.clock()
            session.add(row)

    def next_part(self, sender_id: str) -> tuple[str, bool] | None:
        """The next part of the last reply, taken off the rest (one taker at a time: two "更多" in a race get two
        different parts), and whether more is left; None when nothing is left."""
        with Session(self.engine) as session, session.begin():
            row = session.get(FollowupRow, sender_id, with_for_update=True)
            if row is None or not row.rest:
                return None
            part, *rest = row.rest
            row.rest, row.updated_at = rest, self.clock()
            return part, bool(rest)

    def clear_before(self, cutoff: datetime) -> int:
        """Retention: the reply text kept for "more" goes with the conversation text (bot/conversation/retention.py)."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(FollowupRow)
                .where(FollowupRow.updated_at < cutoff)
                .values(rest=[], prompt=None, answer=None)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)


class SmsRecipients:
    """Who may be texted: the number behind an SMS conversation id, unless it opted out."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.engine = engine
        self.clock = clock
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def remember(self, sender_id: str, number: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(SmsRecipientRow, sender_id)
            if row is None:
                session.add(SmsRecipientRow(sender_id=sender_id, number=number, updated_at=self.clock()))
            elif row.number != number:
                row.number, row.updated_at = number, self.clock()

    def opt_out(self, sender_id: str, number: str) -> None:
        """STOP / 退订: from now on nothing is sent to this number, replies to its own messages included."""
        with Session(self.engine) as session, session.begin():
            row = session.get(SmsRecipientRow, sender_id) or SmsRecipientRow(sender_id=sender_id)
            row.number, row.updated_at = number, self.clock()
            row.opted_out_at = row.opted_out_at or row.updated_at
            session.add(row)

    def opt_in(self, sender_id: str, number: str) -> None:
        """START / 开始: the number may be texted again."""
        with Session(self.engine) as session, session.begin():
            row = session.get(SmsRecipientRow, sender_id) or SmsRecipientRow(sender_id=sender_id)
            row.number, row.opted_out_at, row.updated_at = number, None, self.clock()
            session.add(row)

    def opted_out(self, sender_id: str) -> bool:
        with Session(self._reader) as session:
            row = session.get(SmsRecipientRow, sender_id)
            return row is not None and row.opted_out_at is not None

    def reachable_number(self, sender_id: str) -> str | None:
        """The number to text for `sender_id`, or None: unknown, or opted out."""
        with Session(self._reader) as session:
            row = session.get(SmsRecipientRow, sender_id)
            return None if row is None or row.opted_out_at is not None else row.number
