"""Emergency net benchmark: recall on emergencies in progress, false alarms on knowledge questions.

Sets, all scored by bot/conversation/emergency.py (`assess`) and, side by side, by the baseline (the keyword list
with a knowledge-question veto that main had before issue 9, copied below):

- tests/data/emergencies.jsonl: the labelled set we wrote (emergencies in progress in spoken Chinese,
  and knowledge questions about the same dangers), per category. The rules were written against it.
- benchmarks/data/emergencies_heldout.jsonl: written at the same time, kept out of the rule writing
  until its first run (the figures of that run are quoted below).
- data/nlu.yml and benchmarks/data/nlu_heldout.jsonl: the intent data, written earlier for the intent
  model: `emergency` examples should be caught, every other intent's examples not.
- MSGABench messages (dev half, Beijing 12345 letters), if present: the share of ordinary hotline
  traffic escalated. Read here to measure only; nothing is copied or tuned on it.

    python benchmarks/emergency.py [--msgabench DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
# This checkout's bot/, not whichever one the venv's editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _report import MSGABENCH, percentile_ms, publish_report, table

from bot.conversation.emergency import Category, assess

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "emergencies.jsonl"
HELDOUT = ROOT / "benchmarks" / "data" / "emergencies_heldout.jsonl"
NLU_HELDOUT = ROOT / "benchmarks" / "data" / "nlu_heldout.jsonl"
TARGET_RECALL = 1.0
TARGET_FALSE_ALARMS = 0.10
# The held-out set's first run, before its misses were looked at (the rules have seen it since).
HELDOUT_FIRST_RUN = "quoted from its first run on 2026-12-01: recall 53/58 (.914), false alarms 3/36 (.083)"

# --- The baseline: bot/conversation/emergency.py at 436f1f3 ---------------------------------------------------------
_BASELINE_EMERGENCY = re.compile(
    "|".join(
        [
            r"昏迷|晕倒了|晕过去|不省人事|叫不醒|没反应了|没有意识",
            r"抽过去|抽搐|抽风|口吐白沫",
            r"没(有)?呼吸|喘不上气|呼吸困难|憋得脸发紫|窒息|噎住|卡住(了)?喉咙",
            r"心脏骤停|心跳停|胸口剧痛|胸口疼得厉害",
            r"大出血|血止不住|流了很多血|流血不止",
            r"自杀|轻生|不想活了?|活不下去|割腕|跳楼|上吊",
            r"喝了农药|喝农药|吃了(很多|一瓶|好多)(安眠)?药|服毒|煤气中毒|一氧化碳中毒|食物中毒了",
            r"溺水|触电|被砍|拿刀|持刀|砍人|要杀|打死人",
            r"着火了|起火了|火灾",
            r"车祸|被车撞",
            r"休克|中风了|脑出血|偏瘫了",
            r"羊水破了|大出血",
            r"急救|救命",
        ]
    )
)
_BASELINE_KNOWLEDGE = re.compile(r"怎么预防|如何预防|预防措施|怎样避免|如何避免|有哪些症状|是什么原因|科普|知识")


def baseline(text: str) -> bool:
    text = unicodedata.normalize("NFKC", text)
    return bool(_BASELINE_EMERGENCY.search(text)) and not _BASELINE_KNOWLEDGE.search(text)


def current(text: str) -> bool:
    return assess(text) is not None


DETECTORS: dict[str, Callable[[str], bool]] = {"bot/conversation/emergency.py": current, "baseline (436f1f3)": baseline}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def share(hits: int, total: int) -> str:
    return f"{hits}/{total} ({hits / total:.3f})" if total else "-"


def per_category(rows: list[dict]) -> str:
    headers = ["category", "emergencies"]
    headers += [f"recall, {name}" for name in DETECTORS] + ["category right"]
    headers += ["knowledge"] + [f"false alarms, {name}" for name in DETECTORS]
    body = []
    for category in [*Category, None]:
        group = [r for r in rows if category is None or r["category"] == category]
        emergencies = [r["text"] for r in group if r["label"] == "emergency"]
        knowledge = [r["text"] for r in group if r["label"] == "knowledge"]
        right = sum(
            1
            for r in group
            if r["label"] == "emergency" and (found := assess(r["text"])) and found.category == r["category"]
        )
        line: list[object] = ["**all**" if category is None else category.value, len(emergencies)]
        line += [share(sum(map(detect, emergencies)), len(emergencies)) for detect in DETECTORS.values()]
        line += [share(right, len(emergencies)), len(knowledge)]
        line += [share(sum(map(detect, knowledge)), len(knowledge)) for detect in DETECTORS.values()]
        body.append(line)
    return table(headers, body)


def totals(name: str, rows: list[dict]) -> list[object]:
    emergencies = [r["text"] for r in rows if r["label"] == "emergency"]
    knowledge = [r["text"] for r in rows if r["label"] == "knowledge"]
    line: list[object] = [name]
    for detect in DETECTORS.values():
        line += [
            share(sum(map(detect, emergencies)), len(emergencies)),
            share(sum(map(detect, knowledge)), len(knowledge)),
        ]
    return line


def nlu_rows() -> list[dict]:
    """The intent data as labelled rows: `emergency` examples are emergencies, the rest are not."""
    nlu = yaml.safe_load((ROOT / "data" / "nlu.yml").read_text(encoding="utf-8"))["nlu"]
    rows = [
        {"text": line[2:].strip(), "intent": block["intent"]}
        for block in nlu
        if "intent" in block
        for line in block["examples"].splitlines()
        if line.strip()
    ]
    rows += read_jsonl(NLU_HELDOUT)
    return [{"text": r["text"], "label": "emergency" if r["intent"] == "emergency" else "knowledge"} for r in rows]


def mistakes(rows: list[dict]) -> str:
    missed = [r for r in rows if r["label"] == "emergency" and not current(r["text"])]
    alarms = [r for r in rows if r["label"] == "knowledge" and current(r["text"])]
    lines = [f"- missed ({r.get('category', '')}): {r['text']}" for r in missed]
    for r in alarms:
        found = assess(r["text"])
        assert found is not None
        lines.append(f"- false alarm ({r.get('category', '')}, {found.reason}): {r['text']}")
    return "\n".join(lines) or "- none"


def latency(texts: list[str]) -> str:
    seconds = []
    for text in texts:
        runs = []
        for _ in range(3):  # the best of three: the machine is shared, and a pause is not the net's cost
            start = time.perf_counter()
            assess(text)
            runs.append(time.perf_counter() - start)
        seconds.append(min(runs))
    return (
        f"`assess` per message over {len(texts)} messages (best of 3 runs each): "
        f"p50 {percentile_ms(seconds, 50) * 1000:.0f} µs, p99 {percentile_ms(seconds, 99) * 1000:.0f} µs, "
        f"max {max(seconds) * 1e6:.0f} µs; regular expressions only, no model."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--msgabench", type=Path, default=MSGABENCH, help="the MSGABench dev folder")
    args = parser.parse_args()
    labelled, heldout, intents = read_jsonl(LABELLED), read_jsonl(HELDOUT), nlu_rows()
    sections = [
        "Recall: the share of emergencies in progress that get the guidance first. False alarms: the share of "
        "knowledge questions escalated as emergencies. Targets: recall "
        f"{TARGET_RECALL:.1f} on emergencies, at most {TARGET_FALSE_ALARMS:.0%} of knowledge questions escalated.",
        f"## The labelled set, per category ({LABELLED.relative_to(ROOT)})\n\n" + per_category(labelled),
        f"## The held-out set, per category ({HELDOUT.relative_to(ROOT)})\n\n"
        f"Before any rule looked at it: {HELDOUT_FIRST_RUN}. Its misses were fixed after that run "
        "(and two category labels made consistent with the rule), so the figures below are no longer held out.\n\n"
        + per_category(heldout),
    ]
    headers = ["set"]
    for name in DETECTORS:
        headers += [f"recall, {name}", f"false alarms, {name}"]
    summary = [
        totals("labelled set", labelled),
        totals("held-out set", heldout),
        totals("intent data (data/nlu.yml + nlu_heldout): emergency vs every other intent", intents),
    ]
    sections.append("## Every set\n\n" + table(headers, summary))

    messages_path = args.msgabench / "messages_dev.jsonl"
    if messages_path.exists():
        messages = [r["text"] for r in read_jsonl(messages_path)]
        flagged = [share(sum(map(detect, messages)), len(messages)) for detect in DETECTORS.values()]
        sections.append(
            "## Ordinary hotline traffic (MSGABench dev messages, Beijing 12345; not labelled for emergencies)\n\n"
            + table(["messages", *[f"escalated, {name}" for name in DETECTORS]], [[len(messages), *flagged]])
            + "\n\nAn upper bound on the operator load from false alarms: a few of these letters may describe a "
            "real danger. Not inspected, so that no rule is fitted to them."
        )
    else:
        messages = []
        sections.append(f"## Ordinary hotline traffic\n\nskipped: {messages_path} not found")

    sections.append("## What bot/conversation/emergency.py gets wrong\n\n" + mistakes(labelled + heldout))
    all_texts = [r["text"] for r in labelled + heldout + intents] + messages
    sections.append("## Speed\n\n" + latency(all_texts))

    rows = labelled + heldout
    recall = sum(current(r["text"]) for r in rows if r["label"] == "emergency") / sum(
        r["label"] == "emergency" for r in rows
    )
    alarms = sum(current(r["text"]) for r in rows if r["label"] == "knowledge") / sum(
        r["label"] == "knowledge" for r in rows
    )
    verdict = "met" if recall >= TARGET_RECALL and alarms <= TARGET_FALSE_ALARMS else "NOT met"
    sections.append(
        f"Targets {verdict} on the labelled and held-out sets: recall {recall:.3f}, false alarms {alarms:.3f}."
    )
    publish_report("emergency", "Emergency net: recall and false alarms", sections)


if __name__ == "__main__":
    main()
