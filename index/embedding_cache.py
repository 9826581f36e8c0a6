"""Embeddings cached by (model, chunk-content hash): a rebuild embeds only what changed."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import numpy as np


def default_cache_path() -> Path:
    if override := os.environ.get("HOTLINE_EMBED_CACHE"):
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hotline" / "embeddings.sqlite"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path | None):
        """path None keeps nothing (every build embeds everything)."""
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embedding (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))"
            )

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        if self._db is None or not hashes:
            return {}
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):  # SQLite's bound-parameter limit
            batch = hashes[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT hash, vector FROM embedding WHERE model = ? AND hash IN ({marks})", [model, *batch]
            )
            found.update((h, np.frombuffer(v, dtype=np.float32)) for h, v in rows)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        if self._db is None or not items:
            return
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embedding VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, np.float32).tobytes()) for h, v in items.items()],
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
