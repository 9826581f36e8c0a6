"""Any sentence-transformers model, by local path or by a name already in the local HF cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

# Government intranets have no model hub: never let a missing model turn into a download attempt.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class SentenceTransformerEmbedder:
    def __init__(self, model: str, query_prefix: str = "", passage_prefix: str = "", batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model, device="cpu")
        self.spec = f"st:{model}"
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size
        self.dim = int(self._model.get_embedding_dimension())
        # A path's name alone would let two different local models share cached vectors.
        identity = str(Path(model).resolve()) if Path(model).exists() else model
        digest = hashlib.sha256(f"{identity}|{query_prefix}|{passage_prefix}".encode()).hexdigest()[:12]
        self.name = f"st:{Path(model).name}:{digest}"

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self._query_prefix + t for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self._passage_prefix + t for t in texts])
