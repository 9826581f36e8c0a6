"""The Twilio channels through the real gateway over real HTTP, real SQLite and PostgreSQL, with Rasa and Twilio's
REST API played by local servers: signatures (forged → 403 reaching nothing, no token → 404), SMS segments, "更多",
numbered choices, STOP / 开始, deliver() through the REST API, and the IVR's TwiML attributes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text as sql

from bot.app import serve_in_thread
from bot.channels.base import Kind, OutboundMessage
from bot.channels.followups import FollowupStore, SmsRecipients
from bot.channels.sms_text import MAX_SEGMENTS, MORE_HINT, segments, units
from bot.channels.spoken import for_the_ear
from bot.channels.twilio_sms import NOT_DONE, OPTED_OUT, RESUMED, SmsChannel, sms_conversation_id
from bot.channels.twilio_voice import speech_hints
from bot.channels.twilio_webhooks import TwilioMessages
from bot.conversation.emergency import assess, guidance
from bot.conversation.transcript import TranscriptStore
from bot.handoff.desk import Conversation
from bot.handoff.workflow import Owner, Priority
from bot.settings import Settings
from bot.tickets import open_ticket_service
from tests.channels.twilio_channels.conftest import RecordingRasa
from tests.channels.twilio_channels.twilio_client import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    HOTLINE_NUMBER,
    PUBLIC_URL,
    Call,
    FakeTwilioApi,
    TwilioWebhookClient,
    said,
    twiml,
)

CITIZEN = "+8613812345678"
EMERGENCY = "我爸突然晕倒了，叫不醒"
GUIDE = {"doc_id": "guide-birth", "title": "出生医学证明办理指南", "section": "全文", "url": "https://example.org/g"}
#: A service-guide answer far longer than three segments, with its own source line as actions/answering.py ends it.
LONG_ANSWER = "\n".join(
    [
        "您问的申请材料：父母双方身份证、结婚证和医院出具的出生证明。",
        "【出生医学证明办理指南】以下一次性告知办理所需全部信息：",
        *(
            f"第{i}项：请携带相关材料原件和复印件到办理窗口，工作人员当场核验，材料齐全的当场受理。"
            for i in range(1, 9)
        ),
        "来源：《出生医学证明办理指南》 全文 https://example.org/g",
    ]
)


def twilio_settings(api_url: str, **more: Any) -> dict[str, Any]:
    return {
        "public_url": PUBLIC_URL,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_from": HOTLINE_NUMBER,
        "twilio_api_url": api_url,
        **more,
    }


@contextmanager
def gateway(database_url: str, rasa_url: str, **more: Any) -> Iterator[httpx.Client]:
    settings = Settings(**more, database_url=database_url, rasa_url=rasa_url, index=Path("/nonexistent"))
    with serve_in_thread(settings) as url, httpx.Client(base_url=url, timeout=60, trust_env=False) as http:
        yield http


def sms(client: TwilioWebhookClient, body: str, number: str = CITIZEN) -> str:
    """The citizen's SMS as Twilio posts it; returns the reply's text ('' when the gateway sends nothing)."""
    params = {"MessageSid": "SM" + "0" * 32, "AccountSid": ACCOUNT_SID, "From": number, "To": HOTLINE_NUMBER}
    root = twiml(client.post("/channels/twilio/sms", {**params, "Body": body, "NumMedia": "0"}))
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text or "" if messages else ""


# --- signatures -----------------------------------------------------------------------------------------------


PATHS = [
    "/channels/twilio/voice",
    "/channels/twilio/voice/menu",
    "/channels/twilio/voice/turn",
    "/channels/twilio/voice/wait",
    "/channels/twilio/voice/queue",
    "/channels/twilio/sms",
]


def test_without_an_auth_token_the_twilio_endpoints_are_off(tmp_path: Path, rasa: RecordingRasa) -> None:
    with gateway(f"sqlite:///{tmp_path / 'hotline.db'}", rasa.url, public_url=PUBLIC_URL) as http:
        client = TwilioWebhookClient(http)
        for path in PATHS:
            response = client.post(path, {"CallSid": "CA1", "From": CITIZEN, "Body": "你好"})
            assert response.status_code == 404, path
    assert rasa.received == []


def test_an_auth_token_without_the_public_url_stops_startup() -> None:
    with pytest.raises(ValueError, match="HOTLINE_PUBLIC_URL is required"):
        Settings(twilio_auth_token=AUTH_TOKEN)


def test_a_forged_or_missing_signature_gets_403_and_reaches_nothing(
    database_url: str, rasa: RecordingRasa, twilio_api: FakeTwilioApi
) -> None:
    rasa.answer("出生医学证明由助产机构签发。")
    with gateway(database_url, rasa.url, **twilio_settings(twilio_api.url)) as http:
        forger = TwilioWebhookClient(http, token="not-the-token-" + "x" * 18)
        honest = TwilioWebhookClient(http)
        # Signed over the loopback address the request really came to, not the public one Twilio calls.
        misled = TwilioWebhookClient(http, public_url=str(http.base_url).rstrip("/"))
        params = {
            "CallSid": "CA" + "2" * 32,
            "From": CITIZEN,
            "Body": "出生证明怎么办",
            "SpeechResult": "出生证明怎么办",
        }
        for path in PATHS:
            assert forger.post(path, params).status_code == 403, path
            assert honest.post(path, params, signature="").status_code == 403, path
            assert misled.post(path, params).status_code == 403, path
            # A real signature over other fields (the body changed on the way) does not verify either.
            signature = honest.validator.compute_signature(PUBLIC_URL + path, {**params, "Body": "别的"})
            assert honest.post(path, params, signature=signature).status_code == 403, path
        assert rasa.received == [] and twilio_api.messages == []
        service = open_ticket_service(database_url)
        sender = sms_conversation_id(CITIZEN, http_key(http))
        assert TranscriptStore(service.engine).turns(sender) == []
        service.close()
        # The same request, signed right, goes through.
        assert sms(honest, "出生证明怎么办") == "出生医学证明由助产机构签发。"
        assert rasa.texts() == ["出生证明怎么办"]


def http_key(http: httpx.Client) -> str:
    """The key the gateway derives ids with: this test session's (tests/conftest.py sets it)."""
    return os.environ["HOTLINE_CONVERSATION_KEY"]


