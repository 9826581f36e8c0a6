"""Sensitive matters (敏感事项): categories an office configures whose messages go to a person at once.

A citizen *in* such a matter (我父亲手术出了医疗事故，我要个说法) goes to a person from the first message. A
question *about* it (医疗纠纷调解一般要多长时间) is answered like any other question, with a person offered:
a question gets an answer (actions/question_or_request.py reads which it is), and so does a 依申请公开 request,
which is a request for a document, not a dispute."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from actions.question_or_request import Reading

SHIPPED = Path(__file__).resolve().parent / "sensitive.yml"
SENSITIVE_REASON_PREFIX = "sensitive:"
_DISCLOSURE = re.compile(r"申请(政府)?(信息)?公开|依申请")


@dataclass(frozen=True)
class SensitiveMatters:
    phrases: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls, path: Path | None = None) -> SensitiveMatters:
        """The categories in `path` (the shipped file by default); ValueError naming the file if malformed."""
        path = path or SHIPPED
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            categories = data["categories"]
            phrases = {str(name): tuple(str(p) for p in items) for name, items in categories.items()}
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"sensitive categories {path}: {exc}") from exc
        if any(not items or any(not p.strip() for p in items) for items in phrases.values()):
            raise ValueError(f"sensitive categories {path}: every category needs non-empty phrases")
        return cls(phrases)

    def category_of(self, text: str) -> str | None:
        """The category of a message that states a sensitive matter; None for any other, and for a question
        about one or a disclosure request that names one."""
        text = unicodedata.normalize("NFKC", text)
        reading = Reading(intent="", confidence=0.0, ranking={}, text=text)
        if reading.asks_for_content or _DISCLOSURE.search(text):
            return None
        for category, phrases in self.phrases.items():
            if any(phrase in text for phrase in phrases):
                return category
        return None


def sensitive_reason(category: str) -> str:
    return f"{SENSITIVE_REASON_PREFIX}{category}"
