"""The CLI contract, through the installed `hotline` console script."""

import json
import os
import subprocess
import sys
from pathlib import Path

from index.artifact import FORMAT_VERSION

HOTLINE = str(Path(sys.executable).with_name("hotline"))


def _run(args, stdin=None, env=None):
    return subprocess.run(
        [HOTLINE, *args], input=stdin, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


def test_build_then_query_round_trip(tmp_path, embedding_cache_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "blood-donation.md").write_text(
        "---\ntitle: 无偿献血指南\nstatus: 生效\ndisclosure: 主动公开\n---\n"
        "## 一、献血条件\n年满18周岁至55周岁的健康公民，体重和血压等各项指标达标的，都可以参加无偿献血。\n\n"
        "## 二、献血间隔\n两次全血献血间隔不少于6个月，单采血小板献血间隔不少于2周，间隔期内请勿再次献血。",
        encoding="utf-8",
    )
    (corpus / "faq.jsonl").write_text(
        "\n".join(
            json.dumps(r, ensure_ascii=False)
            for r in [
                {
                    "id": "qa-17",
                    "question": "狂犬疫苗怎么打",
                    "answer": "被犬咬伤后应尽快接种狂犬病疫苗，按0、3、7、14、28天程序完成。",
                },
                {"id": "qa-18", "answer": "出生医学证明遗失的，可向原签发机构申请补发。"},
                "not a record",
            ]
        ),
        encoding="utf-8",
    )
    # The records state no attributes: the folder's defaults give them. The draft states none at all.
    (corpus / "_defaults.yml").write_text("disclosure: 主动公开\nstatus: 生效\n", encoding="utf-8")
    drafts = corpus / "drafts"
    drafts.mkdir()
    (drafts / "draft.md").write_text("# 未定稿\n尚未确定公开属性的草稿。", encoding="utf-8")
    env = {"HOTLINE_EMBED_CACHE": str(embedding_cache_path)}
    out = tmp_path / "idx"
    build = _run(["index", "build", "--out", str(out), str(corpus)], env=env)
    assert build.returncode == 0, build.stderr
    assert "documents: 3  chunks: 4  skipped: 2  catalogued (依申请公开, never quoted): 0" in build.stdout
    assert "faq.jsonl:3: a record must be a JSON object" in build.stderr
    assert f"skipped {drafts / 'draft.md'}: 公开属性 unknown (not stated)" in build.stderr
    assert "embedding" in build.stderr  # the progress bar

    queries = [
        {"id": 1, "text": "献血要隔多久"},
        {"id": "b", "text": "狗咬了打什么针"},
        {"id": "c", "text": "出生证明丢了"},
    ]
    lines = "\n".join(json.dumps(q, ensure_ascii=False) for q in queries) + "\nnot json\n"
    query = _run(["index", "query", "--index", str(out), "--k", "2"], stdin=lines, env=env)
    assert query.returncode == 0, query.stderr
    results = [json.loads(line) for line in query.stdout.splitlines()]
    assert [r["id"] for r in results] == [1, "b", "c", None]
    assert results[3]["error"].startswith("line 4:")
    top = {r["id"]: r["hits"][0] for r in results[:3]}
    assert top[1]["doc_id"] == "blood-donation" and top[1]["section"] == "二、献血间隔"
    assert top["b"]["doc_id"] == "qa-17" and top["c"]["doc_id"] == "qa-18"
    for hit in top.values():
        assert set(hit) >= {"doc_id", "chunk_id", "score", "title", "section", "text"}
    assert top["b"]["title"] == "狂犬疫苗怎么打"


def test_query_serves_a_thousand_queries_in_one_process(knowledge_index, embedding_cache_path):
    questions = ["被狗咬了怎么办", "出生医学证明怎么补办", "12320能投诉吗", "依申请公开多久答复", "献血有什么条件"]
    lines = "\n".join(json.dumps({"id": i, "text": questions[i % 5] + str(i)}, ensure_ascii=False) for i in range(1000))
    result = _run(["index", "query", "--index", str(knowledge_index), "--k", "3"], stdin=lines)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == list(range(1000))
    assert all(len(r["hits"]) == 3 for r in records)


def test_ensure_rebuilds_only_when_stale(tmp_path, embedding_cache_path):
    front = "---\ntitle: 甲\nstatus: 生效\ndisclosure: 主动公开\n---\n"
    (tmp_path / "a.md").write_text(front + "甲的内容。", encoding="utf-8")
    env = {"HOTLINE_EMBED_CACHE": str(embedding_cache_path)}
    args = ["index", "ensure", "--out", str(tmp_path / "idx"), str(tmp_path / "a.md")]
    assert "rebuilding" in _run(args, env=env).stdout
    assert "up to date" in _run(args, env=env).stdout
    (tmp_path / "a.md").write_text(front + "甲的新内容。", encoding="utf-8")
    assert "rebuilding" in _run(args, env=env).stdout
    # An index of an older format (before chunks carried their attributes) is rebuilt, not served.
    manifest = tmp_path / "idx" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 1}))
    ensured = _run(args, env=env).stdout
    assert "rebuilding" in ensured and f"index format 1 is not {FORMAT_VERSION}" in ensured


def test_missing_index_is_a_clear_error(tmp_path):
    result = _run(["index", "query", "--index", str(tmp_path / "nothing")], stdin="")
    assert result.returncode == 2
    assert "not an index" in result.stderr


def test_ask_prints_passages_with_citations(knowledge_index):
    result = _run(
        ["index", "ask", "--index", str(knowledge_index), "--k", "2", "卫生部的意见对12320热线建设提出了什么要求"]
    )
    assert result.returncode == 0, result.stderr
    assert "问：卫生部的意见对12320热线建设提出了什么要求" in result.stdout
    assert "卫生部关于深化卫生政务公开加强卫生政务服务的意见" in result.stdout
    assert "（八）充分发挥“12320”卫生热线作用 · 2012-03-21" in result.stdout


def test_import_seeds_reads_the_committed_seeds_and_reproduces_the_policy_folder(tmp_path):
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [HOTLINE, "corpus", "import-seeds", "--out", str(tmp_path)], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    policy = sorted((root / "knowledge" / "policy").glob("*.md"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in policy]
    for path in policy:
        assert (tmp_path / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), path.name


def test_up_serves_the_model_it_is_named_and_refuses_one_that_is_missing(tmp_path):
    """`hotline up --model PATH` (the answers benchmark's variants): that model, not models/hotline.tar.gz."""
    index = tmp_path / "index"
    index.mkdir()
    (index / "manifest.json").write_text("{}", encoding="utf-8")
    missing = tmp_path / "retrained.tar.gz"
    result = _run(["up", "--model", str(missing), "--index", str(index), "--var", str(tmp_path / "var")])
    assert result.returncode == 2
    assert f"no model at {missing}" in result.stderr
