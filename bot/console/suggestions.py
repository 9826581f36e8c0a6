"""Suggested replies (参考答复): a knowledge search on the citizen's last message, for the operator to insert.

The same index and Answerer the bot answers from (bot/app.py's loader), so a suggestion quotes only what the
bot may quote (生效 + 主动公开), each passage with its citation line. The operator judges: passages below
the bot's trust are suggested too, and marked; the first one the Answerer would have said itself is marked
推荐.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.answering import Answerer, Citation, trim_to_point
from bot.redaction import redact_numbers

#: How many passages the operator is offered.
SUGGESTIONS = 3


@dataclass(frozen=True)
class Suggestion:
    passage: str
    citation: Citation
    trusted: bool  # the bot itself would answer with it

    @property
    def text(self) -> str:
        """What one click puts in the reply box: the passage and its source."""
        return f"{self.passage}\n{self.citation.line()}"

    @property
    def source(self) -> str:
        """《title》section, as the console lists it."""
        return f"《{self.citation.title}》{self.citation.section}".strip()


def suggest(answerer: Answerer, question: str, k: int = SUGGESTIONS) -> list[Suggestion]:
    """Up to `k` passages for `question`, best first. Numbers in the question are blanked before the search:
    a phone number finds nothing and need not reach the embedder."""
    question = redact_numbers(question).strip()
    if not question:
        return []
    hits = answerer.retriever.search(question, k=k)
    trusted = bool(hits) and answerer.trust.trust(hits) >= answerer.min_trust
    return [
        Suggestion(
            trim_to_point(hit.text, question, anchor=hit.definition), Citation.of(hit), trusted and position == 0
        )
        for position, hit in enumerate(hits)
    ]
