"""A question gets its answer: the gold set (benchmarks/data/answers_gold.jsonl) through the real stack.

Method. For each variant (a Rasa model × a knowledge index; `--model` and `--index` may be given several
times), the benchmark starts `hotline up --no-train --model M --index I` on free loopback ports with a fresh
SQLite database in a temporary directory (tests/stack.py, the start the stack tests use), sends every gold
item as the FIRST message of a conversation of its own (`POST /api/chat {"text"}`), each from a client address
of its own (the ticket-check limiter counts per client), and stops the stack. Variants run one after the other.

Each response is classified by what the citizen was shown (`outcome`), with the texts read from where the
project keeps them (domain.yml's responses and the form's questions, actions/answering.py,
bot/conversation/emergency.py), never from copies here: answered (a message with citations), by_request (a
依申请公开 document named), not found
(the Answerer's NO_ANSWER), a ticket form started (and its kind) or the status query form, handoff, goodbye,
emergency guidance, or other (greeting, out of scope, not understood, …).

Then it is judged against the gold item (`judge`): for a question, whether the top citation and any citation
is the right clause (doc_id equal and the gold `section` one of the labels of the cited section path; a
service-guide card cites the whole guide, "全文", and leads with the clause it answers, "您问的<section>：",
which is then the cited clause), and whether the displayed text contains the gold `phrase`; for a request,
whether it took the expected path. Latency is measured by the client per turn and includes the gateway, Rasa
(NLU and policies) and the action server (retrieval); with `--concurrency` above 1 it includes queueing too.

Retrieval alone: the same questions (those a passage answers) against each index in process, clause hit@1, hit@3
and MRR@10 over the top 10 passages for BM25, e5 and the hybrid (`clause_ranks`).

    python benchmarks/answers.py [--model [LABEL=]PATH ...] [--index [LABEL=]DIR ...] [--gold FILE]
                                 [--concurrency 1] [--skip-retrieval]

Writes benchmarks/results/answers.md (the figures, per split) and benchmarks/results/answers.json (every
item's outcome per variant, for error analysis; not committed), and prints the dev split's failures grouped
by path. The test split's failures are not printed: tune on dev only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, percentile_ms, publish_report, table
from retrieval_gold import clause_metrics, clause_ranks

from actions.answering import BY_REQUEST, NO_ANSWER
from actions.knowledge_actions import NOT_UNDERSTOOD
from actions.ticket_actions import NOT_FOUND as STATUS_NOT_FOUND
from actions.ticket_actions import TOO_MANY_CHECKS
from benchmarks.gold import GOLD_PATH, GoldItem, load_gold, split_of
from bot.conversation.callbacks import ASK_FOR_MESSAGE, ASK_FOR_PHONE
from bot.conversation.core import EMPTY_TURN
from bot.conversation.emergency import DEFAULT_PSYCH_LINE, assess, guidance
from bot.tickets.domain import KIND_LABELS, TicketKind
from tests.chat_client import chat_body
from tests.stack import hotline_up

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ROOT / "domain.yml"
DEFAULT_MODEL = ROOT / "models" / "hotline.tar.gz"
DEFAULT_INDEX = ROOT / "var" / "index" / "knowledge"
SPLITS = ("dev", "test")
#: The kinds the ticket form takes (domain.yml's ticket_kind slot); a request that expects one must start it.
FORM_KINDS = ("complaint", "report", "suggestion", "disclosure_request")
TURN_TIMEOUT_S = 120.0
#: Turns sent before the timed ones, not counted: a greeting and a question that reaches retrieval.
WARM_UP = ("你好", "打完狂犬疫苗能喝酒吗")
#: Every citizen at an address of its own (the stack believes X-Forwarded-For from loopback), so that one
#: item's wrong ticket checks never lock another's; 10.12/16 is used by no test.
ADDRESS_PREFIX = "10.12"

# --- what the stack says -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormQuestion:
    form: str  # ticket_form | query_ticket_form
    slot: str
    kinds: frozenset[str]  # the ticket kinds whose wording this is (every kind for the status form)


@dataclass(frozen=True)
class Replies:
    """The texts a first turn can be recognised by, read from domain.yml and the modules that say them."""

    form_questions: dict[str, FormQuestion]  # text → the question it asks
    utterances: dict[str, str]  # text → its domain response name (utter_goodbye, utter_greet, …)
    psych_line: str = DEFAULT_PSYCH_LINE


def load_replies(domain: Path = DOMAIN, psych_line: str = DEFAULT_PSYCH_LINE) -> Replies:
    spec = yaml.safe_load(domain.read_text(encoding="utf-8"))
    kinds = frozenset(spec["slots"]["ticket_kind"]["values"])
    questions: dict[str, FormQuestion] = {}
    asked: set[str] = set()
    for form, body in spec["forms"].items():
        for slot in body["required_slots"]:
            variants = spec["responses"].get(f"utter_ask_{slot}") or []
            asked.add(f"utter_ask_{slot}")
            # A variant conditioned on ticket_kind words that kind; the unconditioned one words the others.
            named = {c["value"] for v in variants for c in v.get("condition", []) if c.get("name") == "ticket_kind"}
            for variant in variants:
                conditions = [c["value"] for c in variant.get("condition", []) if c.get("name") == "ticket_kind"]
                worded = frozenset(conditions) if conditions else kinds - named
                if form != "ticket_form":
                    worded = kinds
                questions[variant["text"].strip()] = FormQuestion(form, slot, worded)
    utterances = {
        variant["text"].strip(): name
        for name, variants in spec["responses"].items()
        if name not in asked
        for variant in variants
    }
    return Replies(questions, utterances, psych_line)


# --- outcomes ------------------------------------------------------------------------------------------

#: The paths a first turn can take. "other" keeps a detail (greet, out_of_scope, not_understood, …).
PATHS = ("answered", "by_request", "not_found", "form", "status_form", "status_answer", "handoff", "goodbye")
PATHS += ("emergency", "other", "reduced", "error")
#: The wrong paths a question can take, as the figures group them.
WRONG_PATHS = ("form", "handoff", "goodbye", "emergency", "other")
_BY_REQUEST_PARTS = [part for part in BY_REQUEST.split("{reference}") if part]
_GUIDE_LEAD = re.compile(r"^您问的(.+?)：")
_STATUS_ANSWER = re.compile(r"^工单 12320-\d{8}-\d{6}（")


@dataclass
class Outcome:
    path: str
    detail: str = ""  # the form's kind, or what "other" was
    text: str = ""  # every message shown, joined
    citations: list[dict[str, str]] = field(default_factory=list)  # in the order shown, with their clause
    intent: str | None = None
    confidence: float | None = None
    seconds: float = float("nan")


def cited_clauses(message: dict[str, Any]) -> list[dict[str, str]]:
    """The message's citations, each with the clause it cites (`clause`, the section path's labels joined)."""
    cited = []
    for citation in message.get("citations") or []:
        clause = citation.get("section") or ""
        if clause == "全文":  # a service guide's card cites the whole guide and leads with the clause it answers
            lead = _GUIDE_LEAD.match(message.get("text") or "")
            clause = lead.group(1) if lead else clause
        cited.append({**citation, "clause": clause})
    return cited


def classify(sent: str, body: dict[str, Any], replies: Replies) -> Outcome:
    """What the citizen was shown in answer to `sent`, the first message of a conversation."""
    messages = body.get("messages") or []
    texts = [str(m.get("text") or "").strip() for m in messages]
    intent = body.get("intent") or {}
    outcome = Outcome("other", text="\n".join(texts), intent=intent.get("name"), confidence=intent.get("confidence"))
    guidance_texts = {guidance(assess(sent), replies.psych_line), guidance(None, replies.psych_line)}
    questions = [replies.form_questions[t] for t in texts if t in replies.form_questions]
    utterances = [replies.utterances[t] for t in texts if t in replies.utterances]
    buttons = [b.get("payload") or "" for m in messages for b in m.get("buttons") or []]
    if body.get("reduced_mode"):
        outcome.path = "reduced"  # Rasa was down: the run measures the fallback, not the model
    elif any(t in guidance_texts for t in texts):
        outcome.path = "emergency"
    elif any(m.get("citations") for m in messages):
        outcome.path = "answered"
        outcome.citations = [c for m in messages for c in cited_clauses(m)]
    elif any(all(part in t for part in _BY_REQUEST_PARTS) for t in texts) or any(
        b.startswith("/disclosure_request{") for b in buttons
    ):
        outcome.path = "by_request"
    elif any(q.form == "ticket_form" for q in questions):
        outcome.path = "form"
        outcome.detail = _form_kind(questions, outcome.text)
    elif questions:
        outcome.path = "status_form"
    elif body.get("handoff"):
        outcome.path = "handoff"
    elif any(t.startswith(NO_ANSWER) for t in texts):
        outcome.path = "not_found"
    elif any(t.startswith((STATUS_NOT_FOUND, TOO_MANY_CHECKS)) or _STATUS_ANSWER.match(t) for t in texts):
        outcome.path = "status_answer"
    elif "utter_goodbye" in utterances:
        outcome.path = "goodbye"
    else:
        outcome.detail = _other(texts, utterances)
    return outcome


def _form_kind(questions: list[FormQuestion], text: str) -> str:
    """The ticket kind the form's questions are worded for; the opening's "登记<kind>" settles what they leave."""
    kinds = frozenset.intersection(*(q.kinds for q in questions if q.form == "ticket_form"))
    named = {kind for kind in kinds if f"登记{KIND_LABELS[TicketKind(kind)]}" in text}
    kinds = frozenset(named) or kinds
    return next(iter(kinds)) if len(kinds) == 1 else "/".join(sorted(kinds))


def _other(texts: list[str], utterances: list[str]) -> str:
    if utterances:
        return utterances[0].removeprefix("utter_")
    if any(t.startswith(NOT_UNDERSTOOD) for t in texts):
        return "not_understood"
    if any(t.startswith(EMPTY_TURN) for t in texts):
        return "empty_turn"
    if any(t.startswith((ASK_FOR_MESSAGE, ASK_FOR_PHONE)) for t in texts):
        return "callback_desk"
    return "unrecognised"


# --- judging against the gold set -------------------------------------------------------------------------


@dataclass
class Verdict:
    top_right: bool = False  # the top citation is the right clause (a question) or the right document named
    any_right: bool = False
    top_right_doc: bool = False  # the right document, whatever the clause
    phrase_shown: bool = False
    routed_right: bool = False  # a request took its path


def _plain(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def is_right_clause(citation: dict[str, str], item: GoldItem) -> bool:
    """The gold contract's rule (GoldItem.is_right_clause: the doc and one label of the path, or an `also`)."""
    return item.is_right_clause(str(citation.get("doc_id") or ""), str(citation.get("clause") or ""))


