"""The phone hotline over Twilio Voice (IVR): a caller's speech or keys in, TwiML out.

The adapter only translates, both ways. What the caller said or keyed becomes one message to the conversation core
(bot/conversation/core.py), exactly as a web turn; the core's replies become <Say> inside a <Gather> that waits for
the next input. It decides nothing the core decides: the ticket form, the handoff and the emergency rule are the
same as on the web, and a ticket is filed only when the caller confirms at the read-back (按1确认), so a caller who
hangs up mid-form files nothing.

- Conversation id: a keyed hash of the call (CallSid), never the caller's number: a call is one conversation, as on
  any hotline, so a caller who rings back starts afresh instead of landing in a form left half done. The number
  only becomes an opaque tag for the ticket-check limiter (shared with SMS) and is never logged.
- Mandarin: <Gather language> is "cmn-Hans-CN", the code Twilio's <Gather> language table gives for "Chinese,
  Mandarin (Simplified, China)" (https://www.twilio.com/docs/voice/twiml/gather#languagetags; Twilio passes it to
  its speech provider, error 13331 if the provider does not know it). Polly's code "cmn-CN" is for <Say> only.
  <Say> is Polly.Zhiyu, cmn-CN. Both are settings (HOTLINE_TWILIO_SPEECH_LANGUAGE, _VOICE, _VOICE_LANGUAGE).
- Speech hints: the formal terms of the retrieval's reviewed colloquial → formal lexicon
  (index/resources/query_lexicon.yml: 出生医学证明, 预防接种证, 医疗纠纷, 12320卫生热线 …) and the IVR's own words.
- Keys: the menu (1 咨询, 2 投诉举报, 3 查询工单, 0 人工), the replies' buttons as numbered keys (转人工 is always
  0), 1 for more of a long answer, 9 to have the answer texted. Numbers (a ticket number, a phone number, the last
  four digits) can be keyed, ending with #; a ticket number keyed as its 14 or 19 digits is written back with its
  dashes before the core reads it.
- For the ear (bot/channels/spoken.py): one or two sentences of an answer, then "要听更多请按1"; no URL, markdown,
  emoji or source line; ticket and phone numbers read digit by digit.
- Handoff: <Enqueue> into the hotline's Twilio queue (or <Dial> to an operator number); the core has already put the
  conversation in the console's queue with channel "voice", the transcript so far and the reason.
- Emergencies: the core's guidance is spoken first; then the caller is told to hang up and dial 120/110, and one
  who stays is put through to the duty number (if set) or waits for a person, urgent in the console's queue.
- Silence and noise: re-prompted twice, then the menu, then a goodbye (silence) or a person (noise). The count
  travels in the follow-up URL, which Twilio signs with the rest of the request.
- Recording: never asked for (no <Record>, <Dial record> stays off).

deliver(): a caller cannot be reached between turns (nothing can be pushed into a call), so VoiceChannel.deliver
returns False and the message waits in the transcript, which the operator sees; a person reaches a caller by
taking the call from the Twilio queue.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import yaml
from twilio.twiml.voice_response import Gather, VoiceResponse

from bot.channels.base import OutboundMessage
from bot.channels.followups import Followup, FollowupStore, best_effort
from bot.channels.spoken import for_the_ear, in_parts
from bot.channels.twilio_sms import Sent, SmsChannel, caller_tag
from bot.channels.twilio_webhooks import TwilioWebhooks
from bot.conversation.callbacks import LEAVE_MESSAGE_PAYLOAD
from bot.conversation.conversation_ids import channel_id
from bot.conversation.core import ConversationCore, InboundMessage, Reply, TurnResult
from bot.handoff.desk import Conversation
from bot.handoff.workflow import Owner
from bot.settings import Settings

logger = logging.getLogger(__name__)


CHANNEL = "voice"
BASE = "/channels/twilio/voice"
MENU_PATH, TURN_PATH, WAIT_PATH, QUEUE_PATH = (f"{BASE}/menu", f"{BASE}/turn", f"{BASE}/wait", f"{BASE}/queue")

HUMAN = "/request_human"
#: The menu's keys: what each one says to the core (Rasa's button payloads start the same flows as on the web).
MENU = {"2": "/complaint", "3": "/query_ticket", "0": HUMAN}
ASK_QUESTION_KEY = "1"
#: The channel's own choices, beside the buttons' payloads (no payload starts with "#").
MORE, TEXT_IT = "#more", "#sms"
MORE_KEY, TEXT_KEY, HUMAN_KEY = "1", "9", "0"
#: Re-prompts before the menu is offered again; one more miss after the menu ends the call (or finds a person).
REPROMPTS = 2
#: A transcription Twilio is less sure of than this is treated as not understood.
MIN_CONFIDENCE = 0.3
GATHER_TIMEOUT_S = 6

GREETING = "您好，这里是12320卫生健康热线智能语音服务。"
MENU_PROMPT = "请直接说出您的问题；也可以按键选择：咨询请按1，投诉举报请按2，查询工单请按3，人工服务请按0。"
ASK_QUESTION = "请说出您要咨询的问题。"
NOT_HEARD = "抱歉，我没有听到您的声音。"
NOT_UNDERSTOOD = "抱歉，我没有听清。"
NO_SUCH_KEY = "没有这个选项。"
GOODBYE = "很抱歉没能听到您的回答。如需帮助，欢迎再次拨打12320。再见。"
TO_A_PERSON = "电话里的声音不太清楚，为您转接人工客服。"
ANYTHING_ELSE = "还有其他问题，请直接说；结束通话请挂机。"
KEYED_NUMBER_HINT = "可以直接说，也可以用电话按键输入，按井号键结束。"
EMERGENCY_CALL = "如果还没有拨打，请现在挂断电话，立即拨打120急救电话，需要报警请拨打110。已经拨打过的，请不要挂机，"
EMERGENCY_DUTY = "正在为您接通值班人员。"
EMERGENCY_WAIT = "人工客服马上为您服务。"
SENT_BY_SMS = "已把完整答复和出处发送到您的手机短信，请注意查收。"
SENT_FIRST_PART_BY_SMS = "已把答复和出处发送到您的手机短信。内容较长，回复短信“更多”可以接着看。"
SMS_OPTED_OUT = "您的号码已退订本热线短信，无法发送。如需接收，请用手机发送“开始”到本热线号码。"
SMS_FAILED = "抱歉，短信没有发送成功，请稍后再试。"
NOTHING_TO_TEXT = "目前没有可以发送的答复。"
PERSON_UNAVAILABLE = "抱歉，人工客服暂时无法接听。需要留言回电请按1；也可以直接说出您的问题。"
THANKS = "感谢您的来电，再见。"
WAITING = "正在为您转接人工客服，您前面还有{ahead}位，请不要挂机。"
NEXT_IN_LINE = "马上为您接通人工客服，请不要挂机。"
#: A reply that asks for a number a caller may prefer to key in ("请留一个联系电话", "请告诉我工单编号").
_ASKS_FOR_A_NUMBER = re.compile(r"请(?:留|告诉我|说|输入|提供)[^。？]*?(?:电话|号码|手机号|编号|后四位)")
_TICKET_DIGITS = re.compile(r"^(?:12320)?(\d{8})(\d{6})$")
_E164 = re.compile(r"^\+[1-9]\d{5,14}$")
_TRAILING_MARKS = "。，.,!！?？ "
_MORE_WORDS = frozenset({"更多", "听更多", "继续", "还有呢"})
_TEXT_WORDS = frozenset({"发短信", "短信", "发到手机", "短信发给我"})
#: The IVR's own words, for recognition beside the lexicon's terms.
_IVR_WORDS = ("咨询", "投诉", "举报", "建议", "查询工单", "人工", "转人工", "确认", "修改", "取消", "同意", "不同意")


@cache
def speech_hints() -> str:
    """<Gather hints>: the formal terms of the retrieval lexicon (index/resources/query_lexicon.yml, reviewed words the
    corpus uses) and the IVR's own words, comma-separated, each once."""
    text = (resources.files("index.resources") / "query_lexicon.yml").read_text(encoding="utf-8")
    terms = [str(entry["to"]) for entry in yaml.safe_load(text) or [] if not entry.get("typo")]
    unique = dict.fromkeys([*_IVR_WORDS, *terms, "12320"])
    return ",".join(unique)


