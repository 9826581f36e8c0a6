"""A reply as plain text, for the channels that cannot show links, cards or buttons (phone, SMS).

Only form, never content: the source line an answer ends with (actions/answering.py Citation.line) is taken off,
because the channel says its sources its own way; markdown marks go, their words stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

#: An answer's own source line: "来源：《title》…" (actions/answering.py).
_CITATION_LINE = re.compile(r"^\s*来源[:：].*$", re.MULTILINE)
_URL = re.compile(r"(?:https?://|www\.)[^\s，。；！？、）)】」』\"'<>]+", re.IGNORECASE)
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^)\s]+)\)")
#: **bold**, __bold__, `code`; never the stars of a masked number (139****5678).
_MD_EMPHASIS = re.compile(r"(?<![*_0-9A-Za-z])(\*\*|__|`)(?=[^\s*_])(.+?)(?<=[^\s*_])\1(?![*_0-9A-Za-z])")
_MD_LINE_MARK = re.compile(r"^\s{0,3}(?:#{1,6}\s+|[-*+•·]\s+|>\s?|\d{1,2}[.)、]\s+)", re.MULTILINE)
#: A sentence: up to and with its closing mark (or a line end).
_SENTENCE = re.compile(r"[^。！？；!?;\n]+(?:[。！？；!?;]+[”’」』）)]?|$)|[。！？；!?;]+", re.MULTILINE)
#: Where a sentence that is too long may be cut, best first.
_PAUSES = ("，", "、", "：", ",", " ")
TITLE_MAX_CHARS = 24


def without_citation_lines(text: str) -> str:
    return _CITATION_LINE.sub("", text).strip()


def without_urls(text: str) -> str:
    return _URL.sub("", text)


def without_markdown(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    return _MD_LINE_MARK.sub("", text)


def sentences(text: str) -> list[str]:
    """The sentences of `text`, each with its closing mark; a line without one is a sentence too."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def cut(sentence: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """A sentence longer than `limit` (as `measure` counts) in pieces, each cut at a pause where there is one."""
    pieces: list[str] = []
    rest = sentence
    while measure(rest) > limit:
        head = rest[:limit]
        while measure(head) > limit:
            head = head[:-1]
        at = max(head.rfind(mark) for mark in _PAUSES)
        if at > len(head) // 3:
            head = head[: at + 1]
        pieces.append(head)
        rest = rest[len(head) :]
    if rest:
        pieces.append(rest)
    return pieces


def source_line(citations: Iterable[Mapping[str, str]], max_chars: int = 60) -> str:
    """The sources as one short line: "来源：《title》section；《…》", each document once."""
    seen: list[str] = []
    parts: list[str] = []
    for citation in citations:
        title = (citation.get("title") or "").strip()
        if not title or citation.get("doc_id", title) in seen:
            continue
        seen.append(citation.get("doc_id", title))
        short = title if len(title) <= TITLE_MAX_CHARS else title[: TITLE_MAX_CHARS - 1] + "…"
        section = (citation.get("section") or "").strip()
        parts.append(f"《{short}》{section if section and section != '全文' else ''}")
    if not parts:
        return ""
    line = "来源：" + "；".join(parts)
    return line if len(line) <= max_chars else line[: max_chars - 1] + "…"