def judge(item: GoldItem, outcome: Outcome, catalogue: dict[str, str]) -> Verdict:
    """`catalogue`: the index's 依申请公开 documents, doc_id → title (a by_request answer names the title)."""
    verdict = Verdict()
    if item.kind == "question":
        verdict.phrase_shown = bool(item.phrase) and _plain(item.phrase) in _plain(outcome.text)
        if item.by_request:
            title = catalogue.get(item.doc_id)
            right = outcome.path == "by_request" and bool(title) and _plain(title) in _plain(outcome.text)
            verdict.top_right = verdict.any_right = verdict.top_right_doc = right
        elif outcome.path == "answered" and outcome.citations:
            verdict.top_right = is_right_clause(outcome.citations[0], item)
            verdict.any_right = any(is_right_clause(c, item) for c in outcome.citations)
            verdict.top_right_doc = outcome.citations[0].get("doc_id") in {c.doc_id for c in item.clauses}
    elif item.kind == "request":
        verdict.routed_right = routed_right(item.expect, outcome)
    return verdict


def routed_right(expect: str, outcome: Outcome) -> bool:
    """The path a request must take: the ticket form of its kind, the status check, a human, or guidance."""
    if expect in FORM_KINDS:
        return outcome.path == "form" and outcome.detail == expect
    if expect == "query_ticket":
        return outcome.path in ("status_form", "status_answer")
    if expect == "request_human":
        return outcome.path == "handoff"
    if expect == "emergency":
        return outcome.path == "emergency"
    if expect == "callback":  # 留言回电: the callback desk takes the message, or a human does
        return outcome.detail == "callback_desk" or outcome.path == "handoff"
    raise ValueError(f"unknown expected request kind {expect!r}")


