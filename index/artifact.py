"""The index artifact: a directory of chunks, vectors, BM25 statistics, the 依申请公开 catalogue and a manifest.

`publish` swaps a finished build in atomically: the index path is a symlink to a versioned
directory, replaced with one rename, so a reader sees the old index or the new one, never a mix,
and a build that dies half-way leaves the index in service untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

#: 2: chunks carry status and disclosure; the 依申请公开 catalogue (catalogue.jsonl, catalogue.npy).
#: 3: the glossary of defined terms (glossary.jsonl); merged chunks list their clauses (extra.clauses).
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
KEEP_VERSIONS = 2  # the index in service and the one before it, for a quick roll-back


def versions_dir(target: Path) -> Path:
    return target.parent / f".{target.name}.versions"


def new_staging_dir(target: Path) -> Path:
    versions_dir(target).mkdir(parents=True, exist_ok=True)
    # Sortable by time, unique even for two builds within a second.
    name = tempfile.mkdtemp(prefix=f"{time.strftime('%Y%m%dT%H%M%S')}-", suffix=".building", dir=versions_dir(target))
    return Path(name)


def publish(staging: Path, target: Path) -> Path:
    """Point `target` at the finished build in `staging`; return the published directory."""
    final = staging.with_suffix("")  # drop ".building": only complete builds lose it
    staging.rename(final)
    if target.exists() and not target.is_symlink():
        # An index from before versioning: move it aside (keeps it, gives up atomicity once).
        target.rename(versions_dir(target) / f"{final.name}-previous")
    link = target.parent / f".{target.name}.link-tmp"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(final, target.parent))
    os.replace(link, target)
    _collect_garbage(target)
    return final


def _collect_garbage(target: Path) -> None:
    current = target.resolve()
    versions = sorted(p for p in versions_dir(target).iterdir() if p.is_dir())
    finished = [p for p in versions if not p.name.endswith(".building") and p.resolve() != current]
    for old in finished[: max(0, len(finished) - (KEEP_VERSIONS - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    # A .building directory older than a day is a crashed build.
    for stale in (p for p in versions if p.name.endswith(".building")):
        if time.time() - stale.stat().st_mtime > 86_400:
            shutil.rmtree(stale, ignore_errors=True)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    manifest = {"format": FORMAT_VERSION, **manifest}
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not an index: no {MANIFEST} (build one with `hotline index build`)")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise ValueError(f"{directory}: index format {manifest.get('format')} is not {FORMAT_VERSION}; rebuild it")
    return manifest
