"""JSON schema files shipped inside a tap's package, completed with what every stream has."""

from __future__ import annotations

import copy
import typing as t

from singer_sdk.schema.source import SchemaDirectory

from taps_shared.conform import EXTRA

#: Where a record keeps the fields its schema does not declare (`taps_shared.conform`).
EXTRA_PROPERTY: dict[str, t.Any] = {
    "type": ["object", "null"],
    "additionalProperties": True,
    "description": (
        "Fields the API sent that this schema does not declare, as sent, each at its path "
        "(lists keep their length, null for items with nothing undeclared); null when "
        "there are none."
    ),
}


class SchemaFiles(SchemaDirectory):
    """A tap's JSON schema files (its `schemas` package), each read once and completed by
    `complete_schema`."""

    def fetch_schema(self, key: str) -> dict[str, t.Any]:
        return complete_schema(super().fetch_schema(key))


def complete_schema(schema: dict) -> dict:
    """What every stream's schema declares on top of its file: the `_extra` object. The
    one place to add a property (or a tag) to all streams of all taps."""
    schema["properties"][EXTRA] = copy.deepcopy(EXTRA_PROPERTY)
    return schema
