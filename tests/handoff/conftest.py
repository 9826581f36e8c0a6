from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bot.test_conversation_faults import FakeRasa


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.close()
