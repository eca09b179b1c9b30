"""Secret scrubbing for every log line and error message a tap produces.

Secrets are registered once per process (config values marked secret, tokens minted at run
time) and replaced wherever they appear. A logging filter on the root handlers applies the
same scrubbing to records from any library, at any level, including tracebacks.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "****"
MIN_SECRET_LENGTH = 4
_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# Credentials that can show up in text even when we never saw the value ourselves.
_GENERIC = re.compile(
    r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic|token)?\s*[^\s,;'\")}\]]+"
    r"|(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|((?:access_token|refresh_token|client_secret|api_key|apikey|token|signature|sig)=)[^&\s'\"]+"
)


def register(*values: object) -> None:
    """Remember secret values so they are scrubbed from all later output."""
    global _pattern  # noqa: PLW0603
    with _lock:
        added = False
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH and value not in _secrets:
                _secrets.add(value)
                added = True
        if added:
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def scrub(text: str) -> str:
    """Return text with every registered secret and credential-looking value masked."""
    if _pattern is not None:
        text = _pattern.sub(MASK, text)
    return _GENERIC.sub(_mask_generic, text)


def _mask_generic(match: re.Match[str]) -> str:
    prefix = match.group(1) or match.group(3) or match.group(4) or ""
    scheme = match.group(2)
    return f"{prefix}{scheme + ' ' if scheme else ''}{MASK}"


class RedactingFilter(logging.Filter):
    """Renders each record once and scrubs the result (message, args and traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the log line
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = scrub(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_filter() -> None:
    """Attach the redacting filter to every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
