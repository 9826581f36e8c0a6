"""Is this first message a question to answer or a request to take down? Decided here, and only here.

A question *about* complaints, disclosure, tickets or the hotline gets its answer; a form starts on a
clear request or when the citizen presses the related action's button under the answer. Three pieces
of evidence decide, together:
- the intent and its calibrated confidence (rasa_addons/calibration.py: the probability it is right);
- the retrieval's trust in its best answer (the answerer's calibrated probability that it answers);
- the form of the message: does it ask (什么/怎么/哪些/几种/要不要/是否/吗…), does the citizen say
  they want the action done (我要投诉, 帮我查), does it carry a ticket number.
These are properties of how Chinese asks and requests, not patches for particular phrasings.

Plain Python without Rasa: the action (actions/knowledge_actions.py), the tests and the benchmarks
call `decide`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

#: Intents that start a form. The ticket kinds share the ticket form; query_ticket has its own.
TICKET_INTENTS = ("complaint", "report", "suggestion", "disclosure_request")
STATUS_INTENT = "query_ticket"
HUMAN_INTENT = "request_human"
QUESTION_INTENTS = ("ask_policy", "ask_health", "ask_service")

#: A request intent ranked at least this likely is offered as a button under an answer.
RELATED_ACTION = 0.15

# A question asks for content (what, how, which, how long, whether) or is polar (…吗, 能不能…). 吗/呢/么
# only at the end of a clause, where they are particles. "能帮我叫一下人工吗" is polar, and polite: a request.
_CONTENT_QUESTION = (
    r"什么|啥|咋|怎么|怎样|如何|为何|为什么|哪(?!怕)|几[点时岁次月年号天周个种类项位家条步分部]|"
    r"多久|多长|多少|多大|要不要|需不需要|会不会|是不是|有没有|算不算|是否|请问|想问|问一下|问下|咨询一下|打听"
)
_ASKS_FOR_CONTENT = re.compile(_CONTENT_QUESTION)
_ASKS = re.compile(_CONTENT_QUESTION + r"|能不能|可不可以|可否|能否|[吗嘛么呢][\s，,。.!！~～]*(?=$|[？?，,。])|[？?]")
# The citizen says they want the action done: first person or a polite imperative, then its verb.
# "我想问/我想了解" asks, so the verb list never includes 问/了解/知道/咨询.
_WANTS = re.compile(
    r"(我|俺|本人|我们|咱)(就是)?(要|想要|想|需要|得|准备|决定|坚决)(实名)?(投诉|举报|检举|反映|建议|提|申请|查|查询|登记|找人工|转人工)|"
    r"(帮|给|替)(我|俺)(查|投诉|举报|反映|登记|申请|转|叫|接|找|联系|问问|看看)|"
    r"(麻烦|请)(你|您|你们)?(帮|给)|"
    r"(我|俺)?(有|提|提出)(个|一个|一条|几条|点)(建议|意见|投诉|举报)|"
    r"(我|俺|本人)(要|想|想要|需要|准备)(?!问|了解|知道|咨询|打听|看看)[^，。？?！!]{0,12}?(进行|提出)(投诉|举报|反映)|"
    r"特此(投诉|举报|检举|反映|申请)|[望请]予(处理|登记|受理|查处|答复|公开|回复)|"
    r"^(我)?(实名)?(投诉|举报|检举)(?!.*(怎么|如何|哪|多久|吗|么|？|\?))"
)
# The kind a wanted action names: 我想对…进行投诉 is a complaint whatever the unsure model guessed.
_NAMED_KIND = (
    ("disclosure_request", re.compile(r"申请(政府)?(信息)?公开|依申请|[望请]予公开")),
    ("report", re.compile(r"举报|检举|查处")),
    ("suggestion", re.compile(r"建议|意见")),
    ("complaint", re.compile(r"投诉|反映")),
)
TICKET_NUMBER = re.compile(r"12320-\d{8}-\d{6}")
# One's own matter: the citizen, or an order to look, and what a status is about.
_OWN = re.compile(r"我|俺|侬|阿拉|本人|^(帮|麻烦|请)?(查|查询|查一下|查下|看看)")
_STATUS = re.compile(
    r"进度|结果|状态|情况|办到|办好|办结|办完|回复|回音|答复|处理到|处理得|受理了|哪一步|到哪|怎么样|咋样|如何了|消息|有人管"
)


def asks(text: str) -> bool:
    """The message asks something (an interrogative word or particle, or a question mark)."""
    return bool(_ASKS.search(text))


def is_question_about_danger(text: str, emergency_now: bool) -> bool:
    """The intent model said emergency, but nothing is happening now (bot/conversation/emergency.py's reading) and the
    message asks: 心肺复苏怎么做 is health knowledge, answered with the numbers to call, not a handoff."""
    return not emergency_now and asks(text)


class Route(StrEnum):
    ANSWER = "answer"  # answer from the knowledge base (or say honestly that it has none)
    START_TICKET = "start_ticket"  # the ticket form, of `kind`
    START_STATUS = "start_status"  # the ticket status query form
    HANDOFF = "handoff"  # a person takes the conversation


@dataclass(frozen=True)
class Reading:
    """What one message says, before any decision."""

    intent: str
    confidence: float  # calibrated; 1.0 for a button's payload
    ranking: dict[str, float]  # calibrated, every intent the model ranked
    text: str
    #: False below the fallback threshold: `intent` is then only the model's best guess.
    understood: bool = True

    @property
    def from_button(self) -> bool:
        return self.text.startswith("/")  # Rasa's "/intent{entities}" payload: the citizen pressed it

    @property
    def asks(self) -> bool:
        return asks(self.text)

    @property
    def wants(self) -> bool:
        return bool(_WANTS.search(self.text))

    @property
    def asks_for_content(self) -> bool:
        """A content question (what, how, when, whether), not a polar one that may be a polite request."""
        return bool(_ASKS_FOR_CONTENT.search(self.text))

    @property
    def wanted_kind(self) -> str | None:
        """The ticket kind the citizen says they want filed, if the request names one."""
        if not self.wants:
            return None
        # Anywhere in the message: 本人…申请公开…，请予受理 names it before its closing formula.
        return next((kind for kind, verb in _NAMED_KIND if verb.search(self.text)), None)

    @property
    def own_status(self) -> bool:
        """A ticket number, or an explicit ask about one's own matter (我那个投诉办到哪了)."""
        return bool(TICKET_NUMBER.search(self.text)) or bool(_OWN.search(self.text) and _STATUS.search(self.text))


@dataclass(frozen=True)
class Decision:
    route: Route
    #: For START_TICKET, the ticket kind; for ANSWER, the request offered as a button under the answer.
    kind: str | None = None


def decide(reading: Reading, trust: float | None) -> Decision:
    """`trust`: the answerer's calibrated probability that its answer answers (index/trust.py), None when it
    found none it trusts. Both it and `reading.confidence` are probabilities of being right, so where the
    form of the message does not settle it, the likelier one wins."""
    intent = reading.intent
    if not reading.understood and reading.wanted_kind and not reading.asks_for_content:
        return Decision(Route.START_TICKET, reading.wanted_kind)  # the model is unsure; the words are not
    if intent == HUMAN_INTENT:
        # 人工客服几点上班 asks about people; 转人工 and 能帮我叫一下人工吗 ask for one.
        if reading.from_button or reading.wants or not reading.asks_for_content:
            return Decision(Route.HANDOFF)
        return Decision(Route.ANSWER, HUMAN_INTENT)
    if intent == STATUS_INTENT:
        if reading.from_button or reading.own_status:
            return Decision(Route.START_STATUS)
        return Decision(Route.ANSWER, related_action(reading, fallback=STATUS_INTENT))
    if intent in TICKET_INTENTS:
        if reading.from_button:
            return Decision(Route.START_TICKET, intent)
        if reading.wants:  # the citizen's own word for it (投诉！…) names the kind over the model's guess
            return Decision(Route.START_TICKET, reading.wanted_kind or intent)
        if reading.asks or not reading.understood:
            # A question about the thing is answered, and the action is one tap away; with no answer
            # it is offered, never started, on a question.
            return Decision(Route.ANSWER, intent)
        if trust is not None and trust > reading.confidence:  # a statement the model is unsure of
            return Decision(Route.ANSWER, intent)
        return Decision(Route.START_TICKET, intent)
    return Decision(Route.ANSWER, related_action(reading))


def related_action(reading: Reading, fallback: str | None = None) -> str | None:
    """The request the citizen may want next, if the model thinks it likely enough to offer."""
    candidates = [(p, name) for name, p in reading.ranking.items() if name in (*TICKET_INTENTS, STATUS_INTENT)]
    best = max(candidates, default=(0.0, None))
    if best[1] is not None and best[0] >= RELATED_ACTION:
        return best[1]
    return fallback
