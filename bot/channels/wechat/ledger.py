"""Each message WeChat pushes gets one turn and one answer, however often it is retried and whichever gateway
process each retry reaches.

WeChat waits 5 seconds for the webhook's reply; without one it drops the connection and sends the same message
again, up to three times. The first request to insert the message's dedup key (MsgId; events FromUserName +
CreateTime) runs the turn; every other request is a retry and never starts one. Where the answer goes is a
small state machine, each move a conditional UPDATE, so two processes cannot both win one:

    running ──answer ready within the budget──▶ passive   the webhook's reply carries it
    running ──budget spent, or a retry came───▶ push      "success" now; the answer goes out by the API
    push    ──sent / gave up──────────────────▶ pushed / failed

A retry means WeChat gave up on the request before it: that request's reply reaches nobody. So a retry that
finds the turn still running moves it to push and replies "success" at once; the process running the turn
then finds it can no longer reply passively, and sends the answer through the customer-service API. A retry
that finds the answer already given passively (the reply was lost on the way) replies with the same answer
again. A process that dies mid-turn leaves its message running: its retries reply "success" and no second
turn is started (at most once: a duplicate ticket is worse than a lost reply, which the citizen sees and sends
again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.channels.wechat.models import WeChatMessageRow
from bot.database import READ_ONLY

#: Rows older than this are deleted, a few at a time, by later claims.
KEEP_FOR = timedelta(hours=1)
PURGE_BATCH = 100


class State(StrEnum):
    RUNNING = "running"
    PASSIVE = "passive"
    PUSH = "push"
    PUSHED = "pushed"
    FAILED = "failed"


#: state → the states it may move to
MOVES: dict[State, frozenset[State]] = {
    State.RUNNING: frozenset({State.PASSIVE, State.PUSH}),
    State.PUSH: frozenset({State.PUSHED, State.FAILED}),
    State.PASSIVE: frozenset(),
    State.PUSHED: frozenset(),
    State.FAILED: frozenset(),
}


@dataclass(frozen=True)
class Seen:
    """A message already claimed: what became of it so far."""

    state: State
    parts: list[str] | None


class MessageLedger:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """`engine`'s schema must be at head (bot.database.upgrade_schema)."""
        self.engine = engine
        self.clock = clock
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def claim(self, key: str, conversation_id: str) -> Seen | None:
        """None if this request is the message's first (run the turn); else what the first one made of it."""
        now = self.clock()
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        with Session(self.engine) as session, session.begin():
            inserted = session.execute(
                insert(WeChatMessageRow)
                .values(key=key, conversation_id=conversation_id, received_at=now, state=State.RUNNING, parts=None)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(WeChatMessageRow.key)  # rowcount is -1 here on psycopg
            )
            first = inserted.scalar_one_or_none() is not None
            self._purge(session, now)
            if first:
                return None
        return self.seen(key)

    def seen(self, key: str) -> Seen:
        with Session(self._reader) as session:
            row = session.get(WeChatMessageRow, key)
            if row is None:  # purged between the insert and the read: only after an hour
                return Seen(State.FAILED, None)
            return Seen(State(row.state), row.parts)

    def move(self, key: str, to: State, parts: list[str] | None = None) -> bool:
        """Move the message to `to` from any state allowed to move there; False if another request moved it first."""
        sources = [state for state, targets in MOVES.items() if to in targets]
        values: dict[str, object] = {"state": to}
        if parts is not None:
            values["parts"] = parts
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(WeChatMessageRow)
                .where(WeChatMessageRow.key == key, WeChatMessageRow.state.in_(sources))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    def _purge(self, session: Session, now: datetime) -> None:
        stale = (
            select(WeChatMessageRow.key)
            .where(WeChatMessageRow.received_at < now - KEEP_FOR)
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)
        )
        session.execute(delete(WeChatMessageRow).where(WeChatMessageRow.key.in_(stale)))
