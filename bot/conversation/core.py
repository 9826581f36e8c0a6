"""The conversation core: one citizen message in, the replies out, whatever the channel.

Order matters and is the point of this module:
1. emergency — 120/110/119 guidance first, in every state, before the database or Rasa is touched;
   then the conversation is flagged urgent (and queued, if the bot had it);
2. ownership (bot/handoff/desk.py) — while the queue or an operator owns the conversation, the bot stays
   silent: the message is held for the person (the citizen waiting is told their place);
3. a sensitive matter (bot/handoff/sensitive.yml) goes to a person at once;
4. what the gateway itself waits on (a message left for a call back), and ticket numbers a failed turn
   never delivered;
5. Rasa — intent, dialogue and actions; if Rasa cannot be reached, reduced mode answers from retrieval;
   a turn that came back empty is said out loud, never shown as silence;
6. anger — an apology and a way out (a human or a complaint) on top of whatever Rasa said; accepting the
   offer hands off with the reason "angry";
7. handoff — if the turn asked for a human, the queue takes the conversation, within working hours and an
   acceptable wait; otherwise the citizen is offered to leave a message for a call back.

Every turn, the citizen's and each reply, is written to the transcript (bot/conversation/transcript.py).

The stores are synchronous SQLAlchemy: every call runs in a worker thread, so one sender waiting on a
database lock never stalls another sender's turn. A store that fails is reported to the citizen in
plain words; it never becomes a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from actions.answering import NO_ANSWER
from actions.handoff_actions import HANDOFF as HANDED_TO_QUEUE
from bot.background import off_loop
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
from bot.conversation.ratings import RatingRefused, RatingStore
from bot.conversation.receipts import ReceiptLedger
from bot.conversation.reduced_mode import REQUEST_TAKEN_AS_MESSAGE, ReducedMode, is_request
from bot.conversation.transcript import Outcome, Speaker, TranscriptStore
from bot.handoff import notices
from bot.handoff.desk import Awaiting, Conversation, HandoffDesk
from bot.handoff.triggers import SensitiveMatters, sensitive_reason
from bot.handoff.workflow import Owner, Priority

logger = logging.getLogger(__name__)

HELD = "您的消息已转给人工客服，工作人员会尽快回复您，请稍候。"
STORE_DOWN = (
    "抱歉，系统暂时出现故障，您这条消息没能处理，请稍后再发一次。如情况紧急，请直接拨打120急救电话或110报警电话。"
)
EMPTY_TURN = (
    "抱歉，系统刚才没能处理完您的消息（服务响应超时或出错），这条消息可能没有生效。"
    "您可以重试，转人工，或者留言等待回电。"
)
RATED = "感谢您的评价！您的意见会帮助我们改进服务。"
_RATING_REPLY = re.compile(r"([1-5])\s*(分|星)?")
HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
COMPLAINT_BUTTON = {"title": "我要投诉", "payload": "/complaint"}
#: What the citizen may type to reach a person while the bot cannot help: the button's payload, or plain words.
_ASKS_FOR_HUMAN = frozenset({"/request_human", "转人工", "人工", "人工客服", "找人工"})
_CITATION_FIELDS = ("doc_id", "title", "section", "url")


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
    #: The transcript turns this exchange wrote (the citizen's and the replies): the live page shows each turn
    #: once, whether it came in this response, over the socket or by polling.
    seqs: list[int] = field(default_factory=list)


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
        desk: HandoffDesk,
        *,
        transcript: TranscriptStore | None = None,
        callbacks: CallbackDesk | None = None,
        reduced_mode: ReducedMode | None = None,
        sensitive: SensitiveMatters | None = None,
        psych_line: str = DEFAULT_PSYCH_LINE,
        queue_changed: Callable[[], Awaitable[object]] | None = None,
    ):
        self.rasa = rasa
        self.desk = desk
        self.transcript = transcript or TranscriptStore(desk.engine, desk.hub)
        self.ratings = RatingStore(desk.engine)
        self.receipts = ReceiptLedger(desk.engine)
        self.callbacks = callbacks
        self.reduced_mode = reduced_mode or ReducedMode(lambda: None)
        self.sensitive = sensitive or SensitiveMatters.load()
        self.psych_line = psych_line
        #: Called after this core changed the queue (bot/handoff/live.py re-tells waiting citizens their place).
        self.queue_changed = queue_changed

    def emergency_guidance(self, text: str) -> Reply | None:
        """The guidance for `text` if it is an emergency: for callers that cannot even reach a conversation."""
        emergency = assess(text)
        return None if emergency is None else Reply(guidance(emergency, self.psych_line))

    async def handle(self, message: InboundMessage) -> TurnResult:
        guidance_reply = self.emergency_guidance(message.text)
        if guidance_reply is not None:
            return await self._emergency(message, guidance_reply)
        try:
            result = await self._turn(message)
        except SQLAlchemyError:
            logger.exception("conversation store failed for a %s turn", message.channel)
            return TurnResult([Reply(STORE_DOWN)], None, False, None, Owner.BOT)
        return result

    async def _emergency(self, message: InboundMessage, reply: Reply) -> TurnResult:
        # The guidance is decided before any store is touched; a failing store only costs the flag and the record.
        owner = Owner.QUEUE
        intent = {"name": "emergency", "confidence": 1.0}
        result = TurnResult([reply], intent, True, None, owner)
        try:
            result.owner = await off_loop(self.desk.escalate, message.sender_id, message.channel)
            await self._record(message, result, Outcome.HANDOFF)
            await self._queue_changed()
        except SQLAlchemyError:
            logger.exception("could not flag an emergency conversation urgent")
        return result

    async def _turn(self, message: InboundMessage) -> TurnResult:
        sender, text = message.sender_id, message.text
        conversation = await off_loop(self.desk.get, sender)
        if conversation.rating_asked_at is not None and conversation.owner in (Owner.BOT, Owner.CLOSED):
            rated = await self._rating(message)
            if rated is not None:
                return rated
        if conversation.owner is Owner.QUEUE and text == LEAVE_MESSAGE_PAYLOAD:
            conversation = await off_loop(self.desk.leave_message, sender)
            await self._queue_changed()
        elif conversation.owner in (Owner.QUEUE, Owner.OPERATOR):
            return await self._for_a_person(message, conversation)
        elif conversation.owner is Owner.CLOSED:
            conversation = await off_loop(self.desk.resume, sender)
        # Written before Rasa runs: an operator watching sees it at once, and a ticket filed in this turn
        # blanks its personal values in it (actions/ticket_actions.py).
        citizen = await off_loop(self.transcript.record, sender, Speaker.CITIZEN, text)

        category = self.sensitive.category_of(text)
        if category is not None:
            result = await self._handoff(message, sensitive_reason(category), [Reply(notices.sensitive(category))])
        else:
            result = await self._bot_turn(message, conversation)
        await self._record_replies(sender, citizen.seq, result, _outcome(result))
        return result

    async def _rating(self, message: InboundMessage) -> TurnResult | None:
        """满意度 by a digit: after a rating request, "5" (or "5分") on any channel answers it, once; on the web
        the page's buttons post it (bot/api/chat_live.py). Anything else goes on as an ordinary message."""
        match = _RATING_REPLY.fullmatch(message.text.strip())
        if match is None:
            return None
        try:
            await off_loop(self.ratings.rate, message.sender_id, int(match[1]))
        except RatingRefused:
            return None  # answered already: the digit is just text
        citizen = await off_loop(self.transcript.record, message.sender_id, Speaker.CITIZEN, message.text)
        result = TurnResult([Reply(RATED)], None, False, None, Owner.BOT)
        await self._record_replies(message.sender_id, citizen.seq, result, None)
        return result

    async def _for_a_person(self, message: InboundMessage, conversation: Conversation) -> TurnResult:
        """A person owns the conversation: the message is kept for them; the bot says nothing, except to tell a
        citizen who is waiting their place."""
        sender = message.sender_id
        citizen = await off_loop(self.transcript.record, sender, Speaker.CITIZEN, message.text)
        seqs = [citizen.seq]
        await off_loop(self.desk.hold, sender, message.text)
        await off_loop(self.desk.citizen_wrote, sender)
        replies: list[Reply] = []
        if conversation.owner is Owner.QUEUE:
            entry = await off_loop(self.desk.place, sender)
            replies = [Reply(HELD if entry is None else notices.place(entry.position, entry.expected_wait_s))]
            for reply in replies:
                seqs.append((await off_loop(self.transcript.record, sender, Speaker.SYSTEM, reply.text)).seq)
        return TurnResult(replies, None, True, None, conversation.owner, seqs=seqs)

    async def _bot_turn(self, message: InboundMessage, conversation: Conversation) -> TurnResult:
        sender, text = message.sender_id, message.text
        untold_tickets = await off_loop(self.receipts.untold, sender)
        for ticket in untold_tickets:
            await off_loop(self.receipts.told, sender, ticket.number)
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
        angry = is_angry(text) and not handoff
        if angry:
            replies.insert(0, Reply(APOLOGY, buttons=[HUMAN_BUTTON, COMPLAINT_BUTTON]))
        if angry or conversation.offered:
            # The apology offers a person; taking the offer next turn names anger as the reason.
            await off_loop(self.desk.offer, sender, message.channel, "angry" if angry else None)
        if ticket_id:
            await off_loop(self.receipts.told, sender, ticket_id)

        if handoff:
            reason = str(turn.slots_set.get("handoff_reason") or "requested")
            if reason == "requested" and conversation.offered == "angry":
                reason = "angry"
            result = await self._handoff(message, reason, replies, intent=intent, ticket_id=ticket_id)
            return _prepend(untold, result)
        return TurnResult([*untold, *replies], intent, False, ticket_id, Owner.BOT)

    async def _handoff(
        self,
        message: InboundMessage,
        reason: str,
        replies: list[Reply],
        *,
        intent: dict[str, Any] | None = None,
        ticket_id: str | None = None,
    ) -> TurnResult:
        """To the queue, if a person can come: within working hours (an emergency always), and told the place
        and expected wait; offered to leave a message instead when closed or when the wait is too long."""
        sender, channel = message.sender_id, message.channel
        policy = self.desk.policy
        priority = Priority.URGENT if reason == "emergency" else Priority.NORMAL
        if priority is Priority.NORMAL and not policy.hours.is_open(self.desk.clock()):
            # The bot's "transferring you" would be a promise nobody keeps: say when people are there instead.
            said = [r for r in replies if r.text != HANDED_TO_QUEUE]
            closed = Reply(notices.out_of_hours(policy.hours), buttons=[LEAVE_MESSAGE_BUTTON])
            return TurnResult([*said, closed], intent, False, ticket_id, Owner.BOT)
        await off_loop(self.desk.request, sender, channel, reason, priority)
        await self._queue_changed()
        entry = await off_loop(self.desk.place, sender)
        replies = list(replies)
        if entry is not None:
            if entry.expected_wait_s > policy.max_wait_s and priority is Priority.NORMAL:
                replies.append(Reply(notices.long_wait(entry.expected_wait_s), buttons=[LEAVE_MESSAGE_BUTTON]))
            else:
                replies.append(Reply(notices.place(entry.position, entry.expected_wait_s)))
        return TurnResult(replies, intent, True, ticket_id, Owner.QUEUE)

    async def _queue_changed(self) -> None:
        if self.queue_changed is not None:
            try:
                await self.queue_changed()
            except SQLAlchemyError:
                logger.exception("could not re-tell the queue its places")

    async def _record(self, message: InboundMessage, result: TurnResult, outcome: Outcome | None) -> None:
        """The citizen's turn and the replies, into the transcript (and so to any console watching)."""
        citizen = await off_loop(self.transcript.record, message.sender_id, Speaker.CITIZEN, message.text)
        await self._record_replies(message.sender_id, citizen.seq, result, outcome)

    async def _record_replies(self, sender: str, seq: int, result: TurnResult, outcome: Outcome | None) -> None:
        intent = result.intent or {}
        replies = [(reply.text, reply.citations) for reply in result.messages]
        turns = await off_loop(
            self.transcript.answered, seq, intent.get("name"), intent.get("confidence"), outcome, replies
        )
        result.seqs += [seq, *(turn.seq for turn in turns)]

    async def _to_queue(self, message: InboundMessage, reason: str) -> TurnResult:
        result = await self._handoff(message, reason, [Reply(HANDED_TO_QUEUE)])
        return result

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
        answer = await off_loop(self.reduced_mode.answer, message.text)
        buttons = [LEAVE_MESSAGE_BUTTON, HUMAN_BUTTON]
        reply = Reply(answer.text, citations=answer.citations, buttons=buttons)
        return TurnResult([reply], None, False, None, Owner.BOT, reduced_mode=True)

    async def _callback_message(self, message: InboundMessage, *, asked: bool, preface: str = "") -> TurnResult:
        """留言回电: file the message if it carries a phone number, else ask for one (and wait for it)."""
        sender, channel, text = message.sender_id, message.channel, message.text
        if text in CANCEL_WORDS:
            await off_loop(self.desk.set_awaiting, sender, channel, None)
            return TurnResult([Reply(CANCELLED)], None, False, None, Owner.BOT)
        receipt = None
        if self.callbacks is not None and text != LEAVE_MESSAGE_PAYLOAD:
            receipt = await off_loop(self.callbacks.file, sender, channel, text)
        if receipt is None:
            await off_loop(self.desk.set_awaiting, sender, channel, Awaiting.CALLBACK_MESSAGE)
            ask = ASK_FOR_PHONE if asked else ASK_FOR_MESSAGE
            return TurnResult([Reply(f"{preface}{ask}")], None, False, None, Owner.BOT)
        await off_loop(self.desk.set_awaiting, sender, channel, None)
        await off_loop(self.receipts.told, sender, receipt.number)
        return TurnResult([Reply(f"{preface}{receipt_text(receipt)}")], None, False, receipt.number, Owner.BOT)


def _outcome(result: TurnResult) -> Outcome | None:
    """What became of the citizen's turn, for the knowledge-gap figures."""
    if result.handoff:
        return Outcome.HANDOFF
    if result.intent and result.intent["name"] == "nlu_fallback":
        return Outcome.FALLBACK
    if any(reply.text.startswith(NO_ANSWER[:20]) for reply in result.messages):
        return Outcome.NOT_FOUND
    if any(reply.citations for reply in result.messages):
        return Outcome.ANSWERED
    return None


def _prepend(replies: list[Reply], result: TurnResult) -> TurnResult:
    result.messages[:0] = replies
    return result
