"""Custom fields as typed columns, what any API's custom fields share: a stable column name
from the field's name, the column's schema from its declared kind, its sensitivity from the
`custom_field_sensitivity` setting, and the description that records which field a column
holds, so that a catalog read back tells it again.

A tap maps its API's field types to the kinds below and its values through `convert`.
"""

from __future__ import annotations

import math
import re
import typing as t
import unicodedata
from datetime import date

from singer_sdk import typing as th

from taps_shared.errors import ConfigError
from taps_shared.privacy import CLASSES, TAG

SETTING = "custom_field_sensitivity"
#: What `custom_field_sensitivity` may say of a field: a class, or `none` (untagged).
SENSITIVITIES = (*CLASSES, "none")
#: The class of a custom field the setting does not name: its content is the company's
#: own, about a person.
DEFAULT_SENSITIVITY = "pii"

#: Column kind -> its JSON schema (every column nullable).
KINDS: dict[str, dict[str, t.Any]] = {
    "string": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    "number": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "date": {"type": ["string", "null"], "format": "date"},
    "strings": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
}

_DESCRIPTION = re.compile(r'Custom field "(?P<name>.*)" \(id (?P<id>\S+), type (?P<type>\S*)\)')
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


def setting() -> th.Property:
    """`custom_field_sensitivity`: the class of each custom field, by name."""
    return th.Property(
        SETTING,
        th.ObjectType(additional_properties=th.StringType),
        default={},
        title="Custom field sensitivity",
        description=(
            "The sensitivity class of custom fields, by field name: `pii`, `financial`, "
            '`health` or `none` (untagged), e.g. {"Salary band": "financial", '
            '"T-shirt size": "none"}. A field it does not name is `pii`. The class '
            "decides, with pii_policy, financial_policy and health_policy, whether its "
            "column is kept, hashed or dropped."
        ),
    )


def sensitivities(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The setting, checked: a ConfigError in one line naming it when a class is unknown."""
    given = config.get(SETTING) or {}
    if not isinstance(given, dict):
        msg = f"{SETTING} must be an object of field name -> class ({', '.join(SENSITIVITIES)})"
        raise ConfigError(msg)
    bad = sorted(name for name, value in given.items() if value not in SENSITIVITIES)
    if bad:
        msg = (
            f"{SETTING}: {', '.join(repr(n) for n in bad)} must be one of "
            f"{', '.join(SENSITIVITIES)}"
        )
        raise ConfigError(msg)
    return {str(name): str(value) for name, value in given.items()}


def column_schema(kind: str, description: str, sensitivity: str | None) -> dict[str, t.Any]:
    """A column's schema: its kind's, described, tagged unless `none`."""
    schema: dict[str, t.Any] = {**KINDS[kind], "description": description}
    if sensitivity and sensitivity != "none":
        schema[TAG] = sensitivity
    return schema


def sensitivity_of(config: t.Mapping[str, t.Any], *names: str) -> str:
    """The class the setting gives the first of `names` it has (a field's name, or key)."""
    given = sensitivities(config)
    return next((given[n] for n in names if n in given), DEFAULT_SENSITIVITY)


def describe(name: str, field_id: str, field_type: str, what: str) -> str:
    """The column description naming its field; `parse_description` reads it back."""
    return f'Custom field "{name}" (id {field_id}, type {field_type}): {what}'


def parse_description(schema: t.Mapping[str, t.Any]) -> tuple[str, str, str] | None:
    """(name, id, type) of the field a column's description names; None if none."""
    found = _DESCRIPTION.match(str(schema.get("description") or ""))
    return (found["name"], found["id"], found["type"]) if found else None


def kind_of(schema: t.Mapping[str, t.Any]) -> str:
    """The kind of a column schema (one of `KINDS`): what values convert to."""
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or ())
    if "array" in types:
        return "strings"
    for kind in ("integer", "number", "boolean"):
        if kind in types:
            return kind
    return "date" if schema.get("format") == "date" else "string"


def slug(name: str) -> str:
    """A snake_case column name from a field name: ASCII letters, digits and `_`."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)  # camelCase -> camel_Case
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not text:
        return "field"
    return f"field_{text}" if text[0].isdigit() else text


def column_names(fields: t.Sequence[tuple[str, str]], taken: t.Iterable[str]) -> dict[str, str]:
    """Field id -> column name, for fields as (id, name) from the oldest: each its name's
    slug, or, where an older field or a fixed column (`taken`) has that, the slug suffixed
    with the field id. A field added later never renames an older one's column."""
    used = set(taken)
    out: dict[str, str] = {}
    for field_id, name in fields:
        column = slug(name)
        if column in used:
            column = f"{column}_{re.sub(r'[^a-z0-9]+', '_', field_id.lower()).strip('_')}"
        while column in used:  # ids equal but for case, or a name like another's suffixed
            column += "_"
        used.add(column)
        out[field_id] = column
    return out


def convert(kind: str, value: t.Any) -> tuple[t.Any, bool]:
    """`value` as a column of `kind` wants it, and whether it fitted (a value that does not
    fit gives None, and the caller keeps it as sent)."""
    if value is None or value == "":
        return None, True
    try:
        return _CONVERT[kind](value), True
    except (TypeError, ValueError):
        return None, False


def _integer(value: t.Any) -> int:
    number = _number(value)
    if number != int(number):
        raise ValueError(value)
    return int(number)


def _number(value: t.Any) -> int | float:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    number = value if isinstance(value, float) else None
    if number is None:
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            number = float(text)
    if not math.isfinite(number):  # JSON has no NaN or infinity
        raise ValueError(value)
    return number


def _boolean(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(value)


def _date(value: t.Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return date.fromisoformat(value[:10]).isoformat()


def _strings(value: t.Any) -> list[str]:
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise TypeError(value)
        return value
    if isinstance(value, str):
        return [value]
    raise TypeError(value)


def _string(value: t.Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise TypeError(value)


_CONVERT: dict[str, t.Callable[[t.Any], t.Any]] = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "strings": _strings,
}
