"""Bounded retries: exponential backoff with jitter, or exactly what the server asked for.

The SDK's default backoff ignores Retry-After; this loop honours it and the common
rate-limit reset headers (read by `ratelimit.parse_wait`, bounded by `ratelimit.MAX_WAIT`),
caps attempts and total wait, refreshes credentials once on a 401, and passes every attempt
through the tap's rate limiter. A refused connection is not retried: nothing listens at
that address, which is a wrong URL far more often than a server restarting.
"""

from __future__ import annotations

import logging
import random
import time
import typing as t
from dataclasses import dataclass

import requests
from singer_sdk.exceptions import RetriableAPIError

from taps_shared.errors import (
    RetriesExhaustedError,
    UnauthorizedError,
    describe_transport_error,
    is_connection_refused,
)
from taps_shared.ratelimit import MAX_WAIT, RESET_HEADERS, Wait, describe, first_wait

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


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, backoff shape and the longest total wait."""

    max_tries: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_total_wait: float = MAX_WAIT

    def backoff(self, attempt: int) -> float:
        """Exponential delay with equal jitter: half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def server_wait(response: requests.Response | None, now: float | None = None) -> Wait | None:
    """The wait the server asked for: Retry-After, or on a 429 a rate-limit reset."""
    if response is None:
        return None
    names = ("Retry-After", *RESET_HEADERS) if response.status_code == 429 else ("Retry-After",)
    return first_wait(response.headers, names, now)


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
                reason = _reason(exc, label(*args))
                if is_connection_refused(exc):  # nothing listens there: a wrong URL, no blip
                    raise RetriesExhaustedError(f"{reason}; not retried", last_error=exc) from None
                failed = getattr(exc, "response", None)
                if limiter is not None and failed is not None:
                    limiter.observe(failed.headers, logger)
                asked = server_wait(failed)
                note = ""
                if asked is not None and asked.seconds is None:
                    note, asked = f" (ignoring {asked.cause}: not a time)", None
                if asked is not None and asked.absurd is not None:
                    msg = (
                        f"{reason}; gave up: the server asked to wait {describe(asked.absurd)} "
                        f"({asked.cause}), more than the {describe(MAX_WAIT)} the tap waits"
                    )
                    raise RetriesExhaustedError(msg, last_error=exc) from None
                if asked is not None:
                    note = f" as the server asked ({asked.cause})"
                delay = (asked.seconds or 0.0) if asked is not None else policy.backoff(attempt)
                if attempt >= policy.max_tries or waited + delay > policy.max_total_wait:
                    budget = (
                        f"after {attempt} attempt{'s' if attempt > 1 else ''}"
                        if attempt >= policy.max_tries
                        else f"the server asked to wait {describe(delay)}, beyond the retry budget"
                    )
                    msg = f"{reason}; gave up {budget}"
                    raise RetriesExhaustedError(msg, last_error=exc) from None
                logger.warning(
                    "%s; retry %d of %d in %.2fs%s",
                    reason,
                    attempt,
                    policy.max_tries - 1,
                    delay,
                    note,
                )
                sleep(delay)
                waited += delay
            else:
                if limiter is not None:
                    limiter.observe(response.headers, logger)
                return response

    return attempt_all
