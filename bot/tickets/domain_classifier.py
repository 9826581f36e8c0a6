"""Which domain (城建, 交通, 教育, …) a citizen's message is about.

Two signals, fused in log space:
- a softmax regression over multilingual-e5-small sentence vectors, trained on our own examples
  (routing_examples.yml), which carries the meaning of long, letter-style messages;
- a keyword lexicon per domain (same file): a domain whose words appear gets a fixed bonus, which
  rescues short messages whose vector is ambiguous (measured: +.02 macro-F1, benchmarks/results/routing.md).

Embedding the examples costs ~10 s, so training happens once (`hotline tickets train-router`) into a
small committed artifact (domain_model.npz) that records the examples' hash and the embedder's name;
loading it is instant and a stale artifact (other examples, another embedder) is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

if TYPE_CHECKING:
    from index.embedders import Embedder

EXAMPLES_PATH = Path(__file__).with_name("routing_examples.yml")
MODEL_PATH = Path(__file__).with_name("domain_model.npz")

#: Inverse L2 strength of the regression (sklearn's C); 4–64 score within .01 of each other.
REGULARISATION_C = 16.0
#: Log-odds added to a domain whose keywords occur in the text.
KEYWORD_BONUS = 1.0
#: The e5 encoder reads at most this many characters: the opening of a letter says what it is about,
#: and the tail of a 2,000-character complaint costs most of the time.
MAX_CHARS = 512


@dataclass(frozen=True)
class DomainExamples:
    """One domain's training material: what it covers, its words, and messages written for it."""

    domain: str
    description: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]


@dataclass(frozen=True)
class DomainScore:
    domain: str
    confidence: float  # the fused softmax probability of `domain`, in [0, 1]


def load_examples(path: Path = EXAMPLES_PATH) -> list[DomainExamples]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    domains = data.get("domains") if isinstance(data, dict) else None
    if not isinstance(domains, dict) or not domains:
        raise ValueError(f"{path}: expected a mapping `domains:` of domain → description, keywords, examples")
    loaded = []
    for domain, entry in domains.items():
        keywords = [str(k) for k in entry.get("keywords") or []]
        examples = [str(e) for e in entry.get("examples") or []]
        if not examples:
            raise ValueError(f"{path}: domain {domain!r} has no examples")
        loaded.append(DomainExamples(str(domain), str(entry.get("description", "")), tuple(keywords), tuple(examples)))
    return loaded


