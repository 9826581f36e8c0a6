"""Shared fixtures: the real seeds, the real corpus, and one real index built per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
KNOWLEDGE = ROOT / "knowledge"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed documents not found at {SEEDS}")
    return SEEDS


@pytest.fixture(scope="session")
def embedder():
    from index.embedders import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def embedding_cache_path(tmp_path_factory) -> Path:
    # One cache for the session: the knowledge index is embedded once, later builds reuse it.
    return tmp_path_factory.mktemp("cache") / "embeddings.sqlite"


@pytest.fixture(scope="session")
def knowledge_index(tmp_path_factory, embedder, embedding_cache_path) -> Path:
    from index.builder import build_index
    from index.embedding_cache import EmbeddingCache

    out = tmp_path_factory.mktemp("index") / "knowledge"
    cache = EmbeddingCache(embedding_cache_path)
    build_index([KNOWLEDGE], out, embedder, cache)
    cache.close()
    return out


@pytest.fixture(scope="session")
def retriever(knowledge_index, embedder):
    from index.retriever import Retriever

    return Retriever(knowledge_index, embedder=embedder)
