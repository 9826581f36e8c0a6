"""Near-duplicate documents: keep one authoritative version, report the others and any conflict.

The seeds reprint the 2011 opinion three times, with different dates and document numbers. Indexing
all three would split the ranking between copies and could cite the wrong date.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datasketch import MinHash, MinHashLSH

from index.documents import Document
from index.normalize import normalize_for_search

SHINGLE_CHARS = 5
NUM_PERM = 128
#: Estimated Jaccard similarity of 5-character shingles above which two documents are one text.
#: Reprints of one opinion score .6–.9; a local implementation plan quoting it scores < .2.
DUPLICATE_THRESHOLD = 0.5
CONFLICT_FIELDS = ("title", "doc_number", "issuer", "publication_date", "effective_date", "issue_year", "status")


@dataclass(frozen=True)
class DuplicateGroup:
    kept: str
    dropped: tuple[str, ...]
    #: field → {doc_id: value} for every field on which the versions disagree
    conflicts: dict[str, dict[str, str]] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"kept {self.kept}; dropped near-duplicate(s) {', '.join(self.dropped)}"]
        for name, values in self.conflicts.items():
            lines.append(f"  conflict in {name}: " + "; ".join(f"{k}={v or '(empty)'}" for k, v in values.items()))
        return "\n".join(lines)


def _shingles(document: Document) -> set[bytes]:
    text = "".join(normalize_for_search(document.body).split())
    return {text[i : i + SHINGLE_CHARS].encode() for i in range(max(1, len(text) - SHINGLE_CHARS + 1))}


def _is_official_url(url: str) -> bool:
    host = url.split("//", 1)[-1].split("/", 1)[0]
    return host.endswith(".gov.cn")


def authority_key(document: Document) -> tuple:
    """Higher is more authoritative: in force, curated metadata, an official source, completeness."""
    return (
        document.status == "生效",
        document.curated,
        _is_official_url(document.url),
        document.metadata_completeness(),
        not document.notes,  # a version we had to annotate as doubtful ranks below a clean one
        len(document.body),
    )


def find_duplicates(documents: list[Document], threshold: float = DUPLICATE_THRESHOLD) -> list[DuplicateGroup]:
    """Group near-duplicates (MinHash LSH, then exact Jaccard) and pick the authority in each."""
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    shingles: dict[str, set[bytes]] = {}
    signatures: dict[str, MinHash] = {}
    for document in documents:
        if document.doc_id in shingles:
            continue  # the builder reports duplicate ids; here the first one stands
        shingles[document.doc_id] = _shingles(document)
        signatures[document.doc_id] = MinHash(num_perm=NUM_PERM, seed=1)
        signatures[document.doc_id].update_batch(list(shingles[document.doc_id]))
        lsh.insert(document.doc_id, signatures[document.doc_id])

    # Union-find over verified pairs: A~B and B~C put all three in one group.
    parent = {doc_id: doc_id for doc_id in shingles}

    def root(doc_id: str) -> str:
        while parent[doc_id] != doc_id:
            parent[doc_id] = parent[parent[doc_id]]
            doc_id = parent[doc_id]
        return doc_id

    for doc_id, doc_shingles in shingles.items():
        for other in lsh.query(signatures[doc_id]):
            if other == doc_id:
                continue
            other_shingles = shingles[other]
            jaccard = len(doc_shingles & other_shingles) / max(1, len(doc_shingles | other_shingles))
            if jaccard >= threshold:
                parent[root(other)] = root(doc_id)

    by_id = {d.doc_id: d for d in documents}
    groups: dict[str, list[Document]] = {}
    for doc_id in shingles:
        groups.setdefault(root(doc_id), []).append(by_id[doc_id])
    result = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=authority_key, reverse=True)
        kept, *dropped = members
        conflicts = {}
        for name in CONFLICT_FIELDS:
            values = {m.doc_id: str(getattr(m, name)) for m in members}
            if len({v for v in values.values() if v}) > 1:
                conflicts[name] = values
        result.append(DuplicateGroup(kept.doc_id, tuple(d.doc_id for d in dropped), conflicts))
    return sorted(result, key=lambda g: g.kept)
