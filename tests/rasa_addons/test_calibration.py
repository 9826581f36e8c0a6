"""The temperature-scaling component, run in Rasa's venv on Rasa's own Message, as the pipeline runs it."""

import json
import subprocess

from bot import nlu

PROBE = """
import json
from rasa.shared.nlu.training_data.message import Message
from rasa_addons.calibration import TemperatureScaledIntents

ranking = [{"name": "disclosure_request", "confidence": 0.98}, {"name": "ask_policy", "confidence": 0.015},
           {"name": "greet", "confidence": 0.005}]
parsed = Message(data={"text": "五公开是哪五个公开", "intent": dict(ranking[0]), "intent_ranking": ranking})
button = Message(data={"text": "/complaint", "intent": {"name": "complaint", "confidence": 1.0}})
TemperatureScaledIntents({"temperature": 3.0}).process([parsed, button])
try:
    TemperatureScaledIntents({"temperature": 0})
    refused = False
except ValueError:
    refused = True
print(json.dumps({
    "ranking": parsed.get("intent_ranking"),
    "intent": parsed.get("intent"),
    "raw": parsed.get("intent_raw_confidence"),
    "output": sorted(parsed.output_properties),
    "button": button.get("intent"),
    "refused": refused,
}))
"""


def test_tempering_lowers_overconfidence_keeps_the_order_and_the_raw_figure():
    python = nlu.rasa_venv() / "bin" / "python"
    result = subprocess.run(
        [str(python), "-c", PROBE], cwd=nlu.ROOT, capture_output=True, text=True, timeout=300, env=nlu.rasa_env()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    probe = json.loads(result.stdout.splitlines()[-1])
    confidences = [r["confidence"] for r in probe["ranking"]]
    assert [r["name"] for r in probe["ranking"]] == ["disclosure_request", "ask_policy", "greet"]
    assert confidences == sorted(confidences, reverse=True) and abs(sum(confidences) - 1) < 1e-9
    # p ∝ p^(1/3): .98 : .015 : .005 → .994^… the top falls well below DIET's .98.
    expected_top = 0.98 ** (1 / 3) / sum(p ** (1 / 3) for p in (0.98, 0.015, 0.005))
    assert abs(probe["intent"]["confidence"] - expected_top) < 1e-9 and expected_top < 0.75
    assert probe["raw"] == 0.98
    assert {"intent", "intent_ranking", "intent_raw_confidence"} <= set(probe["output"])
    assert probe["button"] == {"name": "complaint", "confidence": 1.0}  # a payload has no ranking: untouched
    assert probe["refused"]
