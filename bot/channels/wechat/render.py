"""A turn's replies as WeChat text: the answer, its sources as a short 《title》 line with the URL (WeChat links a
bare URL), and buttons as numbered options the citizen answers by replying the number (or the option's words).

A text message holds at most 2048 bytes, so a long answer (a 一次告知 card runs to 3 KB) is cut at line
breaks into a few messages; the first is the webhook's reply and the rest go out through the customer-service
API, within its quota (bot/channels/wechat/contacts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.conversation.core import Reply

#: WeChat's limit on a text message's content, in UTF-8 bytes (passive replies and the customer-service API).
MAX_MESSAGE_BYTES = 2048
#: At most this many messages for one answer: the customer-service API allows 5 after a citizen's message,
#: and an operator may need the rest.
MAX_PARTS = 3
CUT = "……（内容较长，其余从略，详见来源链接）"
OPTIONS_HEAD = "请回复序号选择："
RATING_HINT = "请直接回复数字1到5。"
_SOURCE_PREFIX = "来源："
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


@dataclass(frozen=True)
class Rendered:
    parts: list[str]
    #: What a numbered reply to this answer stands for (stored with the contact), or None.
    options: dict[str, Any] | None = None


def render(replies: list[Reply]) -> Rendered:
    bodies = [_body(reply) for reply in replies]
    sources: list[str] = []
    choices: list[list[str]] = []
    for reply in replies:
        for citation in reply.citations:
            line = f"{_SOURCE_PREFIX}《{citation['title']}》" + (f"\n{citation['url']}" if citation.get("url") else "")
            if line not in sources:
                sources.append(line)
        for button in reply.buttons:
            choice = [button["title"], button["payload"]]
            if choice not in choices:
                choices.append(choice)
    tail = list(sources)
    if choices:
        tail.append(OPTIONS_HEAD + "".join(f"\n{n}. {title}" for n, (title, _) in enumerate(choices, 1)))
    parts = _split("\n\n".join(b for b in bodies if b), "\n".join(tail))
    return Rendered(parts, {"kind": "buttons", "choices": choices} if choices else None)


def rating_request(text: str) -> Rendered:
    """满意度评议 on WeChat: the question, answered with a bare digit."""
    return Rendered([f"{text}\n{RATING_HINT}"], {"kind": "rating"})


def chosen(text: str, options: dict[str, Any] | None) -> str | None:
    """The payload a citizen's reply picks from the options last shown (by number or by the option's words)."""
    if not options or options.get("kind") != "buttons":
        return None
    said = text.strip().translate(_FULL_WIDTH_DIGITS).rstrip(".、")
    choices = options.get("choices") or []
    if said.isdigit() and 1 <= int(said) <= len(choices):
        return str(choices[int(said) - 1][1])
    return next((str(payload) for title, payload in choices if said == title), None)


def rating_score(text: str, options: dict[str, Any] | None) -> int | None:
    """The 1–5 score a reply to a rating request gives, or None."""
    said = text.strip().translate(_FULL_WIDTH_DIGITS).removesuffix("分")
    if options and options.get("kind") == "rating" and said in {"1", "2", "3", "4", "5"}:
        return int(said)
    return None


def _body(reply: Reply) -> str:
    """The reply's text without the source line the answer already carries: the sources are rendered once."""
    lines = reply.text.strip().split("\n")
    if reply.citations:
        lines = [line for line in lines if not line.startswith(_SOURCE_PREFIX)]
    return "\n".join(lines).strip()


def _size(text: str) -> int:
    return len(text.encode())


def _split(body: str, tail: str) -> list[str]:
    """`body` then `tail` in messages of at most MAX_MESSAGE_BYTES, cut at line breaks; the tail (sources and
    options) whole in the last one; at most MAX_PARTS messages, the body cut short if need be."""
    lines: list[str] = []
    for line in body.split("\n"):
        lines += _pieces(line, MAX_MESSAGE_BYTES)
    parts: list[str] = []
    current = ""
    for line in lines:
        joined = f"{current}\n{line}" if current else line
        if _size(joined) > MAX_MESSAGE_BYTES:
            parts.append(current)
            current = line
        else:
            current = joined
    last = f"{current}\n\n{tail}" if current and tail else current or tail
    if _size(last) <= MAX_MESSAGE_BYTES:
        parts.append(last)
    else:
        parts += [current, tail] if current else [tail]
    if len(parts) > MAX_PARTS:
        kept = parts[: MAX_PARTS - 1]
        room = MAX_MESSAGE_BYTES - _size(f"{CUT}\n\n{tail}")
        kept.append(f"{_truncate(parts[MAX_PARTS - 1], room)}{CUT}\n\n{tail}".strip())
        parts = kept
    return [part for part in parts if part]


def _pieces(line: str, limit: int) -> list[str]:
    """A line longer than `limit` bytes in pieces that fit (at a sentence end when there is one)."""
    pieces: list[str] = []
    while _size(line) > limit:
        cut = _truncate(line, limit)
        end = max(cut.rfind(mark) for mark in "。；！？;")
        cut = cut[: end + 1] if end > len(cut) // 2 else cut
        pieces.append(cut)
        line = line[len(cut) :]
    return [*pieces, line]


def _truncate(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-8 bytes (never half a character)."""
    return text.encode()[: max(limit, 0)].decode("utf-8", errors="ignore")
