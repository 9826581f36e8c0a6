"""Loaders: files and folders in, Documents out, and a Skipped entry for whatever cannot be read.

Formats: Markdown or plain text (both may open with YAML front matter), HTML, and JSONL records.
Each format has a converter that turns a file into `Extract`s: the text with its 不公开 fence markers
still in it, and the metadata the format states. `load_file` then runs the same steps for every
format, in this order: the disclosure fence (index/disclosure.py), the folder's defaults, and only
then what is derived from the text (title, 发文字号, date), so nothing is derived from fenced text.
A loader never raises on bad input; it reports the path and the reason and moves on.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from index import disclosure
from index.cleaning import clean_scraped_text, find_doc_number, signature_date, split_compilation
from index.documents import DISCLOSURES, KINDS, STATUSES, Document, Skipped

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
# Front-matter spellings seen in the wild, mapped to our field names.
_FIELD_ALIASES = {
    "link": "url",
    "source_url": "url",
    "date": "publication_date",
    "authors": "issuer",
    "公开属性": "disclosure",
    "disclosure_attribute": "disclosure",
    "发文字号": "doc_number",
    "主题词": "keywords",
    "subject": "keywords",
}
_DOCUMENT_FIELDS = {f.name for f in fields(Document)}
#: Text of a document that may not be quoted is not read for anything: its title, number and
#: keywords must be stated in its metadata.
_NOT_DERIVED = {"依申请公开", "不公开"}


class LoadError(ValueError):
    """A file or record that cannot become a Document; the message says why."""


@dataclass(frozen=True)
class Extract:
    """What a converter hands on: text with any 不公开 fence markers still in it, and the metadata the
    format states explicitly. Nothing is derived from the text yet."""

    doc_id: str
    text: str
    source: str  # path, or path:line for a JSONL record
    meta: dict[str, Any] = field(default_factory=dict)  # as the format spells it; validated later
    #: Came without curated metadata: clean it, split a compilation, derive 发文字号 and date.
    scraped: bool = False
    #: A record (one Q&A answer) is retrieved and cited whole, never cut into pieces.
    atomic: bool = False
    #: A title the format states outside the text (an HTML <title>), used when the text has no heading.
    title_hint: str = ""

    def stated_text(self) -> list[tuple[str, str]]:
        """Every piece of text besides the body, by name: a fence marker there has no body to cut."""
        pieces = [(str(k), str(v)) for k, v in self.meta.items()]
        return [*pieces, ("title", self.title_hint)]

    def marker_count(self) -> int:
        return disclosure.count_markers(self.text) + sum(disclosure.count_markers(v) for _, v in self.stated_text())


Converter = Callable[[str, Path], tuple[list[Extract], list[Skipped]]]


def iter_source_files(sources: Iterable[str | Path]) -> Iterator[Path | Skipped]:
    """Expand files and folders (recursively, sorted) into loadable paths.

    A subfolder whose _defaults.yml says `exclude` is left out (reported once); a folder named as a
    source itself is always read.
    """
    for source in sources:
        path = Path(source)
        if path.is_dir():
            yield from _walk(path, named=True)
        elif path.is_file():
            yield path
        else:
            yield Skipped(str(path), "no such file or folder")


def _walk(folder: Path, named: bool) -> Iterator[Path | Skipped]:
    try:
        defaults = disclosure.folder_defaults(folder)
    except disclosure.DefaultsError as exc:
        yield Skipped(str(folder), f"{exc} (no file in the folder is indexed)")
        return
    if defaults.exclude and not named:
        yield Skipped(str(folder), f"folder not indexed: {defaults.exclude}")
        return
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            yield from _walk(child, named=False)
        elif child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
            yield child


def load_sources(sources: Iterable[str | Path]) -> tuple[list[Document], list[Skipped]]:
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for item in iter_source_files(sources):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        docs, skips = load_file(item)
        documents.extend(docs)
        skipped.extend(skips)
    return documents, skipped


def load_file(path: Path) -> tuple[list[Document], list[Skipped]]:
    """Convert, fence, apply the folder's defaults, derive: the same steps for every format."""
    suffix = path.suffix.lower()
    converter = CONVERTERS.get(suffix)
    if converter is None:
        return [], [Skipped(str(path), f"unsupported file type {suffix or '(none)'}")]
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Skipped(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return [], [Skipped(str(path), f"unreadable: {exc.strerror or exc}")]
    try:
        defaults = disclosure.folder_defaults(path.parent).attributes
        extracts, skipped = converter(raw, path)
    except (LoadError, disclosure.DefaultsError) as exc:
        return [], [Skipped(str(path), str(exc))]
    lost = disclosure.count_markers(raw) - sum(e.marker_count() for e in extracts)
    if lost > 0:
        # A converter that drops a marker (as BeautifulSoup drops comments) would leave fenced text in.
        reason = f"{lost} 不公开 fence marker(s) lost in conversion (inside a removed <nav>, <script>…?): not indexed"
        return [], [Skipped(str(path), reason)]
    documents: list[Document] = []
    for extract in extracts:
        try:
            docs, problem = _document(extract, defaults)
        except LoadError as exc:
            skipped.append(Skipped(extract.source, str(exc).removeprefix(f"{extract.source}: ")))
            continue
        if problem:
            skipped.append(Skipped(extract.source, problem))
        documents.extend(docs)
    return documents, skipped


def _document(extract: Extract, defaults: dict[str, str]) -> tuple[list[Document], str]:
    """The Documents of one extract, and the fence problem to report ('' when none)."""
    for name, value in extract.stated_text():
        if disclosure.has_comment(value):
            raise LoadError(f"a comment or 不公开 fence marker in its metadata ({name}): not indexed")
    cut = disclosure.cut_fences(extract.text)
    if cut.rejected:
        return [], cut.problem
    meta = metadata_fields(extract.meta, extract.source)
    for name in disclosure.DEFAULT_ATTRIBUTES:
        if name not in meta and name in defaults:
            meta[name] = defaults[name]
    derive = meta.get("disclosure") not in _NOT_DERIVED
    doc_id = str(meta.pop("doc_id", "") or extract.doc_id)
    if extract.scraped:
        return _scraped_documents(extract, doc_id, cut.text, meta, derive), cut.problem
    if not cut.text.strip():
        raise LoadError(f"{extract.source}: no text left outside the 不公开 fences")
    body = cut.text.strip() + "\n" if not extract.atomic else cut.text
    if derive and not extract.atomic:  # a record without a title is cited by its question, or not at all
        meta.setdefault("title", _first_heading(body) or doc_id)
    meta.setdefault("title", "")
    return [
        Document(doc_id=doc_id, body=body, source=extract.source, curated=True, atomic=extract.atomic, **meta)
    ], cut.problem


def _scraped_documents(extract: Extract, doc_id: str, text: str, meta: dict[str, Any], derive: bool) -> list[Document]:
    if not derive:
        # Named only by what its metadata states; its text is kept for nothing but the skip report.
        meta.setdefault("title", extract.title_hint)
        return [Document(doc_id=doc_id, body=text, source=extract.source, **meta)]
    parts = split_compilation(text)
    pieces = [(f"{doc_id}-{p.number}", p.body, p.title) for p in parts] if parts else [(doc_id, text, "")]
    documents = []
    for piece_id, raw_body, part_title in pieces:
        body = clean_scraped_text(raw_body)
        if not body.strip():
            raise LoadError(f"{extract.source}: no text left after cleaning")
        derived = {
            "title": part_title or _h1(body) or extract.title_hint or _first_heading(body) or piece_id,
            "doc_number": find_doc_number(body),
            "publication_date": signature_date(body),
        }
        documents.append(Document(doc_id=piece_id, body=body, source=extract.source, **{**derived, **meta}))
    return documents


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()[:10]
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if value is None:
        return ""
    return value


def metadata_fields(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate and rename metadata keys; unknown keys are ignored, bad values are errors."""
    meta: dict[str, Any] = {}
    for key, value in raw.items():
        name = _FIELD_ALIASES.get(key, key)
        if name in _DOCUMENT_FIELDS and name not in ("body", "source", "curated", "atomic"):
            meta[name] = value if name == "sample" else _plain(value)
    for name, allowed in (("status", STATUSES), ("disclosure", DISCLOSURES), ("kind", KINDS)):
        if name in meta and meta[name] not in allowed:
            raise LoadError(f"{where}: {name} {meta[name]!r} is not one of {', '.join(allowed)}")
    if "sample" in meta:
        meta["sample"] = bool(meta["sample"])
    return meta


def split_front_matter(raw: str, where: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(raw)
    if not match:
        return {}, raw
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"{where}: front matter is not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise LoadError(f"{where}: front matter must be a mapping")
    return data, raw[match.end() :]


def _first_heading(body: str) -> str:
    for line in body.splitlines():
        line = line.strip().lstrip("#").strip().strip("*").strip()
        if line:
            return line if len(line) <= 60 else ""
    return ""


def _h1(body: str) -> str:
    """An HTML page's <h1>, which its converter writes as a `# ` line."""
    for line in body.splitlines():
        if re.match(r"#\s", line.strip()):
            return _first_heading(line)
    return ""


# --- converters: one per format, text and stated metadata only --------------------------------


def convert_text(raw: str, path: Path) -> tuple[list[Extract], list[Skipped]]:
    """Markdown or plain text. Plain text without front matter is treated as a scraped page."""
    front, body = split_front_matter(raw, str(path))
    if front:
        return [Extract(path.stem, body, str(path), front)], []
    return [Extract(path.stem, body, str(path), scraped=True)], []


def convert_html(raw: str, path: Path) -> tuple[list[Extract], list[Skipped]]:
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "form"]):
        tag.decompose()
    # BeautifulSoup's text leaves comments out, and with them the 不公开 fence: give them back as text
    # for the fence step to read.
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.replace_with(f"\n<!--{comment}-->\n")
    for heading in soup.find_all("h1"):
        heading.string = "# " + heading.get_text(" ", strip=True)
    title = soup.title.get_text(strip=True) if soup.title else ""
    meta = {m.get("name"): m.get("content") for m in soup.find_all("meta") if m.get("name")}
    root = soup.body or soup
    if soup.title and root is soup:
        soup.title.decompose()  # no <body>: the <title> is not text
    text = root.get_text("\n", strip=True)
    return [Extract(path.stem, text, str(path), {k: v for k, v in meta.items() if k}, True, title_hint=title)], []