# --- SMS ------------------------------------------------------------------------------------------------------


def test_an_sms_reply_fits_three_segments_and_more_sends_the_rest(
    database_url: str, rasa: RecordingRasa, twilio_api: FakeTwilioApi
) -> None:
    rasa.answer(LONG_ANSWER, citations=[GUIDE])
    with gateway(database_url, rasa.url, **twilio_settings(twilio_api.url)) as http:
        client = TwilioWebhookClient(http)
        first = sms(client, "出生证明要带什么材料")
        assert segments(first) <= MAX_SEGMENTS and units(first) <= 201
        assert first.startswith("您问的申请材料：父母双方身份证")
        assert MORE_HINT in first and "来源：《出生医学证明办理指南》" in first
        assert "https://" not in first and "来源：《出生医学证明办理指南》 全文" not in first  # the short line only
        parts = [first]
        while MORE_HINT in parts[-1]:
            parts.append(sms(client, "更多"))
            assert segments(parts[-1]) <= MAX_SEGMENTS
            assert parts[-1][0] != "，" and parts[-2].split("\n")[0].removesuffix(MORE_HINT)[-1] in "。！？；："
        assert len(parts) >= 3
        told = "".join(p.split("\n来源")[0].removesuffix(MORE_HINT) for p in parts)
        assert all(f"第{i}项" in told for i in range(1, 9))  # nothing lost between the parts
        assert sms(client, "更多") == "这条答复已经发完了。还有其他问题，请直接发送。"
        assert rasa.texts() == ["出生证明要带什么材料"]  # "更多" never reached Rasa


def test_an_sms_button_is_a_numbered_choice(database_url: str, rasa: RecordingRasa, twilio_api: FakeTwilioApi) -> None:
    buttons = [{"title": "确认提交", "payload": "确认"}, {"title": "修改", "payload": "修改"}]
    rasa.answer("请核对您的投诉：\n内容：收费不合理\n联系电话：139****5678\n无误请回答“确认”。", buttons=buttons)
    with gateway(database_url, rasa.url, **twilio_settings(twilio_api.url)) as http:
        client = TwilioWebhookClient(http)
        reply = sms(client, "我要投诉")
        assert "联系电话：139****5678" in reply and reply.endswith("回复数字：1 确认提交，2 修改")
        sms(client, "1")
        assert rasa.texts() == ["我要投诉", "确认"]


