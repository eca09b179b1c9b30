"""Setting definitions that several taps share, so names and wording stay identical."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from singer_sdk import typing as th


def api_url(default: str, what: str) -> th.Property:
    """The base URL setting (`api_url`)."""
    return th.Property(
        "api_url",
        th.StringType,
        default=default,
        title="API URL",
        description=(
            f"Base URL of the {what}. Must be https://, except for loopback hosts "
            "(local emulators and tests)."
        ),
    )


def start_date(what: str) -> th.Property:
    """`start_date`: a date or a datetime; naive values are UTC."""
    return th.Property(
        "start_date",
        th.StringType,
        title="Start date",
        description=(
            f"Earliest {what} to extract on the first run, as an ISO-8601 date "
            "(2024-01-31) or datetime (2024-01-31T12:00:00Z; naive values are UTC). Later "
            "runs resume from the saved state. Unset means everything."
        ),
        examples=["2024-01-01", "2024-01-01T00:00:00Z"],
    )


def page_size(default: int, maximum: int, minimum: int = 1) -> th.Property:
    """`page_size`, bounded by what the API accepts."""
    return th.Property(
        "page_size",
        th.IntegerType(minimum=minimum, maximum=maximum),
        default=default,
        title="Page size",
        description=f"Records requested per page ({minimum}-{maximum}; larger means fewer calls).",
    )


def requests_per_second(default: float, why: str) -> th.Property:
    """`requests_per_second`: the client-side rate limit."""
    return th.Property(
        "requests_per_second",
        th.NumberType(minimum=0),
        default=default,
        title="Requests per second",
        description=f"Client-side rate limit for all requests of a run ({why}). 0 disables it.",
    )


def transport() -> list[th.Property]:
    """Timeout, retry budget, parallel paging, schema drift and extra fields: every tap's."""
    return [
        th.Property(
            "request_timeout",
            th.NumberType(minimum=1),
            default=60,
            title="Request timeout",
            description=(
                "Seconds a whole response may take (connecting, waiting and reading the "
                "body) before the attempt counts as failed and is retried."
            ),
        ),
        th.Property(
            "max_response_mb",
            th.IntegerType(minimum=1),
            default=256,
            title="Max response size (MB)",
            description=(
                "Largest response body accepted, once decompressed; a larger one stops the "
                "run with an error naming the endpoint (a bound on memory, whatever a server "
                "sends)."
            ),
        ),
        th.Property(
            "max_retries",
            th.IntegerType(minimum=0, maximum=20),
            default=5,
            title="Max retries",
            description=(
                "Retries per request after a 429, 5xx, timeout or connection error, with "
                "exponential backoff or the wait the server asks for (Retry-After)."
            ),
        ),
        th.Property(
            "max_parallel_requests",
            th.IntegerType(minimum=1, maximum=16),
            default=4,
            title="Max parallel requests",
            description=(
                "Pages of one listing fetched at once, when its first page tells how many "
                "there are. Records are still emitted in page order; requests_per_second "
                "bounds all of them together. 1 fetches page after page."
            ),
        ),
        th.Property(
            "on_schema_drift",
            th.StringType,
            default="warn",
            allowed_values=["warn", "fail"],
            title="On schema drift",
            description=(
                "Records with fields the schema does not declare (see extra_fields) or "
                "values of a type it does not allow (kept): `warn` reports them once per "
                "stream at the end of the run; `fail` stops at the first one."
            ),
        ),
        th.Property(
            "extra_fields",
            th.StringType,
            default="keep",
            allowed_values=["keep", "drop"],
            title="Extra fields",
            description=(
                "Fields the API sends that the stream's schema does not declare: `keep` "
                "puts them, as sent and at their path, in the record's `_extra` object "
                "(null when there are none); `drop` leaves them out."
            ),
        ),
    ]


def credential(
    name: str, title: str, description: str, *, secret: bool = True, required: bool = True
) -> th.Property:
    """A credential setting: a non-empty string when required, secret unless it is an id."""
    return th.Property(
        name,
        th.StringType(min_length=1) if required else th.StringType,
        required=required,
        secret=secret,
        title=title,
        description=description,
    )


def unknown_settings(given: Iterable[str], known: Iterable[str]) -> list[str]:
    """The given settings a tap does not have, each with the one it is likely a typo of
    (`api_tokn (did you mean api_token?)`): a typo is otherwise ignored, or reported only
    as the real setting missing."""
    names = sorted(known)
    found = []
    for name in sorted(set(given) - set(names)):
        close = difflib.get_close_matches(name, names, n=1)
        found.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return found


def future_start_date(start: str, full_table: Iterable[str]) -> str:
    """The warning for a `start_date` in the future: it filters incremental streams only."""
    streams = ", ".join(sorted(full_table))
    if not streams:
        return f"start_date {start} is in the future: no records"
    return (
        f"start_date {start} is in the future: no records from incremental streams; "
        f"full-table streams ignore it and emit every record: {streams}"
    )


def privacy() -> list[th.Property]:
    """What happens to sensitive fields (`taps_shared.privacy`), every tap's."""
    classes = {
        "pii": "personal data (names, emails, phones, addresses, birth dates, identity "
        "document and tax numbers, photos, message content)",
        "financial": "money tied to a person (compensation amounts, bank details)",
        "health": "medical and wellness values",
    }
    policies = [
        th.Property(
            f"{name}_policy",
            th.StringType,
            default="keep",
            allowed_values=["keep", "hash", "drop"],
            title=f"{name.upper() if name == 'pii' else name.capitalize()} policy",
            description=(
                f"Fields tagged `{name}`, {what}: `keep` them, `hash` them (HMAC-SHA256 "
                "under pii_hash_key, lowercase hex; emails trimmed and lowercased first) or "
                "`drop` them from the SCHEMA and every RECORD. The README lists the fields."
            ),
        )
        for name, what in classes.items()
    ]
    key = th.Property(
        "pii_hash_key",
        th.StringType,
        secret=True,
        title="Hash key",
        description=(
            "The key of every `hash` policy: the same key gives the same hashes across "
            "streams and runs (hashed values still join); keep it secret and fixed."
        ),
    )
    return [*policies, key]
