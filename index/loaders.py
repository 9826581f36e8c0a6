"""Loaders: files and folders in, Documents out, and a Skipped entry for whatever cannot be read.

Formats: Markdown or plain text (both may open with YAML front matter), HTML, and JSONL records.
A loader never raises on bad input; it reports the path and the reason and moves on.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from index.cleaning import clean_scraped_text, find_doc_number, signature_date, split_compilation
from index.documents import DISCLOSURES, KINDS, STATUSES, Document, Skipped

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
# Sections a drafter marked 不公开 inside an otherwise public document. They are cut before
# anything else sees the text.
_UNDISCLOSED_BLOCK = re.compile(r"<!--\s*不公开\s*-->.*?<!--\s*/不公开\s*-->", re.S)
# Front-matter spellings seen in the wild, mapped to our field names.
_FIELD_ALIASES = {
    "link": "url",
    "source_url": "url",
    "date": "publication_date",
    "authors": "issuer",
    "公开属性": "disclosure",
    "disclosure_attribute": "disclosure",
    "发文字号": "doc_number",
}
_DOCUMENT_FIELDS = {f.name for f in fields(Document)}


class LoadError(ValueError):
    """A file or record that cannot become a Document; the message says why."""


def iter_source_files(sources: Iterable[str | Path]) -> Iterator[Path | Skipped]:
    """Expand files and folders (recursively, sorted) into loadable paths."""
    for source in sources:
        path = Path(source)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in SUPPORTED_SUFFIXES and not child.name.startswith("."):
                    yield child
        elif path.is_file():
            yield path
        else:
            yield Skipped(str(path), "no such file or folder")


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
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return [], [Skipped(str(path), f"unsupported file type {suffix or '(none)'}")]
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Skipped(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return [], [Skipped(str(path), f"unreadable: {exc.strerror or exc}")]
    try:
        if suffix in JSONL_SUFFIXES:
            return load_jsonl(raw, path)
        if suffix in HTML_SUFFIXES:
            return [load_html(raw, path)], []
        return load_text(raw, path), []
    except LoadError as exc:
        return [], [Skipped(str(path), str(exc))]


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


def load_text(raw: str, path: Path) -> list[Document]:
    """Markdown or plain text. Plain text without front matter is treated as a scraped page."""
    front, body = split_front_matter(raw, str(path))
    body = _UNDISCLOSED_BLOCK.sub("", body)
    if front:
        meta = metadata_fields(front, str(path))
        meta.setdefault("title", _first_heading(body) or path.stem)
        return [
            Document(
                doc_id=meta.pop("doc_id", path.stem), body=body.strip() + "\n", source=str(path), curated=True, **meta
            )
        ]
    parts = split_compilation(body)
    if parts:
        return [_scraped_document(f"{path.stem}-{part.number}", part.body, str(path), part.title) for part in parts]
    return [_scraped_document(path.stem, body, str(path), "")]


def _scraped_document(doc_id: str, raw_body: str, source: str, title: str) -> Document:
    body = clean_scraped_text(raw_body)
    if not body.strip():
        raise LoadError(f"{source}: no text left after cleaning")
    title = title or _first_heading(body) or doc_id
    return Document(
        doc_id=doc_id,
        title=title,
        body=body,
        source=source,
        doc_number=find_doc_number(body),
        publication_date=signature_date(body),
    )


def load_html(raw: str, path: Path) -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "form"]):
        tag.decompose()
    title = ""
    if soup.h1 and soup.h1.get_text(strip=True):
        title = soup.h1.get_text(strip=True)
    elif soup.title and soup.title.get_text(strip=True):
        title = soup.title.get_text(strip=True)
    meta = {m.get("name"): m.get("content") for m in soup.find_all("meta") if m.get("name")}
    root = soup.body or soup
    text = root.get_text("\n", strip=True)
    document = _scraped_document(path.stem, text, str(path), title)
    known = metadata_fields({k: v for k, v in meta.items() if k}, str(path))
    return Document(**{**document.__dict__, **known}) if known else document


def load_jsonl(raw: str, path: Path) -> tuple[list[Document], list[Skipped]]:
    """One record a line: `id`, `text` or `answer`, optional `question`, `title`, `department`, `url`."""
    documents: list[Document] = []
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
            meta = metadata_fields({k: v for k, v in record.items() if k not in ("id", "text", "answer")}, where)
        except json.JSONDecodeError as exc:
            skipped.append(Skipped(where, f"invalid JSON ({exc.msg})"))
            continue
        except LoadError as exc:
            skipped.append(Skipped(where, str(exc).removeprefix(f"{where}: ")))
            continue
        seen.add(doc_id)
        meta.setdefault("title", meta.get("question") or "")
        documents.append(
            Document(
                doc_id=doc_id, body=_UNDISCLOSED_BLOCK.sub("", body), source=where, curated=True, atomic=True, **meta
            )
        )
    return documents, skipped
