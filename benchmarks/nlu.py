"""Intent benchmark: held-out paraphrases we wrote, and message type on MSGABench (dev half).

Every model is trained only on data/nlu.yml. MSGABench messages are mapped onto its three message
types: complaint/report (and emergency, request_human) → 投诉/求助, suggestion → 建言, everything else
(ask_*, disclosure_request, …) → 咨询. The anchor, TF-IDF char 1–3-grams + logistic regression, is
trained on MSGABench itself (5-fold cross-validation here), so it is an in-domain upper reference,
not a peer.

Several models (pipeline variants) are compared side by side in one run against a baseline, normally
the shipped model. Each message goes one at a time through a warm worker, the same one
`hotline nlu classify` uses, so one pass gives both the intents and the parse latency.

    python benchmarks/nlu.py [--model NAME=PATH ...] [--baseline NAME] [--train-seconds NAME=SECONDS ...] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# This checkout's bot/ and scripts/, not whichever one the venv's editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _report import MSGABENCH, percentile_ms, publish_report, table

from bot.nlu import _is_ready_line, _worker_command, model_path, rasa_env

HELDOUT = Path(__file__).resolve().parent / "data" / "nlu_heldout.jsonl"
TYPE_OF_INTENT = {
    "complaint": "投诉/求助",
    "report": "投诉/求助",
    "emergency": "投诉/求助",
    "request_human": "投诉/求助",
    "suggestion": "建言",
}
MESSAGE_TYPES = ["咨询", "建言", "投诉/求助"]
TARGET_MACRO_F1 = 0.85
TARGET_PARSE_P50_MS = 40.0
# A variant replaces the baseline only if it wins on MSGABench without losing more than this on held-out.
HELDOUT_TOLERANCE = 0.01


@dataclass(frozen=True)
class Variant:
    name: str
    model: Path
    train_seconds: float | None


@dataclass(frozen=True)
class VariantScores:
    variant: Variant
    heldout_accuracy: float
    heldout_f1: float
    per_intent: dict[str, float]
    type_accuracy: float
    type_f1: float
    per_type: dict[str, float]
    confusion: list[list[int]]  # rows gold, columns predicted, in MESSAGE_TYPES order
    intents_seen: list[tuple[str, int]]
    load_seconds: float
    spoken_seconds: list[float]
    letter_seconds: list[float]


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


def classify_timed(texts: list[str], model: Path) -> tuple[list[str], list[float], float]:
    """Intents, round-trip seconds per message (parse plus a pipe hop), and model load seconds."""
    started = time.perf_counter()
    worker = subprocess.Popen(
        _worker_command(model),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=rasa_env(),
        text=True,
        bufsize=1,
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        line = worker.stdout.readline()
        while line and not _is_ready_line(line):  # Rasa may print before the ready line
            line = worker.stdout.readline()
        if not line:
            raise RuntimeError(f"classify worker exited before loading {model}")
        load_seconds = time.perf_counter() - started
        intents, seconds = [], []
        for number, text in enumerate(texts):
            started = time.perf_counter()
            worker.stdin.write(json.dumps({"id": number, "text": text}, ensure_ascii=False) + "\n")
            worker.stdin.flush()
            reply = worker.stdout.readline()
            if not reply:
                raise RuntimeError("classify worker exited early")
            seconds.append(time.perf_counter() - started)
            intents.append(json.loads(reply).get("intent") or "")
        return intents, seconds, load_seconds
    finally:
        worker.stdin.close()
        worker.wait()


def score_variant(variant: Variant, heldout: list[dict], messages: list[dict]) -> VariantScores:
    texts = [r["text"] for r in heldout] + [r["text"] for r in messages]
    intents, seconds, load_seconds = classify_timed(texts, variant.model)
    heldout_intents, message_intents = intents[: len(heldout)], intents[len(heldout) :]
    accuracy, macro, per_intent = scores([r["intent"] for r in heldout], heldout_intents)
    gold_types = [r["type"] for r in messages]
    predicted_types = [TYPE_OF_INTENT.get(intent, "咨询") for intent in message_intents]
    type_accuracy, type_macro, per_type = scores(gold_types, predicted_types)
    pairs = Counter(zip(gold_types, predicted_types, strict=True))
    confusion = [[pairs[(gold, predicted)] for predicted in MESSAGE_TYPES] for gold in MESSAGE_TYPES]
    summary = {
        "variant": variant.name,
        "heldout_accuracy": round(accuracy, 3),
        "heldout_macro_f1": round(macro, 3),
        "msgabench_macro_f1": round(type_macro, 3),
        "msgabench_accuracy": round(type_accuracy, 3),
    }
    print("summary " + json.dumps(summary), flush=True)  # progress: a full pass takes minutes per model
    return VariantScores(
        variant=variant,
        heldout_accuracy=accuracy,
        heldout_f1=macro,
        per_intent=per_intent,
        type_accuracy=type_accuracy,
        type_f1=type_macro,
        per_type=per_type,
        confusion=confusion,
        intents_seen=Counter(message_intents).most_common(8),
        load_seconds=load_seconds,
        spoken_seconds=seconds[: len(heldout)],
        letter_seconds=seconds[len(heldout) :],
    )


def beats(candidate: VariantScores, baseline: VariantScores) -> bool:
    return (
        candidate.type_f1 > baseline.type_f1
        and candidate.heldout_accuracy >= baseline.heldout_accuracy - HELDOUT_TOLERANCE
        and candidate.heldout_f1 >= baseline.heldout_f1 - HELDOUT_TOLERANCE
    )


def decision(results: list[VariantScores]) -> str:
    baseline, others = results[0], results[1:]
    winners = sorted((r for r in others if beats(r, baseline)), key=lambda r: r.type_f1, reverse=True)
    rule = f"higher MSGABench macro-F1 and at most {HELDOUT_TOLERANCE} lower held-out accuracy and macro-F1"
    if not winners:
        return f"**Decision:** keep `{baseline.variant.name}`: no variant has {rule}."
    return f"**Decision:** `{winners[0].variant.name}` beats `{baseline.variant.name}` ({rule})."


def comparison_table(results: list[VariantScores]) -> str:
    def train(r: VariantScores) -> str:
        return "–" if r.variant.train_seconds is None else f"{r.variant.train_seconds:.0f}"

    rows = [
        [
            r.variant.name,
            r.heldout_accuracy,
            r.heldout_f1,
            r.type_accuracy,
            r.type_f1,
            *(r.per_type.get(t, 0.0) for t in MESSAGE_TYPES),
            train(r),
            f"{r.load_seconds:.1f}",
            f"{percentile_ms(r.spoken_seconds, 50):.1f} / {percentile_ms(r.spoken_seconds, 95):.1f}",
            f"{percentile_ms(r.letter_seconds, 50):.1f} / {percentile_ms(r.letter_seconds, 95):.1f}",
        ]
        for r in results
    ]
    headers = ["model", "held-out acc", "held-out F1", "MSGA acc", "MSGA F1"]
    headers += [f"F1 {t}" for t in MESSAGE_TYPES]
    headers += ["train s", "load s", "parse ms spoken p50/p95", "parse ms letters p50/p95"]
    return table(headers, rows)


def details(r: VariantScores) -> str:
    confusion = table(
        ["gold \\ predicted", *MESSAGE_TYPES],
        [[gold, *row] for gold, row in zip(MESSAGE_TYPES, r.confusion, strict=True)],
    )
    weakest = sorted(r.per_intent.items(), key=lambda kv: kv[1])[:6]
    return (
        f"### {r.variant.name} (`{r.variant.model}`)\n\n"
        + confusion
        + "\n\nWeakest held-out intents (F1): "
        + ", ".join(f"{k} {v:.3f}" for k, v in weakest)
        + "\n\nMost frequent predicted intents on MSGABench: "
        + ", ".join(f"{k} {v}" for k, v in r.intents_seen)
    )


def named(values: list[str], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise SystemExit(f"{flag} expects NAME=VALUE, got {value!r}")
        pairs.append((name, rest))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH, scored in this order")
    parser.add_argument("--baseline", default="", help="NAME of the model the others must beat (default: first)")
    parser.add_argument("--train-seconds", action="append", default=[], help="NAME=SECONDS, from `rasa train`")
    parser.add_argument("--note", default="", help="how the models were trained, printed above the table")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="models scored at once; >1 inflates parse latency")
    args = parser.parse_args()
    train_seconds = {name: float(s) for name, s in named(args.train_seconds, "--train-seconds")}
    models = named(args.model, "--model") or [("shipped", str(model_path()))]
    variants = [Variant(name, Path(path), train_seconds.get(name)) for name, path in models]

    heldout = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    raw_messages = (MSGABENCH / "messages_dev.jsonl").read_text(encoding="utf-8")
    messages = [json.loads(line) for line in raw_messages.splitlines()]
    if args.limit:  # every k-th message: the file is grouped by type, a prefix would hold one type
        messages = messages[:: max(1, len(messages) // args.limit)][: args.limit]

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:  # each model runs in its own worker process
        results = list(pool.map(lambda variant: score_variant(variant, heldout, messages), variants))
    results.sort(key=lambda r: r.variant.name != (args.baseline or variants[0].name))  # baseline first, stable
    gold_types = [r["type"] for r in messages]
    anchor_accuracy, anchor_macro = tfidf_anchor([r["text"] for r in messages], gold_types)
    baseline = results[0]

    sections = [
        f"Held-out: {len(heldout)} paraphrases written apart from the training data (16 intents). MSGABench: "
        f"{len(messages)} citizen messages, message type (3 classes). Every model was trained on data/nlu.yml only. "
        + args.note,
        decision(results),
        "## Side by side\n\n"
        + comparison_table(results)
        + "\n\n"
        + table(
            ["reference", "MSGA acc", "MSGA F1", "note"],
            [["TF-IDF + LR, 5-fold CV on MSGABench", anchor_accuracy, anchor_macro, "trained in-domain"]],
        )
        + "\n\nParse ms: round trip per message through one warm classify worker, one message at a time; "
        "spoken = the held-out paraphrases, letters = the MSGABench messages. Load s: worker start until the "
        "model is ready. Train s: `rasa train nlu` wall time with an empty cache.",
        "## Message type confusion and weak spots\n\n" + "\n\n".join(details(r) for r in results),
        "## Targets (baseline)\n\n"
        + table(
            ["target", "met"],
            [
                [f"message-type macro-F1 ≥ {TARGET_MACRO_F1}", baseline.type_f1 >= TARGET_MACRO_F1],
                [
                    f"parse p50 ≤ {TARGET_PARSE_P50_MS:.0f} ms, spoken turns",
                    percentile_ms(baseline.spoken_seconds, 50) <= TARGET_PARSE_P50_MS,
                ],
            ],
        ),
    ]
    publish_report("nlu", "NLU benchmark", sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
