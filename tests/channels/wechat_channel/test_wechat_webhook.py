"""/channels/wechat over real HTTP, on SQLite and PostgreSQL: the server check, signatures, hostile XML, both
modes, the five-second rule, retries (also across two gateway processes) and the customer-service API.

Rasa is a local stand-in that records each turn (tests/channels/conftest.py), so that a test can count turns
and hold one open; WeChat's API is a local fake (tests/channels/wechat_platform.py). The answers themselves,
from the real model and index, are tested in test_wechat_stack.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.app import serve_in_thread
from bot.channels.base import Kind, OutboundMessage
from bot.channels.wechat.api import CustomerServiceApi
from bot.channels.wechat.channel import GREETING, IMAGE, RATED, VOICE_UNHEARD, WeChatChannel
from bot.channels.wechat.contacts import Contacts
from bot.channels.wechat.models import WeChatContactRow, WeChatMessageRow
from bot.channels.wechat.render import MAX_MESSAGE_BYTES, OPTIONS_HEAD
from bot.conversation.conversation_ids import channel_id
from bot.conversation.core import ConversationCore
from bot.conversation.rasa_client import RasaClient
from bot.conversation.ratings import RatingRow
from bot.database import create_ticket_engine, upgrade_schema
from bot.handoff.desk import Conversation, HandoffDesk
from bot.handoff.workflow import Owner, Priority
from bot.settings import Settings
from tests.channels.wechat_channel.conftest import RecordingRasa, gateway_settings, wechat_gateway
from tests.channels.wechat_channel.wechat_platform import (
    FakeWeChatApi,
    WeChatPlatform,
    event_xml,
    image_xml,
    new_openid,
    text_xml,
    voice_xml,
    wechat_settings,
)

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&secret;</Content><MsgId>2</MsgId></xml>"""

CITED = {
    "messages": [
        {"text": "补办出生医学证明需要身份证和户口本。\n来源：《出生医学证明办理指南》 https://example.gov.cn/birth"},
        {
            "custom": {
                "citations": [
                    {
                        "doc_id": "d1",
                        "title": "出生医学证明办理指南",
                        "section": "全文",
                        "url": "https://example.gov.cn/birth",
                    }
                ]
            }
        },
    ],
    "intent": {"name": "ask_service", "confidence": 0.97},
}
_msg_ids = iter(range(10**15, 10**16))


def msg_id() -> int:
    return next(_msg_ids)


def rows(database_url: str) -> list[WeChatMessageRow]:
    engine = create_ticket_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(WeChatMessageRow)))
    finally:
        engine.dispose()


# -- the server check, signatures and hostile XML ---------------------------------------------------------


