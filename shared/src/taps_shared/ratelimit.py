"""A client-side token bucket, so a sync runs close to an API's limit without tripping it."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Blocks `acquire()` callers to at most `rate` requests per second (burst `burst`).

    A rate of 0 or less disables limiting. Thread-safe: one instance serves a whole tap run.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = float(rate)
        self.capacity = max(1.0, float(burst))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds slept."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait:
            time.sleep(wait)
        return wait