def test_stop_is_honoured_until_the_citizen_starts_again(
    database_url: str, rasa: RecordingRasa, twilio_api: FakeTwilioApi
) -> None:
    rasa.answer("出生医学证明由助产机构签发。")
    with gateway(database_url, rasa.url, **twilio_settings(twilio_api.url)) as http:
        client = TwilioWebhookClient(http)
        assert sms(client, "你好") == "出生医学证明由助产机构签发。"
        assert sms(client, "退订") == OPTED_OUT
        assert sms(client, "出生证明怎么办") == ""  # nothing is sent to an opted-out number, not even a reply
        assert sms(client, "ｓｔｏｐ") == OPTED_OUT  # full-width and lower case are the same word
        assert rasa.texts() == ["你好"]

        service = open_ticket_service(database_url)
        key = http_key(http)
        sender = sms_conversation_id(CITIZEN, key)
        conversation = Conversation(sender, Owner.OPERATOR, "requested", Priority.NORMAL, channel="sms")
        channel = sms_channel(service.engine, twilio_api, key)
        message = OutboundMessage(Kind.MESSAGE, "您好，我是12320热线工作人员。", speaker="operator")
        assert asyncio.run(channel.deliver(conversation, message)) is False
        assert twilio_api.messages == []  # deliver() sends nothing either

        assert sms(client, "开始") == RESUMED
        assert sms(client, "出生证明怎么办") == "出生医学证明由助产机构签发。"
        assert asyncio.run(channel.deliver(conversation, message)) is True
        assert twilio_api.bodies_to(CITIZEN) == ["您好，我是12320热线工作人员。"]
        service.close()


def sms_channel(engine: Any, api: FakeTwilioApi, key: str) -> SmsChannel:
    messages = TwilioMessages(ACCOUNT_SID, AUTH_TOKEN, HOTLINE_NUMBER, api.url, timeout_s=5)
    return SmsChannel(messages, SmsRecipients(engine), FollowupStore(engine), key)


