"""Intent benchmark, and what each Rasa config costs to train and to run, side by side in one run.

Held-out paraphrases we wrote (benchmarks/data/nlu_heldout.jsonl) and message type on MSGABench (dev
half). Every model is trained only on data/nlu.yml. MSGABench messages are mapped onto its three
message types: complaint/report (and emergency, request_human) → 投诉/求助, suggestion → 建言,
everything else (ask_*, disclosure_request, …) → 咨询. The anchor, TF-IDF char 1–3-grams + logistic
regression, is trained on MSGABench itself (5-fold cross-validation here), so it is an in-domain upper
reference, not a peer.

Variants are Rasa configs trained here (`--train NAME=CONFIG`), one after another, each with an
empty cache, as a fresh clone's `make run` trains: wall time and CPU time (user + system of `rasa
train` and its children; steadier than wall time on a shared machine), and each epoch-trained
component's share from Rasa's log. Already trained models can be scored too (`--model NAME=PATH`).
For every model:
- each message goes one at a time through a warm worker, the same one `hotline nlu classify` uses,
  so one pass gives the intents, the ticket numbers found as entities, and the parse latency;
- tests/test_stories.yml through `rasa test core` (the end-to-end conversations CI runs);
- Rasa's CPU per turn, in process, by benchmarks/rasa_turn_profile.py (the method of
  benchmarks/turns.py): turns.py's scripted conversations against one action server, the
  CachedSQLTrackerStore `hotline up` uses; models in turn, then again in reverse order.

With no --train or --model, today's config (benchmarks/configs/today.yml, config.yml before issue
10) is compared with the shipped config.yml.

    python benchmarks/nlu.py [--train NAME=CONFIG ...] [--model NAME=PATH ...] [--baseline NAME] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# This checkout's bot/ and scripts/, not whichever one the venv's editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import yaml
from _report import MSGABENCH, percentile_ms, publish_report, table

from actions.ticket_actions import TICKET_ID
from bot.nlu import _is_ready_line, _worker_command, rasa_env, rasa_venv
from bot.supervisor import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = Path(__file__).resolve().parent / "data" / "nlu_heldout.jsonl"
TODAY_CONFIG = Path(__file__).resolve().parent / "configs" / "today.yml"
BENCH_MODELS = ROOT / "models" / "bench"  # gitignored, like models/
TYPE_OF_INTENT = {
    "complaint": "投诉/求助",
    "report": "投诉/求助",
    "emergency": "投诉/求助",
    "request_human": "投诉/求助",
    "suggestion": "建言",
}
MESSAGE_TYPES = ["咨询", "建言", "投诉/求助"]
FALLBACK = "nlu_fallback"
TARGET_MACRO_F1 = 0.85
TARGET_PARSE_P50_MS = 40.0
# Issue 10: a config that trains at least this much faster, losing at most HELDOUT_TOLERANCE on held-out
# accuracy and macro-F1 and keeping MSGABench message-type macro-F1 at or above MSGABENCH_FLOOR.
TARGET_SPEEDUP = 4.0
HELDOUT_TOLERANCE = 0.01
MSGABENCH_FLOOR = 0.623
ISSUE_HELDOUT = (0.926, 0.931)  # the shipped model's held-out accuracy and macro-F1 when issue 10 was filed
PROFILE_STORE = "CachedSQLTrackerStore"  # what `hotline up` runs
PROFILE_STEPS = ["NLU", "policy predictions", "whole turn"]
# "2026-12-01 13:51:15 INFO     rasa.engine.training.hooks  - Starting to train component 'DIETClassifier'."
_HOOK = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) INFO\s+rasa\.engine\.training\.hooks\s+- "
    r"(Starting to train|Finished training) component '(\w+)'"
)
TIMED_COMPONENTS = ["DIETClassifier", "TEDPolicy"]
SEEDED_COMPONENTS = {"DIETClassifier", "TEDPolicy", "ResponseSelector", "UnexpecTEDIntentPolicy"}


@dataclass(frozen=True)
class Training:
    config: Path
    wall: float
    cpu: float  # user + system seconds of `rasa train` and every child it waited for
    components: dict[str, float]  # wall seconds of each component, from Rasa's log


@dataclass(frozen=True)
class Variant:
    name: str
    model: Path
    training: Training | None = None
    group: str = ""  # the config's name: its seeds are averaged in the summary

    @property
    def config_name(self) -> str:
        return self.group or self.name


@dataclass
class VariantScores:
    variant: Variant
    heldout_accuracy: float
    heldout_f1: float
    top_accuracy: float  # the classifier's best intent, as if there were no fallback
    top_f1: float
    fallback_share: float  # held-out messages the fallback took
    per_intent: dict[str, float]
    type_accuracy: float
    type_f1: float
    per_type: dict[str, float]
    confusion: list[list[int]]  # rows gold, columns predicted, in MESSAGE_TYPES order
    intents_seen: list[tuple[str, int]]
    ticket_ids: tuple[int, int]  # held-out ticket numbers extracted exactly, of those written
    load_seconds: float
    spoken_seconds: list[float]
    letter_seconds: list[float]
    stories: str = "–"
    turn_cpu_ms: dict[str, float] = field(default_factory=dict)  # PROFILE_STEPS → mean CPU ms per turn


# --- training -------------------------------------------------------------------------------------------


def seeded(config: Path, seed: int, name: str) -> Path:
    """A copy of the config whose trained components all start from `seed`."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    for item in [*(data.get("pipeline") or []), *(data.get("policies") or [])]:
        if item.get("name") in SEEDED_COMPONENTS:
            item["random_seed"] = seed
    copy = BENCH_MODELS / f"{name}.config.yml"
    copy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return copy


