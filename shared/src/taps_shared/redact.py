"""Secret scrubbing for every log line and error message a tap produces.

Secrets are registered once per process (config values marked secret, tokens minted at run
time) and replaced wherever they appear, in every encoding they take on the wire (URL and
form encoding, JSON escaping; authenticators register the base64 pairs they send), and
whatever whitespace a message made of theirs (collapsed, or a trailing newline dropped).
Every log record is scrubbed as it is made, whichever library logs it and whichever
handler writes it, at any level, tracebacks included.

A tap minting one token per user registers thousands of secrets, so neither registering
one nor scrubbing a line may cost in proportion to how many there are: secrets without
inner whitespace (every token) are found through a table of their first characters, and
only those with inner whitespace, whose whitespace may have changed, go into a regular
expression. (Tokens often share their first characters, as JWTs do: the table holds the
first characters for a quick test, and each whole secret in a set.)
"""

from __future__ import annotations

import json
import logging
import re
import threading
import typing as t
from urllib.parse import quote, quote_plus

MASK = "****"
MIN_SECRET_LENGTH = 4
_lock = threading.Lock()
_secrets: set[str] = set()
#: Secrets without inner whitespace; their first MIN_SECRET_LENGTH characters; their
#: lengths, longest first (a tuple, replaced, never changed: scrubbing needs no lock).
_literals: set[str] = set()
_starts: set[str] = set()
_lengths: tuple[int, ...] = ()
#: The secrets with inner whitespace, whatever became of it.
_pattern: re.Pattern[str] | None = None
_loose_secrets: list[str] = []

# Credentials that can show up in text even when we never saw the value ourselves.
_GENERIC = re.compile(
    r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic|token)?\s*[^\s,;'\")}\]]+"
    r"|(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|((?:access_token|refresh_token|client_secret|api_key|apikey|token|signature|sig)=)[^&\s'\"]+"
)


def register(*values: object) -> None:
    """Remember secret values so they are scrubbed from all later output."""
    global _pattern, _lengths  # noqa: PLW0603
    with _lock:
        loose = False
        for value in values:
            if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
                continue
            for form in encodings(value) - _secrets:
                _secrets.add(form)
                chunks = form.split()
                if len(chunks) == 1 and len(chunks[0]) >= MIN_SECRET_LENGTH:
                    literal = chunks[0]
                    _starts.add(literal[:MIN_SECRET_LENGTH])
                    _literals.add(literal)
                    if len(literal) not in _lengths:
                        _lengths = tuple(sorted({*_lengths, len(literal)}, reverse=True))
                else:
                    _loose_secrets.append(form)
                    loose = True
        if loose:
            ordered = sorted(_loose_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(_loose(s) for s in ordered))


def encodings(secret: str) -> set[str]:
    """The secret as a request carries it: as is, URL-encoded (path and query), form-encoded
    and JSON-escaped (ASCII or not)."""
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def _loose(secret: str) -> str:
    """A pattern matching the secret whatever became of its whitespace: each run of it
    matches any run, and leading or trailing whitespace is no part of the match."""
    return r"\s+".join(re.escape(chunk) for chunk in secret.split())


def scrub(text: str) -> str:
    """Return text with every registered secret and credential-looking value masked."""
    if _literals:
        text = _mask_literals(text)
    if _pattern is not None:
        text = _pattern.sub(MASK, text)
    return _GENERIC.sub(_mask_generic, text)


def _mask_literals(text: str) -> str:
    """Mask the secrets without inner whitespace: at each position from the left, the
    longest one found there (as an alternation of them, longest first, would)."""
    literals, starts, lengths, width = _literals, _starts, _lengths, MIN_SECRET_LENGTH
    parts: list[str] = []
    start = position = 0
    end = len(text) - width
    while position <= end:
        if text[position : position + width] in starts:
            for length in lengths:
                if text[position : position + length] in literals:
                    parts += (text[start:position], MASK)
                    position = start = position + length
                    break
            else:
                position += 1
        else:
            position += 1
    if not parts:
        return text
    parts.append(text[start:])
    return "".join(parts)


def _mask_generic(match: re.Match[str]) -> str:
    prefix = match.group(1) or match.group(3) or match.group(4) or ""
    scheme = match.group(2)
    return f"{prefix}{scheme + ' ' if scheme else ''}{MASK}"


class RedactingFilter(logging.Filter):
    """Renders a record once and, when that shows a secret, keeps the scrubbed text
    instead (message, args and traceback). Records without secrets keep their arguments,
    which structured formatters read (the SDK's metrics)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the log line
            record.msg, record.args = scrub(str(record.msg)), None
        else:
            scrubbed = scrub(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = scrub(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class _RedactingFactory:
    """The log record factory, scrubbing each record as it is made."""

    def __init__(self, make: t.Callable[..., logging.LogRecord]) -> None:
        self.make = make
        self.filter = RedactingFilter()

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
        record = self.make(*args, **kwargs)
        self.filter.filter(record)
        return record


def install_log_filter() -> None:
    """Scrub every log record as it is made (idempotent). Not a filter on handlers: a
    `SINGER_SDK_LOG_CONFIG` may give urllib3 or a tap's logger handlers of their own."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(factory))
