"""A deterministic, dependency-free embedder for tests that build many small indexes.

Character 1–3-grams hashed (blake2b, not Python's salted hash) into signed buckets. Texts that share
characters are close, so dense retrieval behaves like retrieval; it is meant for properties of the
pipeline (what may come back), never for measuring quality.
"""

from __future__ import annotations

import hashlib

import numpy as np

from index.normalize import normalize_for_search


class HashingEmbedder:
    name = "test-hashing-256"
    spec = "test-hashing-256"  # not loadable by load_embedder: tests pass the embedder in
    dim = 256

    def _embed(self, texts: list[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            text = "".join(normalize_for_search(text).split())
            for n in (1, 2, 3):
                for start in range(max(0, len(text) - n + 1)):
                    digest = hashlib.blake2b(text[start : start + n].encode(), digest_size=4).digest()
                    bucket = int.from_bytes(digest, "little")
                    matrix[row, bucket % self.dim] += 1.0 if bucket >> 31 else -1.0
            if not matrix[row].any():
                matrix[row, 0] = 1.0
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)