def train(name: str, config: Path, seed: int | None = None, group: str = "") -> Variant:
    """`rasa train` (NLU and dialogue) with this config and an empty cache, timed."""
    BENCH_MODELS.mkdir(parents=True, exist_ok=True)
    log = BENCH_MODELS / f"{name}.train.log"
    trained_config = config if seed is None else seeded(config, seed, name)
    with tempfile.TemporaryDirectory(prefix=f"rasa-cache-{name}-") as cache, log.open("wb") as sink:
        command = [str(rasa_venv() / "bin" / "rasa"), "train", "--config", str(trained_config), "--force"]
        command += ["--out", str(BENCH_MODELS), "--fixed-model-name", name]
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env={**rasa_env(), "RASA_CACHE_DIRECTORY": cache}, stdout=sink, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of exactly this child and its children
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"training {name} failed ({process.returncode}); see {log}")
    training = Training(config, wall, usage.ru_utime + usage.ru_stime, component_seconds(log.read_text("utf-8")))
    print(f"trained {name}: {wall:.0f} s wall, {training.cpu:.0f} s CPU", flush=True)
    return Variant(name, BENCH_MODELS / f"{name}.tar.gz", training, group)


def component_seconds(log: str) -> dict[str, float]:
    """Wall seconds per component from Rasa's "Starting/Finished training component" lines."""
    started: dict[str, datetime] = {}
    seconds: dict[str, float] = {}
    for moment, what, component in _HOOK.findall(log):
        at = datetime.strptime(moment, "%Y-%m-%d %H:%M:%S")
        if what.startswith("Starting"):
            started[component] = at
        elif component in started:
            seconds[component] = seconds.get(component, 0.0) + (at - started.pop(component)).total_seconds()
    return seconds


# --- intents --------------------------------------------------------------------------------------------


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


def classify_timed(texts: list[str], model: Path) -> tuple[list[dict], list[float], float]:
    """Parses, round-trip seconds per message (parse plus a pipe hop), and model load seconds."""
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
        parses, seconds = [], []
        for number, text in enumerate(texts):
            started = time.perf_counter()
            worker.stdin.write(json.dumps({"id": number, "text": text}, ensure_ascii=False) + "\n")
            worker.stdin.flush()
            reply = worker.stdout.readline()
            if not reply:
                raise RuntimeError("classify worker exited early")
            seconds.append(time.perf_counter() - started)
            parses.append(json.loads(reply))
        return parses, seconds, load_seconds
    finally:
        worker.stdin.close()
        worker.wait()


def top_intent(parse: dict) -> str:
    ranking = parse.get("ranking") or []
    return ranking[0][0] if ranking else parse.get("intent") or ""


