"""WeChat's rendering of a turn: sources once as 《title》 + URL, numbered options, messages within 2048 bytes."""

from __future__ import annotations

from bot.channels.wechat.render import (
    CUT,
    MAX_MESSAGE_BYTES,
    MAX_PARTS,
    OPTIONS_HEAD,
    chosen,
    rating_request,
    rating_score,
    render,
)
from bot.conversation.core import Reply

CITATION = {"doc_id": "d1", "title": "出生医学证明办理指南", "section": "全文", "url": "https://example.gov.cn/birth"}


def test_the_source_line_of_the_answer_is_replaced_by_one_title_line_and_its_url() -> None:
    reply = Reply(
        "补办需要身份证。\n来源：《出生医学证明办理指南》（卫发〔2020〕1号） 全文 https://example.gov.cn/birth"
    )
    reply.citations.append(CITATION)
    rendered = render([reply, Reply("还有其他问题吗？", citations=[CITATION])])
    assert rendered.parts == [
        "补办需要身份证。\n\n还有其他问题吗？\n\n来源：《出生医学证明办理指南》\nhttps://example.gov.cn/birth"
    ]
    assert rendered.options is None


def test_a_text_without_citations_keeps_a_line_that_merely_starts_like_a_source() -> None:
    assert render([Reply("来源：您提供的信息")]).parts == ["来源：您提供的信息"]


def test_buttons_become_numbered_options_across_the_turn() -> None:
    rendered = render(
        [
            Reply("很抱歉给您带来不便。", buttons=[{"title": "转人工", "payload": "/request_human"}]),
            Reply("请问还有什么？", buttons=[{"title": "我要投诉", "payload": "/complaint"}]),
        ]
    )
    assert rendered.parts == [f"很抱歉给您带来不便。\n\n请问还有什么？\n\n{OPTIONS_HEAD}\n1. 转人工\n2. 我要投诉"]
    assert chosen("1", rendered.options) == "/request_human"
    assert chosen(" ２、", rendered.options) == "/complaint"
    assert chosen("我要投诉", rendered.options) == "/complaint"
    assert chosen("3", rendered.options) is None and chosen("0", rendered.options) is None
    assert chosen("1", None) is None


def test_a_long_answer_is_cut_at_line_breaks_within_the_limit_with_the_sources_last() -> None:
    card = "\n".join(f"第{n}项：居民身份证原件及复印件，户口簿，出生医学证明原件，申请表。" for n in range(40))
    rendered = render([Reply(card, citations=[CITATION])])
    assert 2 <= len(rendered.parts) <= MAX_PARTS
    assert all(len(part.encode()) <= MAX_MESSAGE_BYTES for part in rendered.parts)
    assert "\n".join(rendered.parts).replace("\n\n来源", "\n来源").split("\n")[:40] == card.split("\n")
    assert rendered.parts[-1].endswith("来源：《出生医学证明办理指南》\nhttps://example.gov.cn/birth")


def test_an_answer_too_long_for_three_messages_is_cut_short_keeping_its_sources() -> None:
    rendered = render([Reply("一二三四五六七八九十。" * 1000, citations=[CITATION])])
    assert len(rendered.parts) == MAX_PARTS
    assert all(len(part.encode()) <= MAX_MESSAGE_BYTES for part in rendered.parts)
    assert CUT in rendered.parts[-1] and rendered.parts[-1].endswith("https://example.gov.cn/birth")


def test_a_rating_request_is_answered_with_a_digit() -> None:
    request = rating_request("请为本次服务打分：1分很不满意，5分非常满意。")
    assert request.parts[0].endswith("请直接回复数字1到5。")
    assert rating_score("5", request.options) == 5 and rating_score("３分", request.options) == 3
    assert rating_score("6", request.options) is None and rating_score("5", None) is None
    assert rating_score("5", {"kind": "buttons", "choices": []}) is None
