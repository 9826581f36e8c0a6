"""Questions grouped by meaning: greedy average-linkage clustering of unit vectors by cosine similarity.

Plain Python over one period's unanswered questions (hundreds, not millions). Each question joins the group
whose members it is most like on average, if that average cosine reaches the threshold, else it starts a group.
Average linkage, not the cosine to a normalised centroid: e5's vectors share a large common direction, so a
big group's centroid grows like every question and swallows them all (at .93 the centroid rule merged 1,363
pairs where average linkage merged 189; benchmarks/results/knowledge_gaps.md). The questions come oldest
first, so a report rerun over the same period gives the same groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Mean cosine (multilingual-e5-small, query vectors) at or above which a question joins a group. e5's
#: similarities are compressed: unrelated questions reach .89 at p95, paraphrases start at .92 (p5). Measured
#: on 20 hand-written paraphrase sets among the answers gold set's 297 questions (benchmarks/knowledge_gaps.py):
#: .94 keeps 77% of merged pairs right and finds 60% of paraphrase pairs; .93 finds 76% but only 57% right.
#: A mixed group misleads whoever writes the missing answer, two groups on one topic cost a second look: .94.
SAME_QUESTION = 0.94


def group_by_meaning(vectors: np.ndarray, threshold: float = SAME_QUESTION) -> list[list[int]]:
    """Indices of `vectors` (rows, L2-normalised) in groups, each in input order, groups by their first member."""
    vectors = np.asarray(vectors, dtype=np.float32)
    groups: list[list[int]] = []
    sums = np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    for index, vector in enumerate(vectors):
        if groups:
            # The mean cosine to a group's members is the dot with their sum over their number.
            means = (sums @ vector) / np.fromiter((len(g) for g in groups), np.float32, len(groups))
            best = int(np.argmax(means))
            if means[best] >= threshold:
                groups[best].append(index)
                sums[best] += vector
                continue
        groups.append([index])
        sums = np.vstack([sums, vector])
    return groups


def representative(vectors: np.ndarray, members: Sequence[int]) -> int:
    """The member most like the rest of its group on average: the question that says best what it asks."""
    group = np.asarray(vectors, dtype=np.float32)[list(members)]
    return members[int(np.argmax(group @ group.sum(axis=0)))]
