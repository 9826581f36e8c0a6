"""FAISS inner-product search over unit vectors: exact while small, IVF past a size threshold.

Exact search over 50k 384-d vectors costs ~5 ms on two cores; past that an inverted file keeps the
p95 flat (measured in benchmarks/retrieval.py at 1M vectors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

EXACT_MAX_VECTORS = 50_000


@dataclass(frozen=True)
class VectorIndexSpec:
    kind: str  # "flat" | "ivf" | "hnsw"
    nlist: int = 0
    nprobe: int = 0

    @classmethod
    def choose(cls, size: int, kind: str = "auto") -> VectorIndexSpec:
        if kind == "auto":
            kind = "flat" if size <= EXACT_MAX_VECTORS else "ivf"
        if kind == "ivf":
            # ~4·√n lists, as FAISS's guidelines suggest; probing 1/64 of them keeps recall high.
            nlist = max(16, int(4 * math.sqrt(size)))
            return cls("ivf", nlist=nlist, nprobe=max(8, nlist // 64))
        if kind in ("flat", "hnsw"):
            return cls(kind)
        raise ValueError(f"unknown vector index kind {kind!r} (auto, flat, ivf, hnsw)")


def build_vector_index(vectors: np.ndarray, spec: VectorIndexSpec, seed: int = 0) -> faiss.Index:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if spec.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif spec.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    else:
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, spec.nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means needs ~40 points a list; more only slows training.
        rng = np.random.default_rng(seed)
        sample_size = min(len(vectors), spec.nlist * 40)
        sample = vectors[rng.choice(len(vectors), sample_size, replace=False)]
        index.cp.seed = seed
        index.train(sample)
        index.nprobe = spec.nprobe
    index.add(vectors)
    return index


def save_vector_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_vector_index(path: Path, spec: VectorIndexSpec) -> faiss.Index:
    index = faiss.read_index(str(path))
    if spec.kind == "ivf":
        faiss.extract_index_ivf(index).nprobe = spec.nprobe
    return index
