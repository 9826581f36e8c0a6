"""WeChat through the real stack: `hotline up` with the trained model, the action server answering from a real
index, the gateway's /channels/wechat, and WeChat's API as a local fake. Messages are signed and encrypted
with wechatpy (tests/channels/wechat_platform.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app import serve_in_thread
from bot.conversation.conversation_ids import channel_id
from bot.conversation.transcript import TurnRow
from bot.database import create_ticket_engine
from bot.settings import Settings
from tests.channels.wechat_channel.conftest import WeChatStack
from tests.channels.wechat_channel.test_wechat_webhook import BILLION_LAUGHS, msg_id
from tests.channels.wechat_channel.wechat_platform import (
    WeChatPlatform,
    event_xml,
    new_openid,
    text_xml,
    wechat_settings,
)

HEALTH_QUESTION = "被狗咬了要不要打狂犬疫苗"
SERVICE_QUESTION = "孩子的出生医学证明丢了怎么补办，要带什么材料"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=120, trust_env=False) as client:
        yield client


def citizen_turns(stack: WeChatStack, openid: str) -> int:
    engine = create_ticket_engine(stack.database_url)
    conversation_id = channel_id("wechat", openid, stack.conversation_key)
    with Session(engine) as session:
        count = session.scalar(
            select(func.count()).where(TurnRow.sender_id == conversation_id, TurnRow.speaker == "citizen")
        )
    engine.dispose()
    return int(count or 0)


def test_a_question_in_plain_mode_is_answered_passively_with_its_source(
    wechat_stack: WeChatStack, http: httpx.Client
) -> None:
    openid = new_openid()
    pushed = WeChatPlatform().push(http, wechat_stack.url, text_xml(openid, HEALTH_QUESTION, msg_id()))
    assert pushed.response.status_code == 200 and pushed.seconds < 4.5
    assert pushed.reply is not None and "狂犬" in pushed.reply
    assert pushed.reply.count("来源：《") == 1  # once, as a title line (not the answer's own source line as well)
    assert wechat_stack.api.sent_to(openid) == []


def test_a_question_in_safe_mode_gets_the_whole_card_first_part_passively_and_the_rest_by_the_api(
    wechat_stack: WeChatStack, http: httpx.Client
) -> None:
    openid = new_openid()
    platform = WeChatPlatform()
    pushed = platform.push(http, wechat_stack.url, text_xml(openid, SERVICE_QUESTION, msg_id()), safe=True)
    assert pushed.response.status_code == 200 and "<Encrypt>" in pushed.response.text
    assert pushed.reply is not None and "出生医学证明" in pushed.reply  # a 一次告知 card runs past 2048 bytes
    rest = wechat_stack.api.wait_for(openid)
    whole = "\n".join([pushed.reply, *rest])
    assert "一次性告知" in whole and "来源：《" in whole and "出生医学证明" in whole.split("来源：《")[1]
    assert all(len(part.encode()) <= 2048 for part in [pushed.reply, *rest])


def test_a_menu_click_opens_the_complaint_form(wechat_stack: WeChatStack, http: httpx.Client) -> None:
    pushed = WeChatPlatform().push(http, wechat_stack.url, event_xml(new_openid(), "CLICK", "HOTLINE_COMPLAINT"))
    assert pushed.reply is not None and "请您具体说一下" in pushed.reply


def test_a_duplicate_msgid_gets_one_answer_and_one_turn(wechat_stack: WeChatStack, http: httpx.Client) -> None:
    openid = new_openid()
    xml = text_xml(openid, HEALTH_QUESTION, msg_id())
    platform = WeChatPlatform()
    replies = [platform.push(http, wechat_stack.url, xml).reply for _ in range(4)]  # the message and 3 retries
    assert replies[0] is not None and replies == [replies[0]] * 4
    assert citizen_turns(wechat_stack, openid) == 1
    assert wechat_stack.api.sent_to(openid) == []


def test_a_slow_answer_takes_the_api(wechat_stack: WeChatStack, http: httpx.Client, tmp_path: Path) -> None:
    """A second gateway process on the stack's Rasa, action server and database, whose passive budget is 1 ms:
    no real answer is ready that fast, so the webhook says "success" and the answer comes by the API."""
    settings = Settings(
        **wechat_settings(wechat_stack.api.url, wechat_passive_budget_s=0.001),
        database_url=wechat_stack.database_url,
        rasa_url=wechat_stack.rasa_url,
        index=wechat_stack.index,
        conversation_key=wechat_stack.conversation_key,
        tracker_database_url=f"sqlite:///{tmp_path / 'unused-trackers.db'}",
    )
    openid = new_openid()
    with serve_in_thread(settings) as slow:
        pushed = WeChatPlatform().push(http, slow, text_xml(openid, HEALTH_QUESTION, msg_id()))
        assert pushed.response.status_code == 200 and pushed.response.text == "success"
        sent = wechat_stack.api.wait_for(openid)
    assert len(sent) == 1 and "狂犬" in sent[0] and sent[0].count("来源：《") == 1
    assert citizen_turns(wechat_stack, openid) == 1


def test_a_forged_signature_gets_403_and_an_xml_bomb_400(wechat_stack: WeChatStack, http: httpx.Client) -> None:
    openid = new_openid()
    forged = WeChatPlatform(token="forgedtoken99").push(http, wechat_stack.url, text_xml(openid, "你好", msg_id()))
    assert forged.response.status_code == 403
    params, body = WeChatPlatform().request(BILLION_LAUGHS)
    bomb = http.post(f"{wechat_stack.url}/channels/wechat", params=params, content=body)
    assert bomb.status_code == 400
    assert citizen_turns(wechat_stack, openid) == 0
