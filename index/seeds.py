"""Turn the founding documents (knowledge/sources/) into the Markdown corpus under knowledge/policy/.

The cleaning is the loaders' own, so the seeds as loaded and the committed knowledge/policy/ files
agree; this module only adds the curated metadata (seed-metadata.yml, which states every seed's
status and 公开属性) and writes Markdown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from index.documents import Document
from index.loaders import load_sources, metadata_fields

FRONT_MATTER_ORDER = (
    "title",
    "doc_number",
    "issuer",
    "publication_date",
    "effective_date",
    "status",
    "disclosure",
    "url",
    "kind",
    "sample",
    "notes",
)


def render_markdown(document: Document) -> str:
    front: dict[str, Any] = {}
    for name in FRONT_MATTER_ORDER:
        value = getattr(document, name)
        front["source_url" if name == "url" else name] = value
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=1000).strip()
    paragraphs = [line for line in document.body.splitlines() if line.strip()]
    if paragraphs and paragraphs[0].lstrip("# ").strip() == document.title:
        paragraphs = paragraphs[1:]
    return f"---\n{header}\n---\n\n# {document.title}\n\n" + "\n\n".join(paragraphs) + "\n"


def import_seeds(seed_dir: Path, metadata_path: Path, out_dir: Path) -> list[Path]:
    """Write one Markdown file per seed article; return the paths written."""
    curated: dict[str, dict[str, Any]] = yaml.safe_load(metadata_path.read_text(encoding="utf-8")) or {}
    documents, skipped = load_sources([seed_dir])
    if skipped:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped)
        raise ValueError(f"seeds that could not be read: {reasons}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for document in documents:
        entry = dict(curated.get(document.doc_id, {}))
        file_stem = entry.pop("file", document.doc_id)
        meta = metadata_fields(entry, f"{metadata_path}:{document.doc_id}")
        merged = Document(**{**document.__dict__, **meta, "doc_id": file_stem})
        path = out_dir / f"{file_stem}.md"
        path.write_text(render_markdown(merged), encoding="utf-8")
        written.append(path)
    return written