def test_the_server_check_echoes_a_signed_echostr_and_refuses_a_forged_one(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        signed = platform.signed()
        ok = http.get(f"{url}/channels/wechat", params={**signed, "echostr": "4711abc"})
        assert ok.status_code == 200 and ok.text == "4711abc"
        forged = http.get(f"{url}/channels/wechat", params={**signed, "signature": "0" * 40, "echostr": "x"})
        assert forged.status_code == 403
        stale = WeChatPlatform().signed(timestamp=int(time.time()) - 3600)
        assert http.get(f"{url}/channels/wechat", params={**stale, "echostr": "x"}).status_code == 403
        assert http.get(f"{url}/channels/wechat", params={"echostr": "x"}).status_code == 403


def test_without_a_token_the_endpoints_are_off(database_url: str, rasa: RecordingRasa) -> None:
    settings = Settings(database_url=database_url, rasa_url=rasa.url, index="/nonexistent")
    with serve_in_thread(settings) as url, httpx.Client(trust_env=False) as http:
        platform = WeChatPlatform()
        assert http.get(f"{url}/channels/wechat", params={**platform.signed(), "echostr": "x"}).status_code == 404
        params, body = platform.request(text_xml(new_openid(), "你好", msg_id()))
        assert http.post(f"{url}/channels/wechat", params=params, content=body).status_code == 404
    assert rasa.turns == []


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_a_forged_signature_gets_403_and_reaches_nothing(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, safe: bool
) -> None:
    forger = WeChatPlatform(token="notthetoken123")  # signs (and encrypts) with the wrong token
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        pushed = forger.push(http, url, text_xml(new_openid(), "我要投诉", msg_id()), safe=safe)
        assert pushed.response.status_code == 403
        # Right token, wrong msg_signature: the encrypted body was not signed by WeChat.
        params, body = WeChatPlatform().request(text_xml(new_openid(), "你好", msg_id()), safe=True)
        response = http.post(f"{url}/channels/wechat", params={**params, "msg_signature": "f" * 40}, content=body)
        assert response.status_code == 403
    assert rasa.turns == [] and rows(database_url) == []


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_hostile_xml_gets_400_and_reaches_nothing(
    database_url: str,
    rasa: RecordingRasa,
    wechat_api: FakeWeChatApi,
    platform: WeChatPlatform,
    payload: str,
) -> None:
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        # Plain mode: the body itself; safe mode: the same XML inside a correctly signed, encrypted envelope.
        for safe in (False, True):
            params, body = platform.request(payload, safe=safe)
            started = time.perf_counter()
            response = http.post(f"{url}/channels/wechat", params=params, content=body)
            assert response.status_code == 400, response.text
            assert time.perf_counter() - started < 2  # refused, not expanded
            assert "消息格式不正确" in response.json()["detail"]
        params = platform.signed()
        hostile_envelope = BILLION_LAUGHS.replace("<MsgType>", "<Encrypt>&lol9;</Encrypt><MsgType>")
        response = http.post(
            f"{url}/channels/wechat",
            params={**params, "encrypt_type": "aes", "msg_signature": "0" * 40},
            content=hostile_envelope.encode(),
        )
        assert response.status_code == 400
    assert rasa.turns == [] and rows(database_url) == []


def test_safe_mode_without_an_aes_key_is_refused(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    with wechat_gateway(database_url, rasa.url, wechat_api.url, wechat_aes_key=None) as (url, http):
        pushed = platform.push(http, url, text_xml(new_openid(), "你好", msg_id()), safe=True)
        assert pushed.response.status_code == 400
        assert "EncodingAESKey" in pushed.response.json()["detail"]
        assert platform.push(http, url, text_xml(new_openid(), "你好", msg_id())).reply == "您好"
    assert rasa.messages() == ["你好"]


def test_malformed_and_oversized_bodies_get_400(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        for body in (b"", b"not xml", b"<html></html>", b"<xml><MsgType>text</MsgType></xml>", b"<xml>" * 20000):
            response = http.post(f"{url}/channels/wechat", params=platform.signed(), content=body)
            assert response.status_code == 400, body[:30]
    assert rasa.turns == []


# -- messages, both modes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_a_question_is_answered_passively_with_its_source_once(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform, safe: bool
) -> None:
    rasa.answer = CITED
    openid = new_openid()
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        pushed = platform.push(http, url, text_xml(openid, "出生医学证明怎么补办", msg_id()), safe=safe)
    assert pushed.response.status_code == 200
    if safe:
        assert "<Encrypt>" in pushed.response.text and "出生" not in pushed.response.text
    assert pushed.reply == (
        "补办出生医学证明需要身份证和户口本。\n\n来源：《出生医学证明办理指南》\nhttps://example.gov.cn/birth"
    )
    sender, text = rasa.turns[0]
    assert text == "出生医学证明怎么补办" and sender.startswith("wechat-") and openid not in sender
    assert wechat_api.sent == []  # nothing through the API: the reply carried it


def test_voice_image_subscribe_and_menu_clicks(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    openid = new_openid()
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        assert platform.push(http, url, voice_xml(openid, "我要投诉。", msg_id())).reply == "您好"
        assert platform.push(http, url, voice_xml(openid, None, msg_id())).reply == VOICE_UNHEARD
        assert platform.push(http, url, voice_xml(openid, "", msg_id())).reply == VOICE_UNHEARD
        assert platform.push(http, url, image_xml(openid, msg_id())).reply == IMAGE
        greeting = platform.push(http, url, event_xml(openid, "subscribe"))
        assert greeting.reply == GREETING and "12320" in GREETING and "投诉" in GREETING
        now = int(time.time())
        for n, key in enumerate(("HOTLINE_COMPLAINT", "HOTLINE_QUERY_TICKET", "HOTLINE_HUMAN"), 1):
            clicked = platform.push(http, url, event_xml(openid, "CLICK", key, create_time=now + n))
            assert clicked.response.status_code == 200
        key = gateway_settings(database_url, rasa.url, wechat_api.url).conversation_key
        assert key is not None
        contacts = Contacts(create_ticket_engine(database_url))
        assert contacts.reachable(channel_id("wechat", openid, key.get_secret_value())) is True
        unsubscribed = platform.push(http, url, event_xml(openid, "unsubscribe"))
        assert unsubscribed.response.text == "success"
        assert contacts.reachable(channel_id("wechat", openid, key.get_secret_value())) is False
        contacts.engine.dispose()
    assert rasa.messages() == ["我要投诉。", "/complaint", "/query_ticket", "/request_human"]


def test_numbered_options_are_answered_with_a_number(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    rasa.answer = {
        "messages": [
            {
                "text": "是否同意工作人员通过这个电话与您联系？",
                "buttons": [{"title": "同意", "payload": "同意"}, {"title": "转人工", "payload": "/request_human"}],
            }
        ]
    }
    openid = new_openid()
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        asked = platform.push(http, url, text_xml(openid, "我要投诉", msg_id())).reply
        assert asked == f"是否同意工作人员通过这个电话与您联系？\n\n{OPTIONS_HEAD}\n1. 同意\n2. 转人工"
        platform.push(http, url, text_xml(openid, "２", msg_id()))  # a full-width digit, as phones type it
        platform.push(http, url, text_xml(openid, "同意", msg_id()))
        platform.push(http, url, text_xml(openid, "9", msg_id()))  # not an option: just text
    assert rasa.messages() == ["我要投诉", "/request_human", "同意", "9"]


def test_a_long_answer_is_split_and_the_rest_follows_through_the_api(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    card = "\n".join(f"{n}、办理材料第{n}项：居民身份证原件及复印件，户口簿，出生医学证明原件。" for n in range(40))
    rasa.answer = {"messages": [{"text": card}]}
    openid = new_openid()
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        first = platform.push(http, url, text_xml(openid, "出生医学证明怎么补办", msg_id())).reply
        rest = wechat_api.wait_for(openid, 2)
    assert first is not None and first.startswith("0、办理材料")
    parts = [first, *rest]
    assert all(len(part.encode()) <= MAX_MESSAGE_BYTES for part in parts)
    assert "\n".join(parts).count("办理材料") == 40


# -- the five-second rule and retries ----------------------------------------------------------------------


def test_an_answer_slower_than_the_budget_goes_through_the_api(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    rasa.answer = CITED
    openid = new_openid()
    with wechat_gateway(database_url, rasa.url, wechat_api.url, wechat_passive_budget_s=0.001) as (url, http):
        pushed = platform.push(http, url, text_xml(openid, "出生医学证明怎么补办", msg_id()))
        assert pushed.response.status_code == 200 and pushed.response.text == "success"
        sent = wechat_api.wait_for(openid)
        assert sent == [
            "补办出生医学证明需要身份证和户口本。\n\n来源：《出生医学证明办理指南》\nhttps://example.gov.cn/birth"
        ]
        # Many more through the API: one access token serves them all.
        for n in range(3):
            platform.push(http, url, text_xml(openid, f"第{n}个问题", msg_id()))
        assert len(wechat_api.wait_for(openid, 4)) == 4
    assert wechat_api.tokens_issued == 1
    assert {row.state for row in rows(database_url)} == {"pushed"}


def test_a_retry_after_a_passive_answer_gets_the_same_answer_and_no_second_turn(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    openid = new_openid()
    xml = text_xml(openid, "你好", msg_id())
    event = event_xml(openid, "subscribe")
    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        replies = [platform.push(http, url, xml).reply for _ in range(4)]  # the first and WeChat's three retries
        greetings = [platform.push(http, url, event).reply for _ in range(2)]
    assert replies == ["您好"] * 4 and greetings == [GREETING] * 2
    assert rasa.messages() == ["你好"]
    assert wechat_api.sent == []


def test_a_retry_while_the_first_is_still_answered_starts_no_second_turn_even_on_another_process(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    """Two gateways on one database, as behind a load balancer: the first gets the message and its turn is
    held open in Rasa; WeChat's retry reaches the second, which answers "success" at once; when the turn ends the
    first finds it may no longer reply passively and sends the answer through the API, once."""
    rasa.answer = CITED
    openid = new_openid()
    xml = text_xml(openid, "出生医学证明怎么补办", msg_id())
    with (
        wechat_gateway(database_url, rasa.url, wechat_api.url) as (first, http),
        wechat_gateway(database_url, rasa.url, wechat_api.url) as (second, _),
        ThreadPoolExecutor(1) as pool,
    ):
        rasa.gate.clear()
        original = pool.submit(platform.push, http, first, xml)
        _wait_until(lambda: len(rasa.turns) == 1)
        retries = [platform.push(http, second, xml) for _ in range(3)]
        assert [r.response.text for r in retries] == ["success"] * 3
        assert all(r.seconds < 2 for r in retries)
        rasa.gate.set()
        assert original.result().response.text == "success"  # its reply would reach nobody: WeChat gave up on it
        sent = wechat_api.wait_for(openid)
        time.sleep(0.5)  # room for a wrong second send to show up
    assert len(rasa.turns) == 1
    assert sent == wechat_api.sent_to(openid) and len(sent) == 1 and "出生医学证明" in sent[0]


def test_concurrent_duplicates_on_two_processes_get_one_turn_and_one_answer(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    openid = new_openid()
    xml = text_xml(openid, "你好", msg_id())
    with (
        wechat_gateway(database_url, rasa.url, wechat_api.url) as (first, http),
        wechat_gateway(database_url, rasa.url, wechat_api.url) as (second, _),
        ThreadPoolExecutor(8) as pool,
    ):
        pushed = list(pool.map(lambda n: platform.push(http, (first, second)[n % 2], xml), range(8)))
        time.sleep(0.5)
    replies = [p.reply for p in pushed if p.reply is not None]
    assert all(p.response.status_code == 200 for p in pushed)
    assert len(rasa.turns) == 1
    # Either the answer went passively (and every later retry got the same text again), or a retry found the turn
    # running and the answer went through the API, once: never both.
    through_api = wechat_api.sent_to(openid)
    assert (through_api == ["您好"] and replies == []) or (through_api == [] and set(replies) == {"您好"})


# -- operator replies: deliver() within the window ---------------------------------------------------------


def test_deliver_reaches_the_citizen_within_the_window_and_not_outside_it(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    """The citizen writes through one gateway; the operator's side (the console's process) delivers through its
    own channel instance on the same database, as any process holding the conversation would."""
    openid = new_openid()
    reply = OutboundMessage(Kind.MESSAGE, "您好，我是人工客服小王，请问有什么可以帮您？", speaker="operator")
    settings = gateway_settings(database_url, rasa.url, wechat_api.url)
    engine = create_ticket_engine(database_url)

    async def operator_side(url: str, http: httpx.Client) -> None:
        core = ConversationCore(RasaClient(rasa.url), HandoffDesk(engine))
        channel = WeChatChannel.from_settings(settings, core, engine)
        assert channel is not None and settings.conversation_key is not None
        conversation_id = channel_id("wechat", openid, settings.conversation_key.get_secret_value())
        conversation = Conversation(conversation_id, Owner.OPERATOR, "requested", Priority.NORMAL, channel="wechat")
        try:
            assert await channel.reachable(conversation) is False  # never wrote: nothing can reach them
            platform.push(http, url, text_xml(openid, "你好", msg_id()))
            assert await channel.reachable(conversation) is True
            assert await channel.deliver(conversation, reply) is True
            assert wechat_api.sent_to(openid) == [reply.text]
            assert await channel.deliver(conversation, OutboundMessage(Kind.TYPING, speaker="operator")) is True
            assert wechat_api.typing == [openid]
            assert await channel.deliver(conversation, OutboundMessage(Kind.PLACE, "您前面还有1位")) is False
            rating = OutboundMessage(Kind.RATING_REQUEST, "请为本次服务打分：1分很不满意，5分非常满意。")
            assert await channel.deliver(conversation, rating) is True
            assert wechat_api.sent_to(openid)[-1].endswith("请直接回复数字1到5。")

            # WeChat's quota: five messages after the citizen's message; two are spent, three remain.
            for n in range(3):
                assert await channel.deliver(conversation, OutboundMessage(Kind.MESSAGE, f"第{n}条")) is True
            assert await channel.reachable(conversation) is False
            assert await channel.deliver(conversation, OutboundMessage(Kind.MESSAGE, "第六条")) is False

            platform.push(http, url, text_xml(openid, "还在吗", msg_id()))  # the citizen writes: open again
            assert await channel.reachable(conversation) is True
            _age_window(engine, conversation_id)  # 48 hours later
            assert await channel.reachable(conversation) is False
            assert await channel.deliver(conversation, reply) is False

            platform.push(http, url, text_xml(openid, "我又来了", msg_id()))
            wechat_api.refuse.append(45015)  # WeChat's own clock says the window is shut
            assert await channel.deliver(conversation, reply) is False
            assert await channel.reachable(conversation) is False
        finally:
            await channel.aclose()
            await core.rasa.aclose()

    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        asyncio.run(operator_side(url, http))
    engine.dispose()
    assert wechat_api.sent_to(openid).count(reply.text) == 1


def test_a_rating_request_is_answered_with_a_digit(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    openid = new_openid()
    settings = gateway_settings(database_url, rasa.url, wechat_api.url)
    assert settings.conversation_key is not None
    conversation_id = channel_id("wechat", openid, settings.conversation_key.get_secret_value())
    engine = create_ticket_engine(database_url)

    async def ask_for_a_rating() -> None:
        desk = HandoffDesk(engine)
        desk.offer(conversation_id, "wechat", "angry")  # the conversation's row, as a handoff would leave it
        desk.ask_rating(conversation_id)
        core = ConversationCore(RasaClient(rasa.url), desk)
        channel = WeChatChannel.from_settings(settings, core, engine)
        assert channel is not None
        conversation = desk.find(conversation_id)
        request = OutboundMessage(Kind.RATING_REQUEST, "请为本次服务打分：1分很不满意，5分非常满意。")
        assert await channel.deliver(conversation, request) is True
        await channel.aclose()
        await core.rasa.aclose()

    with wechat_gateway(database_url, rasa.url, wechat_api.url) as (url, http):
        platform.push(http, url, text_xml(openid, "你好", msg_id()))
        asyncio.run(ask_for_a_rating())
        assert platform.push(http, url, text_xml(openid, "5", msg_id())).reply == RATED
        assert platform.push(http, url, text_xml(openid, "4", msg_id())).reply == "您好"  # answered once: text now
    with Session(engine) as session:
        scores = list(session.scalars(select(RatingRow.score).where(RatingRow.sender_id == conversation_id)))
    engine.dispose()
    assert scores == [5] and rasa.messages() == ["你好", "4"]


def test_a_refused_token_is_refreshed_once_and_the_message_sent(
    database_url: str, rasa: RecordingRasa, wechat_api: FakeWeChatApi, platform: WeChatPlatform
) -> None:
    openid = new_openid()
    with wechat_gateway(database_url, rasa.url, wechat_api.url, wechat_passive_budget_s=0.001) as (url, http):
        platform.push(http, url, text_xml(openid, "你好", msg_id()))
        assert wechat_api.wait_for(openid) == ["您好"]
        wechat_api.refuse.append(40001)  # WeChat revoked the token
        platform.push(http, url, text_xml(openid, "再问一句", msg_id()))
        assert wechat_api.wait_for(openid, 2) == ["您好", "您好"]
    assert wechat_api.tokens_issued == 2


def test_one_token_refresh_at_a_time_across_processes(database_url: str, wechat_api: FakeWeChatApi) -> None:
    """Eight API clients (as eight gateway processes) ask for the token at once: WeChat is asked once."""
    engine = create_ticket_engine(database_url)
    upgrade_schema(engine)
    settings = wechat_settings(wechat_api.url)

    def one_process() -> str:
        async def ask() -> str:
            api = CustomerServiceApi(engine, wechat_api.url, settings["wechat_appid"], settings["wechat_secret"])
            try:
                return await api.token()
            finally:
                await api.aclose()

        return asyncio.run(ask())

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda _: one_process(), range(8)))
    engine.dispose()
    assert tokens == ["token-1"] * 8 and wechat_api.tokens_issued == 1


# -- helpers -----------------------------------------------------------------------------------------------


def _wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _age_window(engine: Engine, conversation_id: str) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(WeChatContactRow)
            .where(WeChatContactRow.conversation_id == conversation_id)
            .values(window_until=datetime.now(UTC) - timedelta(minutes=1))
        )
