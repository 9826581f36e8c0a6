"""Replies for SMS (bot/channels/twilio_sms.py): each message fits three segments, cut at a sentence boundary.

Chinese text travels as UCS-2: 70 UTF-16 code units in a single message, 67 in each segment of a concatenated one
(the rest of each segment carries the header that joins them), so three segments hold 201 units. A character
outside the Basic Multilingual Plane (most emoji) takes two units. What does not fit waits for "更多"; the sources
come as one short line, and buttons as numbered choices the citizen can reply with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.channels.plain_text import cut, sentences, source_line, without_citation_lines, without_markdown

SINGLE_UNITS = 70
SEGMENT_UNITS = 67
MAX_SEGMENTS = 3
MAX_UNITS = SEGMENT_UNITS * MAX_SEGMENTS  # 201
MORE_WORDS = frozenset({"更多", "more", "继续", "下一页"})
MORE_HINT = "（回复“更多”看下文）"


def units(text: str) -> int:
    """UTF-16 code units: what a UCS-2 segment counts."""
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    n = units(text)
    return 1 if n <= SINGLE_UNITS else math.ceil(n / SEGMENT_UNITS)


@dataclass(frozen=True)
class SmsReply:
    first: str  # what is sent now
    rest: list[str] = field(default_factory=list)  # what "更多" sends next, in order (each already fits)
    choices: dict[str, str] = field(default_factory=dict)  # "1" → the payload of the first button, …


def with_more_hint(part: str, more: bool) -> str:
    return f"{part}{MORE_HINT}" if more else part


def render(
    texts: Sequence[str], citations: Sequence[Mapping[str, str]], buttons: Sequence[Mapping[str, str]]
) -> SmsReply:
    """The turn's replies as SMS: the text in parts that fit (with the "更多" hint where more follows), the first part
    carrying the sources and the choices."""
    body = "\n".join(filter(None, (without_markdown(without_citation_lines(t)) for t in texts))).strip()
    choices = {str(i): b["payload"] for i, b in enumerate(buttons, 1) if i <= 9}
    footer_lines = [source_line(citations)]
    if choices:
        numbered = (f"{key} {button['title']}" for key, button in zip(choices, buttons, strict=False))
        footer_lines.append("回复数字：" + "，".join(numbered))
    footer = "\n".join(filter(None, footer_lines))
    budget = MAX_UNITS - units(MORE_HINT)
    first_budget = budget - (units(footer) + 1 if footer else 0)
    parts = pack(body, first_budget, budget)
    if not parts:
        parts = [""]
    more = len(parts) > 1
    first = "\n".join(filter(None, [with_more_hint(parts[0], more), footer]))
    rest = [with_more_hint(part, i < len(parts) - 2) for i, part in enumerate(parts[1:])]
    return SmsReply(first, rest, choices)


def pack(text: str, first_budget: int, budget: int) -> list[str]:
    """`text` in parts of whole sentences, the first within `first_budget` units, the others within `budget`; a
    sentence longer than a part is cut at a pause."""
    parts: list[str] = []
    current = ""

    def limit() -> int:
        return first_budget if not parts else budget

    for line in text.splitlines():
        glue = "\n"
        for sentence in sentences(line):
            for piece in cut(sentence, budget, units):
                candidate = f"{current}{glue}{piece}" if current else piece
                if current and units(candidate) > limit():
                    parts.append(current)
                    current = piece
                else:
                    current = candidate
                glue = ""
                while units(current) > limit():  # only the first part may be tighter than a piece
                    head, *tail = cut(current, limit(), units)
                    parts.append(head)
                    current = "".join(tail)
    if current:
        parts.append(current)
    return parts
