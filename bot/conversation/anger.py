"""Anger (情绪激动) in a citizen's message: apologise and offer a human or a complaint.

Rules, not a model: the signals a hotline operator would notice are few and explicit — shouting
punctuation, insults, and the "I have called many times and nobody cares" pattern.
"""

from __future__ import annotations

import re
import unicodedata

APOLOGY = "非常抱歉给您带来不好的体验，您的心情我们理解。我可以马上为您转人工客服，或者帮您登记投诉。"

_INSULT = re.compile(
    r"垃圾|废物|混蛋|王八蛋|他妈|妈的|狗屁|滚(蛋|开|吧)|去死|傻逼|sb|SB|草泥马|什么玩意|脑子有病|不要脸|无耻|骗子"
)
_NOBODY_CARES = re.compile(
    r"(打了|找了|反映了|投诉了|问了)(好)?(几|多|无数|很多|N|n|十几|\d+)(次|遍|回)"
    r"|没(有)?人(管|理|处理|回复|负责)|踢皮球|推来推去|不作为|敷衍|石沉大海|忍无可忍|气死"
)
_SHOUTING = re.compile(r"[!！]{3,}|[?？]{3,}|[!！?？]{4,}")


_THANKS = re.compile(r"谢谢|感谢|太好了|辛苦")


def is_angry(text: str) -> bool:
    text = unicodedata.normalize("NFKC", text)
    if _INSULT.search(text) or _NOBODY_CARES.search(text):
        return True
    # "谢谢！！！" shouts too, but for joy.
    return bool(_SHOUTING.search(text)) and not _THANKS.search(text)
