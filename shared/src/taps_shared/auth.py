"""Authenticators with explicit arguments (no stream or config coupling).

Each is a requests auth hook shared by every stream of a run, applied afresh to every
attempt of every request. They register their secrets for redaction (with the base64 pairs
they send), take credentials without surrounding whitespace (`credential`), and
`handle_unauthorized` lets token-based flows recover from a 401 once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import typing as t

import requests
from requests.auth import AuthBase

from taps_shared import redact

_logger = logging.getLogger(__name__)


def credential(value: str, name: str) -> str:
    """A configured credential without the whitespace around it, which no credential has:
    a token pasted from a terminal or read from a file often ends in a newline, and no
    header may carry one. Stripped with a warning naming it, so the run goes on."""
    stripped = value.strip()
    if stripped != value:
        _logger.warning("%s has whitespace around it (a trailing newline?): using it without", name)
    return stripped


def basic_pair(username: str, password: str) -> str:
    """The base64 `username:password` of HTTP Basic, registered as a secret."""
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    redact.register(pair)
    return pair


class HumanAuth(AuthBase):
    """Base of every authenticator used by the taps."""

    def handle_unauthorized(self) -> bool:
        """React to a 401; True when new credentials make one more attempt worthwhile."""
        return False


class HeaderAuth(HumanAuth):
    """A fixed header: bearer token (`Authorization: Bearer x`) or an API-key header."""

    def __init__(self, header: str, value: str, *, secret: str | None = None) -> None:
        self.header = header
        self.value = credential(value, f"the {header} header")
        redact.register(self.value, secret)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self.value
        return request


class BearerTokenAuth(HeaderAuth):
    """`Authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        token = credential(token, "the API token")
        super().__init__("Authorization", f"Bearer {token}", secret=token)


class BasicAuth(HeaderAuth):
    """HTTP Basic; an empty password is allowed (App Key style usernames)."""

    def __init__(self, username: str, password: str = "") -> None:
        username = credential(username, "the Basic user name")
        password = credential(password, "the Basic password") if password else ""
        redact.register(password or username)  # an App Key user name is the secret
        super().__init__("Authorization", f"Basic {basic_pair(username, password)}")


class HmacSignedAuth(HumanAuth):
    """`Authorization: Bearer <api_key>` plus an HMAC-SHA256 signature of every attempt.

    The signature is the hex HMAC of `<timestamp>.<raw body>` (or of `<timestamp>` alone
    when there is no body), computed over the exact bytes sent with a fresh millisecond
    timestamp each time the request is (re)sent, so a retry after a long wait is accepted.
    """

    def __init__(
        self,
        api_key: str,
        signature_secret: str,
        *,
        timestamp_header: str = "X-Timestamp",
        signature_header: str = "X-Signature",
        clock_ms: t.Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        api_key = credential(api_key, "api_key")
        signature_secret = credential(signature_secret, "signature_secret")
        self._bearer = f"Bearer {api_key}"
        self._secret = signature_secret.encode()
        self.timestamp_header = timestamp_header
        self.signature_header = signature_header
        self._clock_ms = clock_ms
        redact.register(api_key, signature_secret)

    def signature(self, timestamp: str, body: bytes | str | None) -> str:
        """hex HMAC-SHA256 of `<timestamp>.<body>`, or of `<timestamp>` without a body."""
        raw = body.encode() if isinstance(body, str) else body
        payload = timestamp.encode() + (b"." + raw if raw else b"")
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        timestamp = str(self._clock_ms())
        request.headers["Authorization"] = self._bearer
        request.headers[self.timestamp_header] = timestamp
        request.headers[self.signature_header] = self.signature(timestamp, request.body)
        return request
