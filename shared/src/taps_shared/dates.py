"""Timezone-aware datetimes and one canonical bookmark format."""

from __future__ import annotations

from datetime import UTC, date, datetime

from taps_shared.errors import ConfigError


def parse_datetime(value: str | datetime | date, setting: str = "start_date") -> datetime:
    """Accept a date or an ISO-8601 datetime; naive values are taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            msg = f"{setting} '{text}' is not an ISO-8601 date or datetime (e.g. 2024-01-31)"
            raise ConfigError(msg) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_iso_z(value: datetime) -> str:
    """Format as the APIs do: UTC, milliseconds, trailing Z (sorts as a string)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def normalise_timestamp(value: str, what: str) -> str:
    """Bring an ISO timestamp string to the canonical form used in state."""
    return to_iso_z(parse_datetime(value, what))


def to_compact_z(value: datetime) -> str:
    """`YYYYMMDDTHHmmssZ` (compact ISO-8601, whole seconds, rounded down)."""
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
