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
