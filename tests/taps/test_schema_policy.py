"""No schema narrower than the API: every tap's schemas, as discovered, keep only the
constraints each tap's README lists (section "What the schemas promise")."""

from __future__ import annotations

import re

import pytest

from tests.support.helpers import ROOT
from tests.support.registry import TAPS

#: The formats kept: typed columns for what the APIs document as ISO-8601 or uuid.
FORMATS = {"date-time", "date", "uuid"}
#: Constraints besides types and formats, by tap, stream and property path.
KEPT = {
    ("huma", "holidays", "countryCode"): {"pattern": "^[A-Z]{2}$", "minLength": 2, "maxLength": 2}
}
VALIDATION = {"pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum"}
VALIDATION |= {"exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "const"}


def walk(schema: dict, path: str = ""):
    """(path, property schema) for every property at any depth, list items as `name[]`."""
    for name, prop in schema.get("properties", {}).items():
        here = f"{path}.{name}" if path else name
        yield here, prop
        yield from walk(prop, here)
        items = prop.get("items")
        if isinstance(items, dict):
            yield here + "[]", items
            yield from walk(items, here + "[]")


@pytest.mark.parametrize("case", TAPS.values(), ids=lambda case: case.name)
def test_no_schema_is_narrower_than_the_api(case):
    with case.emulator("engine") as emulator:
        tap = case.tap_class(config=case.config(emulator, "engine"), validate_config=False)
    for name, stream in tap.streams.items():
        schema = stream.schema
        keys = list(stream.primary_keys or [])
        assert schema.get("required", []) == keys, name  # a record always has its key
        assert "additionalProperties" not in schema, name  # undeclared fields: `_extra`
        assert "_extra" in schema["properties"], name
        for path, prop in walk(schema):
            where = (case.name, name, path)
            assert "enum" not in prop, where
            assert "required" not in prop, where  # nested objects may lack any member
            assert {k: prop[k] for k in VALIDATION & prop.keys()} == KEPT.get(where, {}), where
            assert prop.get("format", "date") in FORMATS, where
            kinds = prop.get("type")
            if kinds is not None and path != "_extra":
                kinds = [kinds] if isinstance(kinds, str) else kinds
                assert ("null" not in kinds) == (path in keys), where


@pytest.mark.parametrize("case", TAPS.values(), ids=lambda case: case.name)
def test_every_readme_says_where_unknown_fields_go_and_lists_what_is_kept(case):
    readme = (ROOT / f"tap-{case.name}" / "README.md").read_text()
    found = re.search(r"^## What the schemas promise\n(.+?)(?=^## |\Z)", readme, re.M | re.S)
    assert found, case.name
    section = found.group(1)
    assert "`_extra`" in section and "stream_maps:" in section and "schemas/" in section
    with case.emulator("engine") as emulator:
        tap = case.tap_class(config=case.config(emulator, "engine"), validate_config=False)
    used = {
        prop["format"]
        for stream in tap.streams.values()
        for _, prop in walk(stream.schema)
        if "format" in prop
    }
    table = section[section.index("Constraints kept") :]
    assert all(f"format: {name}`" in table for name in used), (case.name, used)
