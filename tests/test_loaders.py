import json

from index.documents import SERVICE_GUIDE_FIELDS
from index.loaders import load_file, load_sources


def test_every_seed_ingests(seeds_dir):
    documents, skipped = load_sources([seeds_dir])
    assert skipped == []
    sources = {d.source for d in documents}
    assert sources == {str(p) for p in seeds_dir.glob("*.txt")}
    assert all(len(d.body) > 500 for d in documents)
    compiled = [d.doc_id for d in documents if d.doc_id.startswith("000_")]
    assert compiled == [f"000_1c1d111f0973ce72-{n}" for n in range(1, 6)]


def test_front_matter_becomes_metadata(seeds_dir):
    (document,), _ = load_file(seeds_dir / "001_10571c58fdb187df.txt")
    assert document.doc_id == "001_10571c58fdb187df"
    assert document.issuer == "中共中央办公厅、国务院办公厅"
    assert document.publication_date == "2011-06-08"
    assert document.url == "https://www.ccdi.gov.cn/fgk/law_display/6382"
    assert document.status == "生效"
    assert document.curated


def test_knowledge_corpus_has_complete_front_matter():
    from tests.conftest import KNOWLEDGE

    documents, skipped = load_sources([KNOWLEDGE])
    assert skipped == []
    kinds = {d.kind for d in documents}
    assert {"disclosure_document", "service_guide", "faq"} <= kinds
    guides = [d for d in documents if d.kind == "service_guide"]
    assert len(guides) >= 8
    for guide in guides:
        assert guide.sample, guide.doc_id
        for heading in SERVICE_GUIDE_FIELDS:
            assert heading in guide.body, (guide.doc_id, heading)
    faq = next(d for d in documents if d.kind == "faq")
    assert faq.body.count("\n## ") >= 40


def test_jsonl_records_and_bad_lines(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(
                    {"id": "a1", "answer": "答案一", "question": "问题一", "department": "市卫健委"}, ensure_ascii=False
                ),
                "{not json",
                json.dumps({"id": "a2", "text": "正文二", "url": "https://example.gov.cn/2"}, ensure_ascii=False),
                json.dumps({"text": "没有编号"}, ensure_ascii=False),
                json.dumps({"id": "a1", "text": "重复编号"}, ensure_ascii=False),
            ]
        ),
        encoding="utf-8",
    )
    documents, skipped = load_file(path)
    assert [(d.doc_id, d.body, d.question, d.department) for d in documents] == [
        ("a1", "答案一", "问题一", "市卫健委"),
        ("a2", "正文二", "", ""),
    ]
    assert [(s.source, s.reason) for s in skipped] == [
        (f"{path}:2", "invalid JSON (Expecting property name enclosed in double quotes)"),
        (f"{path}:4", "missing id"),
        (f"{path}:5", "duplicate id 'a1'"),
    ]


def test_malformed_files_are_reported_and_skipped(tmp_path):
    (tmp_path / "good.md").write_text("---\ntitle: 好文件\n---\n正文。", encoding="utf-8")
    (tmp_path / "bad-yaml.md").write_text("---\ntitle: [unclosed\n---\n正文", encoding="utf-8")
    (tmp_path / "bad-status.md").write_text("---\ntitle: x\nstatus: 作废\n---\n正文", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00\x81garbage")
    (tmp_path / "page.html").write_text(
        "<html><head><title>标题</title><script>var x=1;</script></head><body><nav>首页</nav>"
        "<h1>医疗机构执业登记</h1><p>一、办理条件</p><p>具有合法资质。</p></body></html>",
        encoding="utf-8",
    )
    documents, skipped = load_sources([tmp_path, tmp_path / "missing.md"])
    assert sorted(d.doc_id for d in documents) == ["good", "page"]
    page = next(d for d in documents if d.doc_id == "page")
    assert page.title == "医疗机构执业登记" and "var x" not in page.body and "首页" not in page.body
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in skipped}
    assert "not valid YAML" in reasons["bad-yaml.md"]
    assert "status '作废'" in reasons["bad-status.md"]
    assert "not UTF-8" in reasons["binary.txt"]
    assert reasons["missing.md"] == "no such file or folder"
