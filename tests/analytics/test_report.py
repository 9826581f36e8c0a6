"""`hotline report` in a subprocess, as a supervisor runs it, against the seeded database on SQLite and
PostgreSQL: the same figures as Markdown, with the real e5 embedder grouping the knowledge gaps."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.analytics.seed import PERIOD, PERSONAL_NUMBERS, Seeded


def report(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "report", *args],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_report_prints_every_figure_as_markdown(seeded: Seeded) -> None:
    since, until = PERIOD.since.isoformat(), PERIOD.until.isoformat()
    done = report("--since", since, "--until", until, "--database-url", seeded.database_url)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("# 12320 热线统计报告（2026-11-23 至 2026-12-20）")
    for heading in ("## 知识盲区", "## 热点问题", "## 转人工", "## 限时办结", "## 满意度"):
        assert f"\n{heading}\n" in out
    assert "| 出生医学证明丢了怎么补办 | 2 | 1 | 1 | 0 | 2 | [1](/console/conversations/c2) " in out
    assert "| 2026-11-23 | 医疗 | 投诉 | 2 |" in out
    assert "| 合计 | 8 | 6 | 75.0% |" in out  # the handoff rate
    assert "| 合计 | 5 | 4 | 105.0 | 246.0 |" in out  # the first human reply, p50 and p90
    assert "| 合计 | 4 | 3.25 | 1 | 0 | 1 | 1 | 1 |" in out  # conversation ratings
    assert "诊所挂号费多收了二十块，还不给发票，电话[电话]" in out
    for number in PERSONAL_NUMBERS:
        assert number not in out + done.stderr


def test_the_database_comes_from_the_settings_and_bad_dates_are_refused(seeded: Seeded) -> None:
    done = report("--since", "2026-11-23", "--until", "2026-11-24", env={"DATABASE_URL": seeded.database_url})
    assert done.returncode == 0, done.stderr
    assert "| 2026-11-23 | 医疗 | 投诉 | 2 |" in done.stdout and "2026-11-24 |" not in done.stdout

    bad = report("--since", "2026/11/23", env={"DATABASE_URL": seeded.database_url})
    assert bad.returncode == 2 and "不是日期" in bad.stderr and "Traceback" not in bad.stderr
    backwards = report("--since", "2026-12-01", "--until", "2026-11-01", env={"DATABASE_URL": seeded.database_url})
    assert backwards.returncode == 2 and "必须晚于" in backwards.stderr
    missing = report("--until", "2026-12-01")
    assert missing.returncode == 2 and "--since" in missing.stderr
