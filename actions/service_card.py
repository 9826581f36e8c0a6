"""一次告知: a service guide's card, every field at once, as text for every channel and as fields for the web.

The card is built once (actions/answering.py) and said as text: one line per field, "heading：value", under a
title line. Phone, SMS and WeChat read that text. The web folds the card (key fields first, the rest behind a
click), so the gateway reads the fields back from the same text with `read_card`: the transcript keeps text
only, and a page reloaded from the transcript must fold the card as the live answer did. Both directions live
here, so the text and its reading cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: What a citizen needs first (材料, 时限, 地点), in this order; a channel that can fold shows the rest folded.
KEY_FIELDS = ("申请材料", "办理时限", "办理地点与时间")
_ASKED_LINE = "您问的{label}：{text}"
_ASKED = re.compile(r"^您问的(?P<label>[^：\n]+)：")
_TITLE_LINE = "【{title}】以下一次性告知办理所需全部信息："
_TITLE = re.compile(r"^【(?P<title>[^】\n]+)】以下一次性告知办理所需全部信息：$")
#: A field line: a short heading (a guide's "四、申请材料"), a full-width colon, the value on the same line.
_FIELD = re.compile(r"^(?P<label>[^：，。；！？\s]{2,20})：(?P<value>\S.*)$")
_ORDINAL = re.compile(r"^[一二三四五六七八九十]+、")


@dataclass(frozen=True)
class CardField:
    label: str  # the guide's heading, e.g. 四、申请材料
    value: str

    @property
    def name(self) -> str:
        """The heading without its ordinal: 申请材料."""
        return _ORDINAL.sub("", self.label)

    @property
    def key(self) -> bool:
        return self.name in KEY_FIELDS


@dataclass(frozen=True)
class ServiceCard:
    title: str
    fields: tuple[CardField, ...]

    @classmethod
    def of(cls, title: str, clauses: list[tuple[str, str]]) -> ServiceCard:
        """The card of a guide's clauses (heading, text) in order: a heading met again (a long field cut
        into several chunks) continues its field."""
        values: dict[str, list[str]] = {}
        for heading, text in clauses:
            body = " ".join(text.split())
            if heading and body:
                values.setdefault(heading, []).append(body)
        return cls(title, tuple(CardField(heading, " ".join(parts)) for heading, parts in values.items()))

    def text(self) -> str:
        return "\n".join([_TITLE_LINE.format(title=self.title), *(f"{f.label}：{f.value}" for f in self.fields)])

    def json(self, asked: str | None = None) -> dict[str, Any]:
        """The field `asked` about first, then the key fields (材料, 时限, 地点), then the rest in the guide's
        order; `key` marks the ones to show open."""
        rank = {name: i + 1 for i, name in enumerate(KEY_FIELDS)}

        def order(field: CardField) -> tuple[int, int]:
            first = 0 if field.label == asked else rank.get(field.name, len(rank) + 1)
            return first, self.fields.index(field)

        return {
            "title": self.title,
            "fields": [
                {"label": f.label, "value": f.value, "key": f.key or f.label == asked}
                for f in sorted(self.fields, key=order)
            ],
        }


def asked_line(label: str, text: str) -> str:
    """The line a card answer opens with: the field the question was about (its excerpt)."""
    return _ASKED_LINE.format(label=label, text=text)


@dataclass(frozen=True)
class CardReading:
    """A reply that holds a card: what is said before it (a notice, the excerpt of the field asked about), the
    card, and what follows it (an offer)."""

    intro: str
    card: ServiceCard
    outro: str

    def json(self) -> dict[str, Any]:
        """For a page that folds the card: the field asked about is shown whole, open and first, so its
        excerpt leaves the intro (it would be said twice)."""
        labels = {field.label for field in self.card.fields}
        intro, asked = [], None
        for line in self.intro.split("\n") if self.intro else []:
            match = _ASKED.match(line)
            if match and match["label"] in labels and asked is None:
                asked = match["label"]
            else:
                intro.append(line)
        return {**self.card.json(asked), "intro": "\n".join(intro), "outro": self.outro}


def read_card(text: str) -> CardReading | None:
    """The card in a reply's text, or None when it holds none. The card runs from its title line to the
    last field line after it."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if _TITLE.match(line)), None)
    if start is None:
        return None
    title = _TITLE.match(lines[start])
    assert title is not None
    fields: list[CardField] = []
    end = start + 1
    while end < len(lines) and (field := _FIELD.match(lines[end])):
        fields.append(CardField(field["label"], field["value"]))
        end += 1
    if not fields:
        return None
    card = ServiceCard(title["title"], tuple(fields))
    return CardReading("\n".join(lines[:start]).strip(), card, "\n".join(lines[end:]).strip())
