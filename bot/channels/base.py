"""The outbound side of every channel: `deliver(conversation, message)`.

Whatever reaches a citizen outside their own turn (an operator's reply, their place in the queue, "typing",
a request for a rating) goes through the channel the conversation came in on. The console never writes to a
socket itself. Web delivers through the live hub; SMS and WeChat deliver through their platforms' APIs (the
channels issue); a channel that cannot push (a phone call between turns) says so, and the message waits in
the transcript for the next turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from bot.handoff.desk import Conversation

logger = logging.getLogger(__name__)


#: The channels as citizens and operators call them.
CHANNEL_LABELS: Mapping[str, str] = MappingProxyType(
    {"web": "网页", "sms": "短信", "voice": "电话", "phone": "电话", "wechat": "微信"}
)


def channel_label(channel: str | None, unknown: str = "") -> str:
    return CHANNEL_LABELS.get(channel or "", channel or unknown)


class Kind(StrEnum):
    MESSAGE = "message"  # text from an operator or the system
    PLACE = "place"  # queue position and expected wait
    TYPING = "typing"  # the operator is typing
    OWNER = "owner"  # who has the conversation now (taken, released, handed back, closed)
    RATING_REQUEST = "rating_request"  # 满意度评议: one tap, 1–5


@dataclass(frozen=True)
class OutboundMessage:
    kind: Kind
    text: str = ""
    speaker: str = "system"  # operator | system | bot
    seq: int | None = None  # the transcript turn, when the message is one
    data: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {"type": str(self.kind), "text": self.text, "speaker": self.speaker, "seq": self.seq, **self.data}


class Channel(Protocol):
    name: str
    #: False for a channel that cannot reach the citizen between their turns (a phone call).
    pushes: bool

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> bool:
        """Send `message` to the citizen; False when this channel cannot deliver it now."""
        ...


class Channels:
    """The channels by name; a conversation on a channel without an outbound side is not pushed to."""

    def __init__(self, *channels: Channel):
        self._by_name = {channel.name: channel for channel in channels}

    def add(self, channel: Channel) -> None:
        self._by_name[channel.name] = channel

    def can_deliver(self, channel_name: str) -> bool:
        channel = self._by_name.get(channel_name)
        return channel is not None and getattr(channel, "pushes", True)

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> bool:
        channel = self._by_name.get(conversation.channel)
        if channel is None:
            logger.info(
                "no outbound %s channel: a %s message waits for the next turn", conversation.channel, message.kind
            )
            return False
        return await channel.deliver(conversation, message)
