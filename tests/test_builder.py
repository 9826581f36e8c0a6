import json
import logging

import numpy as np
import pytest

from index.builder import build_index, is_stale
from index.embedding_cache import EmbeddingCache
from index.retriever import Retriever

SECRET = "这段内部讨论记录绝不能被检索到"


def _write(path, front, body):
    path.write_text(f"---\n{front}\n---\n{body}\n", encoding="utf-8")


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    _write(
        folder / "open.md",
        "title: 无偿献血须知\nstatus: 生效\ndisclosure: 主动公开",
        "## 一、献血条件\n年满18周岁、体重达标的健康公民可以献血。\n\n"
        f"<!-- 不公开 -->\n{SECRET}（内部段落）\n<!-- /不公开 -->\n\n## 二、献血间隔\n全血献血间隔不少于6个月。",
    )
    _write(folder / "secret.md", "title: 内部请示\ndisclosure: 不公开", f"{SECRET}。")
    _write(folder / "expired.md", "title: 旧办法\nstatus: 失效", f"已经废止的办法。{SECRET}")
    return folder


def test_undisclosed_and_expired_are_never_indexed(corpus, tmp_path, embedder, caplog):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "index"
    report = build_index([corpus], out, embedder, EmbeddingCache(None))
    assert report.documents == 1
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert "不公开" in reasons["secret.md"] and "失效" in reasons["expired.md"]
    artifact = "".join(p.read_text(errors="ignore") for p in out.resolve().iterdir() if p.suffix in (".jsonl", ".json"))
    assert SECRET not in artifact
    assert "内部请示" not in artifact  # not even the title of an undisclosed document
    assert SECRET not in caplog.text  # skipped items are logged without their text
    assert "secret.md" in caplog.text
    hits = Retriever(out, embedder=embedder).search("内部讨论记录", k=5, per_doc=5)
    assert all(SECRET not in h.text for h in hits)


def test_rebuild_embeds_only_changed_chunks(corpus, tmp_path, embedder):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    out = tmp_path / "index"
    first = build_index([corpus], out, embedder, cache)
    assert first.embedded == first.chunks == 2
    assert is_stale(out, [corpus], embedder.name) is None
    (corpus / "open.md").write_text((corpus / "open.md").read_text().replace("6个月", "180天"), encoding="utf-8")
    assert is_stale(out, [corpus], embedder.name)
    second = build_index([corpus], out, embedder, cache)
    assert (second.embedded, second.cached) == (1, 1)


class ExplodingEmbedder:
    """A real embedder that fails mid-build, as a killed process or a full disk would."""

    def __init__(self, inner):
        self.name, self.spec, self.dim, self._inner = inner.name + "-exploding", inner.spec, inner.dim, inner

    def embed_queries(self, texts):
        return self._inner.embed_queries(texts)

    def embed_passages(self, texts):
        raise RuntimeError("embedding backend died")


def test_failed_build_keeps_the_index_in_service(corpus, tmp_path, embedder):
    out = tmp_path / "index"
    build_index([corpus], out, embedder, EmbeddingCache(None))
    served = out.resolve()
    before = Retriever(out, embedder=embedder).search("献血间隔", k=1)
    (corpus / "new.md").write_text("---\ntitle: 新文件\n---\n新增内容。", encoding="utf-8")
    with pytest.raises(RuntimeError):
        build_index([corpus], out, ExplodingEmbedder(embedder), EmbeddingCache(None))
    assert out.resolve() == served
    assert Retriever(out, embedder=embedder).search("献血间隔", k=1) == before
    versions = list((tmp_path / ".index.versions").iterdir())
    assert not any(p.name.endswith(".building") for p in versions)


def test_swap_is_a_single_symlink_replacement(corpus, tmp_path, embedder):
    out = tmp_path / "index"
    build_index([corpus], out, embedder, EmbeddingCache(None))
    first = out.resolve()
    build_index([corpus], out, embedder, EmbeddingCache(None))
    assert out.is_symlink() and out.resolve() != first
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["documents"] == 1 and manifest["chunks"] == 2
    vectors = np.load(out / "vectors.npy")
    assert vectors.shape == (2, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
