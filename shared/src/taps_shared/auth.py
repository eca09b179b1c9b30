"""Authenticators with explicit arguments (no stream or config coupling).

Each is a requests auth hook shared by every stream of a run. They register their secrets
for redaction, and `handle_unauthorized` lets token-based flows recover from a 401 once.
"""

from __future__ import annotations

import base64

import requests
from requests.auth import AuthBase

from taps_shared import redact


class HumanAuth(AuthBase):
    """Base of every authenticator used by the taps."""

    def handle_unauthorized(self) -> bool:
        """React to a 401; True when new credentials make one more attempt worthwhile."""
        return False


class HeaderAuth(HumanAuth):
    """A fixed header: bearer token (`Authorization: Bearer x`) or an API-key header."""

    def __init__(self, header: str, value: str, *, secret: str | None = None) -> None:
        self.header = header
        self.value = value
        redact.register(value, secret)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self.value
        return request


class BearerTokenAuth(HeaderAuth):
    """`Authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", f"Bearer {token}", secret=token)


class BasicAuth(HeaderAuth):
    """HTTP Basic; an empty password is allowed (App Key style usernames)."""

    def __init__(self, username: str, password: str = "") -> None:
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        super().__init__("Authorization", f"Basic {pair}", secret=pair)
        redact.register(username if password == "" else None, password)
