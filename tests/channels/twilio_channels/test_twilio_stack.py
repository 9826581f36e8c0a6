"""Whole phone calls and SMS conversations through the real stack (`hotline up`: the trained model, the action
server, a real index, the gateway) with the Twilio channels on: every webhook signed with Twilio's RequestValidator,
every reply parsed as TwiML. Twilio's REST API is a local fake server.

Walked here: a question answered for the ear (and sent by SMS on request), a complaint filed by phone (the read-back
and the ticket number digit by digit, 按1确认), the ticket looked up with its number keyed in, a caller hanging up
mid-form (nothing filed), a handoff into the Twilio queue and the console's queue (channel "voice"), an emergency,
silence and noise; an SMS answer in segments with "更多"."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from xml.etree.ElementTree import Element

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.auth import Role, TokenStore
from bot.channels.sms_text import MAX_SEGMENTS, MORE_HINT, segments
from bot.channels.spoken import digit_by_digit, for_the_ear
from bot.channels.twilio_voice import GOODBYE, MENU_PROMPT, NOT_HEARD, NOT_UNDERSTOOD
from bot.conversation.conversation_ids import channel_id
from bot.conversation.emergency import assess, guidance
from bot.handoff.desk import HandoffDesk
from bot.handoff.workflow import Priority
from bot.tickets import open_ticket_service
from tests.channels.twilio_channels.conftest import DUTY_NUMBER
from tests.channels.twilio_channels.twilio_client import (
    ACCOUNT_SID,
    HOTLINE_NUMBER,
    Call,
    FakeTwilioApi,
    TwilioWebhookClient,
    said,
    twiml,
)
from tests.conftest import Stack


@pytest.fixture(scope="module")
def client(twilio_stack: Stack) -> Iterator[TwilioWebhookClient]:
    with httpx.Client(base_url=twilio_stack.url, timeout=120, trust_env=False) as http:
        yield TwilioWebhookClient(http)


@pytest.fixture(scope="module")
def operator(twilio_stack: Stack) -> Iterator[httpx.Client]:
    tickets = open_ticket_service(twilio_stack.database_url)
    token = TokenStore(tickets.engine).issue(f"twilio-{uuid.uuid4().hex[:8]}", Role.OPERATOR)
    tickets.close()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=twilio_stack.url, headers=headers, timeout=60, trust_env=False) as http:
        yield http


def sms(client: TwilioWebhookClient, number: str, body: str) -> str:
    params = {"MessageSid": "SM" + "1" * 32, "AccountSid": ACCOUNT_SID, "From": number, "To": HOTLINE_NUMBER}
    message = twiml(client.post("/channels/twilio/sms", {**params, "Body": body})).find("Message")
    return (message.text or "") if message is not None else ""


def conversation_of(stack: Stack, call: Call) -> str:
    key = (stack.var / "conversation.key").read_text().strip()
    return channel_id("voice", call.sid, key)


def assert_for_the_ear(root: Element) -> None:
    spoken = said(root)
    assert spoken
    assert "http" not in spoken and "www." not in spoken and "来源：" not in spoken
    assert not re.search(r"\*\*|__|^#|【|】", spoken)


def test_a_question_is_answered_for_the_ear_and_sent_by_sms_on_request(
    client: TwilioWebhookClient, stack_twilio_api: FakeTwilioApi
) -> None:
    call = Call(client, caller="+8613900000001")
    call.ring()
    root = call.say("出生医学证明丢了怎么补办")
    assert_for_the_ear(root)
    gather = call.gather()
    assert gather.get("language") == "cmn-Hans-CN" and gather.get("numDigits") == "1"
    spoken = said(root)
    assert "需要把完整答复和出处发到您的手机，请按9" in spoken
    if "要听更多请按1" in spoken:  # the answer was cut after one or two sentences
        head = spoken.split("要听更多请按1")[0]
        assert len(re.findall(r"[。！？；]", head)) <= 3
        more = call.press("1")
        assert_for_the_ear(more)
        assert said(more) and said(more) not in spoken
    call.press("9")
    assert "已把完整答复和出处发送到您的手机短信" in said(call.last) or "回复短信“更多”可以接着看" in said(call.last)
    [body] = stack_twilio_api.bodies_to(call.caller)
    assert "出生医学证明" in body and "来源：《" in body and segments(body) <= MAX_SEGMENTS
    message = next(m for m in stack_twilio_api.messages if m["To"] == call.caller)
    assert message["From"] == HOTLINE_NUMBER and message["path"].endswith(f"/Accounts/{ACCOUNT_SID}/Messages.json")


def test_a_complaint_is_filed_by_phone_and_looked_up_with_its_number_keyed_in(
    client: TwilioWebhookClient, twilio_stack: Stack
) -> None:
    call = Call(client, caller="+8613700000002")
    call.ring()
    asked = said(call.press("2"))
    assert "投诉" in asked and "发生了什么" in asked
    for answer in (
        "社区医院收费不合理，多收了两百元检查费",
        "杭州市西湖区文三路社区卫生服务中心",
        "上周三上午",
        "收费处",
        "张三",
    ):
        call.say(answer)
    assert "联系电话" in said(call.last)
    assert call.gather().get("finishOnKey") == "#" and "按井号键结束" in said(call.last)
    consent = call.press("13912345678")
    assert "同意请按1" in said(consent) and "不同意请按2" in said(consent)
    readback = said(call.press("1"))
    # The number read back digit by digit (the middle four masked, as everywhere), and 按1 files.
    assert "幺三九，中间四位隐去，五六七八" in readback and "确认提交请按1" in readback and "修改请按2" in readback
    assert "139" not in readback
    receipt = said(call.press("1"))
    engine = create_engine(twilio_stack.database_url)
    with engine.connect() as connection:
        number, channel = connection.execute(
            text("SELECT number, channel FROM tickets WHERE sender_id = :s"), {"s": conversation_of(twilio_stack, call)}
        ).one()
    engine.dispose()
    assert channel == "voice"
    prefix, day, serial = number.split("-")
    assert f"{digit_by_digit(prefix)}，{digit_by_digit(day)}，{digit_by_digit(serial)}" in receipt
    assert not re.search(r"\d", receipt.split("工单号")[1][:40])  # said as digits, never as a quantity

    # Another call looks it up: 3, the ticket number keyed as its 19 digits, the last four of the phone.
    lookup = Call(client, caller="+8613700000002")
    lookup.ring()
    asked = said(lookup.press("3"))
    assert "工单编号" in asked and lookup.gather().get("finishOnKey") == "#"
    assert "后四位" in said(lookup.press(number.replace("-", "") + "#"))
    status = said(lookup.press("5678#"))
    assert "当前状态" in status and f"{digit_by_digit(serial)}" in status


def test_a_caller_who_hangs_up_mid_form_files_nothing(client: TwilioWebhookClient, twilio_stack: Stack) -> None:
    call = Call(client, caller="+8613700000003")
    call.ring()
    call.press("2")
    call.say("药店卖过期的药")
    call.say("西湖区某某大药房")
    # The caller hangs up here: Twilio sends nothing more to the IVR. Only 按1确认 files a ticket.
    engine = create_engine(twilio_stack.database_url)
    with engine.connect() as connection:
        filed = connection.execute(
            text("SELECT count(*) FROM tickets WHERE sender_id = :s"), {"s": conversation_of(twilio_stack, call)}
        ).scalar_one()
    engine.dispose()
    assert filed == 0


def test_a_caller_asking_for_a_person_is_enqueued_and_in_the_consoles_queue(
    client: TwilioWebhookClient, twilio_stack: Stack, operator: httpx.Client
) -> None:
    call = Call(client, caller="+8613700000004")
    call.ring()
    call.say("出生医学证明怎么办理")
    root = call.press("0")
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "hotline" and root.find("Gather") is None
    assert "排队" in said(root) or "转接" in said(root)
    conversation_id = conversation_of(twilio_stack, call)
    queue = operator.get("/api/handoff/queue")
    assert queue.status_code == 200
    entry = next(e for e in queue.json() if e["conversation_id"] == conversation_id)
    assert entry["channel"] == "voice" and entry["reason"] == "requested"
    # The transcript so far is the operator's: the question and the bot's answer, the caller's number nowhere.
    turns = operator.get(f"/api/conversations/{conversation_id}").json()["turns"]
    assert [t["text"] for t in turns if t["speaker"] == "citizen"][:1] == ["出生医学证明怎么办理"]
    assert "13700000004" not in str(turns)
    # An operator's words cannot be pushed into a call: they wait in the transcript (deliver() says False).
    assert operator.post(f"/api/handoff/{conversation_id}/take").status_code == 200
    assert operator.post(f"/api/handoff/{conversation_id}/messages", json={"text": "您好"}).status_code == 200


def test_an_operators_reply_reaches_an_sms_citizen_through_the_rest_api_until_they_opt_out(
    client: TwilioWebhookClient, twilio_stack: Stack, operator: httpx.Client, stack_twilio_api: FakeTwilioApi
) -> None:
    number = "+8613600000009"
    assert "转接" in sms(client, number, "转人工")
    key = (twilio_stack.var / "conversation.key").read_text().strip()
    conversation_id = channel_id("sms", number, key)
    entry = next(e for e in operator.get("/api/handoff/queue").json() if e["conversation_id"] == conversation_id)
    assert entry["channel"] == "sms"
    assert operator.post(f"/api/handoff/{conversation_id}/take").status_code == 200
    said_by_operator = "您好，我是12320热线工作人员，请问有什么可以帮您？"
    assert operator.post(f"/api/handoff/{conversation_id}/messages", json={"text": said_by_operator}).status_code == 200
    assert said_by_operator in stack_twilio_api.bodies_to(number)
    sent = len(stack_twilio_api.bodies_to(number))
    assert "退订" in sms(client, number, "退订")
    assert operator.post(f"/api/handoff/{conversation_id}/messages", json={"text": "还在吗？"}).status_code == 200
    assert len(stack_twilio_api.bodies_to(number)) == sent  # nothing more to a number that opted out


def test_an_emergency_is_guided_first_then_the_caller_is_told_to_dial_120_or_put_through(
    client: TwilioWebhookClient, twilio_stack: Stack
) -> None:
    call = Call(client, caller="+8613700000005")
    call.ring()
    emergency = "我爸突然晕倒了，叫不醒"
    root = call.say(emergency)
    says = [say.text or "" for say in root.iter("Say")]
    assert says[0] == for_the_ear(guidance(assess(emergency)))  # the core's guidance, first, for the ear
    assert says[0].startswith("紧急提示，请立即拨打幺二零急救电话")
    assert "现在挂断电话，立即拨打幺二零急救电话" in says[1] and "幺幺零" in says[1]
    dial = root.find("Dial")
    assert dial is not None and (dial.text or "").strip() == DUTY_NUMBER and root.find("Gather") is None
    engine = create_engine(twilio_stack.database_url)
    conversation = HandoffDesk(engine).get(conversation_of(twilio_stack, call))
    assert conversation.priority is Priority.URGENT and conversation.channel == "voice"
    engine.dispose()


def test_silence_is_reprompted_twice_then_the_menu_then_a_goodbye(client: TwilioWebhookClient) -> None:
    call = Call(client, caller="+8613700000006")
    call.ring()
    first, second = said(call.silence()), said(call.silence())
    assert first.startswith(NOT_HEARD) and second.startswith(NOT_HEARD)
    assert call.gather().get("action", "").endswith("misses=2&noise=0")
    assert MENU_PROMPT.split("；")[0] in said(call.silence())  # the menu, once more
    root = call.silence()
    assert said(root) == for_the_ear(GOODBYE) and "幺二三二零" in said(root) and root.find("Hangup") is not None


def test_noise_ends_with_a_person_not_a_goodbye(client: TwilioWebhookClient) -> None:
    call = Call(client, caller="+8613700000007")
    call.ring()
    assert said(call.say("嗯啊呃", confidence="0.05")).startswith(NOT_UNDERSTOOD)
    assert said(call.say("嗯啊呃", confidence="0.05")).startswith(NOT_UNDERSTOOD)
    assert "投诉举报请按2" in said(call.say("嗯啊呃", confidence="0.05"))  # the menu
    root = call.say("嗯啊呃", confidence="0.05")
    assert root.find("Enqueue") is not None and "转接人工客服" in said(root)


def test_an_sms_question_is_answered_in_segments_with_more(
    client: TwilioWebhookClient, stack_twilio_api: FakeTwilioApi
) -> None:
    number = "+8613600000008"
    first = sms(client, number, "出生医学证明要带什么材料")
    assert segments(first) <= MAX_SEGMENTS and "来源：《" in first and "http" not in first
    if MORE_HINT in first:
        second = sms(client, number, "更多")
        assert segments(second) <= MAX_SEGMENTS and second != first
    assert stack_twilio_api.bodies_to(number) == []  # replies go back as TwiML, not through the REST API


def test_no_caller_number_reaches_the_logs(twilio_stack: Stack) -> None:
    """Run last in this module: every call and text above went through the stack whose log this is."""
    log = twilio_stack.log.read_text(encoding="utf-8", errors="replace")
    assert "hotline  | ready" in log or "ready" in log
    for number in ("13900000001", "137000000", "13600000008", "13600000009"):
        assert number not in log
