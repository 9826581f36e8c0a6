"""The answers gold set: citizens' first messages over knowledge/, with the clause that answers each.

benchmarks/data/answers_gold.jsonl holds three kinds of first message (README beside it says how they
were written): questions the corpus answers (doc_id, section, phrase), questions it does not
(an honest "not found" is right) and real requests (the intent they must reach). The set is split
once, by a hash of each id, into dev (tune on it) and test (report it).

    python -m benchmarks.gold --check [--index var/index/knowledge] [--gold PATH]

checks every question against a built index (its clause exists and holds its phrase, every indexed
document has questions) and that no message was copied into data/nlu.yml, prints the counts, and
exits 1 on any problem.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
GOLD_PATH = Path(__file__).resolve().parent / "data" / "answers_gold.jsonl"
DEFAULT_INDEX = ROOT / "var" / "index" / "knowledge"
NLU_PATH = ROOT / "data" / "nlu.yml"

Split = Literal["dev", "test"]
KINDS = ("question", "unanswerable", "request")
STYLES = ("colloquial", "long", "typo", "spoken", "formal")
#: The request a question *about* something could be mistaken for.
ABOUTS = ("disclosure", "complaint", "report", "suggestion", "ticket", "hotline", "emergency", "human", "callback")
EXPECTS = (
    "complaint",
    "report",
    "suggestion",
    "disclosure_request",
    "query_ticket",
    "request_human",
    "emergency",
    "callback",
)
BY_REQUEST = "by_request"
_FIELDS = {"id", "text", "kind", "style", "doc_id", "section", "phrase", "about", "answer", "expect", "also"}


class GoldError(ValueError):
    """A gold record that breaks the schema; the message names its id."""


@dataclass(frozen=True)
class Clause:
    doc_id: str
    section: str  # one label of the chunk's section path


@dataclass(frozen=True)
class GoldItem:
    id: str
    text: str
    kind: str
    style: str
    doc_id: str = ""
    section: str = ""
    phrase: str = ""
    about: str = ""
    #: "by_request": the right answer names this 依申请公开 catalogue document instead of quoting.
    answer: str = ""
    expect: str = ""
    #: Other clauses that answer the question as well (the corpus repeats itself across documents).
    also: tuple[Clause, ...] = field(default_factory=tuple)

    @property
    def split(self) -> Split:
        return split_of(self.id)

    @property
    def by_request(self) -> bool:
        return self.answer == BY_REQUEST

    @property
    def clauses(self) -> tuple[Clause, ...]:
        """Every clause that counts as the right citation, the expected one first."""
        return (Clause(self.doc_id, self.section), *self.also) if self.kind == "question" else ()

    def is_right_clause(self, doc_id: str, section: Sequence[str] | str) -> bool:
        """Whether a cited chunk is the clause that answers: its doc and one label of its path match.

        `section` is the chunk's path, as a sequence of labels or joined with " > " (Hit.section).
        """
        labels = section.split(" > ") if isinstance(section, str) else section
        return any(doc_id == c.doc_id and c.section in labels for c in self.clauses)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> GoldItem:
        item_id = record.get("id") or "(no id)"
        unknown = set(record) - _FIELDS
        if unknown:
            raise GoldError(f"{item_id}: unknown field(s) {sorted(unknown)}")
        try:
            also = tuple(Clause(a["doc_id"], a["section"]) for a in record.get("also", ()))
            item = cls(**{**record, "also": also})
        except (TypeError, KeyError) as error:
            raise GoldError(f"{item_id}: {error}") from None
        item._validate()
        return item

    def _validate(self) -> None:
        def fail(message: str) -> None:
            raise GoldError(f"{self.id or '(no id)'}: {message}")

        if not self.id or not self.text.strip():
            fail("id and text are required")
        if self.kind not in KINDS:
            fail(f"kind {self.kind!r} is not one of {KINDS}")
        if self.style not in STYLES:
            fail(f"style {self.style!r} is not one of {STYLES}")
        if self.about and self.about not in ABOUTS:
            fail(f"about {self.about!r} is not one of {ABOUTS}")
        if self.kind == "question":
            if not self.doc_id or not self.phrase:
                fail("a question needs doc_id and phrase")
            if self.answer not in ("", BY_REQUEST):
                fail(f"answer {self.answer!r} is not {BY_REQUEST!r}")
            if bool(self.section) == self.by_request:
                fail("a question needs a section, except a by_request one, which has none")
            if self.expect:
                fail("a question has no expect")
        else:
            if self.doc_id or self.section or self.phrase or self.answer or self.also:
                fail(f"a {self.kind} names no document")
            if self.kind == "request" and self.expect not in EXPECTS:
                fail(f"expect {self.expect!r} is not one of {EXPECTS}")
            if self.kind == "unanswerable" and self.expect:
                fail("an unanswerable question has no expect")


def split_of(item_id: str) -> Split:
    """dev or test, forever: the first byte of the id's SHA-256, even → dev."""
    return "dev" if hashlib.sha256(item_id.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def load_gold(path: Path | str | None = None, split: Split | None = None) -> list[GoldItem]:
    """The gold items in file order, all of them or one split's. Raises GoldError on a bad record."""
    if split not in (None, "dev", "test"):
        raise ValueError(f"split must be 'dev', 'test' or None, not {split!r}")
    path = Path(path) if path else GOLD_PATH
    items: list[GoldItem] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise GoldError(f"{path}:{number}: not JSON ({error})") from None
        item = GoldItem.from_json(record)
        if item.id in seen:
            raise GoldError(f"{item.id}: duplicate id")
        seen.add(item.id)
        items.append(item)
    return [item for item in items if split is None or item.split == split]


# ---- checking against a built index ---------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _normalized(text: str) -> str:
    """A message without spaces and punctuation: what "the same message" means for the copy check."""
    return re.sub(r"[\s\W_]+", "", text).lower()


def nlu_examples(path: Path = NLU_PATH) -> set[str]:
    """Every training example in a Rasa NLU file, normalized (entity annotations removed)."""
    examples = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", r"\1\2", stripped[2:])
            examples.add(_normalized(text))
    return examples


def check(items: Iterable[GoldItem], index_dir: Path, nlu_path: Path | None = NLU_PATH) -> list[str]:
    """Every problem of the gold set against the index in `index_dir` (an empty list: all is well)."""
    items = list(items)
    chunks = _read_jsonl(index_dir / "chunks.jsonl")
    catalogue = {entry["doc_id"]: entry for entry in _read_jsonl(index_dir / "catalogue.jsonl")}
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk["doc_id"], []).append(chunk)
    problems: list[str] = []

    def clause_texts(clause: Clause) -> list[str]:
        return [c["text"] for c in by_doc.get(clause.doc_id, ()) if clause.section in c["section"]]

    for item in items:
        if item.kind != "question":
            continue
        if item.by_request:
            entry = catalogue.get(item.doc_id)
            if entry is None:
                problems.append(f"{item.id}: {item.doc_id} is not in the 依申请公开 catalogue")
            elif item.phrase not in entry["title"]:
                problems.append(f"{item.id}: phrase {item.phrase!r} is not in the title {entry['title']!r}")
            continue
        for clause in item.clauses:
            texts = clause_texts(clause)
            if not texts:
                problems.append(f"{item.id}: no chunk of {clause.doc_id} has the section {clause.section!r}")
            elif clause == item.clauses[0] and not any(item.phrase in text for text in texts):
                problems.append(f"{item.id}: phrase {item.phrase!r} is not in {clause.doc_id} {clause.section!r}")
    asked = {item.doc_id for item in items if item.kind == "question"}
    for doc_id in sorted((set(by_doc) | set(catalogue)) - asked):
        problems.append(f"{doc_id}: indexed, but no gold question is about it")
    texts = Counter(_normalized(item.text) for item in items)
    problems.extend(f"the same message twice: {text}" for text, n in texts.items() if n > 1)
    if nlu_path is not None and nlu_path.exists():
        copied = nlu_examples(nlu_path)
        problems.extend(
            f"{item.id}: its text is a training example in {nlu_path.name}"
            for item in items
            if _normalized(item.text) in copied
        )
    return problems


