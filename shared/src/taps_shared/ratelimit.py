"""A client-side token bucket, so a sync runs close to an API's limit without tripping it."""

from __future__ import annotations

import threading
import time
import typing as t

_EPOCH_THRESHOLD = 1_000_000_000  # reset values above this are epoch seconds, not deltas


class RateLimiter:
    """Blocks `acquire()` callers to at most `rate` requests per second (burst `burst`),
    and while the API's own rate-limit headers say the window is used up.

    A rate of 0 or less disables the pacing (not the header hold). Thread-safe: one
    instance serves a whole tap run.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = float(rate)
        self.capacity = max(1.0, float(burst))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self._hold_until = 0.0

    def observe(self, headers: t.Mapping[str, str]) -> None:
        """Read the API's rate-limit headers: with nothing left in the window, hold every
        request until the window resets, so the run never earns a 429."""
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        reset = _number(headers.get("X-RateLimit-Reset"))
        if remaining is None or reset is None or remaining > 0:
            return
        wall = time.time()
        seconds = reset - wall if reset > _EPOCH_THRESHOLD else reset
        with self._lock:
            self._hold_until = max(self._hold_until, time.monotonic() + max(0.0, seconds))

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds slept."""
        with self._lock:
            hold = max(0.0, self._hold_until - time.monotonic())
        if hold:
            time.sleep(hold)
        if self.rate <= 0:
            return hold
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait:
            time.sleep(wait)
        return hold + wait


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
