"""The embedder interface every dense backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors.

    Queries and passages are separate calls because asymmetric models (e5) put a different
    prefix on each role; symmetric models implement both the same way.
    """

    #: Stable identifier of the model and its settings; part of the embedding-cache key and of the
    #: index fingerprint, so two backends whose vectors differ beyond float noise (cosine < 0.9999
    #: for the same text) must never share a name. It must not depend on the machine or on the
    #: batch: an index built on one machine serves queries on another.
    name: str
    #: What `load_embedder` takes to make this embedder again (stored in the index manifest).
    spec: str
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors."""
        ...

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors."""
        ...