def convert_jsonl(raw: str, path: Path) -> tuple[list[Extract], list[Skipped]]:
    """One record a line: `id`, `text` or `answer`, optional `question`, `title`, `department`, `url`."""
    extracts: list[Extract] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise LoadError("a record must be a JSON object")
            doc_id = str(record.get("id") or "").strip()
            body = record.get("text") or record.get("answer")
            if not doc_id:
                raise LoadError("missing id")
            if not isinstance(body, str) or not body.strip():
                raise LoadError("missing text or answer")
            if doc_id in seen:
                raise LoadError(f"duplicate id {doc_id!r}")
        except json.JSONDecodeError as exc:
            skipped.append(Skipped(where, f"invalid JSON ({exc.msg})"))
            continue
        except LoadError as exc:
            skipped.append(Skipped(where, str(exc)))
            continue
        seen.add(doc_id)
        meta = {k: v for k, v in record.items() if k not in ("id", "text", "answer")}
        if "title" not in meta and record.get("question"):
            meta["title"] = record["question"]
        extracts.append(Extract(doc_id, body, where, meta, atomic=True))
    return extracts, skipped


#: A new format is one converter here; the fence, the defaults and the derivations come with load_file.
CONVERTERS: dict[str, Converter] = {
    **dict.fromkeys(TEXT_SUFFIXES, convert_text),
    **dict.fromkeys(HTML_SUFFIXES, convert_html),
    **dict.fromkeys(JSONL_SUFFIXES, convert_jsonl),
}
