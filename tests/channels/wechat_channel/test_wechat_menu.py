"""The official account's menu: the shipped definition, WeChat's limits, and `hotline wechat menu`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.channels.wechat.menu import Menu

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_menu_sends_the_web_chats_payloads() -> None:
    menu = Menu.load()
    assert {c.name: c.payload for c in menu.clicks()} == {
        "咨询": "/greet",
        "投诉": "/complaint",
        "查询工单": "/query_ticket",
        "人工": "/request_human",
    }
    assert menu.payload("HOTLINE_HUMAN") == "/request_human" and menu.payload("NOT_OURS") is None


def test_hotline_wechat_menu_prints_the_json_of_the_menu_api() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hotline")), "wechat", "menu"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert "咨询" in done.stdout  # raw UTF-8: the menu API shows \\u escapes as they are
    body = json.loads(done.stdout)
    assert len(body["button"]) <= 3
    names = [b["name"] for b in body["button"]] + [s["name"] for b in body["button"] for s in b.get("sub_button", [])]
    assert {"咨询", "投诉", "查询工单", "人工"} <= set(names)
    for button in body["button"]:
        for click in button.get("sub_button", [button]):
            assert click["type"] == "click" and click["key"].startswith("HOTLINE_")


@pytest.mark.parametrize(
    "definition",
    [
        "buttons: [" + ", ".join(f"{{name: b{n}, key: K{n}, payload: /greet}}" for n in range(4)) + "]",
        "buttons: [{name: 这个菜单名字实在太长了, key: K, payload: /greet}]",
        "buttons: [{name: a, key: K, payload: /greet}, {name: b, key: K, payload: /complaint}]",
        "buttons: [{name: a, key: K}]",
        "buttons: []",
    ],
    ids=["four-buttons", "long-name", "same-key", "no-payload", "empty"],
)
def test_a_menu_wechat_would_refuse_is_refused_here(tmp_path: Path, definition: str) -> None:
    path = tmp_path / "menu.yml"
    path.write_text(definition, encoding="utf-8")
    with pytest.raises(ValueError):
        Menu.load(path)
