"""Hybrid retrieval over an index artifact: dense (FAISS) + BM25, fused, collapsed per document.

Defence in depth: whatever index it is given, the retriever returns only chunks that are 生效 +
主动公开 (index/disclosure.py), and names 依申请公开 documents only from the catalogue, by their
stated title and keywords.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from index import disclosure
from index.artifact import read_manifest
from index.bm25 import Bm25Index, top_k
from index.documents import CatalogueEntry, Chunk
from index.embedders import Embedder, load_embedder
from index.expansion import QueryExpander, default_expander
from index.glossary import GlossaryEntry, asks_definition
from index.normalize import normalize_for_search
from index.tokenizer import tokenize
from index.vector_index import VectorIndexSpec, load_vector_index

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with everything a citation needs."""

    doc_id: str
    chunk_id: str
    score: float
    title: str
    section: str
    text: str
    date: str
    url: str
    doc_number: str
    kind: str
    #: Cosine of query and passage (e5's narrow band: related ≈ .9, unrelated ≈ .8). Unlike `score`,
    #: which is scaled per query, it is comparable across queries, so "no good answer" thresholds use it.
    #: NaN in BM25-only mode.
    relevance: float = float("nan")
    #: The passage's BM25 score per distinct query token: how much of the question it matches word
    #: for word, on a scale that does not grow with the question's length. 0 when no word is shared.
    lexical: float = 0.0
    #: The defining sentence, when the question asks what a term is and this clause defines it
    #: (index/glossary.py); the answer then shows that sentence. '' otherwise.
    definition: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class CatalogueHit:
    """A 依申请公开 document a question matched by its stated title and keywords."""

    entry: CatalogueEntry
    relevance: float  # query–title cosine, on the same scale as Hit.relevance


@dataclass(frozen=True)
class FusionConfig:
    #: Weight of the dense score after per-query min-max scaling; BM25 gets the rest. 0.8–0.85 was
    #: best both on our own relevance questions and on MSGABench (benchmarks/results/retrieval.md).
    dense_weight: float = 0.8
    #: Candidates taken from each retriever before fusion.
    candidates: int = 100
    #: Added to the fused score (in [0, 1]) of the clause that defines a term the question asks about:
    #: the definition comes first (index/glossary.py).
    glossary_boost: float = 1.0
    #: Also give e5 the formal terms of the lexicon (index/expansion.py); off: measured worse.
    expand_dense: bool = False