def summary(items: Sequence[GoldItem], index_dir: Path | None = None) -> str:
    """Counts per kind, split, style, about, expect and document (with each document's share of text)."""
    lines: list[str] = []

    def block(title: str, counter: Counter[tuple[str, str]]) -> None:
        keys = sorted({key for key, _ in counter})
        lines.append(f"\n{title:<44}{'dev':>6}{'test':>6}{'all':>6}")
        for key in keys:
            dev, test = counter[(key, "dev")], counter[(key, "test")]
            lines.append(f"{key:<44}{dev:>6}{test:>6}{dev + test:>6}")

    block("kind", Counter((i.kind, i.split) for i in items))
    block("style", Counter((i.style, i.split) for i in items))
    block("question about (could be mistaken for)", Counter((i.about, i.split) for i in items if i.about))
    block("request expect", Counter((i.expect, i.split) for i in items if i.kind == "request"))
    questions = [i for i in items if i.kind == "question"]
    block(
        "question doc_id", Counter((i.doc_id + (" (by_request)" if i.by_request else ""), i.split) for i in questions)
    )
    if index_dir is not None and (index_dir / "chunks.jsonl").exists():
        chars: Counter[str] = Counter()
        for chunk in _read_jsonl(index_dir / "chunks.jsonl"):
            chars[chunk["doc_id"]] += len(chunk["text"])
        asked = Counter(i.doc_id for i in questions if not i.by_request)
        total_chars, total_asked = sum(chars.values()), sum(asked.values())
        lines.append(f"\n{'document: share of text vs share of questions':<44}{'text':>7}{'asked':>7}")
        for doc_id in sorted(chars, key=chars.__getitem__, reverse=True):
            lines.append(f"{doc_id:<44}{chars[doc_id] / total_chars:>7.1%}{asked[doc_id] / total_asked:>7.1%}")
    return "\n".join(lines).lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gold", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check against a built index; exit 1 on problems")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="a built index (hotline index ensure)")
    parser.add_argument("--gold", type=Path, default=GOLD_PATH)
    args = parser.parse_args(argv)
    try:
        items = load_gold(args.gold)
    except GoldError as error:
        print(f"bad gold set: {error}", file=sys.stderr)
        return 1
    print(summary(items, args.index))
    if not args.check:
        return 0
    if not (args.index / "chunks.jsonl").exists():
        print(f"\n{args.index} is not a built index: run `hotline index ensure --out {args.index} knowledge`")
        return 1
    problems = check(items, args.index)
    print(f"\n{len(problems)} problem(s)" + "".join(f"\n  {p}" for p in problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
