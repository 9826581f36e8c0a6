"""Sensitive matters (敏感事项): categories an office configures whose messages go to a person at once."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

SHIPPED = Path(__file__).resolve().parent / "sensitive.yml"
SENSITIVE_REASON_PREFIX = "sensitive:"


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
        text = unicodedata.normalize("NFKC", text)
        for category, phrases in self.phrases.items():
            if any(phrase in text for phrase in phrases):
                return category
        return None


def sensitive_reason(category: str) -> str:
    return f"{SENSITIVE_REASON_PREFIX}{category}"