@dataclass(frozen=True)
class VoiceSettings:
    speech_language: str = "cmn-Hans-CN"
    voice: str = "Polly.Zhiyu"
    voice_language: str = "cmn-CN"
    queue: str = "hotline"
    operator_number: str | None = None
    duty_number: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> VoiceSettings:
        return cls(
            settings.twilio_speech_language,
            settings.twilio_voice,
            settings.twilio_voice_language,
            settings.twilio_queue,
            settings.twilio_operator_number,
            settings.twilio_duty_number,
        )


@dataclass(frozen=True)
class CallInput:
    """What Twilio posted about the call and, after a <Gather>, what the caller said or keyed."""

    call_sid: str
    caller: str | None
    digits: str
    speech: str
    confidence: float | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> CallInput:
        try:
            confidence: float | None = float(form["Confidence"]) if form.get("Confidence") else None
        except ValueError:
            confidence = None
        caller = form.get("From", "").strip()
        return cls(
            call_sid=form.get("CallSid", "").strip(),
            caller=caller if _E164.match(caller) else None,  # "anonymous", "client:…": no number to text
            digits="".join(ch for ch in form.get("Digits", "") if ch.isdigit() or ch in "*#").strip("#"),
            speech=form.get("SpeechResult", "").strip().strip(_TRAILING_MARKS),
            confidence=confidence,
        )

    @property
    def heard_something(self) -> bool:
        return bool(self.speech)

    def understood(self) -> str | None:
        """The keys, or the speech if Twilio is sure enough of it; None for silence or noise."""
        if self.digits:
            return self.digits
        if not self.speech or (self.confidence is not None and 0 < self.confidence < MIN_CONFIDENCE):
            return None
        return self.speech


