"""SMS over Twilio: the citizen's text in, a TwiML <Message> back; and the channel's deliver() for what reaches the
citizen between their messages (an operator's reply), through Twilio's REST API.

The adapter only translates. The conversation id is a keyed hash of the number (bot/conversation/conversation_ids);
the number itself is kept only to send to (bot/channels/models.py) and never logged. A reply is cut to fit three
segments (bot/channels/sms_text.py); "更多" sends the next part, kept in the database so that any gateway process
can send it. A button becomes a numbered choice: replying with its number sends its payload. STOP / 退订 stops every
message to the number (deliver() included) until START / 开始; the opt-out itself is confirmed once.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.base import Kind, OutboundMessage
from bot.channels.followups import Followup, FollowupStore, SmsRecipients, best_effort
from bot.channels.sms_text import MORE_WORDS, render
from bot.channels.twilio_webhooks import TwilioMessages
from bot.client_address import client_tag
from bot.conversation.conversation_ids import channel_id
from bot.conversation.core import ConversationCore, InboundMessage, TurnResult
from bot.handoff.desk import Conversation

logger = logging.getLogger(__name__)


CHANNEL = "sms"
#: Twilio's standard opt-out words, and the Chinese ones (回复TD退订). Not 取消: that cancels a form.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "退订", "TD", "取消订阅"})
START_WORDS = frozenset({"START", "UNSTOP", "开始", "恢复", "订阅"})
OPTED_OUT = "您已退订12320热线短信，今后不会再收到本热线的短信。如需恢复，请回复“开始”。"
RESUMED = "已恢复接收12320热线短信。请直接发送您的问题。"
NOTHING_MORE = "这条答复已经发完了。还有其他问题，请直接发送。"
TEXT_ONLY = "目前只能处理文字短信，请用文字描述您的问题。"
NOT_DONE = "抱歉，系统暂时出现故障，这次没有办成，请稍后再发一次。"
#: Kinds of outbound message worth a text: words from a person, a change of who serves, a rating request. The
#: queue position (it changes often) and "typing" are not: the citizen's own turn already told their place.
TEXTED_KINDS = frozenset({Kind.MESSAGE, Kind.OWNER, Kind.RATING_REQUEST})


class Sent(StrEnum):
    SENT = "sent"
    SENT_FIRST_PART = "sent_first_part"  # the rest follows on "更多"
    OPTED_OUT = "opted_out"
    FAILED = "failed"
    OFF = "off"  # no account or number to send from


def keyword(body: str) -> str:
    """The message as a keyword: full-width folded, punctuation and spaces trimmed, upper case."""
    text = unicodedata.normalize("NFKC", body).strip().strip("。.!！?？ ")
    return text.upper()


def sms_conversation_id(number: str, key: str) -> str:
    return channel_id(CHANNEL, number, key)


def caller_tag(number: str, key: str) -> str:
    """What the ticket-check limiter counts a phone number by, on the phone as by SMS (never the number itself)."""
    return client_tag(f"tel:{number}", key)


class SmsChannel:
    """The outbound side: texts through Twilio's REST API, never to a number that opted out."""

    name = CHANNEL

    def __init__(self, messages: TwilioMessages | None, recipients: SmsRecipients, followups: FollowupStore, key: str):
        self.messages = messages
        self.recipients = recipients
        self.followups = followups
        self.key = key

    @property
    def pushes(self) -> bool:
        """Only with an account and a number to send from (HOTLINE_TWILIO_ACCOUNT_SID, HOTLINE_TWILIO_FROM)."""
        return self.messages is not None

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> bool:
        if self.messages is None or message.kind not in TEXTED_KINDS or not message.text:
            return False
        number = await best_effort(None, self.recipients.reachable_number, conversation.sender_id)
        if number is None:  # opted out, or never texted us
            return False
        reply = render([message.text], [], [])
        if reply.rest:
            await best_effort(None, self.followups.put, conversation.sender_id, CHANNEL, Followup(reply.rest))
        return await self.messages.send(number, reply.first)

    async def text_answer(self, number: str, texts: list[str], citations: list[dict[str, str]]) -> Sent:
        """An answer given on the phone, texted to the caller with its sources; the rest on "更多"."""
        if self.messages is None:
            return Sent.OFF
        sender = sms_conversation_id(number, self.key)
        if await best_effort(True, self.recipients.opted_out, sender):  # unknown: not sent
            return Sent.OPTED_OUT
        await best_effort(None, self.recipients.remember, sender, number)
        reply = render(texts, citations, [])
        await best_effort(None, self.followups.put, sender, CHANNEL, Followup(reply.rest))
        if not await self.messages.send(number, reply.first):
            return Sent.FAILED
        return Sent.SENT_FIRST_PART if reply.rest else Sent.SENT


class SmsAdapter:
    """The inbound side: one Twilio SMS webhook → one turn of the conversation core → one TwiML <Message>."""

    def __init__(self, core: ConversationCore, channel: SmsChannel):
        self.core = core
        self.channel = channel

    async def receive(self, form: dict[str, str]) -> MessagingResponse:
        number, body = form.get("From", "").strip(), form.get("Body", "")
        if not number:
            return _reply(None)
        key = self.channel.key
        sender = sms_conversation_id(number, key)
        recipients, followups = self.channel.recipients, self.channel.followups
        word = keyword(body)
        if word in STOP_WORDS:
            if not await best_effort(False, _done(recipients.opt_out), sender, number):
                return _reply(NOT_DONE)
            logger.info("an SMS number opted out")
            return _reply(OPTED_OUT)
        if word in START_WORDS:
            if not await best_effort(False, _done(recipients.opt_in), sender, number):
                return _reply(NOT_DONE)
            return _reply(RESUMED)
        # Unknown while the database fails: the citizen has just written, so the reply (the core's "failed") goes.
        if await best_effort(False, recipients.opted_out, sender):
            return _reply(None)  # nothing is sent to an opted-out number, not even a reply
        await best_effort(None, recipients.remember, sender, number)
        text = body.strip()
        if not text:
            return _reply(TEXT_ONLY)
        if word.lower() in MORE_WORDS:
            part = await best_effort(None, followups.next_part, sender)
            if part is None:
                return _reply(NOTHING_MORE)
            return _reply(part[0])
        followup = await best_effort(Followup(), followups.get, sender)
        text = followup.choices.get(word, text)
        metadata = {"client": caller_tag(number, key)}
        turn = await self.core.handle(InboundMessage(sender, text, channel=CHANNEL, metadata=metadata))
        return await self._render(sender, turn)

    async def _render(self, sender: str, turn: TurnResult) -> MessagingResponse:
        texts = [m.text for m in turn.messages if m.text]
        if not texts:  # a person has the conversation and the bot says nothing: their reply comes by deliver()
            return _reply(None)
        citations = [c for m in turn.messages for c in m.citations]
        buttons = _unique_buttons(b for m in turn.messages for b in m.buttons)
        reply = render(texts, citations, buttons)
        await best_effort(None, self.channel.followups.put, sender, CHANNEL, Followup(reply.rest, reply.choices))
        return _reply(reply.first)


def _unique_buttons(buttons: Any) -> list[dict[str, str]]:
    seen: set[str] = set()
    unique = []
    for button in buttons:
        if button["payload"] not in seen:
            seen.add(button["payload"])
            unique.append(button)
    return unique


def _done(write: Callable[..., None]) -> Callable[..., bool]:
    def done(*args: Any) -> bool:
        write(*args)
        return True

    return done


def _reply(text: str | None) -> MessagingResponse:
    response = MessagingResponse()
    if text:
        response.message(text)
    return response
