"""Replies rendered for their medium: for the ear (phone) and for three SMS segments."""

from __future__ import annotations

import pytest

from bot.channels.plain_text import source_line, without_markdown
from bot.channels.sms_text import MAX_UNITS, MORE_HINT, pack, render, segments, units
from bot.channels.spoken import digit_by_digit, for_the_ear, in_parts
from bot.channels.twilio_voice import CallInput, Misses, keyed_text


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("工单号：12320-20261123-000042。", "工单号：幺二三二零，二零二六幺幺二三，零零零零四二。"),
        ("请拨打120急救电话或110报警，火灾拨打119。", "请拨打幺二零急救电话或幺幺零报警，火灾拨打幺幺九。"),
        ("心理援助热线12356", "心理援助热线幺二三五六"),
        ("手机13912345678", "手机幺三九，幺二三四，五六七八"),
        ("电话：+86 139 1234 5678", "电话：幺三九，幺二三四，五六七八"),
        ("联系电话：139****5678", "联系电话：幺三九，中间四位隐去，五六七八"),
        ("座机010-12345678", "座机零幺零，幺二三四，五六七八"),
        ("拨打96120预约", "拨打九六幺二零预约"),
        ("请致电8765432", "请致电8765432"),  # seven digits after 致电 without an area code: not a number we know
        (
            "收费120元，30天内办结，2026年12月7日前。",
            "收费120元，30天内办结，2026年12月7日前。",
        ),  # amounts and dates stay
    ],
)
def test_numbers_are_read_as_callers_say_them(written: str, spoken: str) -> None:
    assert for_the_ear(written) == spoken


def test_the_ear_gets_no_url_markdown_emoji_or_source_line() -> None:
    text = (
        "【出生医学证明办理指南】以下是**申请材料**：\n- 父母身份证 👶\n"
        "- 详见 https://example.org/a?b=1 或 www.example.org\n"
        "来源：《出生医学证明办理指南》 全文 https://example.org/g"
    )
    assert for_the_ear(text) == "出生医学证明办理指南，以下是申请材料。父母身份证。详见 或"


def test_an_answer_is_heard_one_or_two_sentences_at_a_time() -> None:
    text = "第一句。第二句！第三句？第四句；第五句。"
    assert in_parts(text) == ["第一句。第二句！", "第三句？第四句；", "第五句。"]
    long = "很长的句子，" * 30 + "完。"
    assert all(len(part) <= 90 for part in in_parts(long)) and "".join(in_parts(long)) == long


def test_digits_by_digit() -> None:
    assert digit_by_digit("12320") == "幺二三二零"


def test_keys_become_text_the_core_reads() -> None:
    assert keyed_text("20261123000042") == "12320-20261123-000042"
    assert keyed_text("1232020261123000042") == "12320-20261123-000042"
    assert keyed_text("13912345678") == "13912345678" and keyed_text("5678") == "5678"


def test_what_twilio_posted_is_understood_or_not() -> None:
    assert CallInput.from_form({"CallSid": "CA1", "Digits": "1#"}).understood() == "1"
    heard = CallInput.from_form({"CallSid": "CA1", "SpeechResult": "我要投诉。", "Confidence": "0.9"})
    assert heard.understood() == "我要投诉"
    noise = CallInput.from_form({"CallSid": "CA1", "SpeechResult": "嗯", "Confidence": "0.1"})
    assert noise.understood() is None and noise.heard_something
    assert CallInput.from_form({"CallSid": "CA1"}).understood() is None
    assert CallInput.from_form({"CallSid": "CA1", "From": "anonymous"}).caller is None
    assert Misses.from_query({"misses": "2", "noise": "1"}) == Misses(2, True)
    assert Misses.from_query({"misses": "lots"}) == Misses(0, False)


def test_segments_count_utf16_units() -> None:
    assert segments("好" * 70) == 1 and segments("好" * 71) == 2 and segments("好" * 201) == 3
    assert units("😀") == 2 and segments("😀" * 35) == 1 and segments("😀" * 36) == 2
    assert MAX_UNITS == 201


def test_an_sms_reply_is_cut_at_sentence_boundaries_into_parts_that_fit() -> None:
    sentence = "出生医学证明由具有助产技术服务资质的医疗机构签发。"
    reply = render([sentence * 20], [{"doc_id": "g", "title": "出生医学证明办理指南", "section": "全文"}], [])
    parts = [reply.first, *reply.rest]
    assert all(segments(part) <= 3 for part in parts)
    assert all(part.endswith(MORE_HINT) for part in [reply.first.split("\n")[0], *reply.rest[:-1]])
    assert not reply.rest[-1].endswith(MORE_HINT)
    body = "".join(part.split("\n来源")[0].removesuffix(MORE_HINT) for part in parts)
    assert body == sentence * 20  # cut only between sentences, nothing lost
    assert reply.first.endswith("来源：《出生医学证明办理指南》")


def test_a_sentence_longer_than_a_part_is_cut_at_a_pause() -> None:
    parts = pack("，".join(["很长的一句话里有很多逗号"] * 40) + "。", 190, 190)
    assert all(units(part) <= 190 for part in parts) and all(part.endswith("，") for part in parts[:-1])


def test_buttons_become_numbered_choices() -> None:
    buttons = [{"title": "确认提交", "payload": "确认"}, {"title": "修改", "payload": "修改"}]
    reply = render(["请核对。"], [], buttons)
    assert reply.first == "请核对。\n回复数字：1 确认提交，2 修改" and reply.choices == {"1": "确认", "2": "修改"}


def test_markdown_goes_but_a_masked_number_stays() -> None:
    assert without_markdown("**注意**：电话139****5678，见[指南](https://a.b)") == "注意：电话139****5678，见指南"


def test_the_source_line_is_short() -> None:
    citations = [
        {"doc_id": "a", "title": "一个非常非常长的文件标题，长到在短信里放不下的程度为止", "section": "第三条"},
        {"doc_id": "a", "title": "重复", "section": ""},
        {"doc_id": "b", "title": "健康知识常见问题", "section": "全文"},
    ]
    line = source_line(citations)
    assert line.startswith("来源：《一个非常非常长的文件标题") and len(line) <= 60 and "重复" not in line