def test_deliver_sends_an_operator_reply_through_the_rest_api(
    database_url: str, rasa: RecordingRasa, twilio_api: FakeTwilioApi
) -> None:
    rasa.answer("好的。")
    with gateway(database_url, rasa.url, **twilio_settings(twilio_api.url)) as http:
        sms(TwilioWebhookClient(http), "转人工")  # the gateway now knows the number behind the conversation
        service = open_ticket_service(database_url)
        key = http_key(http)
        channel = sms_channel(service.engine, twilio_api, key)
        conversation = Conversation(sms_conversation_id(CITIZEN, key), Owner.OPERATOR, None, Priority.NORMAL)
        long_reply = "您反映的收费问题我们已经记录。" * 20

        async def deliver_all() -> list[bool]:
            sent = [await channel.deliver(conversation, OutboundMessage(Kind.MESSAGE, long_reply, speaker="operator"))]
            sent.append(await channel.deliver(conversation, OutboundMessage(Kind.TYPING, speaker="operator")))
            sent.append(await channel.deliver(conversation, OutboundMessage(Kind.PLACE, "正在排队：您是下一位")))
            await channel.messages.aclose()  # type: ignore[union-attr]
            return sent

        assert asyncio.run(deliver_all()) == [True, False, False]  # typing and queue places are not texted
        [message] = twilio_api.messages
        assert message["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert message["To"] == CITIZEN and message["From"] == HOTLINE_NUMBER
        assert message["Body"].startswith("您反映的收费问题") and segments(message["Body"]) <= MAX_SEGMENTS
        assert twilio_api.auth[-1].startswith("Basic ")  # the account's credentials, as Twilio wants them
        # The rest of the long reply waits for "更多", in the database.
        assert sms(TwilioWebhookClient(http), "更多").startswith("您反映的收费问题")
        service.close()


def test_a_failing_rest_api_is_reported_not_raised(tmp_path: Path, twilio_api: FakeTwilioApi) -> None:
    service = open_ticket_service(f"sqlite:///{tmp_path / 'hotline.db'}")
    key = "k" * 40
    channel = sms_channel(service.engine, twilio_api, key)
    sender = sms_conversation_id(CITIZEN, key)
    SmsRecipients(service.engine).remember(sender, CITIZEN)
    twilio_api.fail = True
    conversation = Conversation(sender, Owner.OPERATOR, None, Priority.NORMAL, channel="sms")

    async def deliver() -> bool:
        sent = await channel.deliver(conversation, OutboundMessage(Kind.MESSAGE, "您好", speaker="operator"))
        await channel.messages.aclose()  # type: ignore[union-attr]
        return sent

    assert asyncio.run(deliver()) is False
    service.close()


# --- the IVR's TwiML ------------------------------------------------------------------------------------------


def test_a_call_is_answered_with_a_mandarin_gather_and_the_menu(tmp_path: Path, rasa: RecordingRasa) -> None:
    settings = twilio_settings("http://127.0.0.1:9", twilio_queue="hotline-12320")
    with gateway(f"sqlite:///{tmp_path / 'hotline.db'}", rasa.url, **settings) as http:
        call = Call(TwilioWebhookClient(http))
        root = call.ring()
        gather = call.gather()
        assert gather.get("input") == "speech dtmf"
        assert gather.get("language") == "cmn-Hans-CN"
        assert gather.get("numDigits") == "1" and gather.get("actionOnEmptyResult") == "true"
        assert gather.get("action", "").startswith(f"{PUBLIC_URL}/channels/twilio/voice/menu?")
        hints = gather.get("hints", "").split(",")
        assert {"投诉", "查询工单", "出生医学证明", "预防接种证", "12320卫生热线"} <= set(hints)
        assert gather.get("hints") == speech_hints()
        [say] = gather.findall("Say")
        assert say.get("voice") == "Polly.Zhiyu" and say.get("language") == "cmn-CN"
        assert "幺二三二零" in said(root) and "12320" not in said(root)  # the number as it is said on the phone
        assert "投诉举报请按2" in said(root) and "人工服务请按0" in said(root)
        assert root.find("Record") is None and rasa.received == []
        # Key 1 asks for the question without bothering the core; 0 goes to a person, into the Twilio queue.
        assert said(call.press("1")) == "请说出您要咨询的问题。"
        assert call.gather().get("action", "").startswith(f"{PUBLIC_URL}/channels/twilio/voice/turn?")
        rasa.answer("好的，正在为您转接人工客服，请稍候。", slots_set={"handoff": True, "handoff_reason": "requested"})
        root = call.press("0")
        enqueue = root.find("Enqueue")
        assert enqueue is not None and enqueue.text == "hotline-12320"
        assert enqueue.get("waitUrl") == f"{PUBLIC_URL}/channels/twilio/voice/wait"
        assert rasa.texts() == ["/request_human"]
        wait = twiml(call.client.post("/channels/twilio/voice/wait", call.params(QueuePosition="3")))
        assert said(wait) == "正在为您转接人工客服，您前面还有2位，请不要挂机。" and wait.find("Pause") is not None


def test_a_failing_database_never_costs_a_caller_the_emergency_guidance(database_url: str, rasa: RecordingRasa) -> None:
    with gateway(database_url, rasa.url, **twilio_settings("http://127.0.0.1:9")) as http:
        service = open_ticket_service(database_url)
        with service.engine.begin() as connection:
            for table in ("channel_followups", "sms_recipients", "held_messages", "conversations"):
                connection.execute(sql(f"DROP TABLE {table}"))
        service.close()
        call = Call(TwilioWebhookClient(http))
        call.ring()
        root = call.say(EMERGENCY)
        says = [say.text or "" for say in root.iter("Say")]
        assert says[0] == for_the_ear(guidance(assess(EMERGENCY))) and root.find("Enqueue") is not None
        # Anything else gets a plain "it failed", as TwiML: never a 500 Twilio would read out as an error.
        call = Call(TwilioWebhookClient(http))
        call.ring()
        assert "系统暂时出现故障" in said(call.say("出生证明怎么办"))
        assert "系统暂时出现故障" in sms(TwilioWebhookClient(http), "出生证明怎么办")
        assert sms(TwilioWebhookClient(http), "退订") == NOT_DONE  # an opt-out that was not stored is not confirmed


def test_with_an_operator_number_a_caller_is_put_through_and_offered_a_message_if_nobody_answers(
    tmp_path: Path, rasa: RecordingRasa
) -> None:
    settings = twilio_settings("http://127.0.0.1:9", twilio_operator_number="+8657188880000")
    with gateway(f"sqlite:///{tmp_path / 'hotline.db'}", rasa.url, **settings) as http:
        call = Call(TwilioWebhookClient(http))
        call.ring()
        rasa.answer("好的，正在为您转接人工客服，请稍候。", slots_set={"handoff": True, "handoff_reason": "requested"})
        root = call.press("0")
        dial = root.find("Dial")
        assert dial is not None and (dial.text or "").strip() == "+8657188880000" and root.find("Enqueue") is None
        assert dial.get("action") == f"{PUBLIC_URL}/channels/twilio/voice/queue" and dial.get("record") is None
        root = twiml(call.client.post("/channels/twilio/voice/queue", call.params(DialCallStatus="no-answer")))
        call.last = root
        assert "人工客服暂时无法接听" in said(root) and "留言回电请按1" in said(root)
        # The key is the leave-a-message payload, which the gateway takes itself (the queue → a call back).
        assert said(call.press("1")).startswith("请把您要反映的事情") and rasa.texts() == ["/request_human"]
        done = twiml(call.client.post("/channels/twilio/voice/queue", call.params(DialCallStatus="completed")))
        assert said(done) == "感谢您的来电，再见。" and done.find("Hangup") is not None
        assert said(twiml(call.client.post("/channels/twilio/voice/queue", call.params(QueueResult="hangup")))) == ""
