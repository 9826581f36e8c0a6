"""Is the best passage an answer? A calibrated probability, comparable across questions.

The raw e5 cosine alone cannot say it: in-scope and out-of-scope questions overlap in its narrow band
(.84–.88), and the fused score is min-max scaled per question, so its top is always 1. A logistic
regression over a few signals of the search does better, and its output is a probability that can be
combined with other calibrated scores (the intent's confidence):
- `cosine`: the top passage's query–passage cosine;
- `margin`: how far it stands above the best passage of another document (a clear winner is a
  sign of a real answer, a flat top of a question the corpus does not cover);
- `lexical`: the top passage's BM25 score per query word (index/retriever.py, Hit.lexical);
- `coverage`: the share of the question's words the corpus has at all;
- `glossary`: the question asks about a term the corpus defines (index/glossary.py).

The coefficients are fitted on the dev split of the gold set by benchmarks/fit_relevance.py, which
writes index/resources/trust_model.yml; nothing here is tuned by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from index.retriever import Hit, Retriever

FEATURES = ("cosine", "margin", "lexical", "coverage", "glossary")
MODEL_FILE = "trust_model.yml"


def features(retriever: Retriever, query: str, hits: list[Hit]) -> dict[str, float]:
    """The signals of one search (hits best first, one per document, as `Retriever.search` gives them)."""
    if not hits or math.isnan(hits[0].relevance):
        return dict.fromkeys(FEATURES, 0.0)
    top = hits[0]
    runner_up = hits[1].relevance if len(hits) > 1 else top.relevance
    return {
        "cosine": top.relevance,
        "margin": top.relevance - runner_up,
        "lexical": top.lexical,
        "coverage": retriever.vocabulary_coverage(query),
        "glossary": 1.0 if top.definition else 0.0,
    }


@dataclass(frozen=True)
class TrustModel:
    """Logistic regression over standardised features: p = σ(b + Σ wᵢ (xᵢ − μᵢ) / σᵢ)."""

    intercept: float
    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    #: The probability from which the best passage is trusted as an answer (chosen on dev).
    threshold: float

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(
            weight * (values[name] - self.means[name]) / self.scales[name] for name, weight in self.weights.items()
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    @classmethod
    def from_yaml(cls, text: str) -> TrustModel:
        record = yaml.safe_load(text)
        names = list(record["weights"])
        unknown = set(names) - set(FEATURES)
        if unknown:
            raise ValueError(f"{MODEL_FILE}: unknown features {sorted(unknown)}; known: {FEATURES}")
        if any(record["scales"][name] <= 0 for name in names):
            raise ValueError(f"{MODEL_FILE}: every scale must be positive")
        return cls(
            float(record["intercept"]),
            {name: float(record["weights"][name]) for name in names},
            {name: float(record["means"][name]) for name in names},
            {name: float(record["scales"][name]) for name in names},
            float(record["threshold"]),
        )


@cache
def default_trust_model() -> TrustModel:
    return TrustModel.from_yaml((resources.files("index.resources") / MODEL_FILE).read_text(encoding="utf-8"))
