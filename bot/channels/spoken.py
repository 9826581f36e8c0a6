"""Replies for the ear: what a phone caller hears (bot/channels/twilio_voice.py).

A caller cannot see a link, a list or an emoji, and a speech engine reads "12320" as a quantity (一万二千三百二十):
so URLs, markdown, emoji and the source line go; numbers a caller must be able to dial or quote back are read digit
by digit, the way people say them on the phone (1 is 幺), in groups: ticket numbers by their parts, mobile numbers
3-4-4, landlines by area code, hotlines (120, 12320, …) as one group. Dates, amounts and counts stay as they are:
the engine reads those well. An answer is heard one or two sentences at a time.
"""

from __future__ import annotations

import re

from bot.channels.plain_text import cut, sentences, without_citation_lines, without_markdown, without_urls

_DIGITS = str.maketrans("0123456789", "零幺二三四五六七八九")
GROUP = "，"  # a short pause between groups of digits

_TICKET = re.compile(r"(?<!\d)(\d{5})-(\d{8})-(\d{6})(?!\d)")
_MASKED_MOBILE = re.compile(r"(?<!\d)(1\d{2})\*{4}(\d{4})(?!\d)")
_MOBILE = re.compile(r"(?<![\d*])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?![\d*])")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?(\d{3,4})[- ]?(\d{4})(?!\d)")
#: Short numbers callers dial: 110, 119, 120, 122 and the 123xx service lines.
_UNIT = "元块天个分米岁%年月日号次人万千百条位"
_HOTLINE = re.compile(rf"(?<![\d.])(11[029]|12[02]|12\d{{3}}|95\d{{3}}|96\d{{3}})(?![\d.]|\s*[{_UNIT}])")
_CALLED = re.compile(r"(拨打|致电|热线|电话|号码|呼叫|打)\s*$")
_ANY_NUMBER = re.compile(r"(?<![\d.])\d{3,6}(?![\d.])")
#: Emoji and pictographs, with the joiners and selectors that build them.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff\U0001f1e6-\U0001f1ff\ufe0f\u200d\u20e3]"
)
_BRACKETED = re.compile(r"【([^】\n]{1,40})】")
_LEADING_ELLIPSIS = re.compile(r"^[…\s]+")
_SPACES = re.compile(r"[ \t\u3000]+")

#: One part of an answer: one or two sentences, at most about this many characters.
PART_CHARS = 90


def digit_by_digit(number: str) -> str:
    """幺二三二零: each digit as said on the phone."""
    return re.sub(r"\D", "", number).translate(_DIGITS)


def _groups(*groups: str) -> str:
    return GROUP.join(digit_by_digit(group) for group in groups)


def _hotline(match: re.Match[str]) -> str:
    return digit_by_digit(match.group(1))


def _called_number(text: str) -> str:
    """Any 3–6 digit number right after 拨打/热线/电话…: a number to dial, read digit by digit."""
    out: list[str] = []
    last = 0
    for match in _ANY_NUMBER.finditer(text):
        out.append(text[last : match.start()])
        before = text[max(0, match.start() - 4) : match.start()]
        out.append(digit_by_digit(match.group()) if _CALLED.search(before) else match.group())
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def read_numbers(text: str) -> str:
    text = _TICKET.sub(lambda m: _groups(*m.groups()), text)
    text = _MASKED_MOBILE.sub(lambda m: GROUP.join((digit_by_digit(m[1]), "中间四位隐去", digit_by_digit(m[2]))), text)
    text = _MOBILE.sub(lambda m: _groups(*m.groups()), text)
    text = _LANDLINE.sub(lambda m: _groups(*m.groups()), text)
    text = _HOTLINE.sub(_hotline, text)
    return _called_number(text)


def for_the_ear(text: str) -> str:
    """`text` as it should be spoken: no source line, URL, markdown or emoji; numbers read well; lines joined."""
    text = without_urls(without_markdown(without_citation_lines(text)))
    text = _EMOJI.sub("", text)
    text = _BRACKETED.sub(r"\1，", text)
    text = read_numbers(text)
    lines = [_SPACES.sub(" ", line).strip(" ：:") for line in text.splitlines()]
    spoken = ""
    for line in filter(None, lines):
        if spoken and spoken[-1] not in "。！？；，,.!?;：:":
            spoken += "。"
        spoken += line
    spoken = spoken.replace("（）", "").replace("()", "")
    return _LEADING_ELLIPSIS.sub("", spoken).strip()


def in_parts(spoken: str, max_chars: int = PART_CHARS) -> list[str]:
    """One or two sentences at a time: the first part is said, the rest waits for "要听更多请按1"."""
    parts: list[str] = []
    current = ""
    count = 0
    for sentence in (piece for s in sentences(spoken) for piece in cut(s, max_chars)):
        if current and (count == 2 or len(current) + len(sentence) > max_chars):
            parts.append(current)
            current, count = "", 0
        current += sentence
        count += 1
    if current:
        parts.append(current)
    return parts
