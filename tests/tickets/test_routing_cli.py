"""`hotline tickets route` end to end, in a subprocess on this checkout's code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _route(stdin: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "tickets", "route", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


def test_route_answers_every_line_in_order_and_reports_bad_lines():
    lines = [
        json.dumps({"id": "a", "text": "小区电梯坏了一个月了，物业一直不修"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": 7, "text": "孩子在幼儿园被老师打了"}, ensure_ascii=False),
        "",
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "c", "text": "你好"}, ensure_ascii=False),
    ]
    result = _route("\n".join(lines) + "\n", "--batch-size", "2")
    assert result.returncode == 0, result.stderr
    assert "小区" not in result.stdout  # the text is not echoed back
    assert "市住房和城乡建设委员会" in result.stdout  # ensure_ascii=False
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["a", None, 7, "no-text", "c"]
    assert set(records[0]) == {"id", "domain", "department", "confidence"}
    assert (records[0]["domain"], records[0]["department"]) == ("城建", "市住房和城乡建设委员会")
    assert records[2]["domain"] == "教育"
    assert records[2]["department"] == "市教育委员会"
    assert records[1]["error"].startswith("line 2:")
    assert records[3]["error"].startswith("line 5:")
    assert records[4]["domain"] is None
    assert records[4]["department"] == "12320 受理中心（待分派）"
    assert "line 2:" in result.stderr
    assert "line 5:" in result.stderr


def test_route_with_a_malformed_table_fails_once_naming_the_file(tmp_path):
    table = tmp_path / "broken.yml"
    table.write_text("triage: 中心\n", encoding="utf-8")
    result = _route('{"id": 1, "text": "暖气不热"}\n', env={"HOTLINE_ROUTING_TABLE": str(table)})
    assert result.returncode == 2
    assert str(table) in result.stderr
    assert result.stdout == ""


def _tickets(*args: str, database: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "tickets", "--database-url", f"sqlite:///{database}", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_an_offices_corrections_are_exported_and_train_a_router(tmp_path, make_draft):
    from bot.tickets import open_ticket_service
    from bot.tickets.domain_classifier import EXAMPLES_PATH, load_classifier

    database = tmp_path / "hotline.db"
    service = open_ticket_service(f"sqlite:///{database}")
    try:
        draft = make_draft(description="冬奥场馆对外开放的预约一直约不上，电话13900001234", phone="13900001234")
        number = service.create(draft).number
        service.assign(number, "operator:wang", domain="文娱")
    finally:
        service.close()

    exported = _tickets("routing-labels", database=database)
    assert exported.returncode == 0, exported.stderr
    [label] = [json.loads(line) for line in exported.stdout.splitlines()]
    assert (label["ticket"], label["domain"], label["by"]) == (number, "文娱", "operator:wang")
    assert "13900001234" not in exported.stdout and "[电话]" in label["text"]

    labels = tmp_path / "labels.jsonl"
    labels.write_text(exported.stdout, encoding="utf-8")
    model = tmp_path / "router.npz"
    trained = _tickets("train-router", "--labels", str(labels), "--out", str(model), database=database)
    assert trained.returncode == 0, trained.stderr
    assert "with 1 labels" in trained.stdout
    assert load_classifier(model, EXAMPLES_PATH).labels[0] == "城建"

    labels.write_text('{"text": "月亮不亮了", "domain": "天文"}\n{"text": "x"}\n', encoding="utf-8")
    refused = _tickets("train-router", "--labels", str(labels), "--out", str(tmp_path / "no.npz"), database=database)
    assert refused.returncode == 2
    assert f"{labels}:2" in refused.stderr
    assert not (tmp_path / "no.npz").exists()
