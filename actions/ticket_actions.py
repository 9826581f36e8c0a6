"""投诉, 举报, 建议 and 依申请公开: one form takes the facts down, reads them back, files a ticket.

The kind comes from the intent that started the form; the wording of the questions follows it
(domain.yml). Validation is forgiving about how citizens speak ("不清楚", "匿名", "+86 139 …")
and strict about what a ticket needs: a real mainland phone number and an explicit yes.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.replies import HUMAN_BUTTON, REQUESTED_DOCUMENT, channel_of, latest_user_text, user_metadata, utter
from bot.conversation.emergency import is_emergency
from bot.conversation.transcript import TranscriptStore
from bot.handoff.desk import HandoffDesk
from bot.ratelimit import AttemptLimiter, ticket_check_keys, ticket_check_policy
from bot.redaction import PERSONAL_SLOTS, personal_values, personal_values_from_slots
from bot.settings import get_settings
from bot.tickets import TicketDraft, TicketKind, TicketService, open_ticket_service
from bot.tickets.domain import KIND_LABELS, idempotency_key, spoken_date
from bot.tickets.privacy import mask_phone, normalize_mainland_phone
from bot.tickets.routing import route_by_domain
from bot.tickets.workflow import status_label

#: The form's questions, answered in the citizen's own words (domain.yml maps them as `custom`).
ANSWER_SLOTS = (
    "description",
    "location",
    "occurred_at",
    "subject",
    "contact_name",
    "phone",
    "contact_consent",
    "confirmed",
)
FORM_SLOTS = (*ANSWER_SLOTS, "ticket_cancelled", REQUESTED_DOCUMENT)
#: A document reference from a request button is the citizen's own payload: kept short.
REQUESTED_DOCUMENT_MAX_CHARS = 200
TICKET_ID = re.compile(r"12320-\d{8}-\d{6}")
logger = logging.getLogger(__name__)

_CANCEL = re.compile(r"^(取消|算了|不办了|不用了|不要了|不登记了|不投诉了|不举报了|退出)[。！!.]*$")
_UNKNOWN = re.compile(r"^(不清楚|不知道|不记得|忘了|记不清|没有|无|不涉及|不限|没)[了。！!.]*$")
_ANONYMOUS = re.compile(r"匿名|不留|不方便|不想说|保密")
_NO = re.compile(r"不同意|不可以|不行|不好|不要|不用|不愿意|^否|^不$|拒绝|别")
_YES = re.compile(r"同意|可以|行|好|是|对|嗯|确认|没问题|没错|ok|OK|Ok")
#: Said in the middle of a form, these leave the form (rules.yml) instead of answering the question.
_HUMAN_REQUEST = re.compile(r"转人工|人工客服|找人工|接人工|要人工|人工服务|真人|转接客服|^人工$|^客服$")
_CHANGE = re.compile(r"修改|不对|错了|有误|改一下|重新")


@cache
def ticket_service() -> TicketService:
    return open_ticket_service(settings=get_settings(), router=route_by_domain)


@cache
def ticket_checks() -> AttemptLimiter:
    """The gateway's limiter of ticket checks, on the same database: ratings and chat share one count."""
    return AttemptLimiter(ticket_service().engine, ticket_check_policy(get_settings()))


Validator = Callable[..., dict[str, Any]]


def ignores_resets(validate: Validator) -> Validator:
    """Starting a form clears its slots, and rasa-sdk validates every slot set this turn, cleared
    ones included: a cleared slot is not an answer to complain about."""

    @wraps(validate)
    def wrapper(self: Any, value: Any, *args: Any) -> dict[str, Any]:
        return {} if value is None else validate(self, value, *args)

    return wrapper


def _plain(text: Any) -> str:
    """For matching only: NFKC turns ，into , — what is stored keeps the citizen's own text."""
    return unicodedata.normalize("NFKC", str(text or "")).strip()


def _intro(kind: TicketKind) -> str:
    return f"好的，我来帮您登记{KIND_LABELS[kind]}。需要问您几个问题，中途说“取消”即可退出。"


