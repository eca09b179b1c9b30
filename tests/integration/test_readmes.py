"""Each tap's README tables and Meltano Hub definition say what the code does.

`scripts/readme_tables.py` generates both from the tap's `--about` and `--discover` output;
these tests fail when a README or hub file drifts from what the script generates now. The
fix is always the same: `uv run python scripts/readme_tables.py`, then commit the result.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts import readme_tables
from tests.support.helpers import ROOT

TAPS = readme_tables.taps()
MELTANO = ROOT / ".meltano-venv" / "bin" / "meltano"

# What the Hub's plugin-definition schema (meltano/hub, schemas/common/*.schema.json) and
# Meltano's own setting kinds accept.
HUB_REQUIRED = {"name", "namespace", "variant", "label"}
HUB_KINDS = {
    "string",
    "integer",
    "decimal",
    "boolean",
    "date_iso8601",
    "email",
    "file",
    "options",
    "object",
    "array",
    "oauth",
}
HUB_CAPABILITIES = {
    "properties",
    "catalog",
    "discover",
    "state",
    "about",
    "stream-maps",
    "schema-flattening",
    "activate-version",
    "batch",
    "test",
    "log-based",
    "structured-logging",
}


def info(tap: str) -> readme_tables.TapInfo:
    """The tap's --about and --discover output (collected once: `collect` caches it)."""
    return readme_tables.collect(tap)


def test_every_tap_folder_is_documented():
    assert TAPS == ["tap-huma", "tap-humaans", "tap-humanapi", "tap-humanos", "tap-openhuman"]
    assert set(readme_tables.FACTS) == set(TAPS)


@pytest.mark.parametrize("tap", TAPS)
def test_readme_and_hub_file_match_the_code(tap):
    diffs = readme_tables.check(tap)
    assert not diffs, (
        "Out of date; run `uv run python scripts/readme_tables.py` and commit:\n" + "".join(diffs)
    )


def test_root_readme_taps_table_matches_the_code():
    diffs = readme_tables.drift(readme_tables.render_root([info(tap) for tap in TAPS]))
    assert not diffs, (
        "Out of date; run `uv run python scripts/readme_tables.py` and commit:\n" + "".join(diffs)
    )


def test_root_readme_installs_from_the_published_repository():
    """The install examples name the repository the hub files point at."""
    text = (ROOT / "README.md").read_text()
    assert f"git+{readme_tables.REPO_URL}.git#subdirectory=shared" in text
    assert f"{readme_tables.REPO_URL.replace('github.com', 'raw.githubusercontent.com')}/" in text


@pytest.mark.parametrize("tap", TAPS)
def test_the_tables_cover_every_setting_and_stream(tap):
    """The generated tables are complete (a guard on the generator itself)."""
    collected = info(tap)
    text = (ROOT / tap / "README.md").read_text()
    settings = text.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    streams = text.split("<!-- streams:start -->")[1].split("<!-- streams:end -->")[0]
    own = set(collected.about["settings"]["properties"]) - collected.builtin_settings
    assert own
    for name in own:
        assert f"| `{name}` |" in settings, name
    for shapes in collected.shapes.values():
        assert set(shapes)
        for name in shapes:
            assert f"| `{name}` |" in streams, name


