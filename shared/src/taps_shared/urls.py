"""URL policy: HTTPS everywhere, plain HTTP only for loopback hosts (emulators, tests)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from taps_shared.errors import ConfigError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback(host: str) -> bool:
    """True for localhost and any 127.0.0.0/8 or ::1 address."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, setting: str) -> str:
    """Validate a configured base URL and return it without a trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        msg = f"{setting} must be an absolute https:// URL, got '{without_userinfo(url)}'"
        raise ConfigError(msg)
    if parts.username is not None or parts.password is not None:
        # requests would send them as HTTP Basic, next to the tap's own credentials, and
        # every message naming the URL would show them.
        msg = (
            f"{setting} must not carry credentials (user:password@); set them in the tap's "
            "credential settings"
        )
        raise ConfigError(msg)
    if parts.query or parts.fragment:
        msg = f"{setting} must not carry a query string or fragment"
        raise ConfigError(msg)
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number from 0 to 65535)
    except ValueError:
        msg = f"{setting} has no valid port: '{without_userinfo(url)}'"
        raise ConfigError(msg) from None
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        msg = (
            f"{setting} must use https:// (plain http is only allowed for loopback hosts), "
            f"got '{parts.scheme}://{parts.hostname}'"
        )
        raise ConfigError(msg)
    return url.strip().rstrip("/")


def without_userinfo(url: str) -> str:
    """The URL with any `user:password@` masked, even when it does not parse as a URL."""
    scheme, slashes, rest = url.partition("//")
    if not slashes:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "****@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{slashes}{authority}{slash}{path}"
