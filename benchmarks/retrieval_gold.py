"""Retrieval alone on the gold questions: does the right clause come first? (clause hit@1, hit@3, MRR@10)

A hit "is the right clause" when its doc_id is the item's and the item's `section` is one of the
labels of the hit's section path (benchmarks/data/README.md, the gold contract). Ranks are over
passages (up to 10, several per document allowed), so a second clause of the right document counts
where it stands. The answers benchmark calls `clause_ranks` and `clause_metrics`; run alone it
prints the table for BM25, e5 and the hybrid on dev and test, and with --ablation the shipped
pipeline without each of its parts (orphan merge, lexicon expansion, glossary).

    python benchmarks/retrieval_gold.py [--ablation] [--gold PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's index/, not an installed one
from _report import publish_report, table
from gold import load_gold

from index.builder import build_index
from index.chunking import ChunkingConfig
from index.embedders import load_embedder
from index.embedding_cache import EmbeddingCache, default_cache_path
from index.retriever import FusionConfig, Mode, Retriever

K = 10
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


def is_right_clause(doc_id: str, section_path: str, item: Any) -> bool:
    """The gold contract: same document, and the item's clause label is one of the path's labels.

    A GoldItem decides itself (it also knows the other clauses that answer as well, `also`).
    """
    if hasattr(item, "is_right_clause"):
        return item.is_right_clause(doc_id, section_path)
    return doc_id == _field(item, "doc_id") and _field(item, "section") in section_path.split(" > ")


def clause_ranks(retriever: Retriever, items: Sequence[Any], mode: Mode) -> list[int | None]:
    """Per item, the 1-based rank of the first hit that is the right clause within the top K, else None.

    A question whose answer is a 依申请公开 document (`answer: by_request`) has no clause to quote: None.
    """
    ranks: list[int | None] = []
    for item in items:
        if not _field(item, "section"):
            ranks.append(None)
            continue
        hits = retriever.search(_field(item, "text"), k=K, per_doc=K, mode=mode)
        ranks.append(
            next((rank for rank, hit in enumerate(hits, 1) if is_right_clause(hit.doc_id, hit.section, item)), None)
        )
    return ranks


def clause_metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    n = max(1, len(ranks))
    return {
        "hit@1": sum(1 for r in ranks if r == 1) / n,
        "hit@3": sum(1 for r in ranks if r is not None and r <= 3) / n,
        "MRR": sum(1 / r for r in ranks if r) / n,
    }


def questions(split: str, path: Path | None = None) -> list[Any]:
    """The answerable questions of a split that a passage answers (not the 依申请公开 ones)."""
    return [
        item for item in load_gold(path, split=split) if _field(item, "kind") == "question" and _field(item, "section")
    ]


def build_knowledge_index(workdir: Path, config: ChunkingConfig | None = None, knowledge: Path | None = None) -> Path:
    out = workdir / "index"
    cache = EmbeddingCache(default_cache_path())
    try:
        build_index([knowledge or KNOWLEDGE], out, load_embedder(), cache, config)
    finally:
        cache.close()
    return out


def metrics_rows(label: str, retriever: Retriever, splits: dict[str, list[Any]], modes=MODES) -> list[list[object]]:
    rows = []
    for mode in modes:
        row: list[object] = [label, mode]
        for items in splits.values():
            m = clause_metrics(clause_ranks(retriever, items, mode))
            row += [m["hit@1"], m["hit@3"], m["MRR"]]
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", type=Path, default=None, help="default: benchmarks/data/answers_gold.jsonl")
    parser.add_argument("--knowledge", type=Path, default=KNOWLEDGE, help="the corpus (default: knowledge/)")
    parser.add_argument("--ablation", action="store_true", help="also the shipped pipeline without each part")
    parser.add_argument("--no-report", action="store_true", help="print only; do not write benchmarks/results/")
    args = parser.parse_args()
    splits = {split: questions(split, args.gold) for split in ("dev", "test")}
    headers = ["pipeline", "mode"] + [f"{s} {m}" for s in splits for m in ("hit@1", "hit@3", "MRR")]
    with tempfile.TemporaryDirectory() as workdir:
        shipped = Retriever(build_knowledge_index(Path(workdir) / "shipped", knowledge=args.knowledge))
        rows = metrics_rows("shipped", shipped, splits)
        if args.ablation:
            unmerged = Retriever(
                build_knowledge_index(Path(workdir) / "unmerged", ChunkingConfig(orphan_chars=0), args.knowledge),
                embedder=shipped.embedder,
            )
            old = Retriever(unmerged.directory, embedder=shipped.embedder, expander=None)
            old.fusion = replace(old.fusion, glossary_boost=0.0)
            rows += metrics_rows("before (no merge, expansion, glossary)", old, splits)
            rows += metrics_rows("no orphan merge", unmerged, splits)
            no_expansion = Retriever(shipped.directory, embedder=shipped.embedder, expander=None)
            rows += metrics_rows("no expansion", no_expansion, splits)
            dense_expansion = Retriever(
                shipped.directory, embedder=shipped.embedder, fusion=FusionConfig(expand_dense=True)
            )
            rows += metrics_rows("expansion on e5 too", dense_expansion, splits, modes=("dense", "hybrid"))
            no_glossary = Retriever(
                shipped.directory, embedder=shipped.embedder, fusion=FusionConfig(glossary_boost=0.0)
            )
            rows += metrics_rows("no glossary", no_glossary, splits, modes=("hybrid",))
    counts = ", ".join(f"{split}: {len(items)}" for split, items in splits.items())
    sections = [
        f"Answerable gold questions ({counts}); a hit is the right clause per the gold contract; ranks over "
        f"passages, k={K}. Tune on dev only.",
        table(headers, rows),
    ]
    if args.no_report:
        print("\n\n".join(sections))
    else:
        publish_report("retrieval_gold", "Clause retrieval on the gold questions", sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