def hand_edited_copy(tap: str, tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the tap's README and hub file under tmp_path, with `old` changed to `new`."""
    folder = tmp_path / tap
    folder.mkdir()
    for name in ("README.md", "meltano-hub.yml"):
        shutil.copy(ROOT / tap / name, folder / name)
    readme = folder / "README.md"
    text = readme.read_text()
    assert old in text
    readme.write_text(text.replace(old, new, 1))
    return readme


def test_a_hand_edited_table_fails_the_check(tmp_path):
    """The drift check is real: a changed default in the settings table is caught, and the
    script's --check names the README, shows the line, and exits 1."""
    old = "| `requests_per_second` |  |  | `5` |"
    readme = hand_edited_copy("tap-huma", tmp_path, old, "| `requests_per_second` |  |  | `50` |")

    diffs = readme_tables.drift(readme_tables.render(info("tap-huma"), tmp_path), tmp_path)
    assert len(diffs) == 1
    assert "tap-huma/README.md" in diffs[0]
    assert f"+{old}" in diffs[0]

    script = ROOT / "scripts" / "readme_tables.py"
    done = subprocess.run(
        [sys.executable, script, "--check", "--tap", "tap-huma", "--root", tmp_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "--- tap-huma/README.md (as committed)" in done.stdout
    assert "Out of date: tap-huma/README.md" in done.stderr

    # What write mode would put there is the README as committed.
    repaired = readme_tables.render(info("tap-huma"), tmp_path)[readme]
    assert repaired == (ROOT / "tap-huma" / "README.md").read_text()


def test_a_hand_edited_streams_row_and_hub_file_fail_the_check(tmp_path):
    hand_edited_copy("tap-humanos", tmp_path, "| `requests` | `GET /request` | `id` |", "| x |")
    hub = tmp_path / "tap-humanos" / "meltano-hub.yml"
    hub.write_text(hub.read_text().replace("sensitive: true", "sensitive: false", 1))

    diffs = readme_tables.drift(readme_tables.render(info("tap-humanos"), tmp_path), tmp_path)
    assert [d.split("\n", 1)[0] for d in diffs] == [
        "--- tap-humanos/README.md (as committed)",
        "--- tap-humanos/meltano-hub.yml (as committed)",
    ]


def test_only_the_marked_blocks_change():
    text = (
        "# tap\n\nProse before.\n\n<!-- streams:start -->\n| old | table |\n"
        "<!-- streams:end -->\n\nProse after, with a | pipe.\n"
    )
    updated = readme_tables.replace_block(text, "streams", "| new |", "README.md")
    assert updated.startswith("# tap\n\nProse before.\n\n<!-- streams:start -->\n")
    assert updated.endswith("| new |\n<!-- streams:end -->\n\nProse after, with a | pipe.\n")
    assert "| old | table |" not in updated
    assert readme_tables.replace_block(updated, "streams", "| new |", "README.md") == updated


def test_a_readme_without_markers_is_an_error_naming_it():
    with pytest.raises(readme_tables.DriftError, match=r"tap-x/README.md: .*streams:start"):
        readme_tables.replace_block("# tap-x\n", "streams", "| t |", "tap-x/README.md")


@pytest.mark.parametrize("tap", TAPS)
def test_hub_file_is_a_hub_extractor_definition(tap):
    definition = yaml.safe_load((ROOT / tap / "meltano-hub.yml").read_text())
    about = info(tap).about
    properties = about["settings"]["properties"]

    assert definition.keys() >= HUB_REQUIRED
    assert definition["name"] == definition["executable"] == tap
    assert definition["namespace"] == tap.replace("-", "_")
    assert f"#subdirectory={tap}" in definition["pip_url"]
    assert "#subdirectory=shared" in definition["pip_url"]  # taps-shared is not on PyPI
    assert set(definition["capabilities"]) <= HUB_CAPABILITIES
    assert definition["capabilities"] == about["capabilities"]
    assert definition["maintenance_status"] == "active"

    settings = {setting["name"]: setting for setting in definition["settings"]}
    assert list(settings) == list(properties)
    for name, setting in settings.items():
        spec = properties[name]
        assert setting["kind"] in HUB_KINDS, name
        assert setting["label"] and "description" in setting, name
        assert setting.get("sensitive", False) == spec.get("secret", False), name
        assert setting.get("value") == spec.get("default"), name
        if spec.get("enum"):
            assert [option["value"] for option in setting["options"]] == spec["enum"]
    for group in definition["settings_group_validation"]:
        assert set(group) <= set(settings)
    if about["settings"].get("required"):
        assert definition["settings_group_validation"] == [about["settings"]["required"]]


def test_hub_kinds_follow_the_json_types():
    kind = readme_tables.kind_of
    assert kind("x", {"type": ["string", "null"]}) == "string"
    assert kind("x", {"type": ["integer", "null"]}) == "integer"
    assert kind("x", {"type": ["number", "null"]}) == "decimal"
    assert kind("x", {"type": ["boolean", "null"]}) == "boolean"
    assert kind("x", {"type": ["array", "null"]}) == "array"
    assert kind("x", {"type": ["object", "null"]}) == "object"
    assert kind("x", {"type": ["string"], "enum": ["a", "b"]}) == "options"
    assert kind("x", {"type": ["string"], "format": "date-time"}) == "date_iso8601"
    assert kind("x", {"type": ["string"], "format": "date"}) == "date_iso8601"
    assert kind("start_date", {"type": ["string", "null"]}) == "date_iso8601"


@pytest.mark.skipif(not MELTANO.exists(), reason="no Meltano here (make demo installs it)")
def test_meltano_adds_each_tap_from_its_hub_file(tmp_path):
    """`meltano add --from-ref tap-<x>/meltano-hub.yml` is how a team adopts a tap."""
    (tmp_path / "meltano.yml").write_text(
        "project_id: hub-file-test\nsend_anonymous_usage_stats: false\nplugins: {}\n"
    )
    for tap in TAPS:
        hub_file = ROOT / tap / "meltano-hub.yml"
        add = ["add", "--plugin-type", "extractor", tap, "--no-install", "--from-ref", hub_file]
        subprocess.run([MELTANO, *add], cwd=tmp_path, capture_output=True, check=True)
    project = yaml.safe_load((tmp_path / "meltano.yml").read_text())
    added = {plugin["name"]: plugin for plugin in project["plugins"]["extractors"]}
    assert set(added) == set(TAPS)
    for tap in TAPS:
        hub = yaml.safe_load((ROOT / tap / "meltano-hub.yml").read_text())
        assert added[tap]["pip_url"] == hub["pip_url"]
        assert [s["name"] for s in added[tap]["settings"]] == [s["name"] for s in hub["settings"]]
