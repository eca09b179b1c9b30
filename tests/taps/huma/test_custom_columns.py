"""tap-huma `user_details`: a typed `custom__<key>` column per custom field, discovered from
the users' details (the spec names no endpoint listing the fields), the raw `custom` object
kept; a field added in Huma between runs; privacy on the custom columns."""

from __future__ import annotations

import typing as t

import pytest

from human_sandbox.huma import HumaEmulator
from tap_huma.tap import TapHuma
from tests.support.helpers import run_cli, select_only, sync
from tests.support.registry import TAPS
from tests.taps.huma.expected import expected_records

HUMA = TAPS["huma"]
STREAM = "user_details"
#: The emulator's custom fields: column -> (JSON schema beyond the description, label, type).
TYPED = {
    "custom__commuteKm": ({"type": ["number", "null"]}, "Commute distance (km)", "decimal"),
    "custom__onCallRota": ({"type": ["boolean", "null"]}, "On-call rota", "boolean"),
    "custom__parkingSpot": ({"type": ["string", "null"]}, "Parking spot", "text"),
    "custom__portfolioUrl": ({"type": ["string", "null"]}, "Portfolio", "url"),
    "custom__remoteDaysPerWeek": (
        {"type": ["integer", "null"]},
        "Remote days per week",
        "number",
    ),
    "custom__securityTrainingDate": (
        {"type": ["string", "null"], "format": "date"},
        "Security training date",
        "localdate",
    ),
    "custom__tshirtSize": ({"type": ["string", "null"]}, "T-shirt size", "enum"),
}


@pytest.fixture
def huma() -> t.Iterator[HumaEmulator]:
    with HUMA.emulator() as emulator:
        yield emulator


def only(config: dict) -> dict:
    return select_only(TapHuma, config, {"users", STREAM})


def schema_of(result) -> dict:
    """The stream's SCHEMA (a child stream announces it again per parent: the same)."""
    schemas = [
        m["schema"] for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == STREAM
    ]
    assert schemas and all(s == schemas[0] for s in schemas)
    return schemas[0]


def custom_columns(schema: dict) -> dict[str, dict]:
    return {k: v for k, v in schema["properties"].items() if k.startswith("custom__")}


def test_discovery_makes_a_typed_column_per_custom_field(huma):
    schema = TapHuma(config=HUMA.config(huma)).streams[STREAM].schema
    assert custom_columns(schema) == {
        column: {
            **typed,
            "description": f'Custom field "{label}" (id {column[8:]}, type {field_type}): '
            f"the value of custom.{column[8:]}",
            "x-sensitivity": "pii",
        }
        for column, (typed, label, field_type) in TYPED.items()
    }
    assert "custom" in schema["properties"]  # the raw object stays
    assert list(schema["properties"])[-1] == "_extra"


def test_discovery_samples_the_first_users_details(huma):
    TapHuma(config=HUMA.config(huma)).streams[STREAM].schema  # noqa: B018
    asked = [(r.path, r.query) for r in huma.server.requests if not r.path.startswith("/auth/")]
    first = [u["id"] for u in huma.users[:5]]
    assert asked == [
        ("/users/me", {}),  # the connection check comes first
        ("/users", {"limit": ["5"], "offset": ["0"]}),
        *[(f"/users/{u}", {}) for u in first],
    ]


def test_custom_columns_hold_the_typed_values(huma):
    config = HUMA.config(huma)
    result = sync(TapHuma, config, catalog=only(config))
    rows = result.records[STREAM]
    assert rows == expected_records(huma)[STREAM]
    for column, kind in [
        ("custom__remoteDaysPerWeek", int),
        ("custom__commuteKm", float),
        ("custom__onCallRota", bool),
        ("custom__securityTrainingDate", str),
        ("custom__tshirtSize", str),
    ]:
        assert any(type(r[column]) is kind for r in rows), column


def test_a_field_added_between_runs_is_a_column_after_rediscovery(huma):
    config = HUMA.config(huma)
    catalog = only(config)
    users = [u["id"] for u in huma.users[:3]]
    huma.add_custom_field(
        "badgeNumber", "Badge number", "number", {users[0]: 4711, users[1]: "n/a"}
    )

    # the catalog of before: no column, the value in the raw object only
    before = sync(TapHuma, config, catalog=catalog)
    assert "custom__badgeNumber" not in schema_of(before)["properties"]
    row = next(r for r in before.records[STREAM] if r["id"] == users[0])
    assert row["custom"]["badgeNumber"]["value"] == 4711
    assert "custom__badgeNumber" not in row

    # rediscovered: a typed column, no code change
    after = sync(TapHuma, config, catalog=only(config))
    assert schema_of(after)["properties"]["custom__badgeNumber"]["type"] == ["integer", "null"]
    rows = {r["id"]: r for r in after.records[STREAM]}
    assert [rows[u]["custom__badgeNumber"] for u in users] == [4711, None, None]
    # a value that is not a whole number is null in its column, as sent in `custom`
    assert rows[users[1]]["custom"]["badgeNumber"]["value"] == "n/a"
    expected = expected_records(huma)[STREAM]
    expected[1]["custom__badgeNumber"] = None
    assert after.records[STREAM] == expected


def test_custom_columns_are_pii_unless_custom_field_sensitivity_says(huma):
    """By label or by key; the raw `custom` object is pii as a whole."""
    sensitivity = {"T-shirt size": "none", "commuteKm": "health"}
    config = {
        **HUMA.config(huma),
        "pii_policy": "drop",
        "custom_field_sensitivity": sensitivity,
    }
    result = sync(TapHuma, config, catalog=only(config))
    schema = schema_of(result)
    assert sorted(custom_columns(schema)) == ["custom__commuteKm", "custom__tshirtSize"]
    assert "custom" not in schema["properties"]
    expected = expected_records(huma)[STREAM]
    got = result.records[STREAM]
    assert [(r["custom__tshirtSize"], r["custom__commuteKm"]) for r in got] == [
        (r["custom__tshirtSize"], r["custom__commuteKm"]) for r in expected
    ]
    assert all("custom" not in r and "custom__parkingSpot" not in r for r in got)

    config = {**config, "health_policy": "drop"}
    result = sync(TapHuma, config, catalog=only(config))
    assert sorted(custom_columns(schema_of(result))) == ["custom__tshirtSize"]


@pytest.mark.parametrize("value", [{"Parking spot": "private"}, "pii"])
def test_a_bad_custom_field_sensitivity_is_one_line(tmp_path, huma, value):
    config = {**HUMA.config(huma), "custom_field_sensitivity": value}
    run = run_cli("tap-huma", tmp_path, config=config)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.error_lines and "custom_field_sensitivity" in run.error_lines[-1], run.stderr
