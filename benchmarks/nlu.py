"""Intent benchmark: held-out paraphrases we wrote, and message type on MSGABench (dev half).

The shipped model is trained only on data/nlu.yml. MSGABench messages are mapped onto its three
message types: complaint/report (and emergency, request_human) → 投诉/求助, suggestion → 建言,
everything else (ask_*, disclosure_request, …) → 咨询. The anchor, TF-IDF char 1–3-grams +
logistic regression, is trained on MSGABench itself (5-fold cross-validation here), so it is an
in-domain upper reference, not a peer.

    python benchmarks/nlu.py [--model models/hotline.tar.gz] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import MSGABENCH, publish_report, table

from bot.nlu import classify_lines, model_path

HELDOUT = Path(__file__).resolve().parent / "data" / "nlu_heldout.jsonl"
TYPE_OF_INTENT = {
    "complaint": "投诉/求助",
    "report": "投诉/求助",
    "emergency": "投诉/求助",
    "request_human": "投诉/求助",
    "suggestion": "建言",
}
TARGET_MACRO_F1 = 0.85


def scores(gold: list[str], predicted: list[str]) -> tuple[float, float, dict[str, float]]:
    from sklearn.metrics import accuracy_score, f1_score

    labels = sorted(set(gold))
    per_label = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    macro = f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)
    return float(accuracy_score(gold, predicted)), float(macro), dict(zip(labels, map(float, per_label), strict=True))


def tfidf_anchor(texts: list[str], labels: list[str]) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline

    anchor = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=4.0),
    )
    predicted = cross_val_predict(anchor, texts, labels, cv=5)
    accuracy, macro, _ = scores(labels, list(predicted))
    return accuracy, macro


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    model = args.model or model_path()

    heldout = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    raw_messages = (MSGABENCH / "messages_dev.jsonl").read_text(encoding="utf-8")
    messages = [json.loads(line) for line in raw_messages.splitlines()]
    if args.limit:
        messages = messages[: args.limit]

    started = time.perf_counter()
    predicted_heldout = classify_lines([{"id": i, "text": r["text"]} for i, r in enumerate(heldout)], model)
    predicted_messages = classify_lines([{"id": r["id"], "text": r["text"]} for r in messages], model)
    seconds = time.perf_counter() - started
    lines_per_second = (len(heldout) + len(messages)) / seconds  # includes one model load per call

    accuracy, macro, per_intent = scores([r["intent"] for r in heldout], [p["intent"] for p in predicted_heldout])
    gold_types = [r["type"] for r in messages]
    predicted_types = [TYPE_OF_INTENT.get(p["intent"], "咨询") for p in predicted_messages]
    type_accuracy, type_macro, per_type = scores(gold_types, predicted_types)
    anchor_accuracy, anchor_macro = tfidf_anchor([r["text"] for r in messages], gold_types)
    intents_seen = Counter(p["intent"] for p in predicted_messages).most_common(8)

    sections = [
        f"Model: `{model}` (trained on data/nlu.yml only). Held-out: {len(heldout)} paraphrases written apart from "
        f"the training data. MSGABench: {len(messages)} citizen messages.",
        "## Intents, held-out paraphrases\n\n"
        + table(["accuracy", "macro-F1"], [[accuracy, macro]])
        + "\n\n"
        + table(["intent", "F1"], sorted(per_intent.items(), key=lambda kv: kv[1])),
        "## Message type on MSGABench dev\n\n"
        + table(
            ["model", "accuracy", "macro-F1", "note"],
            [
                ["shipped Rasa model, intents mapped to types", type_accuracy, type_macro, "never saw MSGABench"],
                ["TF-IDF + LR anchor, 5-fold CV on MSGABench", anchor_accuracy, anchor_macro, "trained in-domain"],
            ],
        )
        + "\n\n"
        + table(["type", "F1 (shipped)"], sorted(per_type.items()))
        + "\n\nMost frequent predicted intents: "
        + ", ".join(f"{k} {v}" for k, v in intents_seen),
        "## Targets\n\n"
        + table(["target", "met"], [[f"message-type macro-F1 ≥ {TARGET_MACRO_F1}", type_macro >= TARGET_MACRO_F1]])
        + f"\n\nClassification throughput, one model load per call included: {lines_per_second:.0f} lines/s.",
    ]
    publish_report("nlu", "NLU benchmark", sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
