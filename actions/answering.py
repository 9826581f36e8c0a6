"""Answers from the knowledge index, always with their source, never invented.

Plain Python, no Rasa: the Rasa action, the CLI and the tests all call `Answerer.answer`.
Only 生效 + 主动公开 text is quoted (the retriever guarantees it). When a question's best match is a
依申请公开 document, the answer names it (title, 发文字号, issuer) and offers the request form instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from actions.service_card import ServiceCard, asked_line
from index.documents import CatalogueEntry, Chunk
from index.retriever import Hit, Retriever
from index.tokenizer import tokenize
from index.trust import TrustModel, default_trust_model

#: Longest passage read out: a hotline answer is heard, not skimmed.
MAX_ANSWER_CHARS = 220

NO_ANSWER = (
    "抱歉，知识库中没有找到能够可靠回答这个问题的内容，为避免误导，我不作猜测。"
    "您可以转人工客服，或留下问题和联系方式，由工作人员答复您。"
)
BY_REQUEST = (
    "您问的内容见{reference}。这份文件属于依申请公开的政府信息，不能在这里提供原文。"
    "您可以申请政府信息公开，我来帮您登记，申请的文件已为您填好。"
)
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?")


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    section: str
    url: str
    date: str = ""
    doc_number: str = ""

    @classmethod
    def of(cls, hit: Hit, section: str | None = None) -> Citation:
        return cls(
            hit.doc_id, hit.title, hit.section if section is None else section, hit.url, hit.date, hit.doc_number
        )

    def line(self) -> str:
        """The source as a line of text, for text that travels without its citations (an operator's reply that
        quotes a passage). An Answer's text never carries it: the channels show `citations` their own way."""
        parts = [f"《{self.title}》"]
        if self.doc_number:
            parts.append(f"（{self.doc_number}）")
        if self.section:
            parts.append(f" {self.section}")
        if self.date:
            parts.append(f"，{self.date}")
        return "来源：" + "".join(parts) + (f" {self.url}" if self.url else "")


@dataclass(frozen=True)
class Answer:
    """`text` is what is said, without its sources: they travel in `citations`, and each channel shows them its
    own way (the web as links, SMS as a short line, the phone not at all), so they are never shown twice."""

    kind: Literal["passage", "service_guide", "by_request", "no_answer"]
    text: str
    citations: list[Citation] = field(default_factory=list)
    #: The 依申请公开 document a `by_request` answer names, for the request form.
    document: CatalogueEntry | None = None
    #: The calibrated probability that the best passage answers the question (index/trust.py), whatever
    #: the answer's kind: the conversation weighs it against the intent's confidence.
    trust: float = 0.0

    @property
    def found(self) -> bool:
        return self.kind != "no_answer"


def trim_to_point(text: str, question: str, max_chars: int = MAX_ANSWER_CHARS, anchor: str = "") -> str:
    """The run of sentences around the one that shares most words with the question.

    `anchor`: a sentence of the text that must be in the excerpt (a term's definition), which then leads it.
    """
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    anchor = " ".join(anchor.split())
    anchored = [i for i, s in enumerate(sentences) if anchor and anchor in s]
    wanted = set(tokenize(question))
    overlap = [len(wanted & set(tokenize(s))) for s in sentences]
    best = anchored[0] if anchored else max(range(len(sentences)), key=lambda i: (overlap[i], -i))
    start = end = best
    length = len(sentences[best])
    # Grow forward first (an answer usually follows its topic sentence), then backward.
    while end + 1 < len(sentences) and length + len(sentences[end + 1]) <= max_chars:
        end += 1
        length += len(sentences[end])
    while start > 0 and length + len(sentences[start - 1]) <= max_chars:
        start -= 1
        length += len(sentences[start])
    excerpt = "".join(sentences[start : end + 1])[:max_chars]
    return ("…" if start > 0 else "") + excerpt + ("…" if end + 1 < len(sentences) else "")


class Answerer:
    def __init__(self, retriever: Retriever, trust: TrustModel | None = None, min_trust: float | None = None):
        """`min_trust`: the probability from which a passage is trusted; default, the model's own (fitted on dev)."""
        self.retriever = retriever
        self.trust = trust or default_trust_model()
        self.min_trust = self.trust.threshold if min_trust is None else min_trust

    def answer(self, question: str) -> Answer:
        hits = self.retriever.search(question, k=3)
        trust = self.trust.trust(hits)
        trusted = bool(hits) and trust >= self.min_trust
        requested = self._by_request(question, hits[0].relevance if trusted else None)
        if requested is not None:
            # Nothing of its text is said: only what its metadata states, and how to ask for it.
            reply = BY_REQUEST.format(reference=requested.reference())
            return Answer("by_request", reply, document=requested, trust=trust)
        if not trusted:
            return Answer("no_answer", NO_ANSWER, trust=trust)
        best = hits[0]
        if best.kind == "service_guide":
            return replace(self._service_guide_card(best, question), trust=trust)
        citation = Citation.of(best)
        text = trim_to_point(best.text, question, anchor=best.definition)
        return Answer("passage", text, [citation], trust=trust)

    def _by_request(self, question: str, best_relevance: float | None) -> CatalogueEntry | None:
        """The 依申请公开 document the question is about: its stated title and keywords are close enough to the
        question (the cut fitted on dev, index/trust.py) and closer than the best trusted passage."""
        matches = self.retriever.catalogue_matches(question, k=1)
        if not matches or not matches[0].relevance >= self.trust.catalogue_min_cosine:
            return None
        if best_relevance is not None and best_relevance >= matches[0].relevance:
            return None
        return matches[0].entry

    def _service_guide_card(self, hit: Hit, question: str) -> Answer:
        """一次告知: every field of the guide at once, so nobody has to call back for the next one.

        The section that answers the question comes first; the whole card follows (actions/service_card.py).
        """
        lines: list[str] = []
        if hit.section:
            expanded = self.retriever.expander.expand(question).sparse if self.retriever.expander else question
            section, text = _closest_clause(self.retriever.chunk(hit.chunk_id), question, expanded)
            lines.append(asked_line(section[-1] if section else hit.section, trim_to_point(text, question)))
        # The guide's preamble (the sample notice) has no section: it is not a field.
        clauses = [
            (section[0], text)
            for chunk in self.retriever.document_chunks(hit.doc_id)
            for section, text in clauses_of(chunk)
            if section
        ]
        lines.append(ServiceCard.of(hit.title, clauses).text())
        return Answer("service_guide", "\n".join(lines), [Citation.of(hit, section="全文")])


def clauses_of(chunk: Chunk) -> list[tuple[tuple[str, ...], str]]:
    """The clauses a chunk holds, each with its own section path: one, or several merged (index/chunking.py)."""
    merged = chunk.extra.get("clauses")
    if merged:
        return [(tuple(section), text) for section, text in merged]
    return [(chunk.section, chunk.text)]


def _closest_clause(chunk: Chunk, question: str, expanded: str) -> tuple[tuple[str, ...], str]:
    """Of the clauses a chunk holds, the one the question is about: its heading shares most words with the
    question as retrieval read it (多少钱 → 收费), then its text; the first on a tie."""
    clauses = clauses_of(chunk)
    wanted = set(tokenize(expanded)) | set(tokenize(question))

    def overlap(clause: tuple[tuple[str, ...], str]) -> tuple[int, int]:
        section, text = clause
        return len(wanted & set(tokenize(section[-1] if section else ""))), len(wanted & set(tokenize(text)))

    return max(clauses, key=overlap)
