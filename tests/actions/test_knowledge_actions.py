"""The question-or-request action and the 依申请公开 request button, through rasa-sdk's own Tracker and dispatcher."""

import json
import re

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_actions
from actions.answering import Answerer

# Rasa's own pattern for a payload that sets the intent and entities (rasa.shared.nlu.constants).
RASA_PAYLOAD = re.compile(r"^/(?P<intent>[^{@]+)(?P<entities>{.+})?$")


def _tracker(text, intent="ask_policy", entities=(), slots=None, ranking=None):
    intent_ranking = ranking or [{"name": intent, "confidence": 1.0}]
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
    events = knowledge_actions.ActionQuestionOrRequest().run(dispatcher, tracker, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_the_answer_offers_the_request_form_filled_with_the_document(answers_from_the_knowledge_index):
    dispatcher = CollectingDispatcher()
    tracker = _tracker("社区卫生服务站搬迁有没有批复文件")
    events = knowledge_actions.ActionQuestionOrRequest().run(dispatcher, tracker, {})
    assert SlotSet("failures_in_a_row", 0) in events
    assert SlotSet("question_or_request", "answer") in events
    (message,) = dispatcher.messages
    assert "依申请公开" in message["text"] and "和平路" not in message["text"]
    request, human = message["buttons"]
    assert human["payload"] == "/request_human"
    reference = "《关于同意某区社区卫生服务站迁址的批复（示例）》（某卫基层函〔2026〕12号，（示例）某市卫生健康委员会）"
    assert RASA_PAYLOAD.match(request["payload"])["intent"] == "disclosure_request"
    slots = _start_form(request["payload"])
    assert slots["ticket_kind"] == "disclosure_request" and slots["question_or_request"] == "ticket_form"
    assert slots["requested_document"] == reference
    assert slots["description"] == f"申请公开{reference}"


def test_a_disclosure_request_without_the_button_is_not_prefilled(answers_from_the_knowledge_index):
    # A document named by an earlier button (the slot is still set) must not fill a new request.
    slots = _start_form("我要申请政府信息公开", slots={"requested_document": "《旧文件》"})
    assert slots["requested_document"] is None and slots.get("description") is None


def test_a_complaint_carrying_the_entity_is_not_a_disclosure_request():
    slots = _start_form('/complaint{"requested_document": "《某文件》"}')
    assert slots["ticket_kind"] == "complaint" and slots["requested_document"] is None


def _run(text, intent, confidence=0.99, ranking=None):
    ranking = ranking or [{"name": intent, "confidence": confidence}]
    tracker = _tracker(text, intent, ranking=ranking)
    tracker.latest_message["intent"] = {"name": intent, "confidence": confidence}
    dispatcher = CollectingDispatcher()
    events = knowledge_actions.ActionQuestionOrRequest().run(dispatcher, tracker, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, dispatcher.messages


def test_a_question_about_complaints_is_answered_with_the_complaint_button(answers_from_the_knowledge_index):
    # The intent model says complaint, sure of it; the message asks, and the guide answers it.
    slots, messages = _run("投诉以后一般多少个工作日给答复？", "complaint")
    assert slots["question_or_request"] == "answer"
    answer, offer = messages
    assert answer["custom"]["citations"], "the answer cites its source"
    assert offer["buttons"] == [{"title": "我要投诉", "payload": "/complaint"}]
    # Pressing the button starts the form.
    slots, _ = _run("/complaint", "complaint", confidence=1.0)
    assert slots["question_or_request"] == "ticket_form" and slots["ticket_kind"] == "complaint"


def test_a_clear_complaint_starts_the_form_at_once(answers_from_the_knowledge_index):
    slots, messages = _run("我要投诉市一医院收费处，多收了我两百块检查费", "complaint")
    assert slots["question_or_request"] == "ticket_form" and slots["ticket_kind"] == "complaint"
    assert "登记投诉" in messages[0]["text"]


def test_a_ticket_query_needs_a_number_or_ones_own_matter(answers_from_the_knowledge_index):
    slots, messages = _run("12320这个电话到底是干嘛的", "query_ticket")
    assert slots["question_or_request"] == "answer"
    assert messages[-1]["buttons"][0]["payload"] == "/query_ticket"
    slots, _ = _run("我那个投诉现在办到哪一步了", "query_ticket")
    assert slots["question_or_request"] == "query_ticket_form"
    slots, _ = _run("帮我看看12320-20261120-000042", "query_ticket")
    assert slots["question_or_request"] == "query_ticket_form"


def test_a_question_offers_the_request_the_model_ranks_likely(answers_from_the_knowledge_index):
    ranking = [{"name": "ask_service", "confidence": 0.7}, {"name": "disclosure_request", "confidence": 0.25}]
    slots, messages = _run("申请政府信息公开要提交什么材料", "ask_service", 0.7, ranking)
    assert slots["question_or_request"] == "answer"
    assert messages[-1]["buttons"] == [{"title": "申请公开具体信息", "payload": "/disclosure_request"}]


def test_a_first_aid_question_the_model_took_for_an_emergency_is_answered_with_the_numbers(
    answers_from_the_knowledge_index,
):
    from actions.handoff_actions import CALL_FIRST, ActionEmergency

    dispatcher = CollectingDispatcher()
    events = ActionEmergency().run(dispatcher, _tracker("心肺复苏的正确步骤是什么", "emergency"), {})
    assert SlotSet("handoff", True) not in events
    assert dispatcher.messages[-1]["text"] == CALL_FIRST
    # Happening now: the guidance and the handoff, whatever the form of the message.
    dispatcher = CollectingDispatcher()
    events = ActionEmergency().run(dispatcher, _tracker("我爸突然倒地叫不醒了怎么办", "emergency"), {})
    assert SlotSet("handoff", True) in events and "120" in dispatcher.messages[0]["text"]
