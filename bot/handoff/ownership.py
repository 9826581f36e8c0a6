"""Who owns a conversation: the bot, the handoff queue, or an operator (所有权只在一处判定).

Before a message reaches Rasa, the gateway asks here. While the queue or an operator owns the
conversation the bot is not called, and the citizen's messages are kept for the human. Kept text follows the
privacy rule (bot/redaction.py): blanked once a ticket holds it, cleared after the retention period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.database import READ_ONLY
from bot.handoff.models import ConversationRow, HeldMessageRow
from bot.handoff.workflow import Owner, Priority
from bot.redaction import Values, redact_citizen_text


class Awaiting(StrEnum):
    """What the gateway itself asked the citizen for, outside Rasa's forms."""

    CALLBACK_MESSAGE = "callback_message"  # 留言: the matter and a phone number to call back


@dataclass(frozen=True)
class Conversation:
    sender_id: str
    owner: Owner
    handoff_reason: str | None
    priority: Priority
    awaiting: Awaiting | None = None


class OwnershipStore:
    def __init__(self, engine: Engine):
        """`engine`'s schema must be at head (bot.database.upgrade_schema): Alembic owns these tables."""
        self.engine = engine
        # Reads take no write lock (SQLite: BEGIN DEFERRED), so a sender waiting to write never blocks a reader.
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def get(self, sender_id: str) -> Conversation:
        with Session(self._reader) as session:
            row = session.get(ConversationRow, sender_id)
            if row is None:
                return Conversation(sender_id, Owner.BOT, None, Priority.NORMAL)
            awaiting = Awaiting(row.awaiting) if row.awaiting else None
            return Conversation(row.sender_id, Owner(row.owner), row.handoff_reason, Priority(row.priority), awaiting)

    def hand_to_queue(self, sender_id: str, channel: str, reason: str, priority: Priority) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id) or ConversationRow(sender_id=sender_id, channel=channel)
            row.owner = Owner.QUEUE
            row.handoff_reason = reason
            # An emergency stays urgent even if a later, calmer handoff follows.
            row.priority = Priority.URGENT if Priority.URGENT in (row.priority, priority) else Priority.NORMAL
            row.updated_at = datetime.now(UTC)
            session.add(row)

    def escalate(self, sender_id: str, channel: str) -> Owner:
        """An emergency, in any state: the bot's conversation goes to the queue, and whoever holds it sees it
        flagged urgent. Returns the owner after the move."""
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id) or ConversationRow(sender_id=sender_id, channel=channel)
            if row.owner in (None, Owner.BOT):
                row.owner = Owner.QUEUE
                row.handoff_reason = "emergency"
            row.priority = Priority.URGENT
            row.updated_at = datetime.now(UTC)
            session.add(row)
            return Owner(row.owner)

    def set_awaiting(self, sender_id: str, channel: str, awaiting: Awaiting | None) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id)
            if row is None:
                if awaiting is None:
                    return
                row = ConversationRow(sender_id=sender_id, channel=channel, owner=Owner.BOT, priority=Priority.NORMAL)
                session.add(row)
            row.awaiting = awaiting
            row.updated_at = datetime.now(UTC)

    def release_to_bot(self, sender_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(ConversationRow, sender_id)
            if row is not None:
                row.owner, row.handoff_reason, row.priority = Owner.BOT, None, Priority.NORMAL
                row.updated_at = datetime.now(UTC)

    def hold(self, sender_id: str, text: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(HeldMessageRow(sender_id=sender_id, text=text, received_at=datetime.now(UTC)))

    def held_messages(self, sender_id: str) -> list[str]:
        with Session(self._reader) as session:
            rows = session.scalars(
                select(HeldMessageRow).where(HeldMessageRow.sender_id == sender_id).order_by(HeldMessageRow.id)
            )
            return [row.text for row in rows]

    def redact_held(self, sender_id: str, values: Values) -> int:
        """Blank `values` (a filed ticket's, bot.redaction) and any phone or 身份证 number in the conversation's
        held messages; returns how many changed."""
        changed = 0
        with Session(self.engine) as session, session.begin():
            for row in session.scalars(select(HeldMessageRow).where(HeldMessageRow.sender_id == sender_id)):
                redacted = redact_citizen_text(row.text, values)
                if redacted != row.text:
                    row.text, changed = redacted, changed + 1
        return changed

    def clear_held_before(self, cutoff: datetime) -> int:
        """Retention: the text of messages held before `cutoff` goes, the rows (when, for whom) stay for counting."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(HeldMessageRow)
                .where(HeldMessageRow.received_at < cutoff, HeldMessageRow.text != "")
                .values(text="")
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)
