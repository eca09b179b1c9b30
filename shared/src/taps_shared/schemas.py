"""JSON schema files shipped inside a tap's package, completed with what every stream has."""

from __future__ import annotations

import copy
import typing as t

from singer_sdk.schema.source import SchemaDirectory

from taps_shared.conform import EXTRA
from taps_shared.streams.deletes import TOMBSTONE

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

#: When the record was deleted at the source: set on tombstones (`streams.deletes`); what a
#: target's ACTIVATE_VERSION soft delete writes too.
TOMBSTONE_PROPERTY: dict[str, t.Any] = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": (
        "Set when the source no longer has the record. A tombstone (the key, every other "
        "field null) carries the time the tap noticed; a record the API still lists as "
        "deleted (a canceled request) carries the API's time. Null otherwise."
    ),
}


class SchemaFiles(SchemaDirectory):
    """A tap's JSON schema files (its `schemas` package), each read once and completed by
    `complete_schema`."""

    def fetch_schema(self, key: str) -> dict[str, t.Any]:
        return complete_schema(super().fetch_schema(key))


def complete_schema(schema: dict) -> dict:
    """What every stream's schema declares on top of its file: the `_extra` object and
    `_sdc_deleted_at`. The one place to add a property (or a tag) to all streams of all
    taps."""
    schema["properties"][EXTRA] = copy.deepcopy(EXTRA_PROPERTY)
    schema["properties"][TOMBSTONE] = copy.deepcopy(TOMBSTONE_PROPERTY)
    return schema
