"""Is the best passage an answer? A calibrated probability, comparable across questions.

The raw e5 cosine alone cannot say it: in-scope and out-of-scope questions overlap in its narrow band
(.84–.88), and the fused score is min-max scaled per question, so its top is always 1. A logistic
regression over a few signals of the search does better, and its output is a probability that can be
combined with other calibrated scores (the intent's confidence):
- `cosine`: the top passage's query–passage cosine;
- `lexical`: the top passage's BM25 score per query word (index/retriever.py, Hit.lexical).
Two more signals were tried and left out, since they add nothing on dev under cross-validation and the
margin even took a negative weight (benchmarks/results/relevance.md): `margin`, how far the top cosine
stands above the best passage of another document, and the share of the question's words the corpus
knows at all (`Retriever.vocabulary_coverage`).

A question about a term the corpus defines (index/glossary.py: 五公开是哪五个公开) is answered by the
definition by construction, so its trust is at least that of a typical answerable question (the
median on dev, `defined_term` in the file): dev holds no such question, so no weight can be fitted.

Naming a 依申请公开 document has the same trouble: its query–title cosine is a raw cosine too, so its cut
(`catalogue_min_cosine`) is chosen on dev by the same script.

The coefficients are fitted on the dev split of the gold set by benchmarks/fit_relevance.py, which
writes index/resources/trust_model.yml; nothing here is tuned by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from index.retriever import Hit

#: The signals the shipped model weighs; `features` computes these and the candidates left out.
FEATURES = ("cosine", "lexical")
MODEL_FILE = "trust_model.yml"


def features(hits: list[Hit]) -> dict[str, float]:
    """The signals of one search (hits best first, one per document, as `Retriever.search` gives them)."""
    if not hits or math.isnan(hits[0].relevance):
        return {"cosine": 0.0, "margin": 0.0, "lexical": 0.0}
    top = hits[0]
    runner_up = hits[1].relevance if len(hits) > 1 else top.relevance
    return {"cosine": top.relevance, "margin": top.relevance - runner_up, "lexical": top.lexical}


@dataclass(frozen=True)
class TrustModel:
    """Logistic regression over standardised features: p = σ(b + Σ wᵢ (xᵢ − μᵢ) / σᵢ)."""

    intercept: float
    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    #: The probability from which the best passage is trusted as an answer (chosen on dev).
    threshold: float
    #: The least trust of a hit that defines the term asked about: a typical answerable question's.
    defined_term: float
    #: The query–title cosine from which a 依申请公开 document is named (index.retriever.CatalogueHit):
    #: the cut that best tells the dev questions about such a document from all the others.
    catalogue_min_cosine: float

    def trust(self, hits: list[Hit]) -> float:
        """The probability that the best of `hits` answers the question (0 for no hits)."""
        if not hits or math.isnan(hits[0].relevance):
            return 0.0
        probability = self.probability(features(hits))
        return max(probability, self.defined_term) if hits[0].definition else probability

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
            float(record["defined_term"]),
            float(record["catalogue_min_cosine"]),
        )


@cache
def default_trust_model() -> TrustModel:
    return TrustModel.from_yaml((resources.files("index.resources") / MODEL_FILE).read_text(encoding="utf-8"))
