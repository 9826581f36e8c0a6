"""Entry points for the processes the limiter's cross-process test starts (spawned, so importable)."""

from __future__ import annotations

from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier

from bot.database import create_ticket_engine
from bot.ratelimit import AttemptLimiter, Policy


def guess(database_url: str, limit: int, tries: int, keys: list[str], start: Barrier, results: Connection) -> None:
    """Like a guesser in its own process: `tries` wrong pairs as fast as it can, after the others are ready;
    reports how many attempts the limiter let through."""
    engine = create_ticket_engine(database_url)
    limiter = AttemptLimiter(engine, Policy("ticket_check", limit, timedelta(minutes=15)))
    engine.connect().close()  # connected before the start: the guessers' first tries collide
    start.wait(timeout=60)
    allowed = sum(limiter.attempt(*keys) is not None for _ in range(tries))
    engine.dispose()
    results.send(allowed)
    results.close()
