"""The conversation core: one citizen message in, the replies out, whatever the channel.

Order matters and is the point of this module:
1. emergency — 120/110/119 guidance first, in every state, before the database or Rasa is touched;
   then the conversation is flagged urgent (and queued, if the bot had it);
2. ownership — while a human owns the conversation, the bot stays silent and the message is held;
3. what the gateway itself waits on (a message left for a call back), and ticket numbers a failed turn
   never delivered;
4. Rasa — intent, dialogue and actions; if Rasa cannot be reached, reduced mode answers from retrieval;
   a turn that came back empty is said out loud, never shown as silence;
5. anger — an apology and a way out (a human or a complaint) on top of whatever Rasa said;
6. handoff — if the turn asked for a human, the queue takes the conversation.

The stores are synchronous SQLAlchemy: every call runs in a worker thread, so one sender waiting on a
database lock never stalls another sender's turn. A store that fails is reported to the citizen in
plain words; it never becomes a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bot.conversation.anger import APOLOGY, is_angry
from bot.conversation.callbacks import (
    ASK_FOR_MESSAGE,
    ASK_FOR_PHONE,
    CANCEL_WORDS,
    CANCELLED,
    LEAVE_MESSAGE_BUTTON,
    LEAVE_MESSAGE_PAYLOAD,
    CallbackDesk,
    receipt_text,
)
from bot.conversation.emergency import DEFAULT_PSYCH_LINE, assess, guidance
from bot.conversation.rasa_client import RasaClient, RasaUnavailable
from bot.conversation.receipts import ReceiptLedger
from bot.conversation.reduced_mode import REQUEST_TAKEN_AS_MESSAGE, ReducedMode, is_request
from bot.handoff.ownership import Awaiting, Owner, OwnershipStore, Priority

logger = logging.getLogger(__name__)

HELD = "您的消息已转给人工客服，工作人员会尽快回复您，请稍候。"
HANDED_TO_QUEUE = "好的，正在为您转接人工客服，请稍候。转接期间您发的消息会直接交给工作人员。"
STORE_DOWN = (
    "抱歉，系统暂时出现故障，您这条消息没能处理，请稍后再发一次。如情况紧急，请直接拨打120急救电话或110报警电话。"
)
EMPTY_TURN = (
    "抱歉，系统刚才没能处理完您的消息（服务响应超时或出错），这条消息可能没有生效。"
    "您可以重试，转人工，或者留言等待回电。"
)
HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
COMPLAINT_BUTTON = {"title": "我要投诉", "payload": "/complaint"}
#: What the citizen may type to reach a person while the bot cannot help: the button's payload, or plain words.
_ASKS_FOR_HUMAN = frozenset({"/request_human", "转人工", "人工", "人工客服", "找人工"})
_CITATION_FIELDS = ("doc_id", "title", "section", "url")

T = TypeVar("T")


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
    #: True while Rasa cannot be reached and the gateway answers on its own.
    reduced_mode: bool = False


def _citation(value: Any) -> dict[str, str] | None:
    """A citation as the channels expect it, or None for a malformed one (logged, never shown half-formed)."""
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in _CITATION_FIELDS[:2]):
        logger.warning("dropped a malformed citation from Rasa")
        return None
    return {k: str(value.get(k) or "") for k in _CITATION_FIELDS}


def _button(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict) or not isinstance(value.get("title"), str):
        return None
    return {"title": value["title"], "payload": str(value.get("payload") or value["title"])}


def replies_from_rasa(messages: list[dict[str, Any]]) -> tuple[list[Reply], dict[str, Any]]:
    """Rasa sends an action's custom payload as its own message after the text: fold it back in.

    Returns the replies and the merged custom payloads (ticket_id, handoff). Anything malformed is dropped.
    """
    replies: list[Reply] = []
    extras: dict[str, Any] = {}
    for message in messages:
        if not isinstance(message, dict):
            continue
        custom = message.get("custom")
        if isinstance(custom, dict):
            extras.update({k: v for k, v in custom.items() if k != "citations"})
            cited = custom.get("citations")
            if replies and isinstance(cited, list):
                replies[-1].citations.extend(c for c in map(_citation, cited) if c is not None)
        text = message.get("text")
        if isinstance(text, str) and text:
            buttons = message.get("buttons")
            buttons = [b for b in map(_button, buttons) if b is not None] if isinstance(buttons, list) else []
            replies.append(Reply(text, buttons=buttons))
    return replies, extras


def _intent(value: Any) -> dict[str, Any] | None:
    """Rasa's intent with a float confidence (None when Rasa gave none), or None."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    confidence = value.get("confidence")
    return {"name": value["name"], "confidence": float(confidence) if isinstance(confidence, int | float) else None}


