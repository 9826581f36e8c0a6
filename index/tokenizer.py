"""Chinese tokenisation for BM25: jieba search mode with a domain dictionary and stopwords."""

from __future__ import annotations

import logging
import re
from functools import cache
from importlib import resources

import jieba

from index.normalize import normalize_for_search

_KEEP = re.compile(r"[\w\u4e00-\u9fff]")  # drop tokens that are only punctuation or spaces


@cache
def _tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    with resources.as_file(resources.files("index.resources") / "domain_dict.txt") as path:
        tokenizer.load_userdict(str(path))
    return tokenizer


@cache
def stopwords() -> frozenset[str]:
    text = (resources.files("index.resources") / "stopwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def tokenize(text: str) -> list[str]:
    """Search-mode tokens: 出生医学证明 yields 出生, 医学, 证明 and the whole word, so both match."""
    stop = stopwords()
    return [
        token
        for token in _tokenizer().lcut_for_search(normalize_for_search(text))
        if token.strip() and token not in stop and _KEEP.search(token)
    ]
