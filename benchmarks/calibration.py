"""Intent confidence calibration: reliability diagram and expected calibration error, and the fitted temperature.

DIET says 1.0 when it is wrong. rasa_addons/calibration.py divides its logits by one temperature T;
this fits T on the gold set's dev split (benchmarks/data/answers_gold.jsonl) and reports, side by side,
DIET's own confidences (T = 1) and the calibrated ones on dev, test and the intent held-out sets.

"Right" is what the decision needs: a question is right on any question intent (they all answer), an
unanswerable question also on out_of_scope, a request on its own intent. So the probability of being
right is the sum over the right intents, and T minimises its negative log-likelihood on dev.

    python benchmarks/calibration.py [--model models/hotline.tar.gz] [--write]   # --write: T into config.yml
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages
from _report import publish_report, table

from actions.question_or_request import QUESTION_INTENTS
from benchmarks.gold import load_gold
from bot.nlu import classify_lines, model_path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config.yml"
HELDOUT = ROOT / "benchmarks" / "data" / "nlu_heldout.jsonl"
CONTRASTIVE = ROOT / "benchmarks" / "data" / "nlu_contrastive_heldout.jsonl"
BINS = 10
FALLBACK = "nlu_fallback"
TEMPERATURES = [round(0.5 + 0.05 * i, 2) for i in range(391)]  # 0.5 … 20
_TEMPERATURE_LINE = re.compile(r"(name: rasa_addons\.calibration\.TemperatureScaledIntents\n\s+temperature: )([\d.]+)")


@dataclass(frozen=True)
class Scored:
    """One message: the model's probabilities (T = 1) and which intents would be right."""

    probabilities: dict[str, float]
    right: frozenset[str]


def configured_temperature(config: Path = CONFIG) -> float:
    match = _TEMPERATURE_LINE.search(config.read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f"{config}: no TemperatureScaledIntents temperature")
    return float(match.group(2))


def untempered(ranking: dict[str, float], temperature: float) -> dict[str, float]:
    """The model's own softmax from a ranking tempered by `temperature`: p ∝ p_T ** T."""
    logs = {name: temperature * math.log(max(p, 1e-12)) for name, p in ranking.items()}
    top = max(logs.values())
    weights = {name: math.exp(value - top) for name, value in logs.items()}
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}


def tempered(probabilities: dict[str, float], temperature: float) -> dict[str, float]:
    return untempered(probabilities, 1 / temperature)


def right_intents(kind: str, expect: str | None) -> frozenset[str]:
    if kind == "question":
        return frozenset(QUESTION_INTENTS)
    if kind == "unanswerable":
        return frozenset((*QUESTION_INTENTS, "out_of_scope"))
    return frozenset([expect or ""])


def negative_log_likelihood(items: list[Scored], temperature: float) -> float:
    total = 0.0
    for item in items:
        p = tempered(item.probabilities, temperature)
        total -= math.log(max(sum(p.get(name, 0.0) for name in item.right), 1e-12))
    return total / max(len(items), 1)


def fit_temperature(items: list[Scored]) -> float:
    return min(TEMPERATURES, key=lambda t: negative_log_likelihood(items, t))


def path_of(intent: str) -> frozenset[str]:
    """The intents that lead where this one does: every question intent answers; a request is its own."""
    return frozenset(QUESTION_INTENTS) if intent in QUESTION_INTENTS else frozenset([intent])


def reliability(items: list[Scored], temperature: float) -> tuple[float, list[tuple[str, int, float, float]]]:
    """ECE and the diagram's rows (bin, count, mean confidence, accuracy) for the top intent's path.

    The confidence is the probability of the path the top intent leads to (for a question intent, all of
    them together), the figure the decision reads for a request intent.
    """
    rows: list[list[tuple[float, bool]]] = [[] for _ in range(BINS)]
    for item in items:
        p = tempered(item.probabilities, temperature)
        top = max(p, key=p.get)
        confidence = sum(p.get(name, 0.0) for name in path_of(top))
        rows[min(int(confidence * BINS), BINS - 1)].append((confidence, top in item.right))
    ece = 0.0
    diagram = []
    for index, members in enumerate(rows):
        if not members:
            continue
        confidence = sum(c for c, _ in members) / len(members)
        accuracy = sum(ok for _, ok in members) / len(members)
        ece += len(members) / len(items) * abs(confidence - accuracy)
        diagram.append((f"{index / BINS:.1f}–{(index + 1) / BINS:.1f}", len(members), confidence, accuracy))
    return ece, diagram