class ConversationCore:
    def __init__(
        self,
        rasa: RasaClient,
        ownership: OwnershipStore,
        *,
        callbacks: CallbackDesk | None = None,
        reduced_mode: ReducedMode | None = None,
        psych_line: str = DEFAULT_PSYCH_LINE,
    ):
        self.rasa = rasa
        self.ownership = ownership
        self.receipts = ReceiptLedger(ownership.engine)
        self.callbacks = callbacks
        self.reduced_mode = reduced_mode or ReducedMode(lambda: None)
        self.psych_line = psych_line

    def emergency_guidance(self, text: str) -> Reply | None:
        """The guidance for `text` if it is an emergency: for callers that cannot even reach a conversation."""
        emergency = assess(text)
        return None if emergency is None else Reply(guidance(emergency, self.psych_line))

    async def handle(self, message: InboundMessage) -> TurnResult:
        guidance_reply = self.emergency_guidance(message.text)
        if guidance_reply is not None:
            return await self._emergency(message, guidance_reply)
        try:
            return await self._turn(message)
        except SQLAlchemyError:
            logger.exception("conversation store failed for a %s turn", message.channel)
            return TurnResult([Reply(STORE_DOWN)], None, False, None, Owner.BOT)

    async def _emergency(self, message: InboundMessage, reply: Reply) -> TurnResult:
        # The guidance is decided before any store is touched; a failing store only costs the flag.
        owner = Owner.QUEUE
        try:
            owner = await _off_loop(self.ownership.escalate, message.sender_id, message.channel)
        except SQLAlchemyError:
            logger.exception("could not flag an emergency conversation urgent")
        intent = {"name": "emergency", "confidence": 1.0}
        return TurnResult([reply], intent, True, None, owner)

    async def _turn(self, message: InboundMessage) -> TurnResult:
        sender, text = message.sender_id, message.text
        conversation = await _off_loop(self.ownership.get, sender)
        if conversation.owner is not Owner.BOT:
            await _off_loop(self.ownership.hold, sender, text)
            return TurnResult([Reply(HELD)], None, True, None, conversation.owner)

        untold_tickets = await _off_loop(self.receipts.untold, sender)
        for ticket in untold_tickets:
            await _off_loop(self.receipts.told, sender, ticket.number)
        untold = [Reply(ticket.notice()) for ticket in untold_tickets]

        if conversation.awaiting is Awaiting.CALLBACK_MESSAGE or text == LEAVE_MESSAGE_PAYLOAD:
            result = await self._callback_message(message, asked=conversation.awaiting is not None)
            return _prepend(untold, result)

        try:
            turn = await self.rasa.send(sender, text, {**message.metadata, "channel": message.channel})
        except RasaUnavailable as exc:
            logger.warning("reduced mode for a %s turn: %s", message.channel, exc)
            return _prepend(untold, await self._reduced(message))

        replies, extras = replies_from_rasa(turn.messages)
        intent = _intent(turn.intent)
        handoff = turn.slots_set.get("handoff") is True
        ticket_id = turn.slots_set.get("filed_ticket") or extras.get("ticket_id")
        ticket_id = ticket_id if isinstance(ticket_id, str) else None
        if not replies:
            return _prepend(untold, await self._empty_turn(message, intent))
        if is_angry(text) and not handoff:
            replies.insert(0, Reply(APOLOGY, buttons=[HUMAN_BUTTON, COMPLAINT_BUTTON]))

        owner = Owner.BOT
        if handoff:
            reason = str(turn.slots_set.get("handoff_reason") or "requested")
            priority = Priority.URGENT if reason == "emergency" else Priority.NORMAL
            await _off_loop(self.ownership.hand_to_queue, sender, message.channel, reason, priority)
            owner = Owner.QUEUE
        if ticket_id:
            await _off_loop(self.receipts.told, sender, ticket_id)
        return TurnResult([*untold, *replies], intent, handoff, ticket_id, owner)

    async def _to_queue(self, message: InboundMessage, reason: str) -> TurnResult:
        await _off_loop(self.ownership.hand_to_queue, message.sender_id, message.channel, reason, Priority.NORMAL)
        return TurnResult([Reply(HANDED_TO_QUEUE)], None, True, None, Owner.QUEUE)

    async def _empty_turn(self, message: InboundMessage, intent: dict[str, Any] | None) -> TurnResult:
        """Rasa answered but said nothing (its action server is down or slow): say so, and offer a way on."""
        logger.warning("empty turn from Rasa on %s (intent %s)", message.channel, intent and intent["name"])
        if message.text in _ASKS_FOR_HUMAN or (intent and intent["name"] == "request_human"):
            return await self._to_queue(message, "requested")
        retry = {"title": "重试", "payload": message.text}
        buttons = [retry, HUMAN_BUTTON, LEAVE_MESSAGE_BUTTON]
        return TurnResult([Reply(EMPTY_TURN, buttons=buttons)], intent, False, None, Owner.BOT)

    async def _reduced(self, message: InboundMessage) -> TurnResult:
        if message.text in _ASKS_FOR_HUMAN:
            result = await self._to_queue(message, "requested")
            result.reduced_mode = True
            return result
        if is_request(message.text):
            # A complaint asked for while Rasa is down is taken as a message for a call back.
            result = await self._callback_message(message, asked=False, preface=REQUEST_TAKEN_AS_MESSAGE)
            result.reduced_mode = True
            return result
        answer = await _off_loop(self.reduced_mode.answer, message.text)
        buttons = [LEAVE_MESSAGE_BUTTON, HUMAN_BUTTON]
        reply = Reply(answer.text, citations=answer.citations, buttons=buttons)
        return TurnResult([reply], None, False, None, Owner.BOT, reduced_mode=True)

    async def _callback_message(self, message: InboundMessage, *, asked: bool, preface: str = "") -> TurnResult:
        """留言回电: file the message if it carries a phone number, else ask for one (and wait for it)."""
        sender, channel, text = message.sender_id, message.channel, message.text
        if text in CANCEL_WORDS:
            await _off_loop(self.ownership.set_awaiting, sender, channel, None)
            return TurnResult([Reply(CANCELLED)], None, False, None, Owner.BOT)
        receipt = None
        if self.callbacks is not None and text != LEAVE_MESSAGE_PAYLOAD:
            receipt = await _off_loop(self.callbacks.file, sender, channel, text)
        if receipt is None:
            await _off_loop(self.ownership.set_awaiting, sender, channel, Awaiting.CALLBACK_MESSAGE)
            ask = ASK_FOR_PHONE if asked else ASK_FOR_MESSAGE
            return TurnResult([Reply(f"{preface}{ask}")], None, False, None, Owner.BOT)
        await _off_loop(self.ownership.set_awaiting, sender, channel, None)
        await _off_loop(self.receipts.told, sender, receipt.number)
        return TurnResult([Reply(f"{preface}{receipt_text(receipt)}")], None, False, receipt.number, Owner.BOT)


def _prepend(replies: list[Reply], result: TurnResult) -> TurnResult:
    result.messages[:0] = replies
    return result


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    """A blocking store call in a worker thread: the event loop keeps serving other senders meanwhile."""
    return await asyncio.to_thread(function, *args)
