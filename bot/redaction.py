"""What the stored conversation may keep (个人隐私): the one rule, for both sides of the Rasa boundary.

- `redact_numbers`: phone and 身份证 numbers blanked out of free text that leaves the system or is kept.
- Once a ticket is filed, the ticket store holds the citizen's name, phone and story: the conversation keeps
  placeholders instead (`personal_values`, `redact_event`, `redact_citizen_text`). The tracker store does it
  to Rasa's events when it saves the turn that filed the ticket; the ticket action does it to held messages.
- After the retention period only statistics stay (`anonymise_event`): the events' types, intents, action
  names and times; their text and the slots' values go.

Rasa's tracker store (rasa_addons, Python 3.10, no app dependencies) imports this module too, so it is stdlib
only and Python 3.10: keep it that way. Events are Rasa's JSON form (`Event.as_dict()`, the `data` column).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

#: The ticket form's slots whose values the ticket store keeps once the ticket is filed, and what replaces them
#: in the conversation. Named in domain.yml; tests/bot/test_redaction.py checks that the two agree.
PERSONAL_SLOTS: dict[str, str] = {
    "description": "[内容]",
    "location": "[地点]",
    "occurred_at": "[时间]",
    "subject": "[涉及单位或人员]",
    "contact_name": "[姓名]",
    "phone": "[电话]",
}
#: Set by the ticket action to the number it filed: the tracker store's signal to redact.
FILED_TICKET_SLOT = "filed_ticket"
#: Slots whose values are facts about the conversation, not what a citizen said: they survive retention.
STATISTICS_SLOTS = frozenset(
    {"ticket_kind", FILED_TICKET_SLOT, "handoff", "handoff_reason", "requested_slot", "ticket_cancelled"}
)
#: The form's own answers for "nothing to tell" (ticket_actions.py): not personal, and too common to replace.
_NOT_PERSONAL = frozenset({"匿名", "不清楚"})
_SHORTEST_VALUE = 2  # a one-character value would blank that character everywhere
_PLACEHOLDERS = re.compile("|".join(re.escape(p) for p in {*PERSONAL_SLOTS.values(), "[电话]", "[身份证号]"}))

# In running text: an 18-character 身份证 number, a mobile, or a landline with its area code; digit runs around
# them must not continue the match (an order number that contains eleven phone-like digits is left alone).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(
    r"(?<!\d)(?:"
    r"(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}"  # a mobile, maybe with +86, in groups of 3-4-4
    r"|(?:[(（]0\d{2,3}[)）]|0\d{2,3})[\s-]?[1-9]\d{6,7}"  # a landline with its area code, maybe in brackets
    r")(?!\d)"
)
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")

Values = Mapping[str, str]  # a personal value → its placeholder


def phone_numbers_in(text: str) -> list[str]:
    """Every phone-number-like run in `text`, as written (全角 digits folded), for a caller to normalise."""
    return [match.group() for match in _PHONE_IN_TEXT.finditer(text.translate(_FULLWIDTH_DIGITS))]


def redact_numbers(text: str) -> str:
    """`text` with 身份证 and phone numbers replaced by [身份证号] and [电话]. Only 全角 digits are folded, so the
    rest of the text (its 全角 punctuation) stays as the citizen wrote it."""
    folded = text.translate(_FULLWIDTH_DIGITS)
    return _PHONE_IN_TEXT.sub("[电话]", _ID_IN_TEXT.sub("[身份证号]", folded))


def is_personal(value: Any) -> bool:
    """Whether a slot value is something a citizen told us, rather than a placeholder or "nothing to tell"."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return len(text) >= _SHORTEST_VALUE and text not in _NOT_PERSONAL and bool(_PLACEHOLDERS.sub("", text).strip())


def personal_values_from_slots(slots: Mapping[str, Any]) -> dict[str, str]:
    """The personal values among a form's slots (slot name → value), each mapped to its placeholder."""
    return {
        str(value).strip(): PERSONAL_SLOTS[slot]
        for slot, value in slots.items()
        if slot in PERSONAL_SLOTS and is_personal(value)
    }


