"""How alike two citizens' descriptions are: Jaccard overlap of character bigrams.

Chinese has no spaces and citizens retell the same matter in different words, so characters pairs are
a better unit than jieba words here; it needs no model, so the ticket store stays light.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NOISE = re.compile(r"[\W_]+")  # punctuation, spaces, emoji: only letters, digits and 汉字 remain


@lru_cache(maxsize=8192)  # every new ticket is compared with the same few hundred recent ones
def bigrams(text: str) -> frozenset[str]:
    plain = _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())
    if len(plain) < 2:
        return frozenset({plain}) if plain else frozenset()
    return frozenset(plain[i : i + 2] for i in range(len(plain) - 1))


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def similarity(a: str, b: str) -> float:
    """0 (nothing shared) to 1 (the same bigrams)."""
    return jaccard(bigrams(a), bigrams(b))
