"""The vendored front-end files are the ones package-lock.json pins, and travel with their licences."""

from __future__ import annotations

import json

from bot.console.templating import STATIC
from bot.settings import ROOT

LOCK = ROOT / "bot" / "console" / "frontend" / "package-lock.json"
VENDOR = STATIC / "vendor"


def test_the_vendored_files_match_the_lock_and_carry_their_licences() -> None:
    packages = json.loads(LOCK.read_text(encoding="utf-8"))["packages"]
    pinned = {name: packages[f"node_modules/{name}"]["version"] for name in ("htmx.org", "echarts", "zrender", "tslib")}
    lines = (VENDOR / "VERSIONS").read_text(encoding="utf-8").splitlines()[1:]
    assert dict(line.split(" ", 1) for line in lines) == pinned, "the pins changed: run `make vendor`"
    for name in ("htmx.min.js", "echarts.min.js"):
        assert (VENDOR / name).stat().st_size > 10_000
    for licence in ("htmx.LICENSE", "echarts.LICENSE", "echarts.NOTICE", "zrender.LICENSE", "tslib.LICENSE"):
        assert (VENDOR / licence).read_text(encoding="utf-8").strip()
    assert f'version:"{pinned["htmx.org"]}"' in (VENDOR / "htmx.min.js").read_text(encoding="utf-8")
