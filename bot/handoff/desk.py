"""The handoff desk: everything that reads or changes who owns a conversation goes through here.

Each change is one move of the state machine (bot/handoff/workflow.py), applied in one transaction with its
event row (who, when, from, to, why). Taking a conversation is a conditional UPDATE (… WHERE owner = 'queue'),
so of two operators who take it at once exactly one succeeds, on SQLite (BEGIN IMMEDIATE) as on PostgreSQL
(the second UPDATE re-reads the row after the first commits). After a commit the desk publishes what changed
(bot/handoff/pubsub.py); it never talks to a channel.

The desk is synchronous SQLAlchemy: async callers run it in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, case, func, select, update
from sqlalchemy.orm import Session

from bot.auth import Principal, Role
from bot.conversation.transcript import Speaker, TurnRow
from bot.database import READ_ONLY
from bot.handoff.models import ConversationRow, HandoffEventRow, HeldMessageRow
from bot.handoff.policy import HandoffPolicy
from bot.handoff.pubsub import QUEUE_TOPIC, Hub, NullHub, console_topic
from bot.handoff.workflow import InvalidMove, Move, Owner, Priority, check_move
from bot.redaction import Values, redact_citizen_text, redact_numbers

#: How many recent handled conversations the expected wait is estimated from.
RECENT_HANDLED = 20


class Awaiting(StrEnum):
    """What the gateway itself asked the citizen for, outside Rasa's forms."""

    CALLBACK_MESSAGE = "callback_message"  # 留言: the matter and a phone number to call back


class UnknownConversation(LookupError):
    pass


class TakenByAnother(Exception):
    """Another operator took the conversation first (HTTP 409)."""

    def __init__(self, operator: str | None):
        self.operator = operator
        super().__init__("这个会话已被其他坐席接入")


class NotYours(PermissionError):
    """The conversation is held by another operator; only they, or a supervisor, may act on it."""


@dataclass(frozen=True)
class Conversation:
    sender_id: str
    owner: Owner
    handoff_reason: str | None
    priority: Priority
    awaiting: Awaiting | None = None
    channel: str = "web"
    operator: str | None = None
    queued_at: datetime | None = None
    reply_due_since: datetime | None = None
    last_citizen_at: datetime | None = None
    offered: str | None = None
    rating_asked_at: datetime | None = None
    closed_at: datetime | None = None
    resolution_note: str | None = None


@dataclass(frozen=True)
class QueueEntry:
    conversation_id: str
    channel: str
    reason: str | None
    priority: Priority
    position: int  # 1 = next
    waiting_s: int
    last_message: str | None  # masked
    expected_wait_s: int

    def json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "reason": self.reason,
            "priority": str(self.priority),
            "position": self.position,
            "waiting_s": self.waiting_s,
            "last_message": self.last_message,
            "expected_wait_s": self.expected_wait_s,
        }


@dataclass(frozen=True)
class HandoffEvent:
    at: datetime
    actor: str
    move: str
    from_owner: str
    to_owner: str
    reason: str | None
    operator: str | None
    priority: str
    note: str | None


@dataclass(frozen=True)
class Timeout:
    """What the sweep did to one conversation."""

    sender_id: str
    move: Move  # TIMEOUT (back to the queue) or ABANDON (ended)
    operator: str | None
    channel: str


@dataclass
class _Change:
    """A conversation row under the write lock, and the events its moves wrote."""

    row: ConversationRow
    events: list[HandoffEventRow]


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        sender_id=row.sender_id,
        owner=Owner(row.owner),
        handoff_reason=row.handoff_reason,
        priority=Priority(row.priority),
        awaiting=Awaiting(row.awaiting) if row.awaiting else None,
        channel=row.channel,
        operator=row.operator,
        queued_at=row.queued_at,
        reply_due_since=row.reply_due_since,
        last_citizen_at=row.last_citizen_at,
        offered=row.offered,
        rating_asked_at=row.rating_asked_at,
        closed_at=row.closed_at,
        resolution_note=row.resolution_note,
    )


def _queue_order() -> tuple[Any, ...]:
    urgent_first = case((ConversationRow.priority == Priority.URGENT, 0), else_=1)
    return (urgent_first, ConversationRow.queued_at, ConversationRow.sender_id)


