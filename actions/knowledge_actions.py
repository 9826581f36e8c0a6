"""Questions about policy, health and services, answered from the knowledge index; requests, taken down.

Every question or request intent comes to one action, which asks actions/question_or_request.py
what to do: answer (with the related action as a button) or start the form.
"""

from __future__ import annotations

import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answering import Answer, Answerer
from actions.question_or_request import Reading, Route, decide
from actions.replies import HUMAN_BUTTON, disclosure_request_button, latest_user_text, utter
from actions.ticket_actions import start_ticket
from bot.settings import get_settings
from bot.tickets import TicketKind
from index.retriever import Retriever

#: Bot failures in a row after which a human is offered (一次不行就换人, 不让群众反复说).
FAILURES_BEFORE_HUMAN = 2
OFFER_HUMAN = "抱歉，这次还是没能帮到您。需要为您转接人工客服吗？"

_answerer: Answerer | None = None
_answerer_lock = threading.Lock()


def answerer() -> Answerer:
    """Loaded once per process; the index directory is the settings' (HOTLINE_INDEX)."""
    global _answerer
    with _answerer_lock:
        if _answerer is None:
            _answerer = Answerer(Retriever(get_settings().index))
        return _answerer


def record_failure(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> list[EventType]:
    """Say `text`; at the second failure in a row, offer a human as well."""
    failures = int(tracker.get_slot("failures_in_a_row") or 0) + 1
    if failures >= FAILURES_BEFORE_HUMAN:
        utter(dispatcher, f"{text}\n{OFFER_HUMAN}", buttons=[HUMAN_BUTTON, {"title": "不用了", "payload": "/deny"}])
        return [SlotSet("failures_in_a_row", failures), SlotSet("human_offered", True)]
    utter(dispatcher, text, buttons=[HUMAN_BUTTON])
    return [SlotSet("failures_in_a_row", failures)]


def answer_or_fail(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    question: str,
    failure_text: str | None = None,
    answer: Answer | None = None,
) -> list[EventType]:
    """A trusted answer with its citations, or a counted failure (the honest no-answer by default)."""
    answer = answer if answer is not None else answerer().answer(question)
    if not answer.found:
        return record_failure(dispatcher, tracker, failure_text or answer.text)
    if answer.document is not None:  # 依申请公开: named, not quoted; the request form is one tap away
        utter(dispatcher, answer.text, buttons=[disclosure_request_button(answer.document), HUMAN_BUTTON])
    else:
        utter(dispatcher, answer.text, citations=answer.citations)
    return [SlotSet("failures_in_a_row", 0), SlotSet("human_offered", False)]


FALLBACK_INTENT = "nlu_fallback"
NOT_UNDERSTOOD = "抱歉，我没太明白。您可以换个说法，比如“出生医学证明怎么办理”“我要投诉”。"
#: The slot that tells the rules what follows the decision: answer, ticket_form, query_ticket_form or handoff.
NEXT = "question_or_request"
#: The button under an answer that starts the related request, and the line that offers it.
RELATED_ACTIONS: dict[str, tuple[str, str]] = {
    "complaint": ("我要投诉", "需要投诉，可以点这里，我来帮您登记。"),
    "report": ("我要举报", "需要举报，可以点这里，我来帮您登记。"),
    "suggestion": ("我要提建议", "需要提建议，可以点这里，我来帮您登记。"),
    "disclosure_request": ("申请公开具体信息", "需要申请公开具体信息，可以点这里。"),
    "query_ticket": ("查询我的工单", "需要查询自己工单的办理进度，可以点这里。"),
    "request_human": ("转人工", "需要人工客服为您服务，可以点这里。"),
}


def reading_of(tracker: Tracker) -> Reading:
    message = tracker.latest_message or {}
    intent = message.get("intent") or {}
    ranking = {
        str(r.get("name")): float(r.get("confidence") or 0.0)
        for r in message.get("intent_ranking") or []
        if isinstance(r, dict) and r.get("name") and r.get("name") != FALLBACK_INTENT
    }
    name, confidence = intent.get("name"), intent.get("confidence")
    understood = name != FALLBACK_INTENT
    if not understood:  # below the fallback threshold: the model's best guess, marked unsure
        name, confidence = max(ranking.items(), key=lambda item: item[1], default=("", 0.0))
    return Reading(
        intent=str(name or ""),
        confidence=float(confidence) if confidence is not None else 0.0,
        ranking=ranking,
        text=latest_user_text(tracker).strip(),
        understood=understood,
    )


def offer_related(dispatcher: CollectingDispatcher, kind: str | None) -> None:
    if kind in RELATED_ACTIONS:
        title, line = RELATED_ACTIONS[kind]
        utter(dispatcher, line, buttons=[{"title": title, "payload": f"/{kind}"}])


class ActionQuestionOrRequest(Action):
    def name(self) -> str:
        return "action_question_or_request"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        reading = reading_of(tracker)
        # A button's payload is not a question: no retrieval for it.
        answer: Answer | None = None if reading.from_button else answerer().answer(reading.text)
        trust = answer.trust if answer is not None and answer.found else None
        decision = decide(reading, trust)
        # The rules read the slot and run the form next (data/rules.yml), so stories stay predictable.
        if decision.route is Route.START_TICKET:
            return [*start_ticket(dispatcher, tracker, TicketKind(decision.kind)), SlotSet(NEXT, "ticket_form")]
        if decision.route is Route.START_STATUS:
            return [SlotSet(NEXT, "query_ticket_form")]
        if decision.route is Route.HANDOFF:
            return [SlotSet(NEXT, "handoff")]
        if answer is None:  # a button whose intent asks nothing: say what can be done
            answer = answerer().answer("")
        failure = None if reading.understood else NOT_UNDERSTOOD
        events = answer_or_fail(dispatcher, tracker, reading.text, failure_text=failure, answer=answer)
        if answer.document is None:  # a 依申请公开 answer already offers its own request button
            offer_related(dispatcher, decision.kind)
        return [*events, SlotSet(NEXT, "answer")]
