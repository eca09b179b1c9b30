"""A client-side token bucket, so a sync runs close to an API's limit without tripping it;
and the one reading of what a server says about waiting (Retry-After, rate-limit resets).

Every wait a server asks for is bounded by `MAX_WAIT`: the limiter holds requests at most
that long (warning when the server asked for more), and the retry loop gives up at once
rather than wait longer (retry.py). A value that is no wait at all (garbage, `nan`, a
negative number, a non-ASCII byte) is ignored with a warning, never a crash.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import typing as t
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

#: The longest the tap waits on a server's word (one Retry-After, one rate-limit reset):
#: ten minutes, the retry budget's total too (`RetryPolicy.max_total_wait`). A longer
#: wait is no throttle a sync can sit out; it says the server is down or misconfigured.
MAX_WAIT = 600.0
#: Waits longer than this are logged at INFO with their cause.
LOG_WAIT = 5.0
#: Headers naming when the rate-limit window resets, and how much of it is left.
RESET_HEADERS = ("X-RateLimit-Reset", "RateLimit-Reset", "X-Rate-Limit-Reset")
REMAINING_HEADERS = ("X-RateLimit-Remaining", "RateLimit-Remaining", "X-Rate-Limit-Remaining")

_EPOCH_SECONDS = 1e9  # a number above this is an instant (2001 on), not a delay
_EPOCH_MILLISECONDS = 1e12  # and above this, an instant in milliseconds
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf(?:inity)?", re.I)
_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wait:
    """A wait a server asked for: `seconds` within [0, MAX_WAIT], None when the header
    says nothing usable; `cause` is the header as sent, for the log."""

    seconds: float | None
    cause: str
    #: What the header asked for, beyond MAX_WAIT (may be inf): the wait was capped.
    absurd: float | None = None


def parse_wait(name: str, value: str, now: float | None = None) -> Wait:
    """Read a Retry-After or reset value: delta seconds, epoch seconds, epoch milliseconds
    or an HTTP date (RFC 9110); an instant in the past is no wait."""
    text = value.strip()
    cause = f"{name}: {text[:40]!a}"  # quoted, ASCII: a hostile value cannot garble the log
    wall = time.time() if now is None else now
    if not text.isascii():
        return Wait(None, cause)
    if _NUMBER.fullmatch(text):
        number = float(text)
        if number < 0:
            return Wait(None, cause)
        if number > _EPOCH_MILLISECONDS:
            number = number / 1000 - wall
        elif number > _EPOCH_SECONDS:
            number -= wall
    else:
        try:
            number = parsedate_to_datetime(text).timestamp() - wall
        except (TypeError, ValueError, IndexError, OverflowError):
            return Wait(None, cause)
    seconds = max(0.0, number)
    if seconds > MAX_WAIT:
        return Wait(MAX_WAIT, cause, absurd=seconds)
    return Wait(seconds, cause)


def first_wait(
    headers: t.Mapping[str, str], names: t.Sequence[str], now: float | None = None
) -> Wait | None:
    """The wait of the first of `names` present in `headers`, if any is."""
    for name in names:
        value = headers.get(name)
        if value is not None:
            return parse_wait(name, value, now)
    return None


def describe(seconds: float) -> str:
    """A wait for a log line: `37s`, `3.2 h`, `11.6 days`, or `forever` (30 years on)."""
    if math.isinf(seconds) or seconds > 1e9:
        return "forever"
    if seconds < 3600:
        return f"{seconds:.0f}s"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _remaining(headers: t.Mapping[str, str]) -> float | None:
    """How many requests the window has left, when a header says so as a number."""
    for name in REMAINING_HEADERS:
        value = headers.get(name)
        if value is not None:
            text = value.strip()
            return float(text) if text.isascii() and _NUMBER.fullmatch(text) else None
    return None


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

    def observe(self, headers: t.Mapping[str, str], logger: logging.Logger = _logger) -> None:
        """Read the API's rate-limit headers: with nothing left in the window, hold every
        request until the window resets (at most MAX_WAIT), so the run never earns a 429."""
        remaining = _remaining(headers)
        if remaining is None or remaining > 0:
            return
        wait = first_wait(headers, RESET_HEADERS)
        if wait is None or not wait.seconds:
            if wait is not None and wait.seconds is None:
                logger.warning("Ignoring the rate-limit header %s: not a time", wait.cause)
            return
        now = time.monotonic()
        with self._lock:
            longer = now + wait.seconds - max(self._hold_until, now)
            self._hold_until = max(self._hold_until, now + wait.seconds)
        if wait.absurd is not None:
            logger.warning(
                "The rate-limit window is used up and %s asks to wait %s: waiting %s, the "
                "most the tap waits on a server",
                wait.cause,
                describe(wait.absurd),
                describe(MAX_WAIT),
            )
        elif longer > LOG_WAIT:
            logger.info(
                "The rate-limit window is used up: requests wait %s until it resets (%s)",
                describe(wait.seconds),
                wait.cause,
            )

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
