"""Where the console's screenshots go. `make screenshots` sets HOTLINE_SCREENSHOTS=docs/screenshots and the README
shows them; an ordinary test run saves them under its temporary directory, so it never rewrites tracked files.
Tests that take screenshots carry the `screenshots` mark, which is how `make screenshots` finds them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCREENSHOTS_ENV = "HOTLINE_SCREENSHOTS"


def cjk_font_installed() -> bool:
    """Without a CJK font every Chinese character renders as a box (Debian: fonts-noto-cjk)."""
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return False
    return bool(listed.stdout.strip())


def save_screenshot(page: object, name: str, fallback: Path) -> Path:
    """`page` (a Playwright page) as `name`, in $HOTLINE_SCREENSHOTS or else `fallback`. A screenshot meant for
    the README must show Chinese: without a CJK font that is a failure, not a picture of boxes."""
    wanted = os.environ.get(SCREENSHOTS_ENV)
    if wanted and not cjk_font_installed():
        raise RuntimeError("no CJK font: install fonts-noto-cjk before `make screenshots`")
    directory = Path(wanted) if wanted else fallback
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
