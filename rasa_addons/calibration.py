"""Temperature-scaled intent confidences: DIET says 1.0 when it is wrong; this says how often it is right.

Placed after DIETClassifier and before FallbackClassifier, so that the fallback threshold and the
question-or-request decision (actions/question_or_request.py) both read calibrated probabilities.
Temperature scaling divides the logits by one number T fitted on the gold set's dev split
(benchmarks/calibration.py); on DIET's softmax ranking that is p_i ∝ p_i^(1/T). It never changes which
intent ranks first, only how sure the model says it is. DIET must rank every intent (ranking_length: 0),
or the renormalisation runs over the top ten only.
"""

from __future__ import annotations

import math
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

TEMPERATURE = "temperature"
#: The uncalibrated top confidence, kept in the parse output so calibration can be refitted and audited.
RAW_CONFIDENCE = "intent_raw_confidence"


def scale(confidences: list[float], temperature: float) -> list[float]:
    """Softmax probabilities re-tempered: log p / T, renormalised (stable for p = 0 and p = 1)."""
    floor = 1e-12
    logits = [math.log(max(p, floor)) / temperature for p in confidences]
    top = max(logits)
    weights = [math.exp(x - top) for x in logits]
    total = sum(weights)
    return [w / total for w in weights]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class TemperatureScaledIntents(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {TEMPERATURE: 1.0}

    def __init__(self, config: dict[str, Any]) -> None:
        temperature = float(config[TEMPERATURE])
        if not temperature > 0:
            raise ValueError(f"{type(self).__name__}: {TEMPERATURE} must be positive, not {temperature}")
        self.temperature = temperature

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TemperatureScaledIntents:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            ranking = message.get(INTENT_RANKING_KEY) or []
            intent = message.get(INTENT) or {}
            if not ranking or intent.get(PREDICTED_CONFIDENCE_KEY) is None:
                continue  # a button payload ("/intent") carries no model ranking: nothing to calibrate
            message.set(RAW_CONFIDENCE, intent[PREDICTED_CONFIDENCE_KEY], add_to_output=True)
            scaled = scale([float(r[PREDICTED_CONFIDENCE_KEY]) for r in ranking], self.temperature)
            ranking = [{**r, PREDICTED_CONFIDENCE_KEY: p} for r, p in zip(ranking, scaled, strict=True)]
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            top = next((r for r in ranking if r.get("name") == intent.get("name")), ranking[0])
            message.set(INTENT, {**intent, PREDICTED_CONFIDENCE_KEY: top[PREDICTED_CONFIDENCE_KEY]}, add_to_output=True)
        return messages