def personal_values(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Every personal value a conversation's slot events ever held (a cancelled attempt's too)."""
    found: dict[str, str] = {}
    for event in events:
        if event.get("event") == "slot":
            found.update(personal_values_from_slots({str(event.get("name")): event.get("value")}))
    return found


def replace_values(text: str, values: Values) -> str:
    """`text` with each value replaced by its placeholder, the longest first (a story that quotes a name goes
    whole)."""
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, values[value])
    return text


def redact_citizen_text(text: str, values: Values) -> str:
    """What a citizen wrote, with the filed values and any phone or 身份证 number blanked."""
    return redact_numbers(replace_values(text, values))


def redact_event(event: Mapping[str, Any], values: Values, *, slot_values: bool = True) -> dict[str, Any]:
    """A copy of a stored Rasa event with `values` blanked wherever it holds text, and numbers blanked in what the
    citizen wrote (their messages, the slots). The bot's own text loses only the values: it read them back, but
    its phone numbers are the offices' (service guides). `slot_values=False` leaves slot events alone, for a form
    still in progress whose answers a restarted Rasa must read back from SQL."""
    citizen = partial(redact_citizen_text, values=values)
    bot = partial(replace_values, values=values)
    out = dict(event)
    kind = out.get("event")
    if kind == "user":
        _apply(out, "text", citizen)
        if isinstance(out.get("parse_data"), dict):
            out["parse_data"] = parse_data = dict(out["parse_data"])
            _apply(parse_data, "text", citizen)
            parse_data["entities"] = _entities(parse_data.get("entities"), citizen)
    elif kind == "slot" and slot_values:
        _apply(out, "value", citizen)
    elif kind in ("bot", "agent"):
        _apply(out, "text", bot)
        _apply(out, "data", bot)
    elif kind == "action":
        _apply(out, "action_text", bot)
    elif kind == "entities":
        out["entities"] = _entities(out.get("entities"), citizen)
    return out


def anonymise_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A stored Rasa event reduced to what statistics need: its type, time, intent (name and confidence), action
    name, the channel, and the values of STATISTICS_SLOTS. Text, entities, other slot values and other metadata
    go. Idempotent; Rasa still rebuilds a tracker from the result."""
    out = dict(event)
    for key in ("text", "action_text"):
        if out.get(key) is not None:
            out[key] = None
    if "entities" in out:
        out["entities"] = []
    if "data" in out:
        out["data"] = {}
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = _kept(out["metadata"], ("channel", "utter_action"))
    if isinstance(out.get("parse_data"), dict):
        parse_data = out["parse_data"]
        intent = parse_data.get("intent") if isinstance(parse_data.get("intent"), dict) else None
        out["parse_data"] = {
            "intent": _kept(intent, ("name", "confidence")) if intent is not None else None,
            "entities": [],
            "text": None,
            "message_id": parse_data.get("message_id"),
            "metadata": _kept(parse_data.get("metadata") or {}, ("channel",)),
        }
    if out.get("event") == "slot" and out.get("name") not in STATISTICS_SLOTS:
        value = out.get("value")
        if not (value is None or isinstance(value, (bool, int, float))):
            out["value"] = None
    return out


def _kept(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: mapping[key] for key in keys if key in mapping}


def _apply(mapping: dict[str, Any], key: str, redact: Callable[[str], str]) -> None:
    if key in mapping:
        mapping[key] = _strings(mapping[key], redact)


def _entities(entities: Any, redact: Callable[[str], str]) -> Any:
    """Entities with their extracted text redacted; their names and extractors are not text."""
    if not isinstance(entities, list):
        return entities
    return [
        {key: _strings(item, redact) if key in ("value", "text") else item for key, item in entity.items()}
        if isinstance(entity, dict)
        else entity
        for entity in entities
    ]


def _strings(value: Any, redact: Callable[[str], str]) -> Any:
    """`value` with `redact` applied to every string in it, through lists and dicts."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_strings(item, redact) for item in value]
    if isinstance(value, dict):
        return {key: _strings(item, redact) for key, item in value.items()}
    return value