def score(records: list[tuple[str, frozenset[str]]], model: Path, temperature: float) -> list[Scored]:
    results = classify_lines([{"id": i, "text": text} for i, (text, _) in enumerate(records)], model)
    scored = []
    for (_, right), result in zip(records, results, strict=True):
        ranking = dict(result.get("ranking") or []) or {result["intent"]: result["confidence"]}
        # nlu_fallback is the fallback classifier's verdict, added after calibration: not one of DIET's classes.
        ranking = {name: p for name, p in ranking.items() if name != FALLBACK} or {FALLBACK: 1.0}
        scored.append(Scored(untempered(ranking, temperature), right))
    return scored


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=model_path())
    parser.add_argument("--write", action="store_true", help="write the fitted temperature into config.yml")
    args = parser.parse_args()
    trained_with = configured_temperature()
    sets: dict[str, list[tuple[str, frozenset[str]]]] = {
        split: [(g.text, right_intents(g.kind, g.expect)) for g in load_gold(split=split)] for split in ("dev", "test")
    }
    sets["intent held-out"] = [(r["text"], frozenset([r["intent"]])) for r in jsonl(HELDOUT)]
    sets["contrastive pairs"] = [(r["text"], frozenset([r["intent"]])) for r in jsonl(CONTRASTIVE)]
    everything = [record for records in sets.values() for record in records]
    scored_all = score(everything, args.model, trained_with)
    scored: dict[str, list[Scored]] = {}
    start = 0
    for name, records in sets.items():
        scored[name] = scored_all[start : start + len(records)]
        start += len(records)
    fitted = fit_temperature(scored["dev"])

    summary = []
    for name, items in scored.items():
        raw_ece, _ = reliability(items, 1.0)
        ece, _ = reliability(items, fitted)
        summary.append(
            [
                name,
                len(items),
                round(negative_log_likelihood(items, 1.0), 3),
                round(negative_log_likelihood(items, fitted), 3),
                round(raw_ece, 3),
                round(ece, 3),
            ]
        )
    summary_table = table(["set", "n", "NLL T=1", f"NLL T={fitted}", "ECE T=1", f"ECE T={fitted}"], summary)
    diagrams = []
    for name in ("dev", "test"):
        for temperature in (1.0, fitted):
            _, rows = reliability(scored[name], temperature)
            diagrams.append(f"### {name}, T = {temperature}\n")
            diagrams.append(
                table(
                    ["confidence bin", "n", "mean confidence", "accuracy"],
                    [[b, n, round(c, 3), round(a, 3)] for b, n, c, a in rows],
                )
            )
    print(summary_table)
    body = (
        f"Model: `{args.model.name}` (trained with T = {trained_with}). Temperature fitted on the gold dev split "
        f"only: **T = {fitted}**. A message is right when its top intent leads to the right path (any question "
        "intent for a question; also out_of_scope for an unanswerable one; the request's own intent). The "
        "confidence is that of the top intent's path (the question intents together; a request on its own).\n\n"
        "## Calibration, DIET's own confidence beside the calibrated one\n\n"
        f"{summary_table}\n\n## Reliability diagrams (top intent)\n\n" + "\n".join(diagrams)
    )
    publish_report("calibration", "Intent confidence calibration", [body])
    if args.write:
        text = CONFIG.read_text(encoding="utf-8")
        CONFIG.write_text(_TEMPERATURE_LINE.sub(lambda m: f"{m.group(1)}{fitted}", text), encoding="utf-8")
        print(f"config.yml: temperature {trained_with} → {fitted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
