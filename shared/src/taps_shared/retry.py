"""Bounded retries: exponential backoff with jitter, or exactly what the server asked for.

The SDK's default backoff ignores Retry-After; this loop honours it (seconds or HTTP date)
and the common rate-limit reset headers, caps attempts and total wait, refreshes
credentials once on a 401, and passes every attempt through the tap's rate limiter.
"""

from __future__ import annotations

import logging
import random
import time
import typing as t
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from singer_sdk.exceptions import RetriableAPIError

from taps_shared.errors import (
    RetriesExhaustedError,
    UnauthorizedError,
    describe_transport_error,
)

if t.TYPE_CHECKING:
    from taps_shared.auth import HumanAuth
    from taps_shared.ratelimit import RateLimiter

RETRYABLE: tuple[type[BaseException], ...] = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_EPOCH_THRESHOLD = 1_000_000_000  # reset headers above this are epoch seconds, not deltas


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, backoff shape and the longest total wait."""

    max_tries: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_total_wait: float = 600.0

    def backoff(self, attempt: int) -> float:
        """Exponential delay with equal jitter: half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def server_wait(response: requests.Response | None, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (Retry-After or a rate-limit reset), if any."""
    if response is None:
        return None
    headers = response.headers
    value = headers.get("Retry-After")
    if value is not None:
        value = value.strip()
        if value.isdigit() or _is_float(value):
            return max(0.0, float(value))
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when - (now if now is not None else time.time()))
    if response.status_code == 429:
        for name in ("X-RateLimit-Reset", "RateLimit-Reset", "X-Rate-Limit-Reset"):
            reset = headers.get(name)
            if reset and _is_float(reset.strip()):
                number = float(reset)
                if number > _EPOCH_THRESHOLD:
                    number -= now if now is not None else time.time()
                return max(0.0, number)
    return None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _reason(exc: BaseException, label: str) -> str:
    if isinstance(exc, RetriableAPIError):
        return str(exc)  # already names the call
    return f"{label}: {describe_transport_error(exc)}"


def _for_call(exc: RetriesExhaustedError, call: str) -> RetriesExhaustedError:
    """A call made for `call` gave up (a token request, to authenticate it): say which call
    it was for, so the final line names the stream."""
    return RetriesExhaustedError(f"{call}: {exc}")


def with_retries(
    func: t.Callable[..., requests.Response],
    *,
    policy: RetryPolicy,
    label: t.Callable[..., str],
    logger: logging.Logger,
    limiter: RateLimiter | None = None,
    auth: HumanAuth | None = None,
    sleep: t.Callable[[float], None] = time.sleep,
) -> t.Callable[..., requests.Response]:
    """Wrap `func` (one HTTP attempt) in the retry loop; `label(*args)` names the call."""

    def attempt_all(*args: t.Any, **kwargs: t.Any) -> requests.Response:
        waited = 0.0
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if limiter is not None:
                limiter.acquire()
            try:
                response = func(*args, **kwargs)
            except RetriesExhaustedError as exc:
                raise _for_call(exc, label(*args)) from None
            except UnauthorizedError:
                try:
                    if refreshed or auth is None or not auth.handle_unauthorized():
                        raise
                except RetriesExhaustedError as exc:
                    raise _for_call(exc, label(*args)) from None
                refreshed = True
                logger.info("%s: 401, credentials refreshed; retrying once", label(*args))
            except RETRYABLE as exc:
                failed = getattr(exc, "response", None)
                if limiter is not None and failed is not None:
                    limiter.observe(failed.headers)
                asked = server_wait(failed)
                delay = asked if asked is not None else policy.backoff(attempt)
                reason = _reason(exc, label(*args))
                if attempt >= policy.max_tries or waited + delay > policy.max_total_wait:
                    budget = (
                        f"after {attempt} attempt{'s' if attempt > 1 else ''}"
                        if attempt >= policy.max_tries
                        else f"the server asked to wait {delay:.0f}s, beyond the retry budget"
                    )
                    msg = f"{reason}; gave up {budget}"
                    raise RetriesExhaustedError(msg, last_error=exc) from None
                logger.warning(
                    "%s; retry %d of %d in %.2fs%s",
                    reason,
                    attempt,
                    policy.max_tries - 1,
                    delay,
                    " as the server asked" if asked is not None else "",
                )
                sleep(delay)
                waited += delay
            else:
                if limiter is not None:
                    limiter.observe(response.headers)
                return response

    return attempt_all