ABANDON_NOTE = "市民长时间未回复，会话自动结束。"
CITIZEN_LEFT_NOTE = "市民在排队时离开（如挂断电话），会话结束。"
QUEUE_ABANDON_NOTE = "排队等待过久，市民已离开，会话自动结束。"


class HandoffDesk:
    def __init__(
        self,
        engine: Engine,
        *,
        hub: Hub | None = None,
        policy: HandoffPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        """`engine`'s schema must be at head (bot.database.upgrade_schema): Alembic owns these tables."""
        self.engine = engine
        self.hub: Hub = hub or NullHub()
        self.policy = policy or HandoffPolicy()
        self.clock = clock
        # Reads take no write lock (SQLite: BEGIN DEFERRED), so a sender waiting to write never blocks a reader.
        self._reader = engine.execution_options(**{READ_ONLY: True})

    # -- reads ---------------------------------------------------------------------------------------------

    def get(self, sender_id: str) -> Conversation:
        with Session(self._reader) as session:
            row = session.get(ConversationRow, sender_id)
            if row is None:
                return Conversation(sender_id, Owner.BOT, None, Priority.NORMAL)
            return _conversation(row)

    def find(self, sender_id: str) -> Conversation:
        """The conversation, or UnknownConversation: for operators, who may only act on ones that exist."""
        with Session(self._reader) as session:
            row = session.get(ConversationRow, sender_id)
            if row is None:
                raise UnknownConversation(sender_id)
            return _conversation(row)

    def queue(self) -> list[QueueEntry]:
        """The waiting conversations in the order operators should take them: urgent first, then longest wait."""
        now = self.clock()
        with Session(self._reader) as session:
            rows = list(session.scalars(select(ConversationRow).where(ConversationRow.owner == Owner.QUEUE)))
            rows.sort(key=lambda r: (r.priority != Priority.URGENT, r.queued_at or r.updated_at, r.sender_id))
            last = self._last_citizen_texts(session, [r.sender_id for r in rows])
            handling_s = self._handling_estimate(session)
            operators = max(1, self._operators_busy_or_free(session))
        return [
            QueueEntry(
                conversation_id=row.sender_id,
                channel=row.channel,
                reason=row.handoff_reason,
                priority=Priority(row.priority),
                position=position,
                waiting_s=max(0, int((now - (row.queued_at or row.updated_at)).total_seconds())),
                last_message=redact_numbers(last[row.sender_id]) if row.sender_id in last else None,
                expected_wait_s=expected_wait(position, handling_s, operators),
            )
            for position, row in enumerate(rows, start=1)
        ]

    def place(self, sender_id: str) -> QueueEntry | None:
        """The conversation's place in the queue, or None when it is not waiting."""
        return next((entry for entry in self.queue() if entry.conversation_id == sender_id), None)

    def expected_wait_for_newcomer(self) -> int:
        """What a conversation joining the queue now would wait, in seconds."""
        with Session(self._reader) as session:
            waiting = session.scalar(select(func.count()).where(ConversationRow.owner == Owner.QUEUE)) or 0
            handling_s = self._handling_estimate(session)
            operators = max(1, self._operators_busy_or_free(session))
        return expected_wait(int(waiting) + 1, handling_s, operators)

    def held_by(self, operator: str) -> list[Conversation]:
        with Session(self._reader) as session:
            rows = session.scalars(
                select(ConversationRow)
                .where(ConversationRow.owner == Owner.OPERATOR, ConversationRow.operator == operator)
                .order_by(ConversationRow.updated_at)
            )
            return [_conversation(row) for row in rows]

    def held(self) -> list[Conversation]:
        """Every conversation an operator holds now, by operator: what a supervisor may reassign."""
        with Session(self._reader) as session:
            rows = session.scalars(
                select(ConversationRow)
                .where(ConversationRow.owner == Owner.OPERATOR)
                .order_by(ConversationRow.operator, ConversationRow.updated_at)
            )
            return [_conversation(row) for row in rows]

    def events(self, sender_id: str) -> list[HandoffEvent]:
        with Session(self._reader) as session:
            rows = session.scalars(
                select(HandoffEventRow).where(HandoffEventRow.sender_id == sender_id).order_by(HandoffEventRow.id)
            )
            return [
                HandoffEvent(r.at, r.actor, r.move, r.from_owner, r.to_owner, r.reason, r.operator, r.priority, r.note)
                for r in rows
            ]

    # -- moves ---------------------------------------------------------------------------------------------

    def request(
        self, sender_id: str, channel: str, reason: str, priority: Priority = Priority.NORMAL, actor: str = "bot"
    ) -> Conversation:
        """Hand the conversation to the queue (bot or closed → queue). One already with a person keeps its
        place and its operator; only the priority can rise."""
        with self._move(sender_id, channel) as change:
            row = change.row
            owner = Owner(row.owner)
            if owner in (Owner.QUEUE, Owner.OPERATOR):
                if priority is Priority.URGENT and row.priority != Priority.URGENT:
                    self._raise_priority(change, actor, reason)
                return _conversation(row)
            self._apply(change, Move.HANDOFF, actor, reason=reason)
            row.handoff_reason = reason
            row.priority = priority
            row.queued_at = row.updated_at
            row.operator, row.reply_due_since, row.closed_at, row.resolution_note = None, None, None, None
            row.offered = None
            return _conversation(row)

    def escalate(self, sender_id: str, channel: str) -> Owner:
        """An emergency, in any state: a conversation the bot had (or a closed one) goes to the queue, urgent;
        whoever holds it sees it flagged urgent. Returns the owner after the move."""
        with self._move(sender_id, channel) as change:
            row = change.row
            if Owner(row.owner) in (Owner.BOT, Owner.CLOSED):
                self._apply(change, Move.HANDOFF, "system", reason="emergency")
                row.handoff_reason = "emergency"
                row.queued_at = row.updated_at
                row.operator, row.reply_due_since, row.closed_at, row.resolution_note = None, None, None, None
                row.priority = Priority.URGENT
            elif row.priority != Priority.URGENT:
                self._raise_priority(change, "system", "emergency")
            return Owner(row.owner)

    def take(self, sender_id: str, operator: Principal) -> Conversation:
        """Queue → this operator, atomically: TakenByAnother if someone else was first."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            taken = session.execute(
                update(ConversationRow)
                .where(ConversationRow.sender_id == sender_id, ConversationRow.owner == Owner.QUEUE)
                .values(owner=Owner.OPERATOR, operator=operator.name, reply_due_since=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            row = session.get(ConversationRow, sender_id, populate_existing=True)
            if row is None:
                raise UnknownConversation(sender_id)
            if taken.rowcount != 1:
                if row.owner == Owner.OPERATOR:
                    raise TakenByAnother(row.operator)
                raise InvalidMove(Move.TAKE, Owner(row.owner))
            session.add(self._event(row, Move.TAKE, operator.actor, Owner.QUEUE, Owner.OPERATOR, reason=None))
            conversation = _conversation(row)
        self._published(conversation)
        return conversation

    def release(self, sender_id: str, operator: Principal, *, timed_out: bool = False) -> Conversation:
        """Operator → queue, at its old place (queued_at is kept)."""
        with self._operator_move(sender_id, operator) as change:
            row = change.row
            self._apply(change, Move.TIMEOUT if timed_out else Move.RELEASE, operator.actor)
            row.reply_due_since = None
            return _conversation(row)

    def handback(self, sender_id: str, operator: Principal) -> Conversation:
        """Operator → bot: the bot answers the next message."""
        with self._operator_move(sender_id, operator) as change:
            row = change.row
            self._apply(change, Move.HANDBACK, operator.actor)
            row.handoff_reason, row.priority, row.reply_due_since, row.queued_at = None, Priority.NORMAL, None, None
            return _conversation(row)

    def close(self, sender_id: str, operator: Principal, note: str) -> Conversation:
        """Operator → closed, with the resolution note; the citizen is asked for a rating."""
        note = note.strip()
        if not note:
            raise ValueError("结束会话需要填写处理结果说明")
        with self._operator_move(sender_id, operator) as change:
            row = change.row
            self._apply(change, Move.CLOSE, operator.actor, note=note)
            self._closed(row, note)
            return _conversation(row)

    def leave_message(self, sender_id: str) -> Conversation:
        """The citizen stops waiting and leaves a message for a call back: queue → bot."""
        with self._move(sender_id, "web") as change:
            row = change.row
            self._apply(change, Move.LEAVE_MESSAGE, "citizen")
            row.handoff_reason, row.priority, row.queued_at = None, Priority.NORMAL, None
            return _conversation(row)

    def citizen_left(self, sender_id: str) -> Conversation:
        """The citizen left while waiting (a caller hung up in the queue): the wait is abandoned now. A
        conversation no longer waiting is left as it is."""
        with self._move(sender_id, "web") as change:
            row = change.row
            if row.owner == Owner.QUEUE:
                self._apply(change, Move.ABANDON, "citizen", reason="citizen_left", note=CITIZEN_LEFT_NOTE)
                self._closed(row, CITIZEN_LEFT_NOTE)
            return _conversation(row)

    def resume(self, sender_id: str) -> Conversation:
        """A closed conversation: the citizen writes again, and the bot answers."""
        with self._move(sender_id, "web") as change:
            row = change.row
            self._apply(change, Move.RESUME, "citizen")
            row.handoff_reason, row.priority = None, Priority.NORMAL
            return _conversation(row)

    def sweep(self) -> list[Timeout]:
        """The timeouts, applied: an operator who owes an answer for longer than the reply timeout loses the
        conversation to the queue; a citizen silent for longer than the silence timeout ends it."""
        now = self.clock()
        reply_cutoff = now - timedelta(seconds=self.policy.operator_reply_timeout_s)
        silence_cutoff = now - timedelta(seconds=self.policy.citizen_silence_s)
        queue_cutoff = now - timedelta(seconds=self.policy.queue_abandon_s)
        done: list[Timeout] = []
        with Session(self._reader) as session:
            late = list(
                session.scalars(
                    select(ConversationRow.sender_id).where(
                        ConversationRow.owner == Owner.OPERATOR, ConversationRow.reply_due_since < reply_cutoff
                    )
                )
            )
            # Silent: the operator has answered and the citizen has not written since, for too long.
            silent = list(
                session.scalars(
                    select(ConversationRow.sender_id).where(
                        ConversationRow.owner == Owner.OPERATOR,
                        ConversationRow.reply_due_since.is_(None),
                        ConversationRow.updated_at < silence_cutoff,
                        func.coalesce(ConversationRow.last_citizen_at, ConversationRow.updated_at) < silence_cutoff,
                    )
                )
            )
            # Waiting so long that the citizen has surely gone (the page closed): the wait is abandoned.
            stale = list(
                session.scalars(
                    select(ConversationRow.sender_id).where(
                        ConversationRow.owner == Owner.QUEUE,
                        func.coalesce(ConversationRow.last_citizen_at, ConversationRow.queued_at) < queue_cutoff,
                        ConversationRow.queued_at < queue_cutoff,
                    )
                )
            )
        for sender_id in late:
            with self._move(sender_id, "web") as change:
                row = change.row
                # Re-checked under the write lock: the operator may have answered meanwhile.
                due = row.reply_due_since
                if row.owner != Owner.OPERATOR or due is None or due >= reply_cutoff:
                    continue
                operator = row.operator
                self._apply(change, Move.TIMEOUT, "system", reason="operator_reply_timeout")
                row.reply_due_since = None
                done.append(Timeout(sender_id, Move.TIMEOUT, operator, row.channel))
        for sender_id in silent:
            with self._move(sender_id, "web") as change:
                row = change.row
                quiet_since = max(row.updated_at, row.last_citizen_at or row.updated_at)
                if row.owner != Owner.OPERATOR or row.reply_due_since is not None or quiet_since >= silence_cutoff:
                    continue
                operator = row.operator
                self._apply(change, Move.ABANDON, "system", reason="citizen_silent", note=ABANDON_NOTE)
                self._closed(row, ABANDON_NOTE)
                done.append(Timeout(sender_id, Move.ABANDON, operator, row.channel))
        for sender_id in stale:
            with self._move(sender_id, "web") as change:
                row = change.row
                waiting_since = max(row.queued_at or row.updated_at, row.last_citizen_at or row.updated_at)
                if row.owner != Owner.QUEUE or waiting_since >= queue_cutoff:
                    continue
                self._apply(change, Move.ABANDON, "system", reason="queue_abandoned", note=QUEUE_ABANDON_NOTE)
                self._closed(row, QUEUE_ABANDON_NOTE)
                done.append(Timeout(sender_id, Move.ABANDON, None, row.channel))
        return done

    # -- what happens inside a conversation --------------------------------------------------------------

    def citizen_wrote(self, sender_id: str) -> None:
        """The citizen wrote while a person owns the conversation: the operator owes an answer from now."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id)
            if row is None:
                return
            row.last_citizen_at = now
            if row.owner == Owner.OPERATOR and row.reply_due_since is None:
                row.reply_due_since = now

    def operator_replied(self, sender_id: str, operator: Principal) -> Conversation:
        """The operator answers: NotYours unless they hold it (or supervise); clears what they owed."""
        with self._operator_move(sender_id, operator, publish=False) as change:
            row = change.row
            row.reply_due_since = None
            row.updated_at = self.clock()
            return _conversation(row)

    def offer(self, sender_id: str, channel: str, what: str | None) -> None:
        """Remember a handoff the gateway offered (e.g. "angry"), so that accepting it names the reason."""
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id)
            if row is None:
                if what is None:
                    return
                row = self._new_row(session, sender_id, channel)
            row.offered = what

    def ask_rating(self, sender_id: str) -> datetime:
        """Record that the citizen was asked for a rating now; the rating answers this request."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id)
            if row is None:
                raise UnknownConversation(sender_id)
            row.rating_asked_at = now
        return now

    def set_awaiting(self, sender_id: str, channel: str, awaiting: Awaiting | None) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id)
            if row is None:
                if awaiting is None:
                    return
                row = self._new_row(session, sender_id, channel)
            row.awaiting = awaiting
            row.updated_at = self.clock()

    def hold(self, sender_id: str, text: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(HeldMessageRow(sender_id=sender_id, text=text, received_at=self.clock()))

    def held_messages(self, sender_id: str) -> list[str]:
        with Session(self._reader) as session:
            rows = session.scalars(
                select(HeldMessageRow).where(HeldMessageRow.sender_id == sender_id).order_by(HeldMessageRow.id)
            )
            return [row.text for row in rows]

    def redact_held(self, sender_id: str, values: Values) -> int:
        """Blank `values` (a filed ticket's, bot.redaction) and any phone or 身份证 number in the
        conversation's held messages; returns how many changed."""
        changed = 0
        with Session(self.engine) as session, session.begin():
            for row in session.scalars(select(HeldMessageRow).where(HeldMessageRow.sender_id == sender_id)):
                redacted = redact_citizen_text(row.text, values)
                if redacted != row.text:
                    row.text, changed = redacted, changed + 1
        return changed

    def clear_held_before(self, cutoff: datetime) -> int:
        """Retention: the text of messages held before `cutoff` goes, the rows (when, for whom) stay."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(HeldMessageRow)
                .where(HeldMessageRow.received_at < cutoff, HeldMessageRow.text != "")
                .values(text="")
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)

    # -- internals -----------------------------------------------------------------------------------------

    def _new_row(self, session: Session, sender_id: str, channel: str) -> ConversationRow:
        """A conversation the desk has not seen yet: the bot's, added to `session`."""
        row = ConversationRow(
            sender_id=sender_id, channel=channel, owner=Owner.BOT, priority=Priority.NORMAL, updated_at=self.clock()
        )
        session.add(row)
        return row

    @contextmanager
    def _move(self, sender_id: str, channel: str) -> Iterator[_Change]:
        """The row under the write lock (created for the bot if new); published after the commit."""
        with Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                row = session.get(ConversationRow, sender_id, with_for_update=True)
                if row is None:
                    row = self._new_row(session, sender_id, channel)
                change = _Change(row, [])
                yield change
                session.add_all(change.events)
                changed = bool(change.events)
            if changed:
                self._published(_conversation(row))

    @contextmanager
    def _operator_move(self, sender_id: str, operator: Principal, *, publish: bool = True) -> Iterator[_Change]:
        with Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                row = session.get(ConversationRow, sender_id, with_for_update=True)
                if row is None:
                    raise UnknownConversation(sender_id)
                if row.owner == Owner.OPERATOR and row.operator != operator.name and operator.role is Role.OPERATOR:
                    raise NotYours(f"这个会话由坐席 {row.operator} 处理")
                change = _Change(row, [])
                yield change
                session.add_all(change.events)
            if publish:
                self._published(_conversation(row))

    def _apply(
        self, change: _Change, move: Move, actor: str, *, reason: str | None = None, note: str | None = None
    ) -> None:
        row = change.row
        current = Owner(row.owner)
        target = check_move(move, current)
        row.owner = target
        row.updated_at = self.clock()
        change.events.append(self._event(row, move, actor, current, target, reason=reason, note=note))

    def _raise_priority(self, change: _Change, actor: str, reason: str) -> None:
        row = change.row
        row.priority = Priority.URGENT
        row.updated_at = self.clock()
        owner = Owner(row.owner)
        change.events.append(self._event(row, "escalate", actor, owner, owner, reason=reason))

    def _event(
        self,
        row: ConversationRow,
        move: Move | str,
        actor: str,
        from_owner: Owner,
        to_owner: Owner,
        *,
        reason: str | None,
        note: str | None = None,
    ) -> HandoffEventRow:
        return HandoffEventRow(
            sender_id=row.sender_id,
            at=self.clock(),
            actor=actor,
            move=str(move),
            from_owner=str(from_owner),
            to_owner=str(to_owner),
            reason=reason or row.handoff_reason,
            operator=row.operator,
            priority=str(row.priority),
            note=note,
        )

    def _closed(self, row: ConversationRow, note: str) -> None:
        row.closed_at = self.clock()
        row.resolution_note = note
        row.reply_due_since = None
        row.queued_at = None

    def _published(self, conversation: Conversation) -> None:
        event = {"type": "owner", "conversation_id": conversation.sender_id, "owner": str(conversation.owner),
                 "operator": conversation.operator, "priority": str(conversation.priority)}  # fmt: skip
        self.hub.publish(QUEUE_TOPIC, event)
        self.hub.publish(console_topic(conversation.sender_id), event)

    def _last_citizen_texts(self, session: Session, sender_ids: list[str]) -> dict[str, str]:
        if not sender_ids:
            return {}
        last = (
            select(TurnRow.sender_id, func.max(TurnRow.id).label("id"))
            .where(TurnRow.sender_id.in_(sender_ids), TurnRow.speaker == Speaker.CITIZEN)
            .group_by(TurnRow.sender_id)
            .subquery()
        )
        rows = session.execute(select(TurnRow.sender_id, TurnRow.text).join(last, and_(TurnRow.id == last.c.id)))
        return {sender: text for sender, text in rows}

    def _handling_estimate(self, session: Session) -> float:
        """Mean seconds an operator spent per conversation, over the most recent handled ones (take → the next
        release, handback, close or timeout); the policy's default before there is any history."""
        takes = (
            select(HandoffEventRow.sender_id, HandoffEventRow.at, HandoffEventRow.id)
            .where(HandoffEventRow.move == Move.TAKE)
            .order_by(HandoffEventRow.id.desc())
            .limit(RECENT_HANDLED * 3)
        )
        durations: list[float] = []
        for sender_id, taken_at, take_id in session.execute(takes):
            ended = session.scalar(
                select(HandoffEventRow.at)
                .where(
                    HandoffEventRow.sender_id == sender_id,
                    HandoffEventRow.id > take_id,
                    HandoffEventRow.from_owner == Owner.OPERATOR,
                )
                .order_by(HandoffEventRow.id)
                .limit(1)
            )
            if ended is not None:
                durations.append((ended - taken_at).total_seconds())
            if len(durations) == RECENT_HANDLED:
                break
        if not durations:
            return float(self.policy.default_handling_s)
        return sum(durations) / len(durations)

    def _operators_busy_or_free(self, session: Session) -> int:
        """Operators working now, as the desk sees them: those who hold a conversation. (Who is online is the
        live layer's knowledge; it passes it in through policy.operators_online when it has it.)"""
        holding = session.scalar(
            select(func.count(func.distinct(ConversationRow.operator))).where(ConversationRow.owner == Owner.OPERATOR)
        )
        return max(int(holding or 0), self.policy.operators_online())


def expected_wait(position: int, handling_s: float, operators: int) -> int:
    """Seconds until the conversation at `position` (1 = next) is likely taken: each operator frees up once per
    handling time, so position p waits about ceil(p / operators) − ½ handling times on average."""
    rounds = math.ceil(position / max(1, operators))
    return int(max(0.0, (rounds - 0.5) * handling_s))


def with_operator(conversation: Conversation, operator: str | None) -> Conversation:
    return replace(conversation, operator=operator)
