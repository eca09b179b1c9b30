"""JSON-schema validation of emulator records, with the formats the APIs really use."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

from jsonschema import Draft7Validator, FormatChecker

FORMATS = FormatChecker(formats=())
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """Instants as the APIs write them: UTC, exactly three fractional digits, 'Z'."""
    if not isinstance(value, str):
        return True
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return bool(DATE_TIME.fullmatch(value))


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    date.fromisoformat(value)
    return bool(_DATE.fullmatch(value))


@FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(UUID.fullmatch(value))


def schema_validator(path: Path) -> Draft7Validator:
    """A validator for the schema file at `path`, checking the formats above."""
    return Draft7Validator(json.loads(path.read_text()), format_checker=FORMATS)
