"""Property: whatever the corpus, nothing fenced, 不公开, 依申请公开 or not 生效 comes back.

Hypothesis writes corpora in every supported format (Markdown and text with front matter, scraped
text, HTML, JSONL records) into folders with random defaults files, with random attributes (missing
and unknown ones included), 不公开 fences, unterminated fences, stray closing markers and ordinary
comments. Every passage carries a unique token. The real builder indexes the corpus, and the real
retriever and answerer are asked for every token. The oracle below states the rules independently of
the code: only plain text of documents whose resolved attributes are 生效 + 主动公开 may come back,
and the stated title of a 生效 + 依申请公开 document may be named in an answer, nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.answering import Answerer
from index.builder import build_index
from index.embedding_cache import EmbeddingCache
from index.retriever import Retriever
from tests.hashing_embedder import HashingEmbedder

DISCLOSURES = ("主动公开", "依申请公开", "不公开")
STATUSES = ("生效", "失效", "已修订")
FORMATS = ("md", "txt", "scraped", "html", "jsonl")
FOLDERS = ("a", "b")
EMBEDDER = HashingEmbedder()


@dataclass(frozen=True)
class Segment:
    #: plain: may be quoted if its document may; fenced: inside a fence; comment: an ordinary
    #: comment; stray: text followed by a closing marker without an opening one (rejects the document);
    #: open: an unterminated fence, always last.
    kind: str
    token: str


@dataclass(frozen=True)
class Doc:
    number: int
    fmt: str
    folder: str
    disclosure: str | None  # None: not stated; a value outside DISCLOSURES: unknown
    status: str | None
    title: str | None  # a stated title (a token), or None
    kind: str
    segments: tuple[Segment, ...]


def _token(prefix: str, *parts: int) -> str:
    return prefix + hashlib.blake2b("-".join(map(str, parts)).encode(), digest_size=5).hexdigest()


disclosure_values = st.sampled_from([None, "主动公开", "主动公开", "依申请公开", "不公开", "内部"])
status_values = st.sampled_from([None, "生效", "生效", "失效", "已修订", "作废"])
folder_defaults = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"disclosure": disclosure_values, "status": status_values}),
)


@st.composite
def documents(draw, number: int) -> Doc:
    body = draw(st.lists(st.sampled_from(["plain", "plain", "plain", "fenced", "comment", "stray"]), max_size=4))
    kinds = [*body, "plain"] if "plain" not in body else body
    if draw(st.booleans()):
        kinds.append("open")
    return Doc(
        number=number,
        fmt=draw(st.sampled_from(FORMATS)),
        folder=draw(st.sampled_from(FOLDERS)),
        disclosure=draw(disclosure_values),
        status=draw(status_values),
        title=_token("zt", number) if draw(st.booleans()) else None,
        kind=draw(st.sampled_from(["disclosure_document", "service_guide", "faq"])),
        segments=tuple(Segment(kind, _token("zq", number, i)) for i, kind in enumerate(kinds)),
    )


@st.composite
def corpora(draw) -> tuple[dict[str, dict | None], list[Doc]]:
    count = draw(st.integers(min_value=1, max_value=6))
    return {f: draw(folder_defaults) for f in FOLDERS}, [draw(documents(n)) for n in range(count)]


# --- rendering --------------------------------------------------------------------------------


def _text_body(doc: Doc) -> str:
    pieces = {
        "plain": "{t}。",
        "fenced": "<!-- 不公开 -->\n{t}。\n<!-- /不公开 -->",
        "comment": "<!-- {t} -->",
        "stray": "{t}。\n<!-- /不公开 -->",
        "open": "<!-- 不公开 -->\n{t}。",
    }
    return "\n\n".join(pieces[s.kind].format(t=s.token) for s in doc.segments) + "\n"


def _html_body(doc: Doc) -> str:
    pieces = {
        "plain": "<p>{t}。</p>",
        "fenced": "<!-- 不公开 --><p>{t}。</p><!-- /不公开 -->",
        "comment": "<!-- {t} -->",
        "stray": "<p>{t}。</p><!-- /不公开 -->",
        "open": "<!-- 不公开 --><p>{t}。</p>",
    }
    return "".join(pieces[s.kind].format(t=s.token) for s in doc.segments)


def _stated(doc: Doc) -> dict[str, str]:
    stated = {"disclosure": doc.disclosure, "status": doc.status, "title": doc.title}
    return {k: v for k, v in stated.items() if v is not None}


def write_corpus(root: Path, defaults: dict[str, dict | None], docs: list[Doc]) -> None:
    for folder, declared in defaults.items():
        (root / folder).mkdir(parents=True)
        if declared is not None:
            (root / folder / "_defaults.yml").write_text(json.dumps(declared, ensure_ascii=False), encoding="utf-8")
    records: dict[str, list[str]] = {}
    for doc in docs:
        path = root / doc.folder / f"d{doc.number}"
        if doc.fmt in ("md", "txt"):
            front = "".join(f"{k}: {v}\n" for k, v in {**_stated(doc), "kind": doc.kind}.items())
            path.with_suffix(f".{doc.fmt}").write_text(f"---\n{front}---\n{_text_body(doc)}", encoding="utf-8")
        elif doc.fmt == "scraped":  # plain text without front matter: only its folder can give attributes
            path.with_suffix(".txt").write_text(_text_body(doc), encoding="utf-8")
        elif doc.fmt == "html":
            stated = _stated(doc)
            title = f"<title>{stated.pop('title')}</title>" if "title" in stated else ""
            metas = "".join(f'<meta name="{k}" content="{v}">' for k, v in stated.items())
            page = f"<html><head>{title}{metas}</head><body>{_html_body(doc)}</body></html>"
            path.with_suffix(".html").write_text(page, encoding="utf-8")
        else:
            record = {"id": f"d{doc.number}", "text": _text_body(doc), "kind": doc.kind, **_stated(doc)}
            records.setdefault(doc.folder, []).append(json.dumps(record, ensure_ascii=False))
    for folder, lines in records.items():
        (root / folder / "records.jsonl").write_text("\n".join(lines), encoding="utf-8")


# --- the oracle: the rules, stated without the code ---------------------------------------------


def _resolved(own: str | None, folder: dict | None, name: str, allowed: tuple[str, ...]) -> str | None:
    if own is not None:
        return own if own in allowed else None  # an unknown value is never taken as anything
    return (folder or {}).get(name)


def _folder_usable(declared: dict | None) -> bool:
    return declared is None or (
        declared.get("disclosure", "主动公开") in DISCLOSURES and declared.get("status", "生效") in STATUSES
    )


def attributes(doc: Doc, defaults: dict[str, dict | None]) -> tuple[str | None, str | None]:
    declared = defaults[doc.folder]
    if not _folder_usable(declared) or any(s.kind == "stray" for s in doc.segments):
        return None, None
    own_disclosure, own_status = (None, None) if doc.fmt == "scraped" else (doc.disclosure, doc.status)
    if (own_disclosure is not None and own_disclosure not in DISCLOSURES) or (
        own_status is not None and own_status not in STATUSES
    ):
        return None, None  # the document is refused, whatever its folder says
    return (
        _resolved(own_disclosure, declared, "disclosure", DISCLOSURES),
        _resolved(own_status, declared, "status", STATUSES),
    )


def oracle(defaults: dict[str, dict | None], docs: list[Doc]) -> tuple[set[str], set[str], set[str]]:
    """(may be quoted, may only be named in an answer, must never come back)."""
    quotable: set[str] = set()
    nameable: set[str] = set()
    forbidden: set[str] = set()
    for doc in docs:
        disclosure, status = attributes(doc, defaults)
        answerable = (disclosure, status) == ("主动公开", "生效")
        for segment in doc.segments:
            (quotable if answerable and segment.kind == "plain" else forbidden).add(segment.token)
        if doc.title is not None:
            title = doc.title if doc.fmt != "scraped" else None  # scraped text states no title
            if title and answerable:
                quotable.add(title)
            elif title and (disclosure, status) == ("依申请公开", "生效"):
                nameable.add(title)
            else:
                forbidden.add(doc.title)
    return quotable, nameable, forbidden


def _found(tokens: set[str], text: str) -> set[str]:
    return {t for t in tokens if t in text}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora())
def test_nothing_that_may_not_be_quoted_ever_comes_back(corpus):
    defaults, docs = corpus
    quotable, nameable, forbidden = oracle(defaults, docs)
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "corpus", Path(tmp) / "index"
        write_corpus(root, defaults, docs)
        build_index([root], out, EMBEDDER, EmbeddingCache(None))
        artifact = "".join(p.read_text(errors="ignore") for p in out.resolve().iterdir() if p.suffix != ".npy")
        assert not _found(forbidden, artifact), "written to the index"
        retriever = Retriever(out, embedder=EMBEDDER)
        answerer = Answerer(retriever, min_trust=0.0)  # trust every hit: the worst case for secrecy
        for question in sorted(quotable | nameable | forbidden):
            for mode in ("hybrid", "dense", "bm25"):
                for hit in retriever.search(question, k=20, per_doc=20, mode=mode):
                    shown = f"{hit.title}\n{hit.section}\n{hit.text}"
                    assert not _found(forbidden | nameable, shown), (question, mode, hit)
            said = answerer.answer(question).text
            assert not _found(forbidden, said), (question, said)
        # Not vacuous: everything that may be quoted is found, so the rule cuts no more than it must.
        for token in quotable:
            hits = retriever.search(token, k=20, per_doc=20, mode="bm25")
            assert any(token in f"{h.title}\n{h.section}\n{h.text}" for h in hits), token