def ticket_ids_found(heldout: list[dict], parses: list[dict]) -> tuple[int, int]:
    """Held-out messages that carry a ticket number whose `ticket_id` entity is exactly it, and how many carry one."""
    written = found = 0
    for record, parse in zip(heldout, parses, strict=True):
        if number := TICKET_ID.search(record["text"]):
            written += 1
            values = [e["value"] for e in parse.get("entities") or [] if e.get("entity") == "ticket_id"]
            found += values == [number.group()]
    return found, written


def score_variant(variant: Variant, heldout: list[dict], messages: list[dict]) -> VariantScores:
    texts = [r["text"] for r in heldout] + [r["text"] for r in messages]
    parses, seconds, load_seconds = classify_timed(texts, variant.model)
    heldout_parses, message_parses = parses[: len(heldout)], parses[len(heldout) :]
    gold = [r["intent"] for r in heldout]
    routed = [p.get("intent") or "" for p in heldout_parses]
    accuracy, macro, per_intent = scores(gold, routed)
    top_accuracy, top_macro, _ = scores(gold, [top_intent(p) for p in heldout_parses])
    message_intents = [p.get("intent") or "" for p in message_parses]
    gold_types = [r["type"] for r in messages]
    predicted_types = [TYPE_OF_INTENT.get(intent, "咨询") for intent in message_intents]
    type_accuracy, type_macro, per_type = scores(gold_types, predicted_types)
    pairs = Counter(zip(gold_types, predicted_types, strict=True))
    confusion = [[pairs[(gold, predicted)] for predicted in MESSAGE_TYPES] for gold in MESSAGE_TYPES]
    summary = {
        "variant": variant.name,
        "heldout_accuracy": round(accuracy, 3),
        "heldout_macro_f1": round(macro, 3),
        "heldout_top_accuracy": round(top_accuracy, 3),
        "heldout_fallback": routed.count(FALLBACK),
        "ticket_ids": ticket_ids_found(heldout, heldout_parses),
        "msgabench_macro_f1": round(type_macro, 3),
        "msgabench_accuracy": round(type_accuracy, 3),
    }
    print("summary " + json.dumps(summary), flush=True)  # progress: a full pass takes minutes per model
    return VariantScores(
        variant=variant,
        heldout_accuracy=accuracy,
        heldout_f1=macro,
        top_accuracy=top_accuracy,
        top_f1=top_macro,
        fallback_share=routed.count(FALLBACK) / len(routed),
        per_intent=per_intent,
        type_accuracy=type_accuracy,
        type_f1=type_macro,
        per_type=per_type,
        confusion=confusion,
        intents_seen=Counter(message_intents).most_common(8),
        ticket_ids=ticket_ids_found(heldout, heldout_parses),
        load_seconds=load_seconds,
        spoken_seconds=seconds[: len(heldout)],
        letter_seconds=seconds[len(heldout) :],
    )


# --- conversations ----------------------------------------------------------------------------------------


def test_stories(model: Path) -> str:
    """tests/test_stories.yml through `rasa test core`, as tests/test_rasa_project.py runs it."""
    with tempfile.TemporaryDirectory(prefix="nlu-bench-stories-") as out:
        command = [str(rasa_venv() / "bin" / "rasa"), "test", "core", "--model", str(model)]
        command += ["--stories", "tests/test_stories.yml", "--out", out, "--no-plot"]
        done = subprocess.run(command, cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=1800)
        if done.returncode:
            return f"error ({done.returncode})"
        failed = Path(out) / "failed_test_stories.yml"
        count = failed.read_text(encoding="utf-8").count("- story:") if failed.exists() else 0
    total = (ROOT / "tests" / "test_stories.yml").read_text(encoding="utf-8").count("- story:")
    return f"{total - count}/{total}"


