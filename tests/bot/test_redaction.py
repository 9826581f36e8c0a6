"""bot/redaction.py: the privacy rule the tracker store, the ticket action and the retention purge share."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from bot.redaction import (
    FILED_TICKET_SLOT,
    PERSONAL_SLOTS,
    STATISTICS_SLOTS,
    anonymise_event,
    is_personal,
    personal_values,
    redact_event,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_slots_it_names_are_the_domains() -> None:
    slots = set(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["slots"])
    assert set(PERSONAL_SLOTS) <= slots and {FILED_TICKET_SLOT, *STATISTICS_SLOTS} - {"requested_slot"} <= slots


def test_it_runs_in_rasas_python() -> None:
    """Rasa's tracker store imports it in Python 3.10 without the app's packages: stdlib imports only."""
    tree = ast.parse((ROOT / "bot" / "redaction.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "re", "collections", "functools", "typing"}, imported


def test_placeholders_and_nothing_to_tell_are_not_personal() -> None:
    assert [is_personal(v) for v in ("王五", "13912345678", "匿名", "不清楚", "王", "[姓名]", " [电话] ", None, 5)] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
    ]
    events = [
        {"event": "slot", "name": "contact_name", "value": "王五"},
        {"event": "slot", "name": "contact_name", "value": None},
        {"event": "slot", "name": "ticket_kind", "value": "complaint"},  # not personal: not a form answer
        {"event": "user", "text": "王五"},
    ]
    assert personal_values(events) == {"王五": "[姓名]"}


def test_redaction_touches_text_never_names_of_things() -> None:
    values = {"listen": "[姓名]", "医院多收费": "[内容]"}
    action = {"event": "action", "name": "action_listen", "policy": "listen", "action_text": None}
    assert redact_event(action, values) == action
    slot = {"event": "slot", "name": "phone", "value": "13912345678"}
    assert redact_event(slot, values)["value"] == "[电话]"
    assert redact_event(slot, values, slot_values=False) == slot
    user = {
        "event": "user",
        "text": "医院多收费，电话13912345678",
        "parse_data": {
            "intent": {"name": "complaint"},
            "entities": [{"entity": "listen", "value": "医院多收费", "extractor": "listen"}],
            "text": "医院多收费，电话13912345678",
        },
        "metadata": {"channel": "web"},
    }
    redacted = redact_event(user, values)
    assert redacted["text"] == redacted["parse_data"]["text"] == "[内容]，电话[电话]"
    assert redacted["parse_data"]["entities"] == [{"entity": "listen", "value": "[内容]", "extractor": "listen"}]
    assert redacted["parse_data"]["intent"] == {"name": "complaint"} and redacted["metadata"] == {"channel": "web"}
    assert user["text"].startswith("医院"), "the event given is not changed"
    # The bot's phone numbers are the offices': only the values go from what it said.
    bot = {"event": "bot", "text": "内容：医院多收费。咨询请拨010-12345678", "data": {"buttons": []}}
    assert redact_event(bot, values)["text"] == "内容：[内容]。咨询请拨010-12345678"


def test_anonymised_events_keep_what_statistics_need_and_nothing_said() -> None:
    user = {
        "event": "user",
        "timestamp": 1.5,
        "text": "我叫张三",
        "parse_data": {
            "intent": {"name": "greet", "confidence": 0.9},
            "intent_ranking": [{"name": "greet", "confidence": 0.9}],
            "entities": [{"entity": "ticket_id", "value": "x"}],
            "text": "我叫张三",
            "message_id": "m1",
            "metadata": {"channel": "web", "ip": "10.0.0.1"},
        },
        "input_channel": "hotline",
        "message_id": "m1",
        "metadata": {"channel": "web", "ip": "10.0.0.1"},
    }
    anonymous = anonymise_event(user)
    assert anonymous == {
        "event": "user",
        "timestamp": 1.5,
        "text": None,
        "parse_data": {
            "intent": {"name": "greet", "confidence": 0.9},
            "entities": [],
            "text": None,
            "message_id": "m1",
            "metadata": {"channel": "web"},
        },
        "input_channel": "hotline",
        "message_id": "m1",
        "metadata": {"channel": "web"},
    }
    assert anonymise_event(anonymous) == anonymous
    said = {"event": "bot", "timestamp": 2.0, "text": "您", "data": {"x": 1}, "metadata": {"utter_action": "u"}}
    assert anonymise_event(said) == {**said, "text": None, "data": {}}
    slots = [("phone", "13912345678", None), ("ticket_kind", "report", "report"), ("handoff", True, True)]
    for name, value, kept in slots:
        assert anonymise_event({"event": "slot", "name": name, "value": value})["value"] == kept
