"""Every turn of a conversation, in order, with who said it: the citizen, the bot or an operator.

The transcript is what an operator reads, what the web page polls (`after=SEQ`: a turn's id is its sequence
number) and what analytics counts. Text is stored as said; readers mask phone and 身份证 numbers
(bot/redaction.py), and the retention purge clears the text after the retention period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Engine, Float, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.database import READ_ONLY, Base, Id, UTCDateTime
from bot.handoff.pubsub import Hub, NullHub, console_topic
from bot.redaction import Values, redact_citizen_text, redact_numbers


class Speaker(StrEnum):
    CITIZEN = "citizen"
    BOT = "bot"
    OPERATOR = "operator"
    SYSTEM = "system"  # what the gateway said on its own: queue position, handoff notices


class Outcome(StrEnum):
    """What became of a citizen's turn, for the knowledge-gap figures (bot/analytics)."""

    ANSWERED = "answered"
    FALLBACK = "fallback"  # not understood
    NOT_FOUND = "not_found"  # below the relevance threshold
    HANDOFF = "handoff"


class TurnRow(Base):
    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    operator: Mapped[str | None] = mapped_column(String(64))
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    citations: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(32))


@dataclass(frozen=True)
class Turn:
    seq: int
    at: datetime
    speaker: Speaker
    text: str
    operator: str | None = None
    intent: str | None = None
    confidence: float | None = None
    citations: list[dict[str, str]] = field(default_factory=list)
    outcome: str | None = None

    def masked(self) -> Turn:
        """The turn as shown outside the conversation (console, API): personal numbers masked."""
        return Turn(
            self.seq, self.at, self.speaker, redact_numbers(self.text), self.operator, self.intent,
            self.confidence, self.citations, self.outcome,
        )  # fmt: skip

    def json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(timespec="seconds"),
            "speaker": str(self.speaker),
            "text": self.text,
            "operator": self.operator,
            "intent": self.intent,
            "confidence": self.confidence,
            "citations": self.citations,
            "outcome": self.outcome,
        }


def _turn(row: TurnRow) -> Turn:
    return Turn(
        row.id, row.at, Speaker(row.speaker), row.text, row.operator, row.intent, row.confidence,
        list(row.citations or []), row.outcome,
    )  # fmt: skip


class TranscriptStore:
    def __init__(self, engine: Engine, hub: Hub | None = None):
        """Every recorded turn is published, masked, to the conversation's console topic."""
        self.engine = engine
        self.hub: Hub = hub or NullHub()
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def record(
        self,
        sender_id: str,
        speaker: Speaker,
        text: str,
        *,
        operator: str | None = None,
        intent: str | None = None,
        confidence: float | None = None,
        citations: list[dict[str, str]] | None = None,
        outcome: Outcome | None = None,
        at: datetime | None = None,
    ) -> Turn:
        row = TurnRow(
            sender_id=sender_id, at=at or datetime.now(UTC), speaker=speaker, text=text, operator=operator,
            intent=intent, confidence=confidence, citations=citations or None, outcome=outcome,
        )  # fmt: skip
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
        turn = _turn(row)
        self.hub.publish(
            console_topic(sender_id), {"type": "turn", "conversation_id": sender_id, **turn.masked().json()}
        )
        return turn

    def answered(
        self,
        seq: int,
        intent: str | None,
        confidence: float | None,
        outcome: Outcome | None,
        replies: list[tuple[str, list[dict[str, str]]]],
    ) -> list[Turn]:
        """Once the reply is known, in one transaction: what the citizen's turn `seq` was understood as and what
        became of it, and the bot's replies (text, citations)."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            citizen = session.get(TurnRow, seq)
            if citizen is None:
                raise LookupError(f"no transcript turn {seq}")
            citizen.intent, citizen.confidence, citizen.outcome = intent, confidence, outcome
            now = datetime.now(UTC)
            rows = [
                TurnRow(sender_id=citizen.sender_id, at=now, speaker=Speaker.BOT, text=text, citations=cited or None)
                for text, cited in replies
            ]
            session.add_all(rows)
            sender_id = citizen.sender_id
        turns = [_turn(row) for row in rows]
        for turn in turns:
            self._publish(sender_id, turn)
        return turns

    def _publish(self, sender_id: str, turn: Turn) -> None:
        self.hub.publish(
            console_topic(sender_id), {"type": "turn", "conversation_id": sender_id, **turn.masked().json()}
        )

    def turns(self, sender_id: str, *, after: int = 0, limit: int = 500) -> list[Turn]:
        """The conversation's turns with a sequence number above `after`, oldest first."""
        with Session(self._reader) as session:
            rows = session.scalars(
                select(TurnRow)
                .where(TurnRow.sender_id == sender_id, TurnRow.id > after)
                .order_by(TurnRow.id)
                .limit(limit)
            )
            return [_turn(row) for row in rows]

    def last_citizen_text(self, sender_id: str) -> str | None:
        with Session(self._reader) as session:
            return session.scalar(
                select(TurnRow.text)
                .where(TurnRow.sender_id == sender_id, TurnRow.speaker == Speaker.CITIZEN)
                .order_by(TurnRow.id.desc())
                .limit(1)
            )

    def redact(self, sender_id: str, values: Values) -> int:
        """Blank `values` (a filed ticket's) and any phone or 身份证 number in the conversation's citizen turns:
        the ticket holds them now, under its own rules. Returns how many changed."""
        changed = 0
        with Session(self.engine) as session, session.begin():
            rows = session.scalars(
                select(TurnRow).where(TurnRow.sender_id == sender_id, TurnRow.speaker == Speaker.CITIZEN)
            )
            for row in rows:
                redacted = redact_citizen_text(row.text, values)
                if redacted != row.text:
                    row.text, changed = redacted, changed + 1
        return changed

    def clear_before(self, cutoff: datetime) -> int:
        """Retention: the text of turns before `cutoff` goes; the rows (when, who, intent, outcome) stay."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(TurnRow)
                .where(TurnRow.at < cutoff, TurnRow.text != "")
                .values(text="", citations=None)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)
