"""Build an index: load → disclosure triage → de-duplicate → chunk → embed (cached) → BM25 + FAISS → publish.

The triage (index/disclosure.py) decides what may be quoted: only 生效 + 主动公开 documents are chunked.
生效 + 依申请公开 documents go to the catalogue, by their stated metadata only, so that a question about
one can be told the document exists; their text is never written to the artifact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index import disclosure
from index.artifact import new_staging_dir, publish, read_manifest, write_manifest
from index.bm25 import Bm25Index
from index.chunking import ChunkingConfig, chunk_document
from index.dedup import DuplicateGroup, find_duplicates
from index.documents import CatalogueEntry, Chunk, Document, Skipped
from index.embedders import Embedder
from index.embedding_cache import EmbeddingCache, content_hash
from index.glossary import GlossaryEntry, extract_glossary
from index.loaders import iter_source_files, load_sources
from index.vector_index import VectorIndexSpec, build_vector_index, save_vector_index

log = logging.getLogger(__name__)

EMBED_BATCH = 128  # batched backends sort by length inside a batch; bigger batches pad less
#: The embedder sees at most this much of a chunk; e5-small's 512-token window holds about this.
EMBED_MAX_CHARS = 1000

ProgressFactory = Callable[[int, str], "Progress"]


class Progress(Protocol):
    """The little of tqdm's interface the builder uses, so callers can pass tqdm or nothing."""

    def update(self, n: int) -> object: ...
    def close(self) -> None: ...


@dataclass
class BuildReport:
    out: Path
    documents: int
    chunks: int
    skipped: list[Skipped]
    duplicates: list[DuplicateGroup]
    embedded: int  # distinct chunk texts embedded in this build
    cached: int  # chunks whose vectors came from the cache (or repeat a text embedded in this build)
    seconds: float = 0.0
    fingerprint: str = ""
    catalogued: int = 0  # 依申请公开 documents named in the catalogue, never quoted
    terms: int = 0  # defined terms in the glossary (index/glossary.py)


def chunk_search_text(chunk: Chunk) -> str:
    """What BM25 and the embedder see: the chunk with its title and clause path for context.

    e5 reads it as a passage ("passage: " + this, the embedder's side), so a one-line field such as
    不收费。 is embedded as 出生医学证明办理指南 七、办理结果 > 八、收费依据与标准 … 不收费。
    """
    question = chunk.extra.get("question", "")
    head = " ".join(part for part in (chunk.title, chunk.section_label) if part and part != question)
    return "\n".join(part for part in (question, head, chunk.text) if part)