def keyed_text(digits: str) -> str:
    """Keys as the core reads them: a ticket number keyed as 14 (or 19, with 12320) digits gets its dashes back."""
    match = _TICKET_DIGITS.match(digits)
    return f"12320-{match[1]}-{match[2]}" if match and len(digits) in (14, 19) else digits


@dataclass(frozen=True)
class Misses:
    """How many times running the caller was not heard (count) and whether any of it was speech (noise)."""

    count: int = 0
    noise: bool = False

    def query(self) -> dict[str, str]:
        return {"misses": str(self.count), "noise": "1" if self.noise else "0"}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Misses:
        count = query.get("misses", "0")
        return cls(int(count) if count.isdigit() and len(count) < 3 else 0, query.get("noise") == "1")


class VoiceChannel:
    """The outbound side of a phone call: there is none between turns (see the module's docstring)."""

    name = CHANNEL
    pushes = False

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> bool:
        return False


class VoiceIvr:
    def __init__(
        self,
        core: ConversationCore,
        followups: FollowupStore,
        webhooks: TwilioWebhooks,
        settings: VoiceSettings,
        key: str,
        texting: SmsChannel | None = None,
    ):
        self.core = core
        self.followups = followups
        self.webhooks = webhooks
        self.settings = settings
        self.key = key
        self.texting = texting

    def conversation_id(self, call: CallInput) -> str:
        return channel_id(CHANNEL, call.call_sid, self.key)

    # -- the requests ---------------------------------------------------------------------------------------

    async def answer(self, call: CallInput) -> VoiceResponse:
        """A new call: the greeting and the menu."""
        return self._menu(VoiceResponse(), GREETING + MENU_PROMPT, Misses())

    async def menu(self, call: CallInput, misses: Misses) -> VoiceResponse:
        said = call.understood()
        if said is None:
            return await self._missed(call, misses, MENU_PROMPT, menu=True)
        if call.digits:
            if call.digits == ASK_QUESTION_KEY:
                return await self._ask(call, ASK_QUESTION, {})
            if call.digits in MENU:
                return await self._to_core(call, MENU[call.digits])
            return self._menu(VoiceResponse(), NO_SUCH_KEY + MENU_PROMPT, Misses(misses.count + 1, misses.noise))
        return await self._to_core(call, said)

    async def turn(self, call: CallInput, misses: Misses) -> VoiceResponse:
        conversation = self.conversation_id(call)
        followup = await best_effort(Followup(), self.followups.get, conversation)
        said = call.understood()
        if said is None:
            return await self._missed(call, misses, followup.prompt or ANYTHING_ELSE, followup.choices)
        choice = followup.choices.get(call.digits) if call.digits else None
        if choice is None and not call.digits:
            if said in _MORE_WORDS and followup.rest:
                choice = MORE
            elif said in _TEXT_WORDS and followup.answer:
                choice = TEXT_IT
        if choice == MORE:
            return await self._more(conversation, followup)
        if choice == TEXT_IT:
            return await self._text_answer(call, followup)
        if choice is None and call.digits == HUMAN_KEY:
            choice = HUMAN
        return await self._to_core(call, choice or (keyed_text(call.digits) if call.digits else said))

    def wait(self, form: Mapping[str, str]) -> VoiceResponse:
        """<Enqueue waitUrl>: what a caller hears while waiting, again and again until a person takes the call."""
        response = VoiceResponse()
        position = form.get("QueuePosition", "")
        ahead = int(position) - 1 if position.isdigit() and int(position) > 0 else 0
        text = WAITING.format(ahead=ahead) if ahead else NEXT_IN_LINE
        self._say(response, text)
        response.pause(length=20)
        return response

    async def after_person(self, call: CallInput, form: Mapping[str, str]) -> VoiceResponse:
        """<Enqueue action> / <Dial action>: the caller left the queue or the call to an operator ended."""
        response = VoiceResponse()
        result = form.get("QueueResult") or form.get("DialCallStatus") or ""
        if result == "hangup":  # the caller is gone: the wait ends now, not when the queue times it out
            await asyncio.to_thread(self.core.desk.citizen_left, self.conversation_id(call))
            return response
        if result in ("bridged", "completed"):
            self._say(response, THANKS)
            response.hangup()
            return response
        logger.warning("a voice caller did not reach a person: %s", result or "no result")
        choices = {"1": LEAVE_MESSAGE_PAYLOAD}
        return await self._ask(call, PERSON_UNAVAILABLE, choices, response=response)

    # -- what the core said, for the ear --------------------------------------------------------------------

    async def _to_core(self, call: CallInput, text: str, response: VoiceResponse | None = None) -> VoiceResponse:
        """One turn of the conversation core; its replies said into `response` (a new one by default)."""
        response = response or VoiceResponse()
        conversation = self.conversation_id(call)
        metadata = {"client": caller_tag(call.caller, self.key)} if call.caller else {}
        turn = await self.core.handle(InboundMessage(conversation, text, channel=CHANNEL, metadata=metadata))
        if turn.intent and turn.intent.get("name") == "emergency":
            return await self._emergency(conversation, turn, response)
        if turn.handoff or turn.owner in (Owner.QUEUE, Owner.OPERATOR):
            for reply in turn.messages:
                self._say(response, reply.text)
            await best_effort(None, self.followups.put, conversation, CHANNEL, Followup())
            return self._to_a_person(response)
        return await self._speak(call, conversation, turn.messages, response)

    async def _speak(
        self, call: CallInput, conversation: str, replies: list[Reply], response: VoiceResponse
    ) -> VoiceResponse:
        head: list[str] = []
        rest: list[str] = []
        answer_texts: list[str] = []
        citations: list[dict[str, str]] = []
        for reply in replies:
            spoken = for_the_ear(reply.text)
            if not spoken:
                continue
            if reply.citations:  # an answer from the documents: heard a part at a time
                first, *more = in_parts(spoken)
                head.append(first)
                rest += more
                answer_texts.append(reply.text)
                citations += reply.citations
            else:
                head.append(spoken)
        choices = self._choices([b for r in replies for b in r.buttons], cut=bool(rest))
        if answer_texts and self._can_text(call):
            choices[TEXT_KEY] = TEXT_IT
        answer = {"text": "\n".join(answer_texts), "citations": citations} if answer_texts else None
        prompt = self._key_prompt(choices, buttons=[b for r in replies for b in r.buttons])
        last = head[-1] if head else ""
        if not choices and _ASKS_FOR_A_NUMBER.search(last):
            prompt = KEYED_NUMBER_HINT
        elif not prompt and (answer_texts or not any(mark in last for mark in "？?")):
            prompt = ANYTHING_ELSE  # nothing was asked: say what the caller can do now
        said = "".join(head)
        # Said again when the caller is not heard: the question, or for an answer only what to do next.
        reprompt = prompt if answer_texts else "".join(filter(None, [said, prompt]))
        await best_effort(None, self.followups.put, conversation, CHANNEL, Followup(rest, choices, reprompt, answer))
        return self._gather(response, [said, prompt], TURN_PATH, Misses(), one_key=bool(choices))

    async def _more(self, conversation: str, followup: Followup) -> VoiceResponse:
        taken = await best_effort(None, self.followups.next_part, conversation)
        if taken is None:
            return self._gather(VoiceResponse(), [ANYTHING_ELSE], TURN_PATH, Misses(), one_key=False)
        part, more_left = taken
        choices = {k: v for k, v in followup.choices.items() if more_left or v != MORE}
        prompt = self._key_prompt(choices, buttons=[]) or ANYTHING_ELSE
        await best_effort(
            None,
            self.followups.put,
            conversation,
            CHANNEL,
            Followup(followup.rest[1:], choices, prompt, followup.answer),
        )
        return self._gather(VoiceResponse(), [part, prompt], TURN_PATH, Misses(), one_key=bool(choices))

    async def _text_answer(self, call: CallInput, followup: Followup) -> VoiceResponse:
        answer = followup.answer or {}
        if self.texting is None or call.caller is None or not answer.get("text"):
            said = NOTHING_TO_TEXT
        else:
            sent = await self.texting.text_answer(call.caller, [answer["text"]], list(answer.get("citations") or []))
            told = {Sent.SENT: SENT_BY_SMS, Sent.SENT_FIRST_PART: SENT_FIRST_PART_BY_SMS, Sent.OPTED_OUT: SMS_OPTED_OUT}
            said = told.get(sent, SMS_FAILED)
        choices = {k: v for k, v in followup.choices.items() if v != TEXT_IT}
        return await self._ask(call, said + (self._key_prompt(choices, []) or ANYTHING_ELSE), choices)

    async def _emergency(self, conversation: str, turn: TurnResult, response: VoiceResponse) -> VoiceResponse:
        """The guidance first, in full; then hang up and dial 120/110, or stay for the duty number or a person."""
        for reply in turn.messages:
            self._say(response, reply.text)
        await best_effort(None, self.followups.put, conversation, CHANNEL, Followup())
        duty = self.settings.duty_number
        self._say(response, EMERGENCY_CALL + (EMERGENCY_DUTY if duty else EMERGENCY_WAIT))
        if duty:
            response.dial(duty, action=self.webhooks.url(QUEUE_PATH), method="POST")
            return response
        return self._enqueue(response)

    async def _missed(
        self,
        call: CallInput,
        misses: Misses,
        prompt: str,
        choices: Mapping[str, str] | None = None,
        *,
        menu: bool = False,
    ) -> VoiceResponse:
        """Not heard: re-prompt twice, then the menu, then goodbye (silence) or a person (noise)."""
        misses = Misses(misses.count + 1, misses.noise or call.heard_something)
        if misses.count <= REPROMPTS:
            sorry = NOT_UNDERSTOOD if call.heard_something else NOT_HEARD
            if menu:
                return self._menu(VoiceResponse(), sorry + prompt, misses)
            return self._gather(VoiceResponse(), [sorry, prompt], TURN_PATH, misses, one_key=bool(choices))
        if misses.count == REPROMPTS + 1:
            return self._menu(VoiceResponse(), NOT_HEARD + MENU_PROMPT, misses)
        response = VoiceResponse()
        if misses.noise:
            self._say(response, TO_A_PERSON)
            return await self._to_core(call, HUMAN, response)
        self._say(response, GOODBYE)
        response.hangup()
        return response

    async def _ask(
        self, call: CallInput, text: str, choices: dict[str, str], *, response: VoiceResponse | None = None
    ) -> VoiceResponse:
        """Put a question of the channel's own to the caller and wait for the answer."""
        conversation = self.conversation_id(call)
        await best_effort(None, self.followups.put, conversation, CHANNEL, Followup([], choices, text, None))
        return self._gather(response or VoiceResponse(), [text], TURN_PATH, Misses(), one_key=bool(choices))

    # -- TwiML --------------------------------------------------------------------------------------------

    def _choices(self, buttons: Iterable[Mapping[str, str]], *, cut: bool) -> dict[str, str]:
        """The keys of this prompt: 1 for more (when the answer was cut), the buttons from the next free number,
        转人工 always 0."""
        choices: dict[str, str] = {MORE_KEY: MORE} if cut else {}
        number = 1
        for button in buttons:
            payload = button["payload"]
            if payload in choices.values():
                continue
            if payload == HUMAN:
                choices[HUMAN_KEY] = HUMAN
                continue
            while str(number) in choices or str(number) in (TEXT_KEY, HUMAN_KEY):
                number += 1
            if number > 8:
                break
            choices[str(number)] = payload
        return choices

    def _key_prompt(self, choices: Mapping[str, str], buttons: Iterable[Mapping[str, str]]) -> str:
        titles = {b["payload"]: b["title"] for b in buttons}
        said: list[str] = []
        for key, payload in sorted(choices.items(), key=lambda item: (item[0] == HUMAN_KEY, item[0])):
            if payload == MORE:
                said.append(f"要听更多请按{key}")
            elif payload == TEXT_IT:
                said.append(f"需要把完整答复和出处发到您的手机，请按{key}")
            elif payload == HUMAN:
                said.append(f"转人工请按{key}")
            elif payload == LEAVE_MESSAGE_PAYLOAD and payload not in titles:
                continue  # the channel's own question already said it
            else:
                said.append(f"{titles.get(payload, payload)}请按{key}")
        return "，".join(said) + "。" if said else ""

    def _can_text(self, call: CallInput) -> bool:
        return self.texting is not None and self.texting.messages is not None and call.caller is not None

    def _say(self, node: VoiceResponse | Gather, text: str) -> None:
        """<Say> in the configured voice, always rendered for the ear (it is idempotent)."""
        spoken = for_the_ear(text)
        if spoken:
            node.say(spoken, voice=self.settings.voice, language=self.settings.voice_language)

    def _gather(
        self, response: VoiceResponse, texts: list[str], path: str, misses: Misses, *, one_key: bool
    ) -> VoiceResponse:
        """The caller may speak, or key: one key when the prompt offers keys, else digits ending with #."""
        action = self.webhooks.url(path) + "?" + urlencode(misses.query())
        keys: dict[str, Any] = {"num_digits": 1} if one_key else {"finish_on_key": "#"}
        gather = Gather(
            input="speech dtmf",
            language=self.settings.speech_language,
            hints=speech_hints(),
            action=action,
            method="POST",
            action_on_empty_result=True,
            speech_timeout="auto",
            timeout=GATHER_TIMEOUT_S,
            **keys,
        )
        for text in texts:
            self._say(gather, text)
        response.append(gather)
        return response

    def _menu(self, response: VoiceResponse, text: str, misses: Misses) -> VoiceResponse:
        return self._gather(response, [text], MENU_PATH, misses, one_key=True)

    def _to_a_person(self, response: VoiceResponse) -> VoiceResponse:
        if self.settings.operator_number:
            response.dial(self.settings.operator_number, action=self.webhooks.url(QUEUE_PATH), method="POST")
            return response
        return self._enqueue(response)

    def _enqueue(self, response: VoiceResponse) -> VoiceResponse:
        response.enqueue(
            self.settings.queue,
            wait_url=self.webhooks.url(WAIT_PATH),
            wait_url_method="POST",
            action=self.webhooks.url(QUEUE_PATH),
            method="POST",
        )
        return response