def load_catalogue(index: Path) -> dict[str, str]:
    path = index / "catalogue.jsonl"
    if not path.exists():
        return {}
    entries = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {entry["doc_id"]: entry["title"] for entry in entries}


# --- through the stack --------------------------------------------------------------------------------------


@dataclass
class Result:
    item: GoldItem
    outcome: Outcome
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        return {"split": split_of(self.item.id), **asdict(self.item), **asdict(self.outcome), **asdict(self.verdict)}


async def first_turns(url: str, items: Sequence[GoldItem], replies: Replies, concurrency: int = 1) -> list[Outcome]:
    """Each item as the first message of a fresh conversation, `concurrency` conversations at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, i: int, item: GoldItem) -> Outcome:
        headers = {"X-Forwarded-For": f"{ADDRESS_PREFIX}.{i // 250}.{i % 250 + 1}"}
        async with limit:
            started = time.perf_counter()
            try:
                response = await client.post(f"{url}/api/chat", json=chat_body(None, item.text), headers=headers)
            except httpx.HTTPError as exc:
                return Outcome("error", detail=type(exc).__name__, seconds=time.perf_counter() - started)
            seconds = time.perf_counter() - started
        if response.status_code != 200:
            return Outcome("error", detail=f"HTTP {response.status_code}", text=response.text[:300], seconds=seconds)
        outcome = classify(item.text, response.json(), replies)
        outcome.seconds = seconds
        return outcome

    async with httpx.AsyncClient(timeout=TURN_TIMEOUT_S, trust_env=False) as client:
        for text in WARM_UP:  # Rasa's and the retriever's first calls load lazily: not a citizen's latency
            await client.post(f"{url}/api/chat", json=chat_body(None, text), headers={"X-Forwarded-For": "10.13.0.1"})
        return list(await asyncio.gather(*(one(client, i, item) for i, item in enumerate(items))))


def run_items(
    url: str, items: Sequence[GoldItem], index: Path, *, concurrency: int = 1, replies: Replies | None = None
) -> list[Result]:
    """The runner the benchmark and the CI regression test share: classify and judge every item's first turn."""
    replies = replies or load_replies()
    outcomes = asyncio.run(first_turns(url, items, replies, concurrency))
    catalogue = load_catalogue(index)
    return [
        Result(item, outcome, judge(item, outcome, catalogue)) for item, outcome in zip(items, outcomes, strict=True)
    ]


