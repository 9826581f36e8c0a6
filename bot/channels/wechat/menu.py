"""The official account's menu (自定义菜单): the definition in menu.yml, the JSON WeChat's menu API takes, and
what each click sends to the conversation."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MENU = Path(__file__).resolve().parent / "menu.yml"
#: WeChat's limits: 3 buttons, 5 sub-buttons each; names of at most 16 (top) and 60 (sub) bytes, keys 128.
MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
MAX_NAME_BYTES, MAX_SUB_NAME_BYTES, MAX_KEY_BYTES = 16, 60, 128


@dataclass(frozen=True)
class Click:
    name: str
    key: str
    payload: str


@dataclass(frozen=True)
class Menu:
    buttons: list[tuple[str, list[Click]] | Click]

    @classmethod
    def load(cls, path: Path = MENU) -> Menu:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        buttons: list[tuple[str, list[Click]] | Click] = []
        for item in data.get("buttons") or []:
            if "sub_buttons" in item:
                subs = [_click(sub, MAX_SUB_NAME_BYTES) for sub in item["sub_buttons"]]
                if not 1 <= len(subs) <= MAX_SUB_BUTTONS:
                    raise ValueError(f"{path}: {item['name']} needs 1–{MAX_SUB_BUTTONS} sub-buttons")
                buttons.append((_name(item, MAX_NAME_BYTES), subs))
            else:
                buttons.append(_click(item, MAX_NAME_BYTES))
        if not 1 <= len(buttons) <= MAX_BUTTONS:
            raise ValueError(f"{path}: a menu has 1–{MAX_BUTTONS} buttons")
        keys = [click.key for click in cls(buttons).clicks()]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{path}: two buttons share a key")
        return cls(buttons)

    def clicks(self) -> list[Click]:
        return [c for b in self.buttons for c in (b[1] if isinstance(b, tuple) else [b])]

    def payload(self, key: str) -> str | None:
        """What a click on the button with `key` sends to the conversation (None: not a button of ours)."""
        return next((c.payload for c in self.clicks() if c.key == key), None)

    def api_json(self) -> dict[str, Any]:
        """The body of WeChat's menu create API (POST /cgi-bin/menu/create)."""

        def click(c: Click) -> dict[str, str]:
            return {"type": "click", "name": c.name, "key": c.key}

        return {
            "button": [
                {"name": b[0], "sub_button": [click(c) for c in b[1]]} if isinstance(b, tuple) else click(b)
                for b in self.buttons
            ]
        }


def _name(item: dict[str, Any], limit: int) -> str:
    name = str(item.get("name") or "")
    if not name or len(name.encode()) > limit:
        raise ValueError(f"a menu button's name needs 1–{limit} bytes: {name!r}")
    return name


def _click(item: dict[str, Any], limit: int) -> Click:
    key, payload = str(item.get("key") or ""), str(item.get("payload") or "")
    if not key or len(key.encode()) > MAX_KEY_BYTES or not payload:
        raise ValueError(f"the menu button {item.get('name')!r} needs a key (≤{MAX_KEY_BYTES} bytes) and a payload")
    return Click(_name(item, limit), key, payload)


def register(commands: argparse._SubParsersAction) -> None:
    wechat = commands.add_parser("wechat", help="the WeChat official account (公众号)")
    actions = wechat.add_subparsers(dest="wechat_command", required=True)
    menu = actions.add_parser("menu", help="print the menu as the JSON of WeChat's menu create API")
    menu.add_argument("--file", type=Path, default=MENU, help="the menu definition (default: the shipped one)")
    menu.set_defaults(handler=_print_menu)


def _print_menu(args: argparse.Namespace) -> int:
    print(json.dumps(Menu.load(args.file).api_json(), ensure_ascii=False, indent=2))
    return 0
