"""The errors a tap raises, and how any failure becomes one clear, secret-free line."""

from __future__ import annotations

import contextlib
import signal
import socket
import typing as t
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError

from taps_shared import redact


class TapError(Exception):
    """An error whose message is already fit for the user: one line, no secrets."""


class ConfigError(TapError):
    """A setting is missing, malformed or inconsistent."""


class PaginationError(TapError):
    """The API's paging would repeat pages or never end."""


class ListingShifted(PaginationError):
    """An offset listing changed between two of its pages (a record created, deleted or
    moved before the next page's offset): reading on would skip a record."""


class ResponseError(TapError):
    """A response could not be used (not JSON, wrong envelope, missing key)."""


class SchemaDriftError(TapError):
    """A record does not fit its schema and `on_schema_drift` is `fail`."""


class HTTPStatusError(FatalAPIError):
    """A non-retriable HTTP status; carries what the user needs to act on it."""

    def __init__(self, message: str, status: int, api_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.api_message = api_message


class UnauthorizedError(HTTPStatusError):
    """401: the credentials were rejected."""


class ForbiddenError(HTTPStatusError):
    """403: authenticated, but not allowed (usually a missing scope)."""


class RetryableStatusError(RetriableAPIError):
    """429, 5xx or an unusable 200 body: worth another try."""


class RetriesExhaustedError(TapError):
    """The retry budget (attempts or total wait) ran out; `last_error` is the last failure."""

    def __init__(self, message: str, last_error: BaseException | None = None) -> None:
        super().__init__(message)
        self.last_error = last_error


class Terminated(BaseException):
    """SIGTERM or SIGINT arrived: unwind at once and stop cleanly.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on the way (the
    SDK's per-stream error logging, the retry loop) mistakes it for a failure.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + the signal number, the shell's convention for "stopped by a signal"."""
        return 128 + self.signum


def one_line(exc: BaseException) -> str:
    """Describe any exception as a single scrubbed line for the final error log."""
    if isinstance(exc, ConfigValidationError):
        details = "; ".join(exc.errors) if exc.errors else str(exc)
        text = f"invalid config: {details}"
    elif isinstance(exc, TapError | FatalAPIError | RetriableAPIError):
        text = str(exc)
    elif isinstance(exc, requests.exceptions.RequestException):
        text = f"HTTP request failed: {describe_transport_error(exc)}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact.scrub(" ".join(text.split()))


def describe_transport_error(exc: BaseException) -> str:
    """Name a connection-level failure by its host, never echoing the URL: its query string
    may carry signatures, its user-info a password."""
    request = getattr(exc, "request", None)
    where = ""
    if request is not None and getattr(request, "url", None):
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        with contextlib.suppress(ValueError):  # a port that is not a number
            host += f":{parts.port}" if parts.port else ""
        where = f" ({host})"
    kind = type(exc).__name__
    if _is_dns_failure(exc):
        kind = "DNS lookup failed"
    elif is_connection_refused(exc):
        kind = "connection refused"
    elif isinstance(exc, requests.exceptions.Timeout):
        kind = "timed out"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        kind = "connection error"
    return f"{kind}{where}"


#: getaddrinfo's messages for a name that does not resolve, by platform and cause.
_DNS_MESSAGES = (
    "Name or service not known",
    "nodename nor servname",
    "Temporary failure in name resolution",
    "No address associated with hostname",
    "getaddrinfo failed",
    "Failed to resolve",
)


def _is_dns_failure(exc: BaseException) -> bool:
    """True when the failure, or anything it wraps, is a failed name lookup."""
    for error in _wrapped(exc):
        if isinstance(error, socket.gaierror) or type(error).__name__ == "NameResolutionError":
            return True
    return any(text in str(exc) for text in _DNS_MESSAGES)


def is_connection_refused(exc: BaseException) -> bool:
    """True when the failure, or anything it wraps, is a refused connection: nothing
    listens at that address."""
    return any(isinstance(error, ConnectionRefusedError) for error in _wrapped(exc))


def _wrapped(exc: BaseException) -> t.Iterator[BaseException]:
    """The failure and everything it wraps (urllib3 nests them: causes, contexts, a
    `reason`, arguments)."""
    pending: list[t.Any] = [exc]
    seen: set[int] = set()
    while pending:
        error = pending.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        pending += [error.__cause__, error.__context__, getattr(error, "reason", None)]
        pending += list(error.args)
