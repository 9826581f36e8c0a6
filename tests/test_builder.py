import json
import logging

import numpy as np
import pytest

from index.builder import build_index, chunk_search_text, is_stale
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
        "## 一、献血条件\n年满18周岁、体重达标的健康公民可以献血，献血前一天应保证充足睡眠，不空腹、不饮酒。\n\n"
        f"<!-- 不公开 -->\n{SECRET}（内部段落）\n<!-- /不公开 -->\n\n"
        "## 二、献血间隔\n全血献血间隔不少于6个月，单采血小板献血间隔不少于2周，两次献血之间请留足恢复时间。",
    )
    _write(folder / "secret.md", "title: 内部请示\ndisclosure: 不公开", f"{SECRET}。")
    _write(folder / "expired.md", "title: 旧办法\nstatus: 失效\ndisclosure: 主动公开", f"已经废止的办法。{SECRET}")
    _write(folder / "revised.md", "title: 修订前办法\nstatus: 已修订\ndisclosure: 主动公开", f"修订前的条文。{SECRET}")
    (folder / "unstated.md").write_text(f"# 没有属性的文件\n{SECRET}\n", encoding="utf-8")
    return folder


def test_undisclosed_and_expired_are_never_indexed(corpus, tmp_path, embedder, caplog):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "index"
    report = build_index([corpus], out, embedder, EmbeddingCache(None))
    assert report.documents == 1
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert "不公开" in reasons["secret.md"] and "失效" in reasons["expired.md"] and "已修订" in reasons["revised.md"]
    assert "公开属性 unknown" in reasons["unstated.md"]
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


BY_REQUEST_BODY = "滨河急救分站迁至滨河路十六号，原址保留临时停靠点。"


def _by_request_corpus(folder, body):
    folder.mkdir(parents=True, exist_ok=True)
    _write(
        folder / "approval.md",
        "title: 关于同意调整院前急救站点布局的批复\ndoc_number: 某卫医函〔2026〕12号\nissuer: 某市卫生健康委员会\n"
        "keywords: 急救站点布局、急救分站迁址\nstatus: 生效\ndisclosure: 依申请公开",
        body,
    )
    _write(folder / "open.md", "title: 无偿献血须知\nstatus: 生效\ndisclosure: 主动公开", "全血献血间隔不少于6个月。")
    return folder


def test_by_request_documents_are_catalogued_by_their_metadata_only(tmp_path, embedder):
    first = build_index(
        [_by_request_corpus(tmp_path / "a", BY_REQUEST_BODY)], tmp_path / "ia", embedder, EmbeddingCache(None)
    )
    other_body = "完全不同的正文：某某事项的内部办理意见。"
    build_index([_by_request_corpus(tmp_path / "b", other_body)], tmp_path / "ib", embedder, EmbeddingCache(None))
    assert (first.documents, first.catalogued) == (1, 1)
    a, b = (tmp_path / "ia").resolve(), (tmp_path / "ib").resolve()
    (entry,) = [json.loads(line) for line in (a / "catalogue.jsonl").read_text().splitlines()]
    assert entry["title"] == "关于同意调整院前急救站点布局的批复"
    assert (entry["doc_number"], entry["issuer"]) == ("某卫医函〔2026〕12号", "某市卫生健康委员会")
    artifact = "".join(p.read_text(errors="ignore") for p in a.iterdir() if p.suffix in (".jsonl", ".json"))
    assert "滨河路" not in artifact and all(
        c["doc_id"] != "approval" for c in map(json.loads, (a / "chunks.jsonl").open())
    )
    # What a question is matched against does not depend on the body at all.
    assert (a / "catalogue.jsonl").read_bytes() == (b / "catalogue.jsonl").read_bytes()
    assert np.array_equal(np.load(a / "catalogue.npy"), np.load(b / "catalogue.npy"))
    retriever = Retriever(tmp_path / "ia", embedder=embedder)
    (match,) = retriever.catalogue_matches("急救分站迁址的批复")
    assert match.entry.doc_id == "approval" and match.relevance > 0.8
    assert all("滨河路" not in h.text for h in retriever.search("滨河急救分站迁至滨河路十六号", k=5, per_doc=5))


