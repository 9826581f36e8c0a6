"""Defined terms: what policy text defines inline, found at ingestion, so "what is X" gets the definition.

Policy prose coins its abbreviations where it first uses them and never again explains them:
推进行政决策公开、执行公开、管理公开、服务公开和结果公开（以下简称“五公开”）. A citizen asking
"五公开是哪五个公开" shares one word with that sentence and many with every later clause about 五公开,
so neither BM25 nor e5 ranks the definition first. The glossary records each term with its defining
sentence and the chunk (the clause) it came from; the retriever puts that clause first when a
question asks what the term is (index/retriever.py), and a glossary hit cites the clause it came from.

Four inline forms are recognised:
- 以下简称 / 简称 / 以下称 in brackets: 政务（行政）服务中心（以下简称服务中心）;
- “X”是指… / X是指… / X系指…;
- “X”，即… / X，即…;
- a numeric abbreviation right after the items it counts, the numbers adding up to the items:
  随机抽取检查对象、随机抽取执法人员、检查结果公开的“双随机一公开”（2 + 1 = 3 items).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from index.documents import Chunk
from index.normalize import normalize_for_search

_OPEN, _CLOSE = '“"「『', '”"」』'
_TERM = rf"[{_OPEN}]?([^{_OPEN}{_CLOSE}（）()，。；：、,;:\s]{{2,16}})[{_CLOSE}]?"
_ABBREVIATION = re.compile(rf"[（(]\s*(?:以下)?(?:简称|称|统称)[为:：]?\s*{_TERM}\s*[）)]")
_QUOTED = rf"[{_OPEN}]([^{_OPEN}{_CLOSE}]{{2,16}})[{_CLOSE}]"
_BARE = r"(?:^|(?<=[，。；：、,;:\s]))([^，。；：、,;:\s“”\"（）()]{2,10})"
_MEANS = re.compile(rf"(?:{_QUOTED}|{_BARE})\s*[，,]?\s*(?:是指|系指|指的是)")
_THAT_IS = re.compile(rf"(?:{_QUOTED}|{_BARE})\s*[，,]\s*即[:：]?")
_COUNTED = re.compile(rf"([^，。；：,;:]{{4,120}}?)的?{_QUOTED}")
_SO_CALLED = re.compile(r"^(?:本\S{1,4}?)?所称")
_NUMERALS = {"一": 1, "二": 2, "两": 2, "双": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?")
#: A defining sentence longer than this is cut to the clause (between commas) that holds the term.
MAX_DEFINITION_CHARS = 200


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    definition: str  # the defining sentence, verbatim from the chunk
    chunk_id: str
    doc_id: str
    section: tuple[str, ...]  # the clause it came from: what a glossary hit cites

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "section": list(self.section)}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> GlossaryEntry:
        return cls(**{**record, "section": tuple(record["section"])})


def _counted_items(text: str) -> int:
    """How many items an enumeration right before a term lists: A、B、C和D → 4; 0 when it is no list.

    Text ending on a conjunction (…、与“四个发展”) makes the term one more item, not their name.
    """
    text = text.strip()
    if "、" not in text or re.search(r"[与和及对在把向、”\"」』]$", text):
        return 0
    items = text.split("、")
    items[-1:] = [part for part in re.split(r"和|及|与", items[-1]) if part]
    return len(items) if all(len(item) <= 24 for item in items) else 0


def _numeral_sum(term: str) -> int:
    return sum(_NUMERALS.get(char, 0) for char in term)


def _terms(sentence: str) -> list[str]:
    terms = [m.group(1) for m in _ABBREVIATION.finditer(sentence)]
    for pattern in (_MEANS, _THAT_IS):
        terms += [m.group(1) or m.group(2) for m in pattern.finditer(sentence)]
    for match in _COUNTED.finditer(sentence):
        items, term = match.group(1), match.group(2)
        if _numeral_sum(term) >= 2 and _counted_items(items) == _numeral_sum(term):
            terms.append(term)
    # 本办法所称X，即…: the term is X.
    return [_SO_CALLED.sub("", term).strip() for term in terms if _SO_CALLED.sub("", term).strip()]


def _definition(sentence: str, term: str) -> str:
    sentence = sentence.strip()
    if len(sentence) <= MAX_DEFINITION_CHARS:
        return sentence
    clauses = re.split(r"(?<=[，,])", sentence)
    holding = next((c for c in clauses if term in c), sentence)
    return holding.strip("，, ")[:MAX_DEFINITION_CHARS]


def extract_glossary(chunks: list[Chunk]) -> list[GlossaryEntry]:
    """Every term the chunks define, once per defining chunk, with the first defining sentence in it.

    A term defined by several clauses (a FAQ corpus answers "什么是宗地" more than once) keeps them
    all: which of them answers best is the ranking's call, not the order of the files.
    """
    entries: dict[tuple[str, str], GlossaryEntry] = {}
    for chunk in chunks:
        for sentence in _SENTENCE.findall(chunk.text):
            for term in _terms(sentence):
                key = (normalize_for_search(term), chunk.chunk_id)
                if key not in entries:
                    entries[key] = GlossaryEntry(
                        term, _definition(sentence, term), chunk.chunk_id, chunk.doc_id, chunk.section
                    )
    return list(entries.values())


_END = r"\s*(?:呢|啊|呀|吗|哈)?\s*(?:[？?。，,!！；;]|$)"
#: Right after the term, words that ask what it is or what it covers, ending the question there:
#: X是什么意思, X是哪五个, X包括哪些内容. "X有哪些要求" or "X是什么时候" ask about something else.
_CUES_AFTER = re.compile(
    r"^[”\"」』]?\s*(?:到底|究竟|具体)?\s*(?:"
    r"(?:是什么意思|是啥意思|什么意思|啥意思|的意思|的含义|的定义|是指什么|指什么|指的是什么|指的是啥|是什么|是啥|是个啥)"
    r"|(?:是|有|包括|包含|分为|分)?(?:哪些|哪几[个种项类]|几[个种项类]|什么)(?:内容|方面|部分)?"
    r"|是哪[一二两三四五六七八九十几]?[个种项类些]?\w{0,4}"
    rf"){_END}"
)
#: …or right before it, the term then ending the question (什么是宗地？, but not 什么是宗地测绘).
_CUES_BEFORE = re.compile(r"(?:什么是|啥是|什么叫|啥叫|何谓|何为|解释一下|介绍一下)\s*[“\"「『]?$")
_ENDS = re.compile(rf"^[”\"」』]?{_END}")


def asks_definition(query: str, term: str) -> bool:
    """The question is about the term itself: it asks what it is, or it is little more than the term.

    The cue must touch the term, and the question must stop there: 推进五公开要做好哪些工作 asks about
    work, 什么是土地登记申请人 about another, longer term.
    """
    text, key = normalize_for_search(query), normalize_for_search(term)
    at = text.find(key)
    if at < 0:
        return False
    before, after = text[:at], text[at + len(key) :]
    if _CUES_AFTER.search(after) or (_CUES_BEFORE.search(before) and _ENDS.search(after)):
        return True
    return len(re.sub(r"[\W_]", "", before + after)) <= 2