def start_ticket(dispatcher: CollectingDispatcher, tracker: Tracker, kind: TicketKind) -> list[EventType]:
    """Sets the kind and clears the last form; a message that already tells the story fills it in.

    The form itself runs next (the caller's FollowupAction): actions/question_or_request.py decided it.
    """
    events: list[EventType] = [SlotSet(slot, None) for slot in FORM_SLOTS]
    events.append(SlotSet("ticket_kind", kind.value))
    text = latest_user_text(tracker).strip()
    # Only this message's entity: a document named by an earlier button must not fill a later form.
    requested = next(tracker.get_latest_entity_values(REQUESTED_DOCUMENT), None)
    if kind is TicketKind.DISCLOSURE_REQUEST and isinstance(requested, str) and requested.strip():
        requested = requested.strip()[:REQUESTED_DOCUMENT_MAX_CHARS]
        events += [SlotSet(REQUESTED_DOCUMENT, requested), SlotSet("description", f"申请公开{requested}")]
    elif not text.startswith("/") and _story_length(_plain(text)) >= 12:
        events.append(SlotSet("description", text))
    utter(dispatcher, _intro(kind))
    return events


def _story_length(text: str) -> int:
    """Characters left once the request itself ("我要投诉", "想举报一下") is taken out."""
    return len(re.sub(r"我?(要|想)?(投诉|举报|反映|提个?建议|建议|申请(政府)?信息公开|依申请公开)(一下)?", "", text))


