"""BM25 over jieba tokens, as a sparse matrix so that a query costs one column sum."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from index.tokenizer import tokenize


@dataclass
class Bm25Index:
    vocabulary: dict[str, int]
    #: (documents × terms) BM25 weights, CSC so that selecting the query's terms is cheap.
    weights: sparse.csc_matrix

    @classmethod
    def build(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> Bm25Index:
        vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[row] = len(tokens)
            for token, count in Counter(tokens).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(token, len(vocabulary)))
                counts.append(count)
        tf = sparse.csr_matrix((np.asarray(counts, np.float32), (rows, cols)), shape=(len(texts), len(vocabulary)))
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(vocabulary))
        idf = np.log1p((len(texts) - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg_length = float(lengths.mean()) if len(texts) else 1.0
        norm = k1 * (1 - b + b * lengths / max(avg_length, 1e-6))
        tf = tf.tocoo()
        data = tf.data * (k1 + 1) / (tf.data + norm[tf.row]) * idf[tf.col]
        weights = sparse.csc_matrix((data.astype(np.float32), (tf.row, tf.col)), shape=tf.shape)
        return cls(vocabulary, weights)

    def scores(self, query: str) -> np.ndarray:
        columns = [self.vocabulary[t] for t in set(tokenize(query)) if t in self.vocabulary]
        if not columns:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, columns].sum(axis=1)).ravel()

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (row ids, scores), best first; rows that share no term with the query are left out."""
        return top_k(self.scores(query), k)

    def save(self, directory: Path) -> None:
        sparse.save_npz(directory / "bm25.npz", self.weights)
        (directory / "bm25_vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        vocabulary = json.loads((directory / "bm25_vocabulary.json").read_text())
        return cls(vocabulary, sparse.load_npz(directory / "bm25.npz").tocsc())


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (row ids, scores) of a score vector, best first, without the rows that scored 0."""
    k = min(k, len(scores))
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    top = top[scores[top] > 0]
    return top, scores[top]