# --- figures -------------------------------------------------------------------------------------------------


def _share(hits: int, total: int) -> float:
    return hits / total if total else float("nan")


@dataclass(frozen=True)
class Figures:
    """One variant on one split. Shares are of the split's questions unless named otherwise."""

    questions: int
    right_clause_top: float
    right_clause_any: float
    right_doc_top: float
    phrase_shown: float
    answered: float  # any answer shown (passage or by_request), right or not
    not_found_questions: float  # answerable, but "not found"
    wrong_path: dict[str, float]  # per WRONG_PATHS
    wrong_path_total: float  # form + handoff (the "started a form or handed off by mistake")
    requests: int
    routed_right: float
    routed_by_kind: dict[str, tuple[int, int]]  # expected kind → (right, total)
    unanswerable: int
    not_found_precision: float
    not_found_recall: float
    #: Unanswerable questions that got any honest non-answer: "not found", out of scope or not understood.
    declined_unanswerable: float
    turns: int
    errors: int  # errors and reduced-mode turns: the stack did not really answer
    p50_ms: float
    p95_ms: float


def figures(results: Sequence[Result]) -> Figures:
    questions = [r for r in results if r.item.kind == "question"]
    requests = [r for r in results if r.item.kind == "request"]
    unanswerable = [r for r in results if r.item.kind == "unanswerable"]
    q = len(questions)
    wrong = Counter(r.outcome.path for r in questions if r.outcome.path in WRONG_PATHS)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in requests:
        by_kind[r.item.expect][0] += r.verdict.routed_right
        by_kind[r.item.expect][1] += 1
    said_not_found = [r for r in (*questions, *unanswerable) if r.outcome.path == "not_found"]
    true_not_found = sum(1 for r in said_not_found if r.item.kind == "unanswerable")
    seconds = [r.outcome.seconds for r in results if r.outcome.path not in ("error",)]
    return Figures(
        questions=q,
        right_clause_top=_share(sum(r.verdict.top_right for r in questions), q),
        right_clause_any=_share(sum(r.verdict.any_right for r in questions), q),
        right_doc_top=_share(sum(r.verdict.top_right_doc for r in questions), q),
        phrase_shown=_share(sum(r.verdict.phrase_shown for r in questions), q),
        answered=_share(sum(r.outcome.path in ("answered", "by_request") for r in questions), q),
        not_found_questions=_share(sum(r.outcome.path == "not_found" for r in questions), q),
        wrong_path={path: _share(wrong[path], q) for path in WRONG_PATHS},
        wrong_path_total=_share(wrong["form"] + wrong["handoff"], q),
        requests=len(requests),
        routed_right=_share(sum(r.verdict.routed_right for r in requests), len(requests)),
        routed_by_kind={kind: (right, total) for kind, (right, total) in sorted(by_kind.items())},
        unanswerable=len(unanswerable),
        not_found_precision=_share(true_not_found, len(said_not_found)),
        not_found_recall=_share(true_not_found, len(unanswerable)),
        declined_unanswerable=_share(sum(declined(r.outcome) for r in unanswerable), len(unanswerable)),
        turns=len(results),
        errors=sum(r.outcome.path in ("error", "reduced") for r in results),
        p50_ms=percentile_ms(seconds, 50) if seconds else float("nan"),
        p95_ms=percentile_ms(seconds, 95) if seconds else float("nan"),
    )


