"""Query expansion from a small reviewed colloquial → formal lexicon (index/resources/query_lexicon.yml).

Citizens say 打听 and 卫健委, the documents 咨询 and 卫生健康委员会. BM25 only matches words the
passage contains, so the formal term is added to the BM25 query; the citizen's own words stay. A
misspelling (投素 for 投诉) is corrected in the query itself, for both BM25 and e5, since no passage
contains it. e5 otherwise reads the query as written: it already places 打听 near 咨询.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from index.normalize import normalize_for_search

LEXICON_FILE = "query_lexicon.yml"
MAX_ENTRIES = 80  # a reviewed list stays small enough to read; more belongs in a trained model


@dataclass(frozen=True)
class LexiconEntry:
    colloquial: tuple[str, ...]
    formal: str
    typo: bool
    why: str


@dataclass(frozen=True)
class ExpandedQuery:
    dense: str  # what e5 embeds: the query, misspellings corrected
    sparse: str  # what BM25 scores: the corrected query and the formal terms its words stand for
    added: tuple[str, ...]  # the formal terms added or substituted, for explaining a hit


class QueryExpander:
    def __init__(self, entries: list[LexiconEntry]):
        if len(entries) > MAX_ENTRIES:
            raise ValueError(f"the query lexicon has {len(entries)} entries; keep it at most {MAX_ENTRIES}")
        # Longest first, so that 12320热线 is seen before 热线.
        self._rules = sorted(
            ((word, normalize_for_search(word), entry) for entry in entries for word in entry.colloquial),
            key=lambda rule: -len(rule[1]),
        )

    @classmethod
    def from_yaml(cls, text: str) -> QueryExpander:
        records = yaml.safe_load(text) or []
        entries = []
        for number, record in enumerate(records, 1):
            try:
                colloquial = tuple(str(word) for word in record["from"])
                entry = LexiconEntry(colloquial, str(record["to"]), bool(record.get("typo", False)), record["why"])
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{LEXICON_FILE} entry {number}: needs from (a list), to and why") from exc
            if not colloquial or not entry.formal or not entry.why.strip():
                raise ValueError(f"{LEXICON_FILE} entry {number}: from, to and why must not be empty")
            entries.append(entry)
        return cls(entries)

    def expand(self, query: str) -> ExpandedQuery:
        text = normalize_for_search(query)
        dense = query  # e5 reads the citizen's own spelling (case, full-width), only misspellings corrected
        added: list[str] = []
        for word, normal, entry in self._rules:
            if normal not in text:
                continue
            if entry.typo:
                text = text.replace(normal, entry.formal)
                dense = dense.replace(word, entry.formal)
            if entry.formal not in added:
                added.append(entry.formal)
        synonyms = [formal for formal in added if formal not in text]
        return ExpandedQuery(dense, " ".join([text, *synonyms]), tuple(added))


@cache
def default_expander() -> QueryExpander:
    return QueryExpander.from_yaml((resources.files("index.resources") / LEXICON_FILE).read_text(encoding="utf-8"))
