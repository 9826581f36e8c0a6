"""`hotline nlu …`: train the Rasa model and classify text with it.

Rasa 3.6 lives in its own Python 3.10 venv, so both commands drive it as a subprocess: the app
never imports Rasa.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from bot.train_progress import run_with_progress

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
MODEL_NAME = "hotline"
TRAIN_LOG = MODELS / "train.log"


def rasa_venv() -> Path:
    return Path(os.environ.get("HOTLINE_RASA_VENV", ROOT / ".venv-rasa"))


def rasa_env() -> dict[str, str]:
    # endpoints.yml reads these; `hotline up` sets them, other commands get these defaults.
    defaults = {
        "HOTLINE_ACTIONS_PORT": "5055",
        "HOTLINE_TRACKER_DB": str(ROOT / "var" / "rasa-trackers.db"),
        "HOTLINE_TRACKER_STORE": "rasa_addons.tracker_store.CachedSQLTrackerStore",
        "HOTLINE_TRACKER_SQLITE_WAL": "false",
    }
    return {**defaults, **os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}


def model_path() -> Path:
    return MODELS / f"{MODEL_NAME}.tar.gz"


def train(force: bool = False, out: TextIO | None = None) -> Path:
    """Train unless data and config are unchanged: Rasa fingerprints them and reuses its cache.

    Rasa's own output goes to models/train.log; `out` (default stdout) gets a progress line now and then.
    """
    rasa = rasa_venv() / "bin" / "rasa"
    if not rasa.exists():
        raise FileNotFoundError(f"{rasa} not found: run `make setup`")
    command = [str(rasa), "train", "--fixed-model-name", MODEL_NAME, "--out", str(MODELS)]
    if force:
        command.append("--force")
    code = run_with_progress(command, ROOT, rasa_env(), TRAIN_LOG, out or sys.stdout)
    if code:
        raise subprocess.CalledProcessError(code, command)
    return model_path()


def _worker_command(model: Path) -> list[str]:
    return [str(rasa_venv() / "bin" / "python"), str(ROOT / "scripts" / "rasa_classify.py"), str(model)]


def _is_ready_line(line: str) -> bool:
    """The worker's first line says the model is loaded; it is not a result."""
    return line.startswith('{"ready"')


def register(commands: argparse._SubParsersAction) -> None:
    nlu = commands.add_parser("nlu", help="the intent model")
    nlu_commands = nlu.add_subparsers(dest="nlu_command", required=True)
    train_parser = nlu_commands.add_parser("train", help="train (skipped when data and config are unchanged)")
    train_parser.add_argument("--force", action="store_true")
    train_parser.set_defaults(handler=lambda args: print(train(args.force)) or 0)
    classify = nlu_commands.add_parser(
        "classify", help='JSONL {"id", "text"} → {"id", "intent", "confidence", "entities", "ranking"}'
    )
    classify.add_argument("--model", type=Path, default=None, help="default: models/hotline.tar.gz")
    classify.set_defaults(handler=_classify)


def _classify(args: argparse.Namespace) -> int:
    model = args.model or model_path()
    if not model.exists():
        raise FileNotFoundError(f"no model at {model}: run `hotline nlu train`")
    worker = subprocess.Popen(
        _worker_command(model),
        stdin=sys.stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=rasa_env(),
        text=True,
    )
    assert worker.stdout is not None
    for line in worker.stdout:
        if not _is_ready_line(line):
            sys.stdout.write(line)
    sys.stdout.flush()
    return worker.wait()


def classify_lines(lines: list[dict], model: Path | None = None) -> list[dict]:
    """Classify records in one worker process (for benchmarks and tests)."""
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
    result = subprocess.run(
        _worker_command(model or model_path()),
        input=payload,
        capture_output=True,
        text=True,
        env=rasa_env(),
        check=True,
    )
    return [json.loads(line) for line in result.stdout.splitlines() if not _is_ready_line(line)]