class ValidateTicketForm(FormValidationAction):
    def name(self) -> str:
        return "validate_ticket_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        # Cancelled: nothing left to ask, so the form ends and the submit action files nothing.
        return [] if tracker.get_slot("ticket_cancelled") else domain_slots

    def _answer_to(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        """The citizen's message answers the question the form asked, unless they asked to leave."""
        if tracker.active_loop_name != "ticket_form" or tracker.get_slot("requested_slot") != slot:
            return {}
        text = latest_user_text(tracker).strip()
        if not text or text.startswith("/") or _HUMAN_REQUEST.search(text) or is_emergency(text):
            return {}  # nothing extracted: the form yields and the rules hand off
        return {slot: text}

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # One rule for every answer slot (their mappings are `custom`), instead of an extract_<slot> each.
        requested = tracker.get_slot("requested_slot")
        if requested not in ANSWER_SLOTS:
            return []
        return [SlotSet(slot, value) for slot, value in self._answer_to(requested, tracker).items()]

    def _cancel(self, dispatcher: CollectingDispatcher, slot: str) -> dict[str, Any]:
        return {slot: None, "ticket_cancelled": True}

    @ignores_resets
    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if _CANCEL.match(_plain(value)):
            return self._cancel(dispatcher, "description")
        text = str(value).strip()
        if len(text) < 4:
            utter(dispatcher, "请再说具体一些，比如什么事、造成了什么影响。")
            return {"description": None}
        return {"description": text}

    def _free_text(self, slot: str, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        text = _plain(value)
        if _CANCEL.match(text):
            return self._cancel(dispatcher, slot)
        if not text:
            return {slot: None}
        return {slot: "不清楚" if _UNKNOWN.match(text) else str(value).strip()[:500]}

    @ignores_resets
    def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._free_text("location", value, dispatcher)

    @ignores_resets
    def validate_occurred_at(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._free_text("occurred_at", value, dispatcher)

    @ignores_resets
    def validate_subject(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._free_text("subject", value, dispatcher)

    @ignores_resets
    def validate_contact_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _plain(value)
        if _CANCEL.match(text):
            return self._cancel(dispatcher, "contact_name")
        if _ANONYMOUS.search(text):
            if tracker.get_slot("ticket_kind") == TicketKind.DISCLOSURE_REQUEST:
                # 条例 Art. 29: an application names its applicant.
                utter(dispatcher, "依申请公开需要申请人的姓名或单位名称，不能匿名。")
                return {"contact_name": None}
            return {"contact_name": "匿名"}
        name = re.sub(r"^(我叫|我是|叫我|姓名|名字)[:：]?", "", str(value).strip()).strip()
        if not name or len(name) > 30:
            utter(dispatcher, "请说一下您的姓名或称呼（30个字以内）。")
            return {"contact_name": None}
        return {"contact_name": name}

    @ignores_resets
    def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _plain(value)
        if _CANCEL.match(text):
            return self._cancel(dispatcher, "phone")
        phone = normalize_mainland_phone(text)
        if phone is None:
            utter(dispatcher, "这个号码好像不对。请说11位手机号，或带区号的固定电话，比如010-12345678。")
            return {"phone": None}
        return {"phone": phone}

    @ignores_resets
    def validate_contact_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _plain(value)
        if _NO.search(text):  # before yes: "不同意" contains "同意"
            return {"contact_consent": "no"}
        if _YES.search(text):
            return {"contact_consent": "yes"}
        if _CANCEL.match(text):
            return self._cancel(dispatcher, "contact_consent")
        utter(dispatcher, "请回答“同意”或“不同意”。")
        return {"contact_consent": None}

    @ignores_resets
    def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _plain(value)
        if _CANCEL.match(text) or _CHANGE.search(text) or _NO.search(text):
            return {"confirmed": "no", "ticket_cancelled": True}
        if _YES.search(text) or text in {"提交", "确认提交"}:
            return {"confirmed": "yes"}
        utter(dispatcher, "请回答“确认”提交，或“取消”。")
        return {"confirmed": None}


class ActionAskConfirmed(Action):
    """Reads everything back before filing (一次核对): a wrong phone number means no reply ever arrives."""

    def name(self) -> str:
        return "action_ask_confirmed"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        kind = TicketKind(tracker.get_slot("ticket_kind"))
        consent = "同意" if tracker.get_slot("contact_consent") == "yes" else "不同意"
        lines = [
            f"请核对您的{KIND_LABELS[kind]}：",
            f"内容：{tracker.get_slot('description')}",
            f"地点：{tracker.get_slot('location')}",
            f"时间：{tracker.get_slot('occurred_at')}",
            f"涉及单位或人员：{tracker.get_slot('subject')}",
            f"姓名：{tracker.get_slot('contact_name')}",
            f"联系电话：{mask_phone(tracker.get_slot('phone') or '')}",
            f"同意电话联系：{consent}",
            "无误请回答“确认”，需要修改请回答“修改”（将重新登记）。",
        ]
        buttons = [{"title": "确认提交", "payload": "确认"}, {"title": "修改", "payload": "修改"}]
        utter(dispatcher, "\n".join(lines), buttons=buttons)
        return []


class ActionSubmitTicket(Action):
    def name(self) -> str:
        return "action_submit_ticket"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        reset = [SlotSet(slot, None) for slot in FORM_SLOTS]
        if tracker.get_slot("ticket_cancelled") or tracker.get_slot("confirmed") != "yes":
            utter(dispatcher, "好的，这次没有提交。需要重新登记时，直接告诉我就行。")
            return reset
        kind = TicketKind(tracker.get_slot("ticket_kind"))
        fields = {slot: tracker.get_slot(slot) for slot in ("description", "location", "occurred_at", "subject")}
        name = tracker.get_slot("contact_name")
        phone = tracker.get_slot("phone")
        draft = TicketDraft(
            kind=kind,
            name=None if name == "匿名" else name,
            phone=phone,
            consent_to_contact=tracker.get_slot("contact_consent") == "yes",
            channel=channel_of(tracker),
            sender_id=tracker.sender_id,
            idempotency_key=idempotency_key(tracker.sender_id, kind.value, {**fields, "phone": phone}),
            **fields,
        )
        receipt = ticket_service().create(draft)  # committed before the citizen hears the number
        redact_held_messages(tracker)  # Rasa's tracker store redacts the conversation when it saves this turn
        due = spoken_date(receipt.due_date)
        if receipt.linked:
            utter(
                dispatcher,
                f"您近期已反映过这件事，工单号：{receipt.number}。这次说的内容已补充到该工单，不再重复立案。\n"
                f"承办单位：{receipt.department}，办结期限：{due}。",
                ticket_id=receipt.number,
            )
            return [*reset, SlotSet("filed_ticket", receipt.number)]
        utter(
            dispatcher,
            f"已受理您的{KIND_LABELS[kind]}，工单号：{receipt.number}。\n"
            f"承办单位：{receipt.department}。按规定将于{due}前办结并答复您。\n"
            "请记好工单号，之后可凭工单号和登记电话后四位随时查询进度。",
            ticket_id=receipt.number,
        )
        return [*reset, SlotSet("filed_ticket", receipt.number)]


def redact_held_messages(tracker: Tracker) -> None:
    """The ticket store now holds what the form took down: the messages held for a human and the transcript
    keep placeholders."""
    values = personal_values(tracker.events)  # a cancelled attempt's answers too
    values.update(personal_values_from_slots({slot: tracker.get_slot(slot) for slot in PERSONAL_SLOTS}))
    try:
        engine = ticket_service().engine
        HandoffDesk(engine).redact_held(tracker.sender_id, values)
        TranscriptStore(engine).redact(tracker.sender_id, values)
    except SQLAlchemyError as error:
        # The ticket is filed and the citizen gets its number; the retention purge clears the text later.
        logger.error("held messages not redacted after a filing (%s)", type(error).__name__)


class ValidateQueryTicketForm(FormValidationAction):
    def name(self) -> str:
        return "validate_query_ticket_form"

    @ignores_resets
    def validate_ticket_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        found = TICKET_ID.search(_plain(value) or _plain(latest_user_text(tracker)))
        if not found:
            utter(dispatcher, "没有识别到工单号，格式是 12320-年月日-六位数字。")
            return {"ticket_id": None}
        return {"ticket_id": found.group()}

    @ignores_resets
    def validate_query_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        digits = re.sub(r"\D", "", _plain(value))
        if len(digits) != 4:
            utter(dispatcher, "请说登记电话的最后4位数字。")
            return {"query_phone_last4": None}
        return {"query_phone_last4": digits}


NOT_FOUND = "没有查到与工单号和电话后四位都匹配的工单，请核对后再试，或转人工查询。"
TOO_MANY_CHECKS = "核对错误次数过多，自助查询已暂停，请稍后再试。需要的话，我可以为您转接人工客服查询。"
OFFER_HUMAN_BUTTONS = [HUMAN_BUTTON, {"title": "不用了", "payload": "/deny"}]


class ActionReportTicketStatus(Action):
    """The status for the right ticket number and phone's last four digits, counted by the limiter: ticket
    numbers are sequential, so without it every ticket's four digits could be walked through in chat."""

    def name(self) -> str:
        return "action_report_ticket_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        number, last4 = tracker.get_slot("ticket_id"), tracker.get_slot("query_phone_last4")
        reset = [SlotSet("ticket_id", None), SlotSet("query_phone_last4", None)]
        offer_human = [*reset, SlotSet("human_offered", True)]
        client = user_metadata(tracker).get("client")
        keys = ticket_check_keys(conversation_id=tracker.sender_id, client=client if isinstance(client, str) else None)
        attempt = ticket_checks().attempt(*keys)
        if attempt is None:  # locked: not even a right pair is checked until the window has passed
            utter(dispatcher, TOO_MANY_CHECKS, buttons=OFFER_HUMAN_BUTTONS)
            return offer_human
        view = ticket_service().status_for_citizen(number or "", last4 or "")
        if view is None:  # one answer for "no such ticket" and "wrong phone": nothing is revealed
            if attempt.locked:
                utter(dispatcher, f"{NOT_FOUND}\n{TOO_MANY_CHECKS}", buttons=OFFER_HUMAN_BUTTONS)
                return offer_human
            utter(dispatcher, NOT_FOUND)
            return reset
        attempt.succeeded()
        due = spoken_date(view.due_date)
        kind = TicketKind(view.kind)
        lines = [
            f"工单 {view.number}（{KIND_LABELS[kind]}）当前状态：{status_label(kind, view.status)}。",
            f"承办单位：{view.department}，办结期限：{due}。",
        ]
        replies = [message for message in view.messages if message.kind == "reply"]
        if replies:
            lines.append(f"答复：{replies[-1].body}")
        utter(dispatcher, "\n".join(lines))
        return reset
