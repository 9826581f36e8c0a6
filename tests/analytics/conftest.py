"""The seeded database (tests/analytics/seed.py) on SQLite and on PostgreSQL (TEST_DATABASE_URL), and the
test embedder: character n-grams where meaning does not matter; tests of grouping use the real e5."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.analytics import Analytics
from tests.analytics.seed import Seeded, seed
from tests.hashing_embedder import HashingEmbedder


@pytest.fixture
def seeded(database_url: str) -> Iterator[Seeded]:
    seeded = seed(database_url)
    yield seeded
    seeded.service.close()


@pytest.fixture
def analytics(seeded: Seeded) -> Analytics:
    return Analytics(seeded.engine, HashingEmbedder())
