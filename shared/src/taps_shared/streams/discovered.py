"""Streams whose columns are found at discovery: the schema file gives the fixed part, the
API the rest (one column per custom field, say), so a column added in the product appears
on the next discovery with no code change.

When the tap is given a catalog, the stream's entry in it is the schema: its extra columns
are kept as they were discovered (a field deleted since keeps its column, null, until the
catalog is refreshed) and no request is made. Without a catalog the columns are asked of
the API, once per run, unless the config lacks a required setting (the tap is being
inspected, not run: `--about`, documentation), where the schema is the fixed part alone.
"""

from __future__ import annotations

import copy
import typing as t

from singer_sdk.schema.source import StreamSchema

from taps_shared.conform import EXTRA

if t.TYPE_CHECKING:
    from taps_shared.tap import HumanTap


class DiscoveredSchema(StreamSchema):
    """The schema of a `DiscoveredColumns` stream: its file's, plus its discovered columns."""

    def get_stream_schema(self, stream: t.Any, stream_class: type) -> dict:
        found = stream.__dict__.get("_discovered_schema")
        if found is None:
            found = copy.deepcopy(dict(super().get_stream_schema(stream, stream_class)))
            properties = found["properties"]
            given = catalog_schema(stream.tap, stream.name)
            if given is None and can_request(stream.tap):
                stream.tap.preflight_once()  # a rejected credential says so first
            if given is not None or can_request(stream.tap):
                properties.update(stream.discover_columns(given, set(properties)))
            if EXTRA in properties:  # last, after the columns found
                properties[EXTRA] = properties.pop(EXTRA)
            stream.__dict__["_discovered_schema"] = found
        return t.cast("dict", found)


class DiscoveredColumns:
    """A stream whose schema is `DiscoveredSchema` (used by the stream table)."""

    schema_descriptor = DiscoveredSchema

    def discover_columns(self, given: dict | None, fixed: set[str]) -> dict[str, dict]:
        """The columns beyond the schema file's (`fixed`), tagged as the settings say:
        read back from the catalog's schema `given`, or asked of the API when None."""
        raise NotImplementedError


def catalog_schema(tap: HumanTap, name: str) -> dict | None:
    """The schema the tap's input catalog gives the stream `name` (no properties when it
    lists no such stream); None without a catalog."""
    catalog = tap.input_catalog
    if catalog is None:
        return None
    entry = catalog.get_stream(name)
    return entry.schema.to_dict() if entry is not None else {"properties": {}}


def can_request(tap: HumanTap) -> bool:
    """Whether the config has every required setting (a run, not an inspection)."""
    required = tap.config_jsonschema.get("required", ())
    return all(tap.config.get(name) not in (None, "") for name in required)
