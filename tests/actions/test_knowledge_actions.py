"""The answer action and the 依申请公开 request button, through rasa-sdk's own Tracker and dispatcher."""

import json
import re

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_actions
from actions.answering import Answerer
from actions.ticket_actions import ActionStartTicket

# Rasa's own pattern for a payload that sets the intent and entities (rasa.shared.nlu.constants).
RASA_PAYLOAD = re.compile(r"^/(?P<intent>[^{@]+)(?P<entities>{.+})?$")


def _tracker(text, intent="ask_policy", entities=(), slots=None):
    intent_ranking = [{"name": intent, "confidence": 1.0}]
    message = {"text": text, "intent": intent_ranking[0], "intent_ranking": intent_ranking, "entities": list(entities)}
    events = [{"event": "user", "text": text, "parse_data": message, "metadata": {"channel": "web"}}]
    return Tracker("citizen-1", slots or {}, message, events, False, None, {}, "action_listen")


@pytest.fixture
def answers_from_the_knowledge_index(retriever, monkeypatch):
    monkeypatch.setattr(knowledge_actions, "_answerer", Answerer(retriever))


def _start_form(payload_or_text, slots=None):
    match = RASA_PAYLOAD.match(payload_or_text)
    if match:
        entities = [{"entity": k, "value": v} for k, v in json.loads(match["entities"] or "{}").items()]
        tracker = _tracker(payload_or_text, match["intent"], entities, slots)
    else:
        tracker = _tracker(payload_or_text, "disclosure_request", slots=slots)
    dispatcher = CollectingDispatcher()
    events = ActionStartTicket().run(dispatcher, tracker, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_the_answer_offers_the_request_form_filled_with_the_document(answers_from_the_knowledge_index):
    dispatcher = CollectingDispatcher()
    events = knowledge_actions.ActionAnswer().run(dispatcher, _tracker("社区卫生服务站搬迁有没有批复文件"), {})
    assert SlotSet("failures_in_a_row", 0) in events
    (message,) = dispatcher.messages
    assert "依申请公开" in message["text"] and "和平路" not in message["text"]
    request, human = message["buttons"]
    assert human["payload"] == "/request_human"
    reference = "《关于同意某区社区卫生服务站迁址的批复（示例）》（某卫基层函〔2026〕12号，（示例）某市卫生健康委员会）"
    assert RASA_PAYLOAD.match(request["payload"])["intent"] == "disclosure_request"
    slots = _start_form(request["payload"])
    assert slots["ticket_kind"] == "disclosure_request"
    assert slots["requested_document"] == reference
    assert slots["description"] == f"申请公开{reference}"


def test_a_disclosure_request_without_the_button_is_not_prefilled():
    # A document named by an earlier button (the slot is still set) must not fill a new request.
    slots = _start_form("我要申请政府信息公开", slots={"requested_document": "《旧文件》"})
    assert slots["requested_document"] is None and slots.get("description") is None


def test_a_complaint_carrying_the_entity_is_not_a_disclosure_request():
    slots = _start_form('/complaint{"requested_document": "《某文件》"}')
    assert slots["ticket_kind"] == "complaint" and slots["requested_document"] is None
