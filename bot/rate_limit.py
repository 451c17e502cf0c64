"""`ChatRateLimit`: how many lines one member may get answered in a short window.

A member's burst of lines would otherwise become one LLM call and one post per line. Lines over the limit are
ignored silently: a note would itself be a post the burst triggers, and silence cannot be amplified.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable


class ChatRateLimit:
    """A sliding window: at most `limit` allowed lines per `key` within `window_s` seconds (`limit` 0: no limit)."""

    def __init__(self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._recent: dict[Hashable, deque[float]] = {}

    def allow(self, key: Hashable) -> bool:
        """True (and counted) when `key` is under its limit; False, not counted, when over it."""
        if self.limit <= 0:
            return True
        now = self._clock()
        self._forget_before(now - self.window_s)
        times = self._recent.setdefault(key, deque())
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def _forget_before(self, cutoff: float) -> None:
        for key in list(self._recent):
            times = self._recent[key]
            while times and times[0] <= cutoff:
                times.popleft()
            if not times:
                del self._recent[key]
