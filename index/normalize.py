"""Text normalisation for search. Display text is never normalised: citizens see the original."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[ \t\u3000\xa0]+")


def normalize_for_search(text: str) -> str:
    """Full-width digits, letters and punctuation to half-width (NFKC), lower case, single spaces.

    NFKC keeps 。、《》 (they have no compatibility mapping), which jieba treats as separators anyway.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACES.sub(" ", text).strip()