def declined(outcome: Outcome) -> bool:
    """An honest non-answer: nothing quoted, nothing started, nobody called."""
    return outcome.path == "not_found" or outcome.detail in ("out_of_scope", "not_understood")


def failures(results: Iterable[Result]) -> dict[str, list[Result]]:
    """The items that went wrong, grouped by the path they took (a question not answered with its clause, a
    request off its path, an unanswerable question answered)."""
    grouped: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        kind, path = r.item.kind, r.outcome.path
        if kind == "question" and not r.verdict.top_right:
            grouped[f"question → {path_label(r)}"].append(r)
        elif kind == "request" and not r.verdict.routed_right:
            grouped[f"request → {path_label(r)}"].append(r)
        elif kind == "unanswerable" and path != "not_found":
            grouped[f"unanswerable → {path_label(r)}"].append(r)
    return dict(sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def path_label(result: Result) -> str:
    outcome = result.outcome
    if outcome.path == "answered" and result.item.kind == "question":
        return "answered, right clause" if result.verdict.top_right else "answered, wrong clause"
    if outcome.path == "by_request" and result.item.kind == "question":
        return "by_request, right document" if result.verdict.top_right else "by_request, wrong document"
    return f"{outcome.path}:{outcome.detail}" if outcome.detail else outcome.path


# --- retrieval alone -----------------------------------------------------------------------------------------

RETRIEVAL_MODES = {"BM25": "bm25", "e5": "dense", "hybrid": "hybrid"}


def retrieval_alone(index: Path, items: Sequence[GoldItem]) -> dict[str, dict[str, dict[str, float]]]:
    """split → mode label → metric → value."""
    from index.retriever import Retriever

    retriever = Retriever(index)
    quoted = [i for i in items if i.kind == "question" and not i.by_request]
    return {
        split: {
            label: clause_metrics(clause_ranks(retriever, [i for i in quoted if split_of(i.id) == split], mode))
            for label, mode in RETRIEVAL_MODES.items()
        }
        for split in SPLITS
    }


# --- variants ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    label: str
    path: Path


def _shown(path: Path) -> str:
    """A path as the report shows it: relative to the checkout when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def parse_source(value: str) -> Source:
    """`[LABEL=]PATH`; the label defaults to the path."""
    label, _, path = value.rpartition("=") if "=" in value else ("", "", value)
    return Source(label or _shown(Path(path).resolve()), Path(path).resolve())


@dataclass(frozen=True)
class Variant:
    model: Source
    index: Source

    def name(self, several_indexes: bool) -> str:
        return f"{self.model.label} · {self.index.label}" if several_indexes else self.model.label


@cache
def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def run_variant(variant: Variant, items: Sequence[GoldItem], concurrency: int, replies: Replies) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="answers-bench-") as tmp:
        var = Path(tmp) / "var"
        env = {"DATABASE_URL": f"sqlite:///{var / 'hotline.db'}", "HOTLINE_TRUSTED_PROXIES": "127.0.0.1"}
        started = time.perf_counter()
        with hotline_up(variant.index.path, var, env, model=variant.model.path) as url:
            print(f"  up in {time.perf_counter() - started:.0f} s; {len(items)} first turns …", flush=True)
            started = time.perf_counter()
            results = run_items(url, items, variant.index.path, concurrency=concurrency, replies=replies)
            print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return results


# --- the report ----------------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return "–" if value != value else f"{value:.1%}"  # NaN: nothing to count


def _ratio(value: float) -> str:
    return "–" if value != value else f"{value:.3f}"


def stack_table(columns: dict[str, Figures]) -> str:
    rows: list[tuple[str, Callable[[Figures], str]]] = [
        ("questions", lambda f: str(f.questions)),
        ("**right clause cited, top citation**", lambda f: _pct(f.right_clause_top)),
        ("right clause cited, any citation", lambda f: _pct(f.right_clause_any)),
        ("right document, top citation", lambda f: _pct(f.right_doc_top)),
        ("expected phrase shown", lambda f: _pct(f.phrase_shown)),
        ("answered at all (passage or by_request)", lambda f: _pct(f.answered)),
        ('answerable but "not found"', lambda f: _pct(f.not_found_questions)),
        *[(f"wrong path: {path}", lambda f, p=path: _pct(f.wrong_path[p])) for path in WRONG_PATHS],
        ("**wrong path: form + handoff**", lambda f: _pct(f.wrong_path_total)),
        ("requests", lambda f: str(f.requests)),
        ("**requests routed right**", lambda f: _pct(f.routed_right)),
        ("unanswerable", lambda f: str(f.unanswerable)),
        ('**"not found" precision**', lambda f: _ratio(f.not_found_precision)),
        ('**"not found" recall**', lambda f: _ratio(f.not_found_recall)),
        ("unanswerable declined in any honest way", lambda f: _pct(f.declined_unanswerable)),
        ("turn p50 ms", lambda f: f"{f.p50_ms:.0f}"),
        ("turn p95 ms", lambda f: f"{f.p95_ms:.0f}"),
        ("errors / reduced-mode turns", lambda f: str(f.errors)),
    ]
    return table(["", *columns], [[label, *(cell(f) for f in columns.values())] for label, cell in rows])


def requests_table(columns: dict[str, Figures]) -> str:
    kinds = sorted({kind for f in columns.values() for kind in f.routed_by_kind})

    def cell(f: Figures, kind: str) -> str:
        right, total = f.routed_by_kind.get(kind, (0, 0))
        return f"{right}/{total}" if total else "–"

    return table(["expected", *columns], [[kind, *(cell(f, kind) for f in columns.values())] for kind in kinds])


def paths_table(columns: dict[str, list[Result]]) -> str:
    """Where questions and unanswerable questions went, as counts."""
    counts = {
        name: Counter(f"{r.item.kind} → {path_label(r)}" for r in results if r.item.kind != "request")
        for name, results in columns.items()
    }
    keys = sorted({k for c in counts.values() for k in c})
    return table(["kind → path", *columns], [[k, *(counts[name][k] for name in columns)] for k in keys])


def retrieval_table(per_index: dict[str, dict[str, dict[str, dict[str, float]]]]) -> str:
    columns = [(index, split) for index in per_index for split in SPLITS]
    headers = ["mode", "metric", *(f"{index} · {split}" if len(per_index) > 1 else split for index, split in columns)]
    rows = []
    for label in RETRIEVAL_MODES:
        for metric in ("hit@1", "hit@3", "MRR"):
            rows.append([label, metric, *(_ratio(per_index[i][s][label][metric]) for i, s in columns)])
    return table(headers, rows)


def gold_summary(items: Sequence[GoldItem]) -> str:
    counts = Counter((split_of(i.id), i.kind) for i in items)
    kinds = ("question", "unanswerable", "request")
    return table(["split", *kinds], [[s, *(counts[(s, k)] for k in kinds)] for s in SPLITS])


def print_dev_failures(name: str, results: Sequence[Result]) -> None:
    dev = [r for r in results if split_of(r.item.id) == "dev"]
    grouped = failures(dev)
    print(f"\n## dev failures, {name}: {sum(map(len, grouped.values()))} of {len(dev)}")
    for group, members in grouped.items():
        print(f"\n### {group} ({len(members)})")
        for r in members:
            expected = r.item.expect or " or ".join(f"{c.doc_id} / {c.section}" for c in r.item.clauses)
            expected += f" / {r.item.phrase!r}" if r.item.phrase else ""
            cited = r.outcome.citations[0] if r.outcome.citations else None
            got = f"{cited['doc_id']} / {cited['clause']}" if cited else r.outcome.text.replace("\n", " ")[:60]
            print(
                f"- {r.item.id} [{r.outcome.intent} {r.outcome.confidence or 0:.2f}] {r.item.text}\n"
                f"    expected: {expected}\n    got: {got}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", type=parse_source, help="[LABEL=]PATH of a Rasa model")
    parser.add_argument("--index", action="append", type=parse_source, help="[LABEL=]DIR of a knowledge index")
    parser.add_argument("--gold", type=Path, default=GOLD_PATH)
    parser.add_argument("--concurrency", type=int, default=1, help="conversations at once (latency: 1)")
    parser.add_argument("--skip-retrieval", action="store_true")
    parser.add_argument("--note", action="append", default=[], help="a line for the report: what the variants are")
    args = parser.parse_args(argv)
    models = args.model or [parse_source(str(DEFAULT_MODEL))]
    indexes = args.index or [parse_source(str(DEFAULT_INDEX))]
    for source in (*models, *indexes):
        if not source.path.exists():
            raise SystemExit(f"not found: {source.path}")
    items = load_gold(args.gold)
    replies = load_replies()
    variants = [Variant(m, i) for m in models for i in indexes]
    several = len(indexes) > 1

    runs: dict[str, list[Result]] = {}
    for variant in variants:
        name = variant.name(several)
        print(f"variant {name}: model {variant.model.path}, index {variant.index.path}", flush=True)
        runs[name] = run_variant(variant, items, args.concurrency, replies)
    per_index = {} if args.skip_retrieval else {i.label: retrieval_alone(i.path, items) for i in indexes}

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "answers.json").write_text(
        json.dumps({name: [r.to_json() for r in results] for name, results in runs.items()}, ensure_ascii=False),
        encoding="utf-8",
    )
    for name, results in runs.items():
        print_dev_failures(name, results)

    columns = {
        f"{name} · {split}": figures([r for r in results if split_of(r.item.id) == split])
        for name, results in runs.items()
        for split in SPLITS
    }
    path_columns = {
        f"{name} · {split}": [r for r in results if split_of(r.item.id) == split]
        for name, results in runs.items()
        for split in SPLITS
    }
    manifests = {i.label: json.loads((i.path / "manifest.json").read_text()) for i in indexes}
    setup = [
        "## What was measured",
        __doc__.split("\n\n")[1].replace("\n", " "),
        f"Gold set: `{_shown(args.gold.resolve())}` ({len(items)} items, sha256 {file_digest(args.gold.resolve())}):",
        gold_summary(items),
        "Variants (each a column, per split):",
        "\n".join(
            f"- **{v.name(several)}**: model `{v.model.label}` (sha256 {file_digest(v.model.path)}), index "
            f"`{v.index.label}` (fingerprint {manifests[v.index.label]['fingerprint'][:12]}, "
            f"{manifests[v.index.label]['chunks']} chunks, embedder {manifests[v.index.label]['embedder_spec']})"
            for v in variants
        ),
        f"Conversations at once: {args.concurrency}. Latency is per turn, measured by the client: the gateway, "
        "Rasa (NLU and policies) and the action server (retrieval), on a machine shared with other work.",
        *args.note,
    ]
    sections = [
        *setup,
        "## Through the stack\n\n"
        "Targets (issue 10, test split): right clause cited ≥ 85%, form + handoff by mistake ≤ 3%, requests 100%, "
        '"not found" precision and recall ≥ .9.',
        stack_table(columns),
        "## Requests routed right, per expected kind",
        requests_table(columns),
        "## Where the questions went (counts)",
        paths_table(path_columns),
    ]
    if per_index:
        sections += [
            "## Retrieval alone, same questions (clause hit@1, hit@3, MRR@10 over the top 10 passages)",
            retrieval_table(per_index),
        ]
    publish_report("answers", "Answers through the stack (gold set)", sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
