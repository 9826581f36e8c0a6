"""The trained Rasa model, through `hotline nlu classify` (a real model, trained in this run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import nlu

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


E5_PROBE = """
import json
import numpy as np
from rasa.shared.nlu.training_data.message import Message
from rasa_addons.e5_featurizer import E5SentenceFeaturizer

featurizer = E5SentenceFeaturizer(E5SentenceFeaturizer.get_default_config(), "e5")
texts = ["医院乱收费，我要投诉", "我要投诉那家医院多收了钱", "建议社区医院周末也开放疫苗接种"]
messages = [Message(data={"text": t}) for t in texts] + [Message(data={"intent": "greet"})]
featurizer.process(messages)
vectors = [[f.features for f in m.features if f.type == "sentence"] for m in messages]
rows = np.vstack([v[0] for v in vectors[:3]])
print(json.dumps({
    "shapes": [[list(f.shape) for f in v] for v in vectors],
    "norms": np.linalg.norm(rows, axis=1).tolist(),
    "paraphrase_cosine": float(rows[0] @ rows[1]),
    "other_cosine": float(rows[0] @ rows[2]),
}))
"""


def test_e5_featurizer_adds_one_normalised_sentence_vector_per_text():
    """The custom component in rasa_addons/, run in the Rasa venv exactly as the pipeline runs it."""
    python = nlu.rasa_venv() / "bin" / "python"
    if not python.exists():
        pytest.skip("run `make setup` to create .venv-rasa")
    result = subprocess.run(
        [str(python), "-c", E5_PROBE], cwd=nlu.ROOT, capture_output=True, text=True, timeout=300, env=nlu.rasa_env()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    probe = json.loads(result.stdout.splitlines()[-1])
    assert probe["shapes"] == [[[1, 384]]] * 3 + [[]]  # a message without text gets no features
    assert all(abs(norm - 1) < 1e-3 for norm in probe["norms"])
    assert probe["paraphrase_cosine"] > probe["other_cosine"]