def _pipeline_code_digest() -> bytes:
    """The ingestion code itself: a change to cleaning or chunking makes every index stale."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.digest()


def source_fingerprint(sources: Iterable[str | Path], embedder_name: str, config: ChunkingConfig) -> str:
    """Changes whenever a source file, the embedder, the chunking or the ingestion code changes."""
    digest = hashlib.sha256(f"{embedder_name}|{config}|{EMBED_MAX_CHARS}".encode())
    digest.update(_pipeline_code_digest())
    folders: set[Path] = set()
    for item in iter_source_files(sources):
        if isinstance(item, Skipped):
            digest.update(f"missing:{item.source}".encode())
            continue
        digest.update(_file_digest(item))
        folders.add(item.parent)
    # A folder's defaults decide what its files may say: editing them changes the index.
    for folder in sorted(folders):
        if disclosure.defaults_path(folder).is_file():
            digest.update(_file_digest(disclosure.defaults_path(folder)))
    return digest.hexdigest()


def _file_digest(path: Path) -> bytes:
    try:
        return str(path).encode() + hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return str(path).encode() + b"unreadable"


def is_stale(
    out: Path, sources: Iterable[str | Path], embedder_name: str, config: ChunkingConfig | None = None
) -> str | None:
    """Why the index at `out` must be rebuilt, or None when it is current."""
    try:
        manifest = read_manifest(out)
    except (FileNotFoundError, ValueError) as exc:
        return str(exc)
    if manifest.get("fingerprint") != source_fingerprint(sources, embedder_name, config or ChunkingConfig()):
        return "sources, embedder or chunking changed since the last build"
    return None


def select_documents(documents: list[Document]) -> tuple[list[Document], list[CatalogueEntry], list[Skipped]]:
    """What may be quoted, what may only be named (依申请公开), and what is left out, without its text."""
    triage = disclosure.triage(documents)
    skipped = list(triage.skipped)
    seen: set[str] = set()
    kept: dict[str, list[Document]] = {"answerable": [], "by_request": []}
    for name, group in (("answerable", triage.answerable), ("by_request", triage.by_request)):
        for document in group:
            if document.doc_id in seen:
                skipped.append(Skipped(document.source, f"duplicate doc id {document.doc_id!r}"))
            else:
                seen.add(document.doc_id)
                kept[name].append(document)
    for item in skipped:
        log.info("skipped %s: %s", item.source, item.reason)
    return kept["answerable"], [CatalogueEntry.of(d) for d in kept["by_request"]], skipped


def embed_with_cache(
    embedder: Embedder, texts: list[str], cache: EmbeddingCache, progress: Progress | None = None
) -> tuple[np.ndarray, int]:
    """Vectors for `texts`, embedding only those the cache lacks. Returns (vectors, newly embedded)."""
    texts = [t[:EMBED_MAX_CHARS] for t in texts]
    hashes = [content_hash(t) for t in texts]
    found = cache.get_many(embedder.name, list(dict.fromkeys(hashes)))
    if progress:
        progress.update(sum(h in found for h in hashes))
    missing = list(dict.fromkeys(h for h in hashes if h not in found))
    text_of = dict(zip(hashes, texts, strict=True))
    # Similar lengths in one batch waste less padding in batched backends.
    missing.sort(key=lambda h: len(text_of[h]))
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start : start + EMBED_BATCH]
        vectors = embedder.embed_passages([text_of[h] for h in batch])
        fresh = dict(zip(batch, vectors, strict=True))
        cache.put_many(embedder.name, fresh)
        found.update(fresh)
        if progress:
            progress.update(sum(1 for h in hashes if h in fresh))
    matrix = np.stack([found[h] for h in hashes]) if hashes else np.zeros((0, embedder.dim), np.float32)
    return matrix.astype(np.float32), len(missing)


def build_index(
    sources: list[str | Path],
    out: Path,
    embedder: Embedder,
    cache: EmbeddingCache,
    config: ChunkingConfig | None = None,
    vector_index_kind: str = "auto",
    progress: ProgressFactory | None = None,
) -> BuildReport:
    """Build into a fresh directory and publish it at `out`."""
    started = time.perf_counter()
    config = config or ChunkingConfig()
    fingerprint = source_fingerprint(sources, embedder.name, config)
    documents, skipped = load_sources(sources)
    for item in skipped:
        log.info("skipped %s: %s", item.source, item.reason)
    documents, catalogue, not_indexed = select_documents(documents)
    skipped += not_indexed
    # Records are addressed by their own ids (a Q&A pair each); only documents are de-duplicated.
    duplicates = find_duplicates([d for d in documents if not d.atomic])
    dropped = {doc_id for group in duplicates for doc_id in group.dropped}
    for group in duplicates:
        log.info("near-duplicate documents: %s", group.describe())
    documents = [d for d in documents if d.doc_id not in dropped]
    chunks = [chunk for document in documents for chunk in chunk_document(document, config)]
    texts = [chunk_search_text(c) for c in chunks]
    glossary = extract_glossary(chunks)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = new_staging_dir(out)
    try:
        embedded, spec = _write_artifact(staging, chunks, texts, embedder, cache, vector_index_kind, progress)
        _write_catalogue(staging, catalogue, embedder, cache)
        _write_glossary(staging, glossary)
        write_manifest(
            staging,
            {
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "fingerprint": fingerprint,
                "embedder": embedder.name,
                "embedder_spec": embedder.spec,
                "dim": embedder.dim,
                "documents": len(documents),
                "chunks": len(chunks),
                "catalogue": len(catalogue),
                "glossary": len(glossary),
                "vector_index": asdict(spec),
                "sources": [str(s) for s in sources],
                "skipped": [asdict(s) for s in skipped],
                "duplicates": [asdict(g) for g in duplicates],
            },
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the index in service stays as it was
        raise
    publish(staging, out)
    return BuildReport(
        out,
        len(documents),
        len(chunks),
        skipped,
        duplicates,
        embedded,
        len(chunks) - embedded,
        time.perf_counter() - started,
        fingerprint,
        len(catalogue),
        len(glossary),
    )


def _write_artifact(
    staging: Path,
    chunks: list[Chunk],
    texts: list[str],
    embedder: Embedder,
    cache: EmbeddingCache,
    vector_index_kind: str,
    progress: ProgressFactory | None,
) -> tuple[int, VectorIndexSpec]:
    bar = progress(len(texts), "embedding") if progress else None
    try:
        vectors, embedded = embed_with_cache(embedder, texts, cache, bar)
    finally:
        if bar:
            bar.close()
    spec = VectorIndexSpec.choose(len(chunks), vector_index_kind)
    if chunks:
        save_vector_index(build_vector_index(vectors, spec), staging / "vectors.faiss")
    np.save(staging / "vectors.npy", vectors)
    Bm25Index.build(texts).save(staging)
    with (staging / "chunks.jsonl").open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
    return embedded, spec


def _write_catalogue(staging: Path, catalogue: list[CatalogueEntry], embedder: Embedder, cache: EmbeddingCache) -> None:
    """The 依申请公开 entries and the vectors of their stated title and keywords (nothing of a body)."""
    vectors, _ = embed_with_cache(embedder, [entry.search_text() for entry in catalogue], cache)
    np.save(staging / "catalogue.npy", vectors)
    with (staging / "catalogue.jsonl").open("w", encoding="utf-8") as handle:
        for entry in catalogue:
            handle.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")


def _write_glossary(staging: Path, glossary: list[GlossaryEntry]) -> None:
    """The defined terms, each with its sentence and the clause it came from (only quotable chunks have any)."""
    with (staging / "glossary.jsonl").open("w", encoding="utf-8") as handle:
        for entry in glossary:
            handle.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
