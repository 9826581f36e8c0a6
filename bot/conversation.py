"""The conversation core: one citizen message in, the replies out, whatever the channel.

Order matters and is the point of this module:
1. ownership — while a human owns the conversation, the bot stays silent and the message is held;
2. emergency — 120/110 guidance before anything else, even if Rasa is down;
3. Rasa — intent, dialogue and actions;
4. anger — an apology and a way out (a human or a complaint) on top of whatever Rasa said;
5. handoff — if the turn asked for a human, the queue takes the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.anger import APOLOGY, is_angry
from bot.emergency import EMERGENCY_GUIDANCE, is_emergency
from bot.ownership import Owner, OwnershipStore, Priority
from bot.rasa_client import RasaClient

HELD = "您的消息已转给人工客服，工作人员会尽快回复您，请稍候。"
HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
COMPLAINT_BUTTON = {"title": "我要投诉", "payload": "/complaint"}


@dataclass(frozen=True)
class InboundMessage:
    sender_id: str
    text: str
    channel: str = "web"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    text: str
    citations: list[dict[str, str]] = field(default_factory=list)
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass
class TurnResult:
    messages: list[Reply]
    intent: dict[str, Any] | None
    handoff: bool
    ticket_id: str | None
    owner: Owner


def replies_from_rasa(messages: list[dict[str, Any]]) -> tuple[list[Reply], dict[str, Any]]:
    """Rasa sends an action's custom payload as its own message after the text: fold it back in.

    Returns the replies and the merged custom payloads (ticket_id, handoff).
    """
    replies: list[Reply] = []
    extras: dict[str, Any] = {}
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict):
            extras.update({k: v for k, v in custom.items() if k != "citations"})
            if replies and custom.get("citations"):
                replies[-1].citations.extend(custom["citations"])
        if message.get("text"):
            replies.append(Reply(message["text"], buttons=list(message.get("buttons") or [])))
    return replies, extras


class ConversationCore:
    def __init__(self, rasa: RasaClient, ownership: OwnershipStore):
        self.rasa = rasa
        self.ownership = ownership

    async def handle(self, message: InboundMessage) -> TurnResult:
        conversation = self.ownership.get(message.sender_id)
        if conversation.owner is not Owner.BOT:
            self.ownership.hold(message.sender_id, message.text)
            return TurnResult([Reply(HELD)], None, True, None, conversation.owner)

        if is_emergency(message.text):
            self.ownership.hand_to_queue(message.sender_id, message.channel, "emergency", Priority.URGENT)
            intent = {"name": "emergency", "confidence": 1.0}
            return TurnResult([Reply(EMERGENCY_GUIDANCE)], intent, True, None, Owner.QUEUE)

        turn = await self.rasa.send(message.sender_id, message.text, {**message.metadata, "channel": message.channel})
        replies, extras = replies_from_rasa(turn.messages)
        handoff = turn.slots_set.get("handoff") is True
        if is_angry(message.text) and not handoff:
            replies.insert(0, Reply(APOLOGY, buttons=[HUMAN_BUTTON, COMPLAINT_BUTTON]))

        owner = Owner.BOT
        if handoff:
            urgent = turn.slots_set.get("handoff_reason") == "emergency"
            reason = str(turn.slots_set.get("handoff_reason") or "requested")
            self.ownership.hand_to_queue(
                message.sender_id, message.channel, reason, Priority.URGENT if urgent else Priority.NORMAL
            )
            owner = Owner.QUEUE
        ticket_id = turn.slots_set.get("filed_ticket") or extras.get("ticket_id")
        return TurnResult(replies, turn.intent, handoff, ticket_id, owner)
