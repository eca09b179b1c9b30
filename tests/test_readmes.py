"""Each tap's README stays true: its tables match the tap's settings and catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from singer_sdk import Tap

from tap_huma.tap import TapHuma
from tap_humaans.tap import TapHumaans
from tap_humanapi.tap import TapHumanApi
from tap_humanos.tap import TapHumanos
from tap_openhuman.tap import TapOpenHuman

ROOT = Path(__file__).parent.parent
SDK_BUILTINS = {"stream_maps", "stream_map_config", "faker_config", "batch_config"}
TAPS: list[tuple[type[Tap], dict]] = [
    (TapHumaans, {"api_token": "x"}),
    (TapHuma, {"client_id": "x", "client_secret": "y"}),
    (TapHumanos, {"api_key": "x", "signature_secret": "y"}),
    (TapOpenHuman, {"api_key": "x"}),
    (TapHumanApi, {"client_id": "x", "client_secret": "y", "app_key": "z"}),
]


def table_rows(tap: type[Tap], heading: str) -> list[list[str]]:
    readme = (ROOT / tap.name / "README.md").read_text()
    section = readme.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


@pytest.mark.parametrize(("tap", "config"), TAPS, ids=[t.name for t, _ in TAPS])
def test_settings_table_matches_the_config_schema(tap, config):
    schema = tap.config_jsonschema
    properties = schema["properties"]
    ours = {k for k in properties if k not in SDK_BUILTINS and not k.startswith("flattening_")}
    documented = {row[0].strip("`"): row for row in table_rows(tap, "Settings")}
    assert set(documented) == ours
    for name, row in documented.items():
        assert (row[1] == "yes") == (name in schema.get("required", [])), name
        default = properties[name].get("default")
        assert row[2].strip("`") == ("" if default is None else str(default)), name


@pytest.mark.parametrize(("tap", "config"), TAPS, ids=[t.name for t, _ in TAPS])
def test_streams_table_matches_the_catalog(tap, config):
    streams = tap(config=config, validate_config=False).streams
    documented = {row[0].strip("`"): row for row in table_rows(tap, "Streams")}
    assert set(documented) == set(streams)
    for name, stream in streams.items():
        row = documented[name]
        assert row[2] == ", ".join(f"`{key}`" for key in stream.primary_keys), name
        expected = (
            "full table"
            if stream.replication_key is None
            else f"incremental (`{stream.replication_key}`)"
        )
        assert row[3] == expected, name