def test_the_retriever_drops_what_may_not_be_quoted_whatever_index_it_is_given(corpus, tmp_path, embedder, caplog):
    out = tmp_path / "index"
    build_index([corpus], out, embedder, EmbeddingCache(None))
    # Tamper with the published artifact: one chunk is marked 失效, the other holds a fence marker,
    # and the catalogue names a document that is 主动公开, which is not what a catalogue is for.
    directory = out.resolve()
    chunks = [json.loads(line) for line in (directory / "chunks.jsonl").read_text().splitlines()]
    chunks[0]["status"] = "失效"
    chunks[1]["text"] = f"<!-- 不公开 -->{SECRET}<!-- /不公开 -->" + chunks[1]["text"]
    chunks.append({**chunks[1], "chunk_id": "extra#0", "text": "多出的段落。", "disclosure": ""})
    (directory / "chunks.jsonl").write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in chunks))
    entry = {"doc_id": "x", "title": "某文件", "status": "生效", "disclosure": "主动公开"}
    (directory / "catalogue.jsonl").write_text(json.dumps(entry, ensure_ascii=False))
    np.save(directory / "catalogue.npy", embedder.embed_passages(["某文件"]))
    caplog.set_level(logging.WARNING)
    retriever = Retriever(out, embedder=embedder)
    assert "3 chunk(s) are not 生效 + 主动公开" in caplog.text
    for mode in ("hybrid", "dense", "bm25"):
        assert retriever.search("献血条件", k=5, per_doc=5, mode=mode) == []
        assert retriever.search("献血间隔", k=5, per_doc=5, mode=mode) == []
    assert retriever.document_chunks(chunks[0]["doc_id"]) == []
    assert retriever.catalogue_matches("某文件") == []


def test_a_change_of_folder_defaults_or_index_format_makes_the_index_stale(tmp_path, embedder):
    folder = tmp_path / "faq"
    folder.mkdir()
    (folder / "_defaults.yml").write_text("disclosure: 主动公开\nstatus: 生效\n", encoding="utf-8")
    (folder / "qa.jsonl").write_text('{"id": "q1", "answer": "答"}', encoding="utf-8")
    out = tmp_path / "index"
    assert build_index([folder], out, embedder, EmbeddingCache(None)).documents == 1
    assert is_stale(out, [folder], embedder.name) is None
    (folder / "_defaults.yml").write_text("disclosure: 依申请公开\nstatus: 生效\n", encoding="utf-8")
    assert is_stale(out, [folder], embedder.name)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))
    assert "rebuild it" in is_stale(out, [folder], embedder.name)


def test_the_knowledge_index_leaves_out_its_readme_and_the_seeds_as_found(knowledge_index):
    manifest = json.loads((knowledge_index / "manifest.json").read_text())
    skipped = {s["source"].rsplit("knowledge/", 1)[-1]: s["reason"] for s in manifest["skipped"]}
    assert set(skipped) == {"README.md", "sources"}
    assert "公开属性 unknown" in skipped["README.md"] and "not indexed" in skipped["sources"]
    assert manifest["catalogue"] == 1


def test_e5_reads_each_passage_with_its_title_and_section_path(corpus, tmp_path, embedder):
    out = tmp_path / "index"
    build_index([corpus], out, embedder, EmbeddingCache(None))
    retriever = Retriever(out, embedder=embedder)
    chunk = next(c for c in retriever.chunks if c.section == ("二、献血间隔",))
    text = chunk_search_text(chunk)
    assert text.startswith("无偿献血须知 二、献血间隔\n") and text.endswith(chunk.text)
    row = retriever.chunks.index(chunk)
    # The stored vector is the passage-side embedding ("passage: " + that text), not of the bare text.
    assert float(retriever.vectors[row] @ embedder.embed_passages([text])[0]) > 0.9999
    assert float(retriever.vectors[row] @ embedder.embed_passages([chunk.text])[0]) < 0.99
