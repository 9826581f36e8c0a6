"""From a fresh clone to the first answer: what `make run` costs a newcomer, step by step.

The benchmark clones this checkout's HEAD into a temporary directory and runs what `make run` runs
there: the setup, the index (`hotline index ensure`, with an empty embedding cache, so every chunk
is embedded), then `hotline up` (which trains Rasa with an empty cache, then starts Rasa, the
action server and the gateway), and asks the web chat's API one question. It times each step, and
keeps the progress lines `hotline up` printed while it trained.

The setup is either the real one (`--fresh-venvs`: `make setup` creates both venvs in the clone from
the locks) or none (default: the clone links this checkout's venvs, as the project's worktrees do;
`make setup` would then reinstall into the shared venvs, so it is skipped and the report says so).

    python benchmarks/first_answer.py [--fresh-venvs] [--question TEXT]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _report import publish_report, table

from bot.supervisor import free_port

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 8 * 60
READY = re.compile(r"\| ready: web chat on")
TRAINED = re.compile(r"训练 Rasa 模型：(完成|数据与配置未变)")
UP = re.compile(r"\| (rasa|actions|gateway) is up")


def run_step(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh-venvs", action="store_true", help="run `make setup` in the clone (minutes)")
    parser.add_argument("--question", default="出生医学证明丢了怎么补办")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="first-answer-") as tmp:
        clone = Path(tmp) / "hotline"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {
            **os.environ,
            "PYTHONPATH": str(clone),  # the clone's code, not the venv's editable install
            "HOTLINE_EMBED_CACHE": str(Path(tmp) / "embeddings.sqlite"),  # empty: every chunk is embedded
            "HF_HUB_OFFLINE": "1",
            "RASA_TELEMETRY_ENABLED": "false",
        }
        env.pop("RASA_CACHE_DIRECTORY", None)  # Rasa's cache in the clone: empty
        steps: list[tuple[str, float, str]] = []
        started = time.perf_counter()
        if args.fresh_venvs:
            # As a newcomer runs it: no PYTHONPATH (the clone's egg-info on it would fail the Rasa venv's pip check).
            plain = {k: v for k, v in env.items() if k != "PYTHONPATH"}
            steps.append(("make setup (both venvs from the locks)", run_step(["make", "setup"], clone, plain), ""))
        else:
            for venv in (".venv", ".venv-rasa"):
                (clone / venv).symlink_to((ROOT / venv).resolve())
            steps.append(("make setup", 0.0, "skipped: the venvs are linked (see the note)"))
        hotline = str(clone / ".venv" / "bin" / "hotline")
        index = clone / "var" / "index" / "knowledge"
        seconds = run_step([hotline, "index", "ensure", "--out", str(index), "knowledge"], clone, env)
        steps.append(("make index (hotline index ensure, empty embedding cache)", seconds, ""))

        port = free_port()
        command = [hotline, "up", "--index", str(index), "--port", str(port)]
        command += ["--rasa-port", str(free_port()), "--actions-port", str(free_port())]
        up_started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        lines: list[tuple[float, str]] = []
        ready = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append((time.perf_counter() - up_started, line.rstrip("\n")))
                if READY.search(line):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            if not ready.wait(args.timeout) or process.poll() is not None:
                tail = "\n".join(line for _, line in lines[-40:])
                raise SystemExit(f"hotline up did not get ready:\n{tail}")
            asked = time.perf_counter()
            reply = httpx.post(f"http://127.0.0.1:{port}/api/chat", json={"text": args.question}, timeout=300)
            answered = time.perf_counter()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reply.raise_for_status()
        body = reply.json()

    def at(pattern: re.Pattern[str]) -> float:
        return next((t for t, line in lines if pattern.search(line)), float("nan"))

    trained = at(TRAINED)
    ready_at = at(READY)
    steps.append(("hotline up: Rasa training (empty cache)", trained, ""))
    steps.append(("hotline up: Rasa, action server and gateway start", ready_at - trained, ""))
    intent = (body.get("intent") or {}).get("name", "?")
    mode = ", reduced mode" if body.get("reduced_mode") else ""
    steps.append(("first /api/chat answer", answered - asked, f"{args.question} → {intent}{mode}"))
    total = answered - started
    progress = [f"{t:6.0f} s  {line}" for t, line in lines if "训练 Rasa 模型" in line or UP.search(line)]
    rows = [[name, f"{seconds:.0f}", note] for name, seconds, note in steps]
    rows.append(["**total, clone to first answer**", f"**{total:.0f}**", f"target {TARGET_SECONDS} s"])
    answer = " ".join(m.get("text", "") for m in body.get("messages", []))[:160]
    publish_report(
        "first_answer",
        "From a fresh clone to the first answer",
        [
            "A clone of HEAD in a temporary directory; the index built with an empty embedding cache and Rasa "
            "trained with an empty cache, as on a new machine. **Machine shared and noisy**: load average "
            + " ".join(Path("/proc/loadavg").read_text().split()[:3])
            + " at the end.",
            table(["step", "seconds", "note"], rows),
            (
                ""
                if args.fresh_venvs
                else "The venvs were linked, not created: on a new machine `make setup` adds "
                "its own time (about 4 minutes on a quiet 2-core machine, issue 10). "
            )
            + f"First answer ({len(answer)} characters shown): {answer}",
            "What `hotline up` printed while it trained and started (seconds since it started):\n\n```\n"
            + "\n".join(progress)
            + "\n```",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
