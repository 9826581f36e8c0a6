"""Answers from the knowledge index, always with their source, never invented.

Plain Python, no Rasa: the Rasa action, the CLI and the tests all call `Answerer.answer`.
Only 生效 + 主动公开 text is quoted (the retriever guarantees it). When a question's best match is a
依申请公开 document, the answer names it (title, 发文字号, issuer) and offers the request form instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from index.documents import CatalogueEntry
from index.retriever import Hit, Retriever
from index.tokenizer import tokenize

#: Below this query–passage cosine the best passage is not trusted as an answer. e5 cosines sit in a
#: narrow band; on our own questions in-scope top hits scored ≥ .859 and out-of-scope ones ≤ .862
#: (tests/test_relevance.py). To be re-calibrated on the NLU held-out set with the conversation issue.
MIN_RELEVANCE = 0.86
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
    kind: Literal["passage", "service_guide", "by_request", "no_answer"]
    text: str
    citations: list[Citation] = field(default_factory=list)
    #: The 依申请公开 document a `by_request` answer names, for the request form.
    document: CatalogueEntry | None = None
    #: How far the answer is trusted to answer the question, 0–1 (the question-or-request decision uses it).
    trust: float = 0.0

    @property
    def found(self) -> bool:
        return self.kind != "no_answer"


def trim_to_point(text: str, question: str, max_chars: int = MAX_ANSWER_CHARS) -> str:
    """The run of sentences around the one that shares most words with the question."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    wanted = set(tokenize(question))
    overlap = [len(wanted & set(tokenize(s))) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (overlap[i], -i))
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
    def __init__(self, retriever: Retriever, min_relevance: float = MIN_RELEVANCE):
        self.retriever = retriever
        self.min_relevance = min_relevance

    def answer(self, question: str) -> Answer:
        hits = self.retriever.search(question, k=3)
        trusted = bool(hits) and hits[0].relevance >= self.min_relevance  # NaN (BM25-only) is not trusted
        requested = self._by_request(question, hits[0].relevance if trusted else None)
        if requested is not None:
            # Nothing of its text is said: only what its metadata states, and how to ask for it.
            return Answer(
                "by_request", BY_REQUEST.format(reference=requested.reference()), document=requested, trust=1.0
            )
        if not trusted:
            return Answer("no_answer", NO_ANSWER)
        best = hits[0]
        if best.kind == "service_guide":
            return self._service_guide_card(best, question)
        citation = Citation.of(best)
        return Answer("passage", f"{trim_to_point(best.text, question)}\n{citation.line()}", [citation], trust=1.0)

    def _by_request(self, question: str, best_relevance: float | None) -> CatalogueEntry | None:
        """The 依申请公开 document the question is about, when it matches better than any passage."""
        matches = self.retriever.catalogue_matches(question, k=1)
        if not matches or not matches[0].relevance >= self.min_relevance:
            return None
        if best_relevance is not None and best_relevance >= matches[0].relevance:
            return None
        return matches[0].entry

    def _service_guide_card(self, hit: Hit, question: str) -> Answer:
        """一次告知: every field of the guide at once, so nobody has to call back for the next one.

        The section that answers the question comes first; the whole card follows.
        """
        lines = [f"您问的{hit.section}：{trim_to_point(hit.text, question)}"] if hit.section else []
        lines.append(f"【{hit.title}】以下一次性告知办理所需全部信息：")
        sections: list[str] = []
        for chunk in self.retriever.document_chunks(hit.doc_id):
            if not chunk.section:
                continue  # the guide's preamble (the sample notice) is not a field
            heading = chunk.section[0]
            body = " ".join(chunk.text.split())
            lines.append(f"{heading}：{body}" if heading not in sections else body)
            sections.append(heading)
        citation = Citation.of(hit, section="全文")
        lines.append(citation.line())
        return Answer("service_guide", "\n".join(lines), [citation], trust=1.0)
