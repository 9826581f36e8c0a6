"""生成工单: a ticket filed from a conversation, the console's form pre-filled from the transcript.

The operator reads the conversation masked, so the form never carries the citizen's phone: the draft takes the
last phone number the citizen wrote in the conversation, read on the server, unless the operator types
another. The description is the citizen's own turns, numbers blanked, for the operator to edit.

Filing goes through TicketService.create like every other ticket; the idempotency key is the conversation and
the facts filed (bot.tickets.domain.idempotency_key), so a form sent twice files one ticket. Once filed, the
ticket holds the citizen's contact: the conversation keeps placeholders instead (bot/redaction.py's rule, as for
a ticket filed in chat).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.conversation.transcript import Speaker, Turn
from bot.handoff.desk import Conversation
from bot.redaction import Values, personal_values_from_slots, redact_numbers
from bot.tickets.domain import KIND_LABELS, TicketDraft, TicketKind, TicketReceipt, idempotency_key, spoken_date
from bot.tickets.privacy import find_phone, mask_phone

#: Citizen turns that say nothing about the matter: a greeting, a yes, asking for a person, asking for a ticket's
#: status, and the questions the bot answered from the knowledge base (ask_*).
_NOT_THE_MATTER = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "request_human", "query_ticket"})
#: The conversation channels a ticket keeps (a call stays "voice": the ticket's answer goes back on it).
_TICKET_CHANNELS = frozenset({"web", "sms", "wechat", "voice"})
_DESCRIPTION_MAX = 8000
NO_PHONE = "会话中没有找到市民的联系电话，请询问市民后填写"


@dataclass(frozen=True)
class TicketPrefill:
    """What the form shows first. Nothing unmasked: the phone is shown masked and read again on filing."""

    kind: TicketKind
    description: str
    channel: str
    sender_id: str
    phone_masked: str | None  # the phone the citizen wrote in the conversation, if any


@dataclass(frozen=True)
class TicketForm:
    """What the operator sent; empty strings for what they left out."""

    kind: str
    description: str
    location: str = ""
    occurred_at: str = ""
    subject: str = ""
    name: str = ""
    phone: str = ""  # empty: the phone from the conversation
    consent_to_contact: bool = False


def kind_of(turns: Sequence[Turn]) -> TicketKind:
    """The kind the bot last understood the citizen to want filed; a complaint when it understood none (a
    conversation that reached a person is most often one)."""
    for turn in reversed(turns):
        if turn.speaker is Speaker.CITIZEN and turn.intent:
            try:
                kind = TicketKind(turn.intent)
            except ValueError:
                continue
            if kind is not TicketKind.CALLBACK:
                return kind
    return TicketKind.COMPLAINT


def matter_turns(turns: Sequence[Turn]) -> list[Turn]:
    """The citizen's turns that tell the matter: not button payloads, small talk, asking for a person, or the
    knowledge questions the bot answered."""
    return [
        turn
        for turn in turns
        if turn.speaker is Speaker.CITIZEN
        and turn.text.strip()
        and not turn.text.startswith("/")
        and turn.intent not in _NOT_THE_MATTER
        and not (turn.intent or "").startswith("ask_")
    ]


def conversation_phone(turns: Sequence[Turn]) -> str | None:
    """The last phone number the citizen wrote, normalised; None if they wrote none."""
    for turn in reversed(turns):
        if turn.speaker is Speaker.CITIZEN:
            phone = find_phone(turn.text)
            if phone is not None:
                return phone
    return None


def prefill(conversation: Conversation, turns: Sequence[Turn]) -> TicketPrefill:
    description = "\n".join(redact_numbers(turn.text.strip()) for turn in matter_turns(turns))
    phone = conversation_phone(turns)
    return TicketPrefill(
        kind=kind_of(turns),
        description=description[:_DESCRIPTION_MAX],
        channel=ticket_channel(conversation.channel),
        sender_id=conversation.sender_id,
        phone_masked=mask_phone(phone) if phone else None,
    )


def ticket_channel(channel: str) -> str:
    return channel if channel in _TICKET_CHANNELS else "web"


def _facts(form: TicketForm) -> dict[str, str]:
    """The form's facts, tidied; ValueError (in Chinese) for a form that cannot be filed."""
    try:
        kind = TicketKind(form.kind)
    except ValueError:
        raise ValueError("请选择工单类型") from None
    description = form.description.strip()
    if not description:
        raise ValueError("请填写事情经过")
    if len(description) > _DESCRIPTION_MAX:
        raise ValueError(f"事情经过不能超过{_DESCRIPTION_MAX}字")
    for label, value, limit in (
        ("地点", form.location, 500),
        ("时间", form.occurred_at, 200),
        ("涉及单位或人员", form.subject, 500),
        ("姓名", form.name, 64),
        ("联系电话", form.phone, 32),
    ):
        if len(value.strip()) > limit:
            raise ValueError(f"{label}不能超过{limit}字")
    return {
        "kind": kind,
        "description": description,
        "location": form.location.strip(),
        "occurred_at": form.occurred_at.strip(),
        "subject": form.subject.strip(),
        "name": form.name.strip(),
    }


def ticket_key(conversation: Conversation, form: TicketForm) -> str:
    """The idempotency key: this conversation and the facts filed. Not the phone: once filed, the conversation
    no longer holds it, and the same form sent again must still find its ticket."""
    facts = _facts(form)
    kind = facts.pop("kind")
    return "console:" + idempotency_key(conversation.sender_id, kind, facts)


def draft(conversation: Conversation, turns: Sequence[Turn], form: TicketForm) -> TicketDraft:
    """The ticket to file; ValueError (in Chinese, never quoting a number) if the form cannot be filed."""
    facts = _facts(form)
    phone = form.phone.strip() or conversation_phone(turns)
    if not phone:
        raise ValueError(NO_PHONE)
    return TicketDraft(
        kind=TicketKind(facts["kind"]),
        description=facts["description"],
        location=facts["location"],
        occurred_at=facts["occurred_at"],
        subject=facts["subject"],
        name=facts["name"] or None,
        phone=phone,
        consent_to_contact=form.consent_to_contact,
        channel=ticket_channel(conversation.channel),
        sender_id=conversation.sender_id,
        idempotency_key=ticket_key(conversation, form),
    )


def filed_values(ticket: TicketDraft) -> Values:
    """What the conversation no longer keeps once the ticket holds it, each value → its placeholder."""
    return personal_values_from_slots(
        {
            "contact_name": ticket.name,
            "phone": ticket.phone,
            "location": ticket.location,
            "occurred_at": ticket.occurred_at,
            "subject": ticket.subject,
        }
    )


def receipt_notice(receipt: TicketReceipt) -> str:
    """What the citizen is told, in the words the bot uses for a ticket filed in chat."""
    due = spoken_date(receipt.due_date)
    if receipt.linked:
        return (
            f"您近期已反映过这件事，工单号：{receipt.number}。这次说的内容已补充到该工单，不再重复立案。\n"
            f"承办单位：{receipt.department}，办结期限：{due}。"
        )
    return (
        f"已受理您的{KIND_LABELS[receipt.kind]}，工单号：{receipt.number}。\n"
        f"承办单位：{receipt.department}。按规定将于{due}前办结并答复您。\n"
        "请记好工单号，之后可凭工单号和登记电话后四位随时查询进度。"
    )