def start_action_server(index: Path, var: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOTLINE_VAR": str(var), "HOTLINE_INDEX": str(index)}
    env["DATABASE_URL"] = f"sqlite:///{var / 'hotline.db'}"
    log = (var / "actions.log").open("wb")
    command = [sys.executable, "-m", "actions.server", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{url}/health", timeout=600) or process.poll() is not None:
        process.kill()
        raise SystemExit(f"the action server did not come up:\n{(var / 'actions.log').read_text()[-2000:]}")
    return process, url


def turn_profile(model: Path, actions_url: str, directory: Path, rounds: int) -> list[dict[str, float]]:
    """benchmarks/rasa_turn_profile.py for one model: a dict of step → seconds per timed turn."""
    from turns import SCRIPTS

    conversations = json.dumps([[t.text for t in script] for script in SCRIPTS], ensure_ascii=False)
    command = [str(rasa_venv() / "bin" / "python"), str(ROOT / "benchmarks" / "rasa_turn_profile.py")]
    command += [str(model), actions_url, str(directory), conversations, str(rounds), PROFILE_STORE]
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"Rasa in-process profile of {model} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])[PROFILE_STORE]


def turn_cpu(results: list[VariantScores], index: Path, rounds: int) -> None:
    """Fills each result's turn_cpu_ms: models in order, then in reverse, so drift hits them alike."""
    with tempfile.TemporaryDirectory(prefix="nlu-bench-turns-") as tmp:
        process, url = start_action_server(index, Path(tmp))
        try:
            turns: dict[str, list[dict[str, float]]] = {r.variant.name: [] for r in results}
            for n, r in enumerate([*results, *reversed(results)]):
                turns[r.variant.name] += turn_profile(r.variant.model, url, Path(tmp) / f"profile-{n}", rounds)
                print(f"turn profile {r.variant.name}: {len(turns[r.variant.name])} turns", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=60)
    for r in results:
        r.turn_cpu_ms = {
            step: statistics.fmean(t.get(f"{step} cpu", 0.0) for t in turns[r.variant.name]) * 1000
            for step in PROFILE_STEPS
        }


# --- the report -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSummary:
    """One config's models (one per seed), averaged."""

    name: str
    runs: list[VariantScores]

    def mean(self, value: Callable[[VariantScores], float]) -> float:
        return statistics.fmean(value(r) for r in self.runs)

    def spread(self, value: Callable[[VariantScores], float]) -> str:
        """Mean, and the range over seeds when there are several."""
        values = [value(r) for r in self.runs]
        mean = f"{statistics.fmean(values):.3f}"
        return mean if len(values) == 1 else f"{mean} ({min(values):.3f}–{max(values):.3f})"

    def training(self, what: str) -> float:
        values = [getattr(r.variant.training, what) for r in self.runs if r.variant.training]
        return statistics.fmean(values) if values else float("nan")

    def component(self, name: str) -> float:
        values = [r.variant.training.components.get(name, 0.0) for r in self.runs if r.variant.training]
        return statistics.fmean(values) if values else float("nan")

    @property
    def heldout_accuracy(self) -> float:
        return self.mean(lambda r: r.heldout_accuracy)

    @property
    def heldout_f1(self) -> float:
        return self.mean(lambda r: r.heldout_f1)

    @property
    def type_f1(self) -> float:
        return self.mean(lambda r: r.type_f1)

    @property
    def stories(self) -> str:
        return ", ".join(sorted({r.stories for r in self.runs}))

    @property
    def ticket_ids(self) -> str:
        return f"{sum(r.ticket_ids[0] for r in self.runs)}/{sum(r.ticket_ids[1] for r in self.runs)}"

    @property
    def turn_cpu_ms(self) -> dict[str, float]:
        return next((r.turn_cpu_ms for r in self.runs if r.turn_cpu_ms), {})


def summarise(results: list[VariantScores]) -> list[ConfigSummary]:
    groups: dict[str, list[VariantScores]] = {}
    for r in results:
        groups.setdefault(r.variant.config_name, []).append(r)
    return [ConfigSummary(name, runs) for name, runs in groups.items()]


def keeps_quality(candidate: ConfigSummary, baseline: ConfigSummary) -> bool:
    return (
        candidate.heldout_accuracy >= baseline.heldout_accuracy - HELDOUT_TOLERANCE
        and candidate.heldout_f1 >= baseline.heldout_f1 - HELDOUT_TOLERANCE
        and candidate.type_f1 >= min(MSGABENCH_FLOOR, baseline.type_f1)
        and candidate.stories == baseline.stories
    )


def speedup(candidate: ConfigSummary, baseline: ConfigSummary, what: str) -> float:
    return baseline.training(what) / candidate.training(what)


def decision(summaries: list[ConfigSummary]) -> str:
    baseline, others = summaries[0], summaries[1:]
    rule = (
        f"mean held-out accuracy and macro-F1 at most {HELDOUT_TOLERANCE} below `{baseline.name}`'s, mean MSGABench "
        f"macro-F1 ≥ {min(MSGABENCH_FLOOR, baseline.type_f1):.3f}, the same test stories passing"
    )
    keep = [c for c in others if keeps_quality(c, baseline) and c.runs[0].variant.training]  # trained here
    fast = [c for c in keep if speedup(c, baseline, "cpu") >= TARGET_SPEEDUP]
    if not keep:
        return f"**Decision:** no config keeps the quality of `{baseline.name}` ({rule})."
    best = min(fast or keep, key=lambda c: c.training("cpu"))
    verdict = "trains fastest" if fast else f"trains fastest, but less than {TARGET_SPEEDUP:g}× faster"
    return (
        f"**Decision:** of the configs that keep the quality of `{baseline.name}` ({rule}), `{best.name}` "
        f"{verdict}: {speedup(best, baseline, 'cpu'):.1f}× less CPU time, {speedup(best, baseline, 'wall'):.1f}× "
        "less wall time."
    )


def summary_table(summaries: list[ConfigSummary]) -> str:
    baseline = summaries[0]
    rows = [
        [
            c.name,
            len(c.runs),
            f"{c.training('wall'):.0f}",
            f"{c.training('cpu'):.0f}",
            f"{speedup(c, baseline, 'cpu'):.1f}× / {speedup(c, baseline, 'wall'):.1f}×",
            *(f"{c.component(name):.0f}" for name in TIMED_COMPONENTS),
            c.spread(lambda r: r.heldout_accuracy),
            c.spread(lambda r: r.heldout_f1),
            c.spread(lambda r: r.top_accuracy),
            c.spread(lambda r: r.type_f1),
            c.ticket_ids,
            c.stories,
            *(f"{c.turn_cpu_ms[step]:.1f}" if c.turn_cpu_ms else "–" for step in PROFILE_STEPS),
        ]
        for c in summaries
    ]
    headers = ["config", "seeds", "train wall s", "train CPU s", "speed-up CPU / wall"]
    headers += [f"{name} s" for name in TIMED_COMPONENTS]
    headers += ["held-out acc", "held-out F1", "held-out acc, no fallback", "MSGA F1", "ticket ids", "test stories"]
    headers += [f"turn CPU ms: {step}" for step in PROFILE_STEPS]
    return table(headers, rows)


def comparison_table(results: list[VariantScores]) -> str:
    def train(r: VariantScores) -> list[object]:
        t = r.variant.training
        if t is None:
            return ["–"] * 5
        return [
            f"{t.wall:.0f}",
            f"{t.cpu:.0f}",
            *(f"{t.components.get(c, 0):.0f}" for c in TIMED_COMPONENTS),
            f"{r.variant.model.stat().st_size / 1e6:.0f}",
        ]

    def turn(r: VariantScores) -> list[object]:
        return [f"{r.turn_cpu_ms[step]:.1f}" if r.turn_cpu_ms else "–" for step in PROFILE_STEPS]

    rows = [
        [
            r.variant.name,
            *train(r),
            r.heldout_accuracy,
            r.heldout_f1,
            r.top_accuracy,
            f"{r.fallback_share:.1%}",
            r.type_accuracy,
            r.type_f1,
            "{}/{}".format(*r.ticket_ids),
            r.stories,
            *turn(r),
            f"{r.load_seconds:.1f}",
            f"{percentile_ms(r.spoken_seconds, 50):.1f} / {percentile_ms(r.letter_seconds, 50):.1f}",
        ]
        for r in results
    ]
    headers = ["model", "train wall s", "train CPU s"]
    headers += [f"{c} s" for c in TIMED_COMPONENTS] + ["model MB"]
    headers += ["held-out acc", "held-out F1", "held-out acc, no fallback", "fallback share", "MSGA acc", "MSGA F1"]
    headers += ["ticket ids", "test stories"] + [f"turn CPU ms: {step}" for step in PROFILE_STEPS]
    headers += ["load s", "parse ms p50 spoken / letters"]
    return table(headers, rows)


def details(r: VariantScores) -> str:
    confusion = table(
        ["gold \\ predicted", *MESSAGE_TYPES],
        [[gold, *row] for gold, row in zip(MESSAGE_TYPES, r.confusion, strict=True)],
    )
    weakest = sorted(r.per_intent.items(), key=lambda kv: kv[1])[:6]
    config = f", config `{shown(r.variant.training.config)}`" if r.variant.training else ""
    return (
        f"### {r.variant.name} (`{shown(r.variant.model)}`{config})\n\n"
        + confusion
        + "\n\nF1 per message type: "
        + ", ".join(f"{t} {r.per_type.get(t, 0.0):.3f}" for t in MESSAGE_TYPES)
        + "\n\nWeakest held-out intents (F1): "
        + ", ".join(f"{k} {v:.3f}" for k, v in weakest)
        + "\n\nMost frequent predicted intents on MSGABench: "
        + ", ".join(f"{k} {v}" for k, v in r.intents_seen)
    )


def shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def named(values: list[str], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise SystemExit(f"{flag} expects NAME=VALUE, got {value!r}")
        pairs.append((name, rest))
    return pairs


def machine_load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="append", default=[], help="NAME=CONFIG, trained here, in this order")
    parser.add_argument("--seeds", default="", help="e.g. 42,7: every --train config once per seed, averaged")
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH of a trained model")
    parser.add_argument("--baseline", default="", help="NAME of the config or model the others are compared with")
    parser.add_argument("--note", default="", help="printed above the table")
    parser.add_argument("--limit", type=int, default=0, help="MSGABench messages (every k-th); 0: all")
    parser.add_argument("--jobs", type=int, default=1, help="models scored at once; >1 inflates parse latency")
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index" / "knowledge", help="for turn CPU")
    parser.add_argument("--turn-rounds", type=int, default=2, help="rounds of turns.py's conversations per pass")
    parser.add_argument("--skip-turns", action="store_true", help="no per-turn CPU profile")
    parser.add_argument("--skip-stories", action="store_true", help="no `rasa test core`")
    args = parser.parse_args()
    trains = named(args.train, "--train")
    models = named(args.model, "--model")
    if not trains and not models:
        trains = [("today", str(TODAY_CONFIG)), ("shipped", str(ROOT / "config.yml"))]
    seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    if not args.skip_turns and not (args.index / "manifest.json").exists():
        raise SystemExit(f"no index at {args.index} for the turn profile: `make index`, or --skip-turns")

    heldout = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    raw_messages = (MSGABENCH / "messages_dev.jsonl").read_text(encoding="utf-8")
    messages = [json.loads(line) for line in raw_messages.splitlines()]
    if args.limit:  # every k-th message: the file is grouped by type, a prefix would hold one type
        messages = messages[:: max(1, len(messages) // args.limit)][: args.limit]

    load_before = machine_load()
    variants = []
    for seed in seeds or [None]:  # seed by seed, each config in turn: drift hits every config alike
        for name, config in trains:
            variants.append(train(f"{name}@{seed}" if seed is not None else name, Path(config).resolve(), seed, name))
    variants += [Variant(name, Path(path).resolve()) for name, path in models]
    load_after_training = machine_load()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:  # each model runs in its own worker process
        results = list(pool.map(lambda variant: score_variant(variant, heldout, messages), variants))
    first = args.baseline or variants[0].config_name
    results.sort(key=lambda r: (r.variant.config_name != first, r.variant.config_name))  # baseline first
    if not args.skip_stories:
        for r in results:
            r.stories = test_stories(r.variant.model)
            print(f"test stories {r.variant.name}: {r.stories}", flush=True)
    summaries = summarise(results)
    if not args.skip_turns:  # one model per config: the seeds share a config's size, hence its cost
        turn_cpu([c.runs[0] for c in summaries], args.index.resolve(), args.turn_rounds)
    gold_types = [r["type"] for r in messages]
    anchor_accuracy, anchor_macro = tfidf_anchor([r["text"] for r in messages], gold_types)
    baseline = summaries[0]

    sections = [
        f"Held-out: {len(heldout)} paraphrases written apart from the training data (16 intents). MSGABench: "
        f"{len(messages)} citizen messages, message type (3 classes). Every model was trained on data/nlu.yml only. "
        f"**Machine: {os.cpu_count()} cores, shared and noisy** ({load_before} before training, "
        f"{load_after_training} after). " + args.note,
        decision(summaries),
        "## Configs side by side\n\n"
        + summary_table(summaries)
        + "\n\n- Train: `rasa train` (NLU and dialogue) with an empty cache, as a fresh clone's `make run`, one "
        "model after another; CPU is user + system time of Rasa and its children, the steadier figure on a shared "
        f"machine. {' and '.join(TIMED_COMPONENTS)} s: wall seconds of those components from Rasa's log; the rest "
        "is loading, featurizing, the rules and packaging the model.\n"
        "- Held-out acc / F1: the intent Rasa acts on (the FallbackClassifier's `nlu_fallback` counts as wrong); "
        "no fallback: the classifier's best intent. With several seeds: the mean, and the range over seeds.\n"
        "- Ticket ids: held-out messages with a ticket number whose `ticket_id` entity is exactly that number, "
        "over all seeds. Test stories: tests/test_stories.yml through `rasa test core`, stories passed.\n"
        f"- Turn CPU: mean CPU ms per turn in process (benchmarks/rasa_turn_profile.py, {PROFILE_STORE}, turns.py's "
        f"conversations, {args.turn_rounds} rounds per pass, two passes in opposite orders, the first seed's "
        "model); policy predictions are every prediction of the turn; the whole turn includes the custom action's "
        "HTTP call and the tracker.",
        "## Every model\n\n"
        + comparison_table(results)
        + "\n\n"
        + table(
            ["reference", "MSGA acc", "MSGA F1", "note"],
            [["TF-IDF + LR, 5-fold CV on MSGABench", anchor_accuracy, anchor_macro, "trained in-domain"]],
        )
        + "\n\nFallback share: held-out messages the fallback took. Parse ms: round trip per message through one "
        "warm classify worker, one message at a time; spoken = the held-out paraphrases, letters = the MSGABench "
        "messages. Load s: worker start until the model is ready.",
        "## Targets\n\n"
        + table(
            ["target", *(c.name for c in summaries)],
            [
                [
                    f"trains ≥ {TARGET_SPEEDUP:g}× faster than `{baseline.name}` (CPU and wall)",
                    *(
                        min(speedup(c, baseline, "cpu"), speedup(c, baseline, "wall")) >= TARGET_SPEEDUP
                        for c in summaries
                    ),
                ],
                [
                    f"held-out acc and F1 within {HELDOUT_TOLERANCE} of `{baseline.name}`",
                    *(
                        c.heldout_accuracy >= baseline.heldout_accuracy - HELDOUT_TOLERANCE
                        and c.heldout_f1 >= baseline.heldout_f1 - HELDOUT_TOLERANCE
                        for c in summaries
                    ),
                ],
                [
                    f"held-out acc and F1 within {HELDOUT_TOLERANCE} of issue 10's "
                    f"{ISSUE_HELDOUT[0]:.3f} / {ISSUE_HELDOUT[1]:.3f}",
                    *(
                        c.heldout_accuracy >= ISSUE_HELDOUT[0] - HELDOUT_TOLERANCE
                        and c.heldout_f1 >= ISSUE_HELDOUT[1] - HELDOUT_TOLERANCE
                        for c in summaries
                    ),
                ],
                [f"MSGABench macro-F1 ≥ {MSGABENCH_FLOOR}", *(c.type_f1 >= MSGABENCH_FLOOR for c in summaries)],
                [f"message-type macro-F1 ≥ {TARGET_MACRO_F1}", *(c.type_f1 >= TARGET_MACRO_F1 for c in summaries)],
                [
                    f"parse p50 ≤ {TARGET_PARSE_P50_MS:.0f} ms, spoken turns",
                    *(
                        statistics.fmean(percentile_ms(r.spoken_seconds, 50) for r in c.runs) <= TARGET_PARSE_P50_MS
                        for c in summaries
                    ),
                ],
            ],
        ),
        "## Message type confusion and weak spots\n\n" + "\n\n".join(details(r) for r in results),
    ]
    publish_report("nlu", "NLU benchmark", sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
