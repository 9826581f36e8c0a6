"""留言回电: a message left for a person to call back, filed as a callback ticket.

The gateway takes these itself, without Rasa, so that a citizen can leave a message while the
assistant runs in reduced mode, or when the action server failed them.
"""

from __future__ import annotations

from bot.tickets.domain import KIND_LABELS, TicketDraft, TicketKind, TicketReceipt, idempotency_key, spoken_date
from bot.tickets.privacy import find_phone, redact_numbers
from bot.tickets.service import TicketService

LEAVE_MESSAGE_PAYLOAD = "/leave_message"
LEAVE_MESSAGE_BUTTON = {"title": "留言回电", "payload": LEAVE_MESSAGE_PAYLOAD}
ASK_FOR_MESSAGE = (
    "请把您要反映的事情和您的手机号码（或带区号的座机号码）在一条消息里发给我，"
    "例如：“社区医院收费有疑问，电话13912345678”。工作人员将在1个工作日内给您回电。说“取消”可以退出。"
)
ASK_FOR_PHONE = (
    "没有看到电话号码。请连同手机号码（或带区号的座机号码）一起发送，工作人员才能给您回电；说“取消”可以退出。"
)
CANCELLED = "好的，已取消留言，没有登记任何信息。"
CANCEL_WORDS = frozenset({"取消", "不用了", "算了", "退出", "/deny"})


def receipt_text(receipt: TicketReceipt) -> str:
    due = spoken_date(receipt.due_date)
    return (
        f"已登记您的{KIND_LABELS[receipt.kind]}，工单号：{receipt.number}。"
        f"{receipt.department}将于{due}前给您回电。请记好工单号，可凭它和电话后四位查询进度。"
    )


class CallbackDesk:
    def __init__(self, tickets: TicketService):
        self.tickets = tickets

    def file(self, sender_id: str, channel: str, text: str) -> TicketReceipt | None:
        """The callback ticket for `text`; None when it has no phone number to call back on.

        Leaving a number and asking to be called back is the citizen's consent to be contacted. The number
        lives in the ticket's contact table; the description keeps the words with the number blanked.
        """
        phone = find_phone(text)
        if phone is None:
            return None
        description = redact_numbers(text).replace("[电话]", "").strip(" ，,。.：:") or "（只留了电话，请回电）"
        key = idempotency_key(sender_id, TicketKind.CALLBACK, {"text": text})
        draft = TicketDraft(
            kind=TicketKind.CALLBACK,
            description=description,
            location="",
            occurred_at="",
            subject="",
            name=None,
            phone=phone,
            consent_to_contact=True,
            channel=channel,
            sender_id=sender_id,
            idempotency_key=key,
        )
        return self.tickets.create(draft)
