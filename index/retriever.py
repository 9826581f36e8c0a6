"""Hybrid retrieval over an index artifact: dense (FAISS) + BM25, fused, collapsed per document."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from index.artifact import read_manifest
from index.bm25 import Bm25Index
from index.documents import Chunk
from index.embedders import Embedder, load_embedder
from index.vector_index import VectorIndexSpec, load_vector_index

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

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class FusionConfig:
    #: Weight of the dense score after per-query min-max scaling; BM25 gets the rest. 0.8–0.85 was
    #: best both on our own relevance questions and on MSGABench (benchmarks/results/retrieval.md).
    dense_weight: float = 0.8
    #: Candidates taken from each retriever before fusion.
    candidates: int = 100


class Retriever:
    def __init__(self, directory: Path, embedder: Embedder | None = None, fusion: FusionConfig | None = None):
        directory = Path(directory).resolve()  # pin the version: a later swap must not mix files
        self.manifest = read_manifest(directory)
        self.chunks = [
            Chunk.from_json(json.loads(line))
            for line in (directory / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        self.bm25 = Bm25Index.load(directory)
        self.vectors = np.load(directory / "vectors.npy")
        self.fusion = fusion or FusionConfig()
        self._embedder = embedder
        self._vector_index = None
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

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """Every chunk of one document, in document order (for showing a whole 办事指南)."""
        return [c for c in self.chunks if c.doc_id == doc_id]

    def search(self, query: str, k: int = 10, per_doc: int = 1, mode: Mode = "hybrid") -> list[Hit]:
        if not self.chunks or not query.strip():
            return []
        rows, scores, relevance = self._rank(query, mode)
        hits: list[Hit] = []
        taken: dict[str, int] = {}
        for row, score, cosine in zip(rows, scores, relevance, strict=True):
            chunk = self.chunks[row]
            if taken.get(chunk.doc_id, 0) >= per_doc:
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
                )
            )
            if len(hits) == k:
                break
        return hits

    def _rank(self, query: str, mode: Mode) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All candidate rows, best first, with their ranking scores and their cosines."""
        n = self.fusion.candidates
        if mode == "bm25":
            rows, scores = self.bm25.search(query, n)
            return rows, scores, np.full(len(rows), np.nan)
        query_vector = self.embedder.embed_queries([query])
        dense_scores, dense_rows = self._vector_index.search(query_vector, min(n, len(self.chunks)))
        dense_rows, dense_scores = dense_rows[0], dense_scores[0]
        keep = dense_rows >= 0
        dense_rows, dense_scores = dense_rows[keep], dense_scores[keep]
        if mode == "dense":
            return dense_rows, dense_scores, dense_scores
        bm25_all = self.bm25.scores(query)
        bm25_rows = np.argpartition(-bm25_all, min(n, len(bm25_all)) - 1)[:n]
        rows = np.union1d(dense_rows, bm25_rows[bm25_all[bm25_rows] > 0])
        # Exact scores for the union: a candidate one retriever missed still gets its true score.
        dense = self.vectors[rows] @ query_vector[0]
        sparse = bm25_all[rows]
        fused = self.fusion.dense_weight * _min_max(dense) + (1 - self.fusion.dense_weight) * _min_max(sparse)
        order = np.argsort(-fused, kind="stable")
        return rows[order], fused[order], dense[order]


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)