class Retriever:
    def __init__(
        self,
        directory: Path,
        embedder: Embedder | None = None,
        fusion: FusionConfig | None = None,
        expander: QueryExpander | Literal["default"] | None = "default",
    ):
        """`expander`: the colloquial → formal query expansion; None searches the question as written."""
        directory = Path(directory).resolve()  # pin the version: a later swap must not mix files
        self.directory = directory
        self.manifest = read_manifest(directory)
        self.chunks = [
            Chunk.from_json(json.loads(line))
            for line in (directory / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        self._row_of = {chunk.chunk_id: row for row, chunk in enumerate(self.chunks)}
        self.answerable = np.array([_may_quote(c) for c in self.chunks], dtype=bool)
        if not self.answerable.all():
            log.warning(
                "%s: %d chunk(s) are not 生效 + 主动公开 or still hold a comment; they are never returned",
                directory,
                int((~self.answerable).sum()),
            )
        self.bm25 = Bm25Index.load(directory)
        self.vectors = np.load(directory / "vectors.npy")
        self.catalogue = [
            CatalogueEntry(**json.loads(line))
            for line in (directory / "catalogue.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        self.catalogue_vectors = np.load(directory / "catalogue.npy")
        glossary_path = directory / "glossary.jsonl"
        self.glossary = [
            entry
            for entry in (
                GlossaryEntry.from_json(json.loads(line))
                for line in glossary_path.read_text(encoding="utf-8").splitlines()
                if line.strip()
            )
            if entry.chunk_id in self._row_of and self.answerable[self._row_of[entry.chunk_id]]
        ]
        self._glossary_keys = [(normalize_for_search(entry.term), entry) for entry in self.glossary]
        self.fusion = fusion or FusionConfig()
        self.expander = default_expander() if expander == "default" else expander
        self._embedder = embedder
        self._vector_index = None
        self._last_query: tuple[str, np.ndarray] | None = None
        if self.chunks:
            spec = VectorIndexSpec(**self.manifest["vector_index"])
            self._vector_index = load_vector_index(directory / "vectors.faiss", spec)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            embedder = load_embedder(self.manifest["embedder_spec"])
            # The first call pays for kernel set-up (over a second with oneDNN): not the first citizen.
            embedder.embed_queries(["预热"])
            self._embedder = embedder
        if self._embedder.name != self.manifest["embedder"]:
            raise ValueError(f"index was built with {self.manifest['embedder']}, not {self._embedder.name}")
        return self._embedder

    def chunk(self, chunk_id: str) -> Chunk:
        return self.chunks[self._row_of[chunk_id]]

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """Every chunk of one document, in document order (for showing a whole 办事指南)."""
        return [c for c, ok in zip(self.chunks, self.answerable, strict=True) if ok and c.doc_id == doc_id]

    def catalogue_matches(self, query: str, k: int = 1) -> list[CatalogueHit]:
        """依申请公开 documents whose stated title and keywords are closest to the question."""
        usable = [
            row
            for row, entry in enumerate(self.catalogue)
            if entry.status == disclosure.ANSWERABLE_STATUS and entry.disclosure == disclosure.BY_REQUEST
        ]
        if not usable or not query.strip():
            return []
        cosines = self.catalogue_vectors[usable] @ self._query_vector(query)
        order = np.argsort(-cosines, kind="stable")[:k]
        return [CatalogueHit(self.catalogue[usable[i]], round(float(cosines[i]), 4)) for i in order]

    def _query_vector(self, query: str) -> np.ndarray:
        """The query's vector; the answerer asks for it twice (passages, catalogue) per question."""
        last = self._last_query
        if last is not None and last[0] == query:
            return last[1]
        vector = self.embedder.embed_queries([query])[0]
        self._last_query = (query, vector)
        return vector

    def definitions(self, query: str) -> list[GlossaryEntry]:
        """The glossary entries for the terms the question asks about (什么是五公开, 五公开是哪几个)."""
        text = normalize_for_search(query)
        return [entry for key, entry in self._glossary_keys if key in text and asks_definition(query, entry.term)]

    def vocabulary_coverage(self, query: str) -> float:
        """The share of the question's words that occur anywhere in the corpus (0 for a question of none)."""
        tokens = set(tokenize(query))
        return sum(t in self.bm25.vocabulary for t in tokens) / len(tokens) if tokens else 0.0

    def search(self, query: str, k: int = 10, per_doc: int = 1, mode: Mode = "hybrid") -> list[Hit]:
        if not self.chunks or not query.strip():
            return []
        ranked = self._rank(query, mode)
        hits: list[Hit] = []
        taken: dict[str, int] = {}
        for row, score, cosine, lexical in zip(ranked.rows, ranked.scores, ranked.cosines, ranked.lexical, strict=True):
            chunk = self.chunks[row]
            if not self.answerable[row] or taken.get(chunk.doc_id, 0) >= per_doc:
                continue
            taken[chunk.doc_id] = taken.get(chunk.doc_id, 0) + 1
            hits.append(
                Hit(
                    chunk.doc_id,
                    chunk.chunk_id,
                    round(float(score), 4),
                    chunk.title,
                    chunk.section_label,
                    chunk.text,
                    chunk.date,
                    chunk.url,
                    chunk.doc_number,
                    chunk.kind,
                    round(float(cosine), 4),
                    round(float(lexical), 4),
                    ranked.definitions.get(int(row), ""),
                )
            )
            if len(hits) == k:
                break
        return hits

    def _queries(self, query: str) -> tuple[str, str]:
        """(what e5 embeds, what BM25 scores): the question, expanded by the lexicon."""
        if self.expander is None:
            return query, query
        expanded = self.expander.expand(query)
        return (expanded.sparse if self.fusion.expand_dense else expanded.dense), expanded.sparse

    def _rank(self, query: str, mode: Mode) -> _Ranked:
        """All candidate rows, best first, with their ranking scores, cosines and lexical scores."""
        n = self.fusion.candidates
        dense_query, sparse_query = self._queries(query)
        bm25_all = self.bm25.scores(sparse_query)
        per_token = bm25_all / max(1, len(set(tokenize(sparse_query))))
        if mode == "bm25":
            rows, scores = top_k(bm25_all, n)
            return _Ranked(rows, scores, np.full(len(rows), np.nan), per_token[rows])
        query_vector = self._query_vector(dense_query)[None, :]
        dense_scores, dense_rows = self._vector_index.search(query_vector, min(n, len(self.chunks)))
        dense_rows, dense_scores = dense_rows[0], dense_scores[0]
        keep = dense_rows >= 0
        dense_rows, dense_scores = dense_rows[keep], dense_scores[keep]
        if mode == "dense":
            return _Ranked(dense_rows, dense_scores, dense_scores, per_token[dense_rows])
        bm25_rows = np.argpartition(-bm25_all, min(n, len(bm25_all)) - 1)[:n]
        definitions = {self._row_of[e.chunk_id]: e.definition for e in self.definitions(query)}
        rows = np.union1d(dense_rows, bm25_rows[bm25_all[bm25_rows] > 0])
        rows = np.union1d(rows, np.fromiter(definitions, dtype=rows.dtype, count=len(definitions)))
        # Exact scores for the union: a candidate one retriever missed still gets its true score.
        dense = self.vectors[rows] @ query_vector[0]
        sparse = bm25_all[rows]
        fused = self.fusion.dense_weight * _min_max(dense) + (1 - self.fusion.dense_weight) * _min_max(sparse)
        fused += self.fusion.glossary_boost * np.isin(rows, list(definitions))
        order = np.argsort(-fused, kind="stable")
        return _Ranked(rows[order], fused[order], dense[order], per_token[rows[order]], definitions)


@dataclass
class _Ranked:
    rows: np.ndarray
    scores: np.ndarray
    cosines: np.ndarray
    lexical: np.ndarray
    definitions: dict[int, str] = field(default_factory=dict)


def _may_quote(chunk: Chunk) -> bool:
    return disclosure.is_answerable(chunk.status, chunk.disclosure) and not disclosure.has_comment(chunk.text)


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)
