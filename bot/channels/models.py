"""What the phone and SMS channels keep between a citizen's requests, in the one database (so that any gateway
process answers the next request): the rest of a reply cut for its medium and the choices it offered, and the
SMS recipients (the number to send to, and whether it opted out). Alembic owns the schema (bot/migrations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.database import Base, UTCDateTime


class FollowupRow(Base):
    """The last reply a channel gave a conversation, as far as the citizen can still ask for more of it."""

    __tablename__ = "channel_followups"

    sender_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: The parts not yet said or sent ("要听更多请按1", "回复 更多"), in order.
    rest: Mapped[list[str]] = mapped_column(JSON)
    #: What each key (a digit) stands for: a button's payload, or one of the channel's own actions.
    choices: Mapped[dict[str, str]] = mapped_column(JSON)
    #: The question last put to a caller, said again when they were not heard.
    prompt: Mapped[str | None] = mapped_column(Text)
    #: The whole answer with its citations ({"text", "citations"}), for a caller who asks for it by SMS.
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SmsRecipientRow(Base):
    """A number the hotline may text: keyed by its SMS conversation id (a keyed hash of the number).

    The number itself is needed to send (operator replies, an answer asked for on the phone); it lives only here,
    never in a log. An opt-out (STOP / 退订) stands until the citizen sends START / 开始.
    """

    __tablename__ = "sms_recipients"

    sender_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
