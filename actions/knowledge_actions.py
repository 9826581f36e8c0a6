"""Questions about policy, health and services, answered from the knowledge index."""

from __future__ import annotations

import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answering import Answerer
from actions.replies import HUMAN_BUTTON, disclosure_request_button, latest_user_text, utter
from bot.settings import get_settings
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
    dispatcher: CollectingDispatcher, tracker: Tracker, question: str, failure_text: str | None = None
) -> list[EventType]:
    """A trusted answer with its citations, or a counted failure (the honest no-answer by default)."""
    answer = answerer().answer(question)
    if not answer.found:
        return record_failure(dispatcher, tracker, failure_text or answer.text)
    if answer.document is not None:  # 依申请公开: named, not quoted; the request form is one tap away
        utter(dispatcher, answer.text, buttons=[disclosure_request_button(answer.document), HUMAN_BUTTON])
    else:
        utter(dispatcher, answer.text, citations=answer.citations)
    return [SlotSet("failures_in_a_row", 0), SlotSet("human_offered", False)]


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return answer_or_fail(dispatcher, tracker, latest_user_text(tracker))
