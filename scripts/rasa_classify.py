"""Classify JSONL {"id", "text"} lines with a trained Rasa model.

Each line gets {"id", "intent", "confidence", "entities", "ranking"}: ranking holds the classifier's best three
[intent, confidence] pairs, also when the fallback won.

Runs in .venv-rasa (Python 3.10).

Called by `hotline nlu classify`; kept free of the app's packages because Rasa 3.6 cannot live
beside them (so the JSONL line handling mirrors index/cli.py's instead of importing it). Loads the
model once and streams: thousands of lines cost one load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

# Like `rasa run` from the project root: a model that names components in rasa_addons/ can load.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    model_path = sys.argv[1]
    logging.disable(logging.WARNING)
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    import structlog

    # Rasa logs every parse through structlog to stdout, which is our JSONL channel.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    loop = asyncio.new_event_loop()
    print(json.dumps({"ready": True}), flush=True)  # the caller may start timing here
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        query_id = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError('expected {"id": ..., "text": "..."}')
            query_id = record.get("id")
            parsed = loop.run_until_complete(agent.parse_message(record["text"]))
            intent = parsed.get("intent") or {}
            confidence = round(float(intent.get("confidence") or 0), 4)
            entities = [{"entity": e.get("entity"), "value": e.get("value")} for e in parsed.get("entities") or []]
            # Every intent the classifier ranked, best first, even when the fallback won: calibration
            # (benchmarks/calibration.py) and the benchmarks read them.
            ranking = [
                [r.get("name"), round(float(r.get("confidence") or 0), 6)]
                for r in parsed.get("intent_ranking") or []
                if r.get("name") != "nlu_fallback"
            ]
            result = {
                "id": query_id,
                "intent": intent.get("name"),
                "confidence": confidence,
                "entities": entities,
                "ranking": ranking,
            }
            if "intent_raw_confidence" in parsed:  # rasa_addons/calibration.py: DIET's own figure
                result["raw_confidence"] = round(float(parsed["intent_raw_confidence"]), 6)
        except ValueError as exc:
            result = {"id": query_id, "error": f"line {number}: {exc}"}
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
