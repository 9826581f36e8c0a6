"""The figures, in the order every consumer shows them (the console page, the CSV downloads, `hotline report`),
and the object that computes them over one database."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from sqlalchemy import Engine

from bot.analytics.deadlines import DEADLINES
from bot.analytics.figure import Figure
from bot.analytics.gaps import KNOWLEDGE_GAPS
from bot.analytics.handoffs import ABANDONED_WAITS, FIRST_REPLY, HANDOFF_RATE, HANDOFF_REASONS
from bot.analytics.period import Period
from bot.analytics.satisfaction import CONVERSATION_SATISFACTION, TICKET_SATISFACTION
from bot.analytics.topics import HOTSPOTS, TICKETS_BY_DAY, TICKETS_BY_WEEK
from index.embedders import Embedder, load_embedder

FIGURES: tuple[Figure, ...] = (
    KNOWLEDGE_GAPS,
    TICKETS_BY_DAY,
    TICKETS_BY_WEEK,
    HOTSPOTS,
    HANDOFF_RATE,
    HANDOFF_REASONS,
    FIRST_REPLY,
    ABANDONED_WAITS,
    DEADLINES,
    CONVERSATION_SATISFACTION,
    TICKET_SATISFACTION,
)
BY_NAME: dict[str, Figure] = {figure.name: figure for figure in FIGURES}


class Analytics:
    """The figures over `engine`. The embedder is loaded the first time a figure needs it (knowledge gaps with
    questions to group), once: it costs a second and some memory that the other figures do not need."""

    def __init__(self, engine: Engine, embedder: Embedder | Callable[[], Embedder] = load_embedder) -> None:
        self.engine = engine
        self._embedder = embedder

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder() if callable(self._embedder) else self._embedder

    def rows(self, figure: Figure | str, period: Period) -> list[dict[str, Any]]:
        figure = BY_NAME[figure] if isinstance(figure, str) else figure
        return figure.compute(self.engine, period, self)

    def all(self, period: Period) -> list[tuple[Figure, list[dict[str, Any]]]]:
        return [(figure, self.rows(figure, period)) for figure in FIGURES]
