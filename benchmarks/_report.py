"""Small helpers every benchmark shares: markdown tables, percentiles, peak memory, machine notes."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
# ../shared beside the checkout; MSGABENCH_DIR for a checkout elsewhere (a git worktree, a CI runner).
MSGABENCH = Path(
    os.environ.get("MSGABENCH_DIR") or Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "msgabench"
)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000, q))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )


def publish_report(name: str, title: str, sections: list[str]) -> Path:
    """Print the sections and write them to benchmarks/results/<name>.md, as every benchmark does."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(f"# {title}\n\n_Machine: {machine()}_\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    print("\n\n".join(sections))
    print(f"\nwrote {path}")
    return path
