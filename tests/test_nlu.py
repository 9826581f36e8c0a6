"""The trained Rasa model, through `hotline nlu classify` (a real model, trained in this run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

HOTLINE = str(Path(sys.executable).with_name("hotline"))


def test_classify_streams_intents_for_jsonl(trained_model):
    lines = [
        {"id": "a", "text": "我要投诉那个医院乱收费，态度还特别差"},
        {"id": "b", "text": "快来人，我爸突然倒地不省人事了"},
        {"id": "c", "text": "出生医学证明丢了去哪补办"},
        {"id": "d", "text": "转人工"},
    ]
    stdin = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\nnot json\n"
    result = subprocess.run(
        [HOTLINE, "nlu", "classify", "--model", str(trained_model)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    intents = {r["id"]: r["intent"] for r in records[:4]}
    assert intents == {"a": "complaint", "b": "emergency", "c": "ask_service", "d": "request_human"}
    assert all(0 < r["confidence"] <= 1 for r in records[:4])
    assert records[4]["error"].startswith("line 5:")
