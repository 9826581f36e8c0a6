"""Privacy through the real stack (`hotline up`: Rasa with our tracker store, the action server, the gateway): once
a complaint is filed in chat, neither the conversation Rasa keeps nor the messages held for a human still hold
the citizen's name, phone, 身份证 number or story. The ticket has them, behind the audited read."""

from __future__ import annotations

import json
import sqlite3
import uuid

from bot.auth import Principal, Role
from bot.handoff.desk import HandoffDesk
from bot.tickets import TicketService, open_ticket_service
from tests.chat_client import Citizen

# A phone of its own: the stack is shared, and the same phone with a similar story would be linked to that ticket.
PHONE = f"137{uuid.uuid4().int % 10**8:08d}"
SPOKEN_PHONE, MASKED_PHONE = f"{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}", f"{PHONE[:3]}****{PHONE[-4:]}"
ID_NUMBER, NAME = "11010519491231002X", "王小明"
STORY = f"市第三医院挂号处多收了我50元挂号费，还不给退，我的身份证号{ID_NUMBER}"
LOCATION = "市第三医院门诊楼一层"


def stored_conversation(tracker_db: str, sender_id: str) -> list[dict]:
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,)).fetchall()
    return [json.loads(data) for (data,) in rows]


def test_a_filed_complaint_leaves_no_personal_data_in_the_conversation(hotline_stack) -> None:
    tracker_db = str(hotline_stack.var / "rasa-trackers.db")
    tickets = open_ticket_service(hotline_stack.database_url)
    try:
        check_filing(hotline_stack.url, tracker_db, tickets)
    finally:
        tickets.close()


def check_filing(url: str, tracker_db: str, tickets: TicketService) -> None:
    ownership = HandoffDesk(tickets.engine)
    citizen = Citizen(url)

    # Told to a human first: held for the operator, who hands the conversation back to the bot.
    assert citizen.say("我要找人工客服")["handoff"] is True
    conversation_id = citizen.conversation_id
    assert conversation_id
    citizen.say(f"我叫{NAME}，电话{PHONE}，身份证{ID_NUMBER}")
    assert ownership.held_messages(conversation_id) == [f"我叫{NAME}，电话{PHONE}，身份证{ID_NUMBER}"]
    operator = Principal("privacy-test", Role.OPERATOR)
    ownership.take(conversation_id, operator)
    ownership.handback(conversation_id, operator)

    for text in ["我要投诉", STORY, LOCATION, "上周五上午", "挂号处工作人员", NAME, SPOKEN_PHONE, "同意"]:
        turn = citizen.say(text)
        assert turn["ticket_id"] is None, text
    readback = "\n".join(message["text"] for message in turn["messages"])
    assert NAME in readback and MASKED_PHONE in readback  # the citizen checks what they said
    said = json.dumps(stored_conversation(tracker_db, conversation_id), ensure_ascii=False)
    assert PHONE in said and NAME in said, "a form in progress keeps its answers"

    number = citizen.say("确认")["ticket_id"]
    assert number
    stored = stored_conversation(tracker_db, conversation_id)
    said = json.dumps(stored, ensure_ascii=False)
    for secret in (PHONE, SPOKEN_PHONE, ID_NUMBER, "110105194912", NAME, "挂号处多收了我50元", LOCATION):
        assert secret not in said, secret
    users = [event["text"] for event in stored if event["event"] == "user"]
    assert {"[内容]", "[地点]", "[姓名]", "[电话]"} <= set(users), users
    assert MASKED_PHONE in said and number in said  # the masked read-back and the ticket number stay
    assert ownership.held_messages(conversation_id) == ["我叫[姓名]，电话[电话]，身份证[身份证号]"]

    # Numbers typed later in the conversation are stored blanked too.
    citizen.say(f"我电话是{PHONE}，请尽快回电")
    later = [e["text"] for e in stored_conversation(tracker_db, conversation_id) if e["event"] == "user"][-1]
    assert later == "我电话是[电话]，请尽快回电"

    # The ticket keeps what the conversation no longer does; its views blank the numbers, the audited read not.
    assert ID_NUMBER not in tickets.get(number).description
    contact = tickets.contact(number, "test:privacy")
    assert (contact.name, contact.phone, contact.description) == (NAME, PHONE, STORY)
