"""tap-humaans/README.md stays true: its tables match the tap's settings and catalog."""

from __future__ import annotations

import re
from pathlib import Path

from tap_humaans.tap import TapHumaans

README = Path(__file__).parent.parent / "tap-humaans" / "README.md"
SDK_BUILTINS = {"stream_maps", "stream_map_config", "faker_config", "batch_config"}


def table_rows(heading: str) -> list[list[str]]:
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]


def test_settings_table_matches_the_config_schema():
    properties = TapHumaans.config_jsonschema["properties"]
    documented = {row[0]: row for row in table_rows("Settings")}
    ours = {k for k in properties if k not in SDK_BUILTINS and not k.startswith("flattening_")}
    assert set(documented) == ours
    for name, row in documented.items():
        assert (row[1] == "yes") == (name in TapHumaans.config_jsonschema.get("required", []))
        default = properties[name].get("default")
        assert row[2] == ("" if default is None else str(default)), name


def test_streams_table_matches_the_catalog():
    tap = TapHumaans(config={"api_token": "x"}, validate_config=False)
    documented = {row[0]: row for row in table_rows("Streams")}
    assert set(documented) == set(tap.streams)
    for name, stream in tap.streams.items():
        _, path, key, replication, scope = documented[name]
        assert path == "/api" + stream.path
        assert key == ", ".join(stream.primary_keys)
        expected = "full table" if stream.replication_key is None else "incremental (`updatedAt`)"
        assert replication == expected
        assert scope == (stream.required_scope or "private:read")
        assert re.fullmatch(r"[a-z_]+", name)
