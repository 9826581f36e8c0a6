import json

import pytest

from index.disclosure import triage
from index.documents import SERVICE_GUIDE_FIELDS
from index.loaders import load_file, load_sources

SECRET = "内部讨论记录不得外传"


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
    # The seeds as found stay out of a build of knowledge/ (their cleaned versions are policy/).
    assert [(s.source, s.reason.split(":")[0]) for s in skipped] == [(str(KNOWLEDGE / "sources"), "folder not indexed")]
    sorted_out = triage(documents)
    # Every document states its attributes; the folder's README does not and is not indexed.
    assert [s.source for s in sorted_out.skipped] == [str(KNOWLEDGE / "README.md")]
    assert "公开属性 unknown" in sorted_out.skipped[0].reason
    assert [d.doc_id for d in sorted_out.by_request] == ["health-station-relocation-approval"]
    assert all(d.sample for d in sorted_out.by_request)
    documents = sorted_out.answerable
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


def _fenced(before: str, after: str) -> str:
    return f"{before}\n<!-- 不公开 -->\n{SECRET}\n<!-- /不公开 -->\n{after}"


FENCED_FILES = {
    "page.md": "---\ntitle: 献血须知\nstatus: 生效\ndisclosure: 主动公开\n---\n"
    + _fenced("## 一、献血条件\n健康公民可以献血。", "## 二、献血间隔\n间隔不少于6个月。"),
    "scraped.txt": _fenced("献血须知\n健康公民可以献血。", "间隔不少于6个月。"),
    "page.html": "<html><head><title>献血须知</title><meta name='status' content='生效'>"
    "<meta name='disclosure' content='主动公开'></head><body><h1>献血须知</h1><p>健康公民可以献血。</p>"
    f"<!-- 不公开 --><p>{SECRET}</p><!--/不公开--><p>间隔不少于6个月。</p><!-- 编辑备注：待核实 --></body></html>",
    "qa.jsonl": json.dumps(
        {"id": "q1", "question": "献血间隔多久", "answer": _fenced("间隔不少于6个月。", "献血前不要空腹。")},
        ensure_ascii=False,
    ),
}


@pytest.mark.parametrize("name", sorted(FENCED_FILES))
def test_the_fence_holds_in_every_format(tmp_path, name):
    path = tmp_path / name
    path.write_text(FENCED_FILES[name], encoding="utf-8")
    (tmp_path / "_defaults.yml").write_text("disclosure: 主动公开\nstatus: 生效\n", encoding="utf-8")
    (document,), skipped = load_file(path)
    assert skipped == []
    assert SECRET not in document.body and "<!--" not in document.body and "待核实" not in document.body
    assert "6个月" in document.body  # the text after the fence is kept
    assert (document.status, document.disclosure) == ("生效", "主动公开")


def test_nothing_is_derived_from_fenced_text(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\nstatus: 生效\ndisclosure: 主动公开\n---\n"
        "<!-- 不公开 -->\n# 内部标题\n<!-- /不公开 -->\n# 公开标题\n正文。",
        encoding="utf-8",
    )
    (tmp_path / "b.txt").write_text(
        "<!-- 不公开 -->\n卫内发〔2026〕1号\n<!-- /不公开 -->\n某市办法\n第一条 公开的条文。", encoding="utf-8"
    )
    documents, _ = load_sources([tmp_path])
    titles = {d.doc_id: (d.title, d.doc_number) for d in documents}
    assert titles == {"a": ("公开标题", ""), "b": ("某市办法", "")}


def test_an_unterminated_fence_is_cut_to_the_end_and_reported(tmp_path):
    path = tmp_path / "a.md"
    path.write_text(
        f"---\ntitle: 甲\nstatus: 生效\ndisclosure: 主动公开\n---\n公开段落。\n<!-- 不公开 -->\n{SECRET}\n",
        encoding="utf-8",
    )
    (document,), (skip,) = load_file(path)
    assert document.body == "公开段落。\n"
    assert skip.source == str(path) and "never closed" in skip.reason and SECRET not in skip.reason


def test_a_closing_marker_without_an_opening_one_refuses_the_document(tmp_path):
    path = tmp_path / "a.md"
    path.write_text(f"---\ntitle: 甲\n---\n<!-- 不公 开 -->\n{SECRET}\n<!-- /不公开 -->\n公开段落。", encoding="utf-8")
    documents, (skip,) = load_file(path)
    assert documents == [] and "without an opening one" in skip.reason


def test_a_converter_that_loses_a_marker_refuses_the_file(tmp_path):
    # The opening marker sits in a <nav>, which the HTML converter removes: the closing one survives,
    # and the text before it would be quoted.
    path = tmp_path / "page.html"
    path.write_text(
        f"<html><body><nav><!-- 不公开 --></nav><p>{SECRET}</p><!-- /不公开 --><p>公开</p></body></html>",
        encoding="utf-8",
    )
    documents, (skip,) = load_file(path)
    assert documents == [] and "lost in conversion" in skip.reason


def test_a_fence_marker_in_metadata_refuses_the_document(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"id": "q", "question": "<!-- 不公开 -->内部", "answer": "答"}, ensure_ascii=False))
    documents, (skip,) = load_file(path)
    assert documents == [] and skip.source == f"{path}:1" and "metadata (question)" in skip.reason


def test_attributes_come_from_the_document_else_its_folders_defaults(tmp_path):
    folder = tmp_path / "faq"
    folder.mkdir()
    (folder / "_defaults.yml").write_text("disclosure: 主动公开\nstatus: 生效\n", encoding="utf-8")
    (folder / "qa.jsonl").write_text(
        "\n".join(
            json.dumps(r, ensure_ascii=False)
            for r in [{"id": "q1", "answer": "答一"}, {"id": "q2", "answer": "答二", "status": "失效"}]
        ),
        encoding="utf-8",
    )
    sub = folder / "drafts"  # no inheritance: a subfolder declares its own
    sub.mkdir()
    (sub / "draft.md").write_text("---\ntitle: 草稿\n---\n草稿正文。", encoding="utf-8")
    documents, skipped = load_sources([folder])
    assert skipped == []
    attributes = {d.doc_id: (d.disclosure, d.status) for d in documents}
    assert attributes == {"q1": ("主动公开", "生效"), "q2": ("主动公开", "失效"), "draft": ("", "")}
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in triage(documents).skipped}
    assert "失效" in reasons["qa.jsonl:2"] and "公开属性 unknown" in reasons["draft.md"]


def test_a_bad_defaults_file_keeps_its_folder_out(tmp_path):
    (tmp_path / "_defaults.yml").write_text("disclosure: 公开\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("---\ntitle: 甲\n---\n正文。", encoding="utf-8")
    documents, (skip,) = load_sources([tmp_path])
    assert documents == [] and "disclosure '公开' is not one of" in skip.reason


def test_an_excluded_subfolder_is_reported_once_and_read_when_named(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "_defaults.yml").write_text("exclude: raw scrapes, cleaned elsewhere\n", encoding="utf-8")
    (raw / "a.txt").write_text("某市办法\n第一条 条文。", encoding="utf-8")
    (raw / "b.txt").write_text("某县办法\n第一条 条文。", encoding="utf-8")
    documents, skipped = load_sources([tmp_path])
    assert documents == []
    assert [(s.source, s.reason) for s in skipped] == [(str(raw), "folder not indexed: raw scrapes, cleaned elsewhere")]
    documents, skipped = load_sources([raw])
    assert [d.doc_id for d in documents] == ["a", "b"] and skipped == []
