"""A small in-process limiter for citizen endpoints that check guessable secrets (4 phone digits)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most `limit` attempts per key within `window_s` seconds. Per process: with several gateway
    processes each allows its own share, which still turns 10,000 guesses into days of trying."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            attempts = self._attempts.setdefault(key, deque())
            while attempts and attempts[0] <= now - self._window_s:
                attempts.popleft()
            if len(attempts) >= self._limit:
                return False
            attempts.append(now)
            if len(self._attempts) > 100_000:  # forget idle keys rather than grow without bound
                self._attempts = {k: v for k, v in self._attempts.items() if v and v[-1] > now - self._window_s}
            return True
