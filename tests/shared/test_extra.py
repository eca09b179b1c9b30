"""`_extra`: every field a record has that its schema does not declare, at its path."""

from __future__ import annotations

import copy

import pytest
from singer_sdk.singerlib.catalog import SelectionMask

from taps_shared.conform import compile_conformer
from taps_shared.errors import SchemaDriftError
from taps_shared.schemas import EXTRA_PROPERTY, TOMBSTONE_PROPERTY, complete_schema

SCHEMA = complete_schema(
    {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "flag": {"type": ["boolean", "null"]},
            "photo": {
                "type": ["object", "null"],
                "properties": {
                    "id": {"type": ["string", "null"]},
                    "sizes": {
                        "type": ["object", "null"],
                        "properties": {"64": {"type": ["string", "null"]}},
                    },
                },
            },
            "days": {
                "type": ["array", "null"],
                "items": {"type": ["object", "null"], "properties": {"day": {"type": "string"}}},
            },
            "tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
        },
    }
)

DRIFTED = {
    "id": "p1",
    "flag": 1,
    "grade": "B2",
    "photo": {"id": "f1", "alt": "me", "sizes": {"64": "u", "2048": "big"}},
    "days": [{"day": "mon"}, {"day": "tue"}, {"day": "wed", "note": "half", "hours": 4}, None],
    "tags": ["a"],
    "team": {"name": "Data", "members": [{"id": 1}]},
}


def test_undeclared_fields_go_to_extra_at_their_path_and_declared_ones_stay():
    conform, drift = compile_conformer("people", SCHEMA, primary_keys=["id"])
    record = conform(copy.deepcopy(DRIFTED))
    assert record == {
        "id": "p1",
        "flag": True,
        "photo": {"id": "f1", "sizes": {"64": "u"}},
        "days": [{"day": "mon"}, {"day": "tue"}, {"day": "wed"}, None],
        "tags": ["a"],
        "_extra": {
            "grade": "B2",
            "team": {"name": "Data", "members": [{"id": 1}]},  # an undeclared object, whole
            "photo": {"alt": "me", "sizes": {"2048": "big"}},
            "days": [None, None, {"note": "half", "hours": 4}, None],  # as long as the list
        },
    }
    assert dict(drift.unknown) == {
        "grade": 1,
        "team": 1,
        "photo.alt": 1,
        "photo.sizes.2048": 1,
        "days[].note": 1,
        "days[].hours": 1,
    }


def test_a_record_with_nothing_undeclared_has_extra_null_and_is_not_copied():
    conform, drift = compile_conformer("people", SCHEMA, primary_keys=["id"])
    for _ in range(2):  # the shape learnt, then the plan reused
        record = {"id": "p2", "flag": None, "photo": {"id": "f2"}, "days": [{"day": "mon"}]}
        days = record["days"]
        out = conform(record)
        assert out is record and out["days"] is days
        assert out == {
            "id": "p2",
            "flag": None,
            "photo": {"id": "f2"},
            "days": [{"day": "mon"}],
            "_extra": None,
        }
    assert not drift


def test_records_of_one_shape_each_get_their_own_extra():
    conform, drift = compile_conformer("people", SCHEMA)
    first = conform({"id": "a", "grade": "B1", "days": [{"day": "mon", "note": "x"}]})
    second = conform({"id": "b", "grade": "C3", "days": [{"day": "tue"}]})
    assert first["_extra"] == {"grade": "B1", "days": [{"note": "x"}]}
    assert second["_extra"] == {"grade": "C3"}
    assert dict(drift.unknown) == {"grade": 2, "days[].note": 1}


def test_extra_fields_drop_drops_them_and_adds_no_extra():
    conform, drift = compile_conformer("people", SCHEMA, extra_fields="drop")
    record = conform(copy.deepcopy(DRIFTED))
    assert record == {
        "id": "p1",
        "flag": True,
        "photo": {"id": "f1", "sizes": {"64": "u"}},
        "days": [{"day": "mon"}, {"day": "tue"}, {"day": "wed"}, None],
        "tags": ["a"],
    }
    assert sum(drift.unknown.values()) == 6  # still reported


def test_without_extra_in_the_schema_or_selected_undeclared_fields_are_dropped():
    bare = copy.deepcopy(SCHEMA)
    del bare["properties"]["_extra"]
    mask = SelectionMask({(): True, ("properties", "_extra"): False})
    undeclared = {"id": "p3", "grade": "B2", "days": [{"day": "mon", "note": "x"}]}
    dropped = {"id": "p3", "days": [{"day": "mon"}]}
    conform, _ = compile_conformer("people", bare)
    assert conform(copy.deepcopy(undeclared)) == dropped
    deselected, _ = compile_conformer("people", SCHEMA, mask=mask)
    assert deselected(copy.deepcopy(undeclared)) == dropped


def test_on_schema_drift_fail_still_stops_at_the_first_undeclared_field():
    conform, _ = compile_conformer("people", SCHEMA, on_drift="fail")
    assert conform({"id": "ok", "days": [{"day": "mon"}]})["_extra"] is None
    with pytest.raises(SchemaDriftError, match=r"^Stream people: field 'days\[\]\.note' is"):
        conform({"id": "p4", "days": [{"day": "mon", "note": "x"}]})


def test_every_schema_a_tap_loads_declares_extra_as_an_open_object():
    assert complete_schema({"properties": {"id": {"type": "string"}}})["properties"] == {
        "id": {"type": "string"},
        "_extra": EXTRA_PROPERTY,
        "_sdc_deleted_at": TOMBSTONE_PROPERTY,
    }
    assert TOMBSTONE_PROPERTY["type"] == ["string", "null"]
    assert EXTRA_PROPERTY["type"] == ["object", "null"]
    assert EXTRA_PROPERTY["additionalProperties"] is True