def examples_digest(path: Path = EXAMPLES_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class KeywordLexicon:
    """Per-domain word lists; a text hits a domain when any of its words occurs as a substring."""

    def __init__(self, keywords: dict[str, Sequence[str]], labels: Sequence[str]) -> None:
        # Substring tests, not jieba tokens: adding words to jieba would change the global tokenizer
        # the retrieval index shares, and the two scored the same (within .005 macro-F1).
        self._words = [tuple(keywords.get(label, ())) for label in labels]

    def hits(self, texts: Sequence[str]) -> np.ndarray:
        """(n, labels) array: 1.0 where the text contains a word of that domain."""
        return np.array(
            [[float(any(word in text for word in words)) for words in self._words] for text in texts],
            dtype=np.float64,
        ).reshape(len(texts), len(self._words))


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def fit_softmax_regression(
    vectors: np.ndarray, targets: np.ndarray, n_labels: int, c: float = REGULARISATION_C
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression (L2 on the weights, as sklearn's lbfgs); deterministic from zeros."""
    from scipy.optimize import minimize

    dim = vectors.shape[1]
    onehot = np.eye(n_labels)[targets]

    def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        weights = flat[: dim * n_labels].reshape(dim, n_labels)
        bias = flat[dim * n_labels :]
        log_p = _log_softmax(vectors @ weights + bias)
        error = np.exp(log_p) - onehot
        loss = -(onehot * log_p).sum() + 0.5 / c * (weights**2).sum()
        grad_w = vectors.T @ error + weights / c
        return float(loss), np.concatenate([grad_w.ravel(), error.sum(axis=0)])

    start = np.zeros(dim * n_labels + n_labels)
    result = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", options={"maxiter": 3000})
    return result.x[: dim * n_labels].reshape(dim, n_labels), result.x[dim * n_labels :]


def clip(text: str) -> str:
    return text[:MAX_CHARS]


class DomainClassifier:
    """e5 softmax regression + keyword bonus. `score_texts` embeds in one batch: use it for many texts."""

    def __init__(
        self,
        labels: Sequence[str],
        weights: np.ndarray,
        bias: np.ndarray,
        lexicon: KeywordLexicon,
        embedder: Embedder,
        keyword_bonus: float = KEYWORD_BONUS,
    ) -> None:
        self.labels = tuple(labels)
        self.weights = weights
        self.bias = bias
        self._lexicon = lexicon
        self.embedder = embedder
        self._keyword_bonus = keyword_bonus

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_queries([clip(t) for t in texts]).astype(np.float64)

    def probabilities(
        self,
        texts: Sequence[str],
        vectors: np.ndarray | None = None,
        use_vectors: bool = True,
        use_keywords: bool = True,
    ) -> np.ndarray:
        """(n, labels) fused probabilities. `vectors` (from `embed`) and the switches serve the benchmark,
        which scores each variant from one embedding pass."""
        scores = np.zeros((len(texts), len(self.labels)))
        if not texts:
            return scores
        if use_vectors:
            vectors = self.embed(texts) if vectors is None else vectors
            scores += _log_softmax(vectors @ self.weights + self.bias)
        if use_keywords:
            scores += self._keyword_bonus * self._lexicon.hits(texts)
        return _softmax(scores)

    def score_texts(self, texts: Sequence[str]) -> list[DomainScore]:
        probabilities = self.probabilities(texts)
        best = probabilities.argmax(axis=1)
        return [DomainScore(self.labels[j], float(probabilities[i, j])) for i, j in enumerate(best)]


def fit(domains: Sequence[DomainExamples], embedder: Embedder) -> DomainClassifier:
    """Embed the examples and fit the regression; the lexicon is the domains' keywords."""
    labels = [d.domain for d in domains]
    texts = [clip(text) for d in domains for text in d.examples]
    targets = np.array([i for i, d in enumerate(domains) for _ in d.examples])
    vectors = embedder.embed_queries(texts).astype(np.float64)
    weights, bias = fit_softmax_regression(vectors, targets, len(labels))
    lexicon = KeywordLexicon({d.domain: d.keywords for d in domains}, labels)
    return DomainClassifier(labels, weights, bias, lexicon, embedder)


def with_labels(domains: Sequence[DomainExamples], labels: Sequence[tuple[str, str]]) -> list[DomainExamples]:
    """`domains` plus (text, domain) pairs, e.g. an office's corrected tickets; an unknown domain is an error."""
    added: dict[str, list[str]] = {d.domain: [] for d in domains}
    for text, domain in labels:
        if domain not in added:
            raise ValueError(f"label for unknown domain {domain!r}: the domains are {', '.join(added)}")
        added[domain].append(text)
    return [DomainExamples(d.domain, d.description, d.keywords, d.examples + tuple(added[d.domain])) for d in domains]


def train(
    examples_path: Path = EXAMPLES_PATH,
    model_path: Path = MODEL_PATH,
    embedder: Embedder | None = None,
    labels: Sequence[tuple[str, str]] = (),
) -> Path:
    """Fit on the examples (plus `labels`, (text, domain) pairs) and write the artifact."""
    from index.embedders import load_embedder

    embedder = embedder or load_embedder("e5-fast")
    classifier = fit(with_labels(load_examples(examples_path), labels), embedder)
    meta = {
        "embedder_spec": embedder.spec,
        "embedder": embedder.name,
        "examples_sha256": examples_digest(examples_path),
        **({"extra_labels": len(labels)} if labels else {}),  # the shipped artifact has none
    }
    with model_path.open("wb") as out:  # np.savez on a path would append ".npz" to other names
        np.savez(
            out,
            labels=np.array(classifier.labels),
            weights=classifier.weights.astype(np.float32),
            bias=classifier.bias.astype(np.float32),
            meta=np.array(json.dumps(meta)),
        )
    return model_path


def load_classifier(
    model_path: Path = MODEL_PATH, examples_path: Path = EXAMPLES_PATH, embedder: Embedder | None = None
) -> DomainClassifier:
    if not model_path.exists():
        raise FileNotFoundError(f"no domain model at {model_path}: run `hotline tickets train-router`")
    with np.load(model_path, allow_pickle=False) as artifact:
        labels = [str(label) for label in artifact["labels"]]
        weights = artifact["weights"].astype(np.float64)
        bias = artifact["bias"].astype(np.float64)
        meta = json.loads(str(artifact["meta"]))
    if meta["examples_sha256"] != examples_digest(examples_path):
        raise ValueError(
            f"{model_path} was trained on other examples than {examples_path}: run `hotline tickets train-router`"
        )
    domains = load_examples(examples_path)
    lexicon = KeywordLexicon({d.domain: d.keywords for d in domains}, labels)
    if embedder is None:
        from index.embedders import load_embedder

        embedder = load_embedder(meta["embedder_spec"])
    if embedder.name != meta["embedder"]:
        # Weights fitted on one embedder's vectors score another's at random.
        raise ValueError(
            f"{model_path} was trained on {meta['embedder']} vectors, not {embedder.name}: "
            "run `hotline tickets train-router`"
        )
    return DomainClassifier(labels, weights, bias, lexicon, embedder)
