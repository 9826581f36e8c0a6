"""Handing the conversation to a human: on request, on repeated failure, on an emergency.

The action only marks the conversation (slots `handoff`, `handoff_reason`); the gateway owns the
queue and stops calling the bot while a human owns the conversation.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge_actions import answer_or_fail
from actions.question_or_request import is_question_about_danger
from actions.replies import latest_user_text, utter
from bot.conversation.emergency import DEFAULT_PSYCH_LINE, assess, guidance
from bot.settings import SettingsError, get_settings

log = logging.getLogger(__name__)

#: Said after a first-aid answer: knowledge never replaces the call.
CALL_FIRST = "如果现在就有人遇到危险，请立即拨打120急救电话（火灾119，治安110）。"
HANDOFF = "好的，正在为您转接人工客服，请稍候。转接期间您发的消息会直接交给工作人员。"


def handoff_events(reason: str) -> list[EventType]:
    return [
        SlotSet("handoff", True),
        SlotSet("handoff_reason", reason),
        SlotSet("human_offered", False),
        SlotSet("failures_in_a_row", 0),
    ]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        reason = "offered_after_failures" if tracker.get_slot("human_offered") else "requested"
        utter(dispatcher, HANDOFF, handoff={"reason": reason, "priority": "normal"})
        return handoff_events(reason)


def psych_line() -> str:
    try:
        return get_settings().psych_line
    except SettingsError:
        # The guidance goes out whatever else is misconfigured; the bad setting is logged, not quoted.
        log.error("settings invalid; self-harm guidance uses the default psychological assistance line")
        return DEFAULT_PSYCH_LINE


class ActionEmergency(Action):
    def name(self) -> str:
        return "action_emergency"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        # The same words as the gateway's net for the same message; the general guidance when the intent
        # model found an emergency that the rule does not name, unless the message only asks about one.
        said = latest_user_text(tracker)
        assessment = assess(said)
        if is_question_about_danger(said, emergency_now=assessment is not None):
            events = answer_or_fail(dispatcher, tracker, said)
            utter(dispatcher, CALL_FIRST)
            return events
        text = guidance(assessment, psych_line())
        utter(dispatcher, text, handoff={"reason": "emergency", "priority": "urgent"})
        return handoff_events("emergency")


class ActionDeclineHuman(Action):
    def name(self) -> str:
        return "action_decline_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        utter(dispatcher, "好的。您可以换个说法再问我，需要时随时说“转人工”。")
        return [SlotSet("human_offered", False), SlotSet("failures_in_a_row", 0)]
