"""action_emergency, the intent model's net, says what the gateway's net says for the same message."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_actions import ActionEmergency
from bot.conversation.emergency import EMERGENCY_GUIDANCE, assess, guidance
from bot.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run_emergency(text: str) -> tuple[list[dict], list[dict]]:
    tracker = Tracker("citizen", {}, {"text": text, "intent": {"name": "emergency"}}, [], False, None, {}, None)
    dispatcher = CollectingDispatcher()
    events = ActionEmergency().run(dispatcher, tracker, {})
    return dispatcher.messages, events


@pytest.mark.parametrize("text", ["我爸晕倒了叫不醒是什么原因", "楼下着火了", "我不想活了", "有人拿刀砍人"])
def test_the_action_says_the_gateway_guidance_and_hands_off_urgently(text):
    (message,), events = run_emergency(text)
    assert message["text"] == guidance(assess(text))
    assert message["custom"]["handoff"] == {"reason": "emergency", "priority": "urgent"}
    assert {"event": "slot", "name": "handoff_reason", "value": "emergency", "timestamp": None} in events


def test_an_emergency_the_rule_does_not_name_gets_the_general_guidance():
    (message,), _ = run_emergency("出事了")
    assert message["text"] == EMERGENCY_GUIDANCE


def test_the_psychological_line_comes_from_the_setting(monkeypatch):
    monkeypatch.setenv("HOTLINE_PSYCH_LINE", "010-82951332")
    (message,), _ = run_emergency("活着没意思，我想结束自己")
    assert "010-82951332" in message["text"] and "120" in message["text"]


def test_a_bad_setting_does_not_hold_the_guidance_back(monkeypatch):
    monkeypatch.setenv("HOTLINE_PSYCH_LINE", "not a number")
    (message,), _ = run_emergency("我想死")
    assert "12356" in message["text"]
