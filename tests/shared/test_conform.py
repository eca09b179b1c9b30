"""The compiled conformer emits what the SDK's own selection and conformance passes emit,
and reports schema drift the SDK passes over in silence."""

from __future__ import annotations

import logging
import typing as t

import pytest
from singer_sdk.streams.core import Stream

from tap_humaans.tap import TapHumaans
from taps_shared.conform import compile_conformer
from taps_shared.errors import ResponseError, SchemaDriftError
from taps_shared.streams import HumanRESTStream
from taps_shared.streams.conformed import ConformedStream
from tests.support.helpers import select_only, sync
from tests.support.registry import TAPS

HUMAANS = TAPS["humaans"]


def sdk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain SDK record path: its selection pass and its recursive conformance (the
    keys of deletes tracking still noted, as they are not the SDK's business)."""

    def process(self: t.Any, record: dict, *args: t.Any, **kwargs: t.Any) -> None:
        self.record_processed(record)
        Stream._process_record(self, record, *args, **kwargs)

    monkeypatch.setattr(HumanRESTStream, "_process_record", process)
    monkeypatch.setattr(ConformedStream, "_write_record_message", Stream._write_record_message)


def without_signposts(value: t.Any) -> t.Any:
    """State without `replication_key_signpost`: the wall-clock time of the run."""
    if isinstance(value, dict):
        return {
            k: without_signposts(v) for k, v in value.items() if k != "replication_key_signpost"
        }
    if isinstance(value, list):
        return [without_signposts(v) for v in value]
    return value


def records_and_states(result) -> tuple[dict, list]:
    return result.records, without_signposts(result.states)


def deselect(catalog: dict, stream: str, *properties: str) -> dict:
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    for meta in entry["metadata"]:
        if meta["breadcrumb"] in [["properties", name] for name in properties]:
            meta["metadata"]["selected"] = False
    return catalog


def without_extra(result) -> dict:
    """The records without `_extra`, which holds what the SDK path drops: checking it was
    null, as it is for records that have every field declared."""
    out = {}
    for stream, records in result.records.items():
        assert [record.pop("_extra") for record in records] == [None] * len(records), stream
        out[stream] = records
    return out


@pytest.mark.parametrize("extra_fields", ["drop", "keep"])
@pytest.mark.parametrize("case", TAPS.values(), ids=lambda case: case.name)
def test_every_tap_emits_what_the_sdk_path_emits(case, extra_fields, monkeypatch):
    with case.emulator("engine") as emulator:
        config = case.config(emulator, "engine", max_parallel_requests=1, extra_fields=extra_fields)
        catalog = case.tap_class(config=config, validate_config=False).catalog_dict
        for entry in catalog["streams"]:
            entry["metadata"][0]["metadata"]["selected"] = True
        if case.name == "humanos":
            # The SDK's conformance raises KeyError('properties') on an array whose object
            # items declare no properties (a W3C credential's @context, evidences, proofs):
            # compare everything else.
            deselect(catalog, "credentials", "w3cCredential")
            deselect(catalog, "credential_details", "w3cCredential", "credential")
        ours = sync(case.tap_class, config, catalog=catalog)
        sdk_path(monkeypatch)
        theirs = sync(case.tap_class, config, catalog=catalog)
    assert sum(map(len, ours.records.values())) > 50
    if extra_fields == "keep":
        assert without_extra(ours) == theirs.records
    assert records_and_states(ours) == records_and_states(theirs)


def drifted_humaans() -> t.Any:
    """Humaans people with undeclared fields (top level and nested), booleans sent as
    numbers and strings, and a value of the wrong type: before the first request."""
    emulator = HUMAANS.emulator("engine", people_only=True)
    people = emulator.data["people"]
    people[1]["legacyGrade"] = "B2"
    people[2]["isVerified"] = 1
    people[3]["isVerified"] = 0
    people[4]["demo"] = "no"
    people[5]["workingDays"] = [{"day": "monday", "hours": 8}, {"day": "friday"}]
    people[6]["firstName"] = 42
    return emulator


def test_drift_and_deselected_fields_are_conformed_as_the_sdk_does(monkeypatch):
    with drifted_humaans() as emulator:
        config = HUMAANS.config(emulator, "engine", max_parallel_requests=1, extra_fields="drop")
        catalog = select_only(TapHumaans, config, {"people"})
        deselect(catalog, "people", "lastName", "teams")
        ours = sync(TapHumaans, config, catalog=catalog)
        sdk_path(monkeypatch)
        theirs = sync(TapHumaans, config, catalog=catalog)
    assert records_and_states(ours) == records_and_states(theirs)
    by_id = {person["id"]: person for person in ours.records["people"]}
    people = [by_id[person["id"]] for person in emulator.data["people"]]
    assert "legacyGrade" not in people[1] and "lastName" not in people[1]
    assert "teams" not in people[1]
    assert (people[2]["isVerified"], people[3]["isVerified"], people[4]["demo"]) == (
        True,
        False,
        True,  # the SDK's coercion: "no" != 0
    )
    assert people[5]["workingDays"] == [{"day": "monday"}, {"day": "friday"}]
    assert people[6]["firstName"] == 42  # kept as it came


def test_drift_is_reported_once_per_stream_at_the_end(caplog):
    with drifted_humaans() as emulator, caplog.at_level(logging.WARNING):
        config = HUMAANS.config(emulator, "engine")
        sync(TapHumaans, config, catalog=select_only(TapHumaans, config, {"people"}))
    drift = [r.getMessage() for r in caplog.records if "schema drift" in r.getMessage()]
    assert drift == [
        "Stream people: schema drift: 2 undeclared field(s) in records: legacyGrade (1), "
        "workingDays[].hours (1); 3 field(s) with a type the schema lacks: demo (string), "
        "firstName (integer), isVerified (integer)"
    ]


def test_on_schema_drift_fail_stops_at_the_first_drifting_record():
    what = {
        1: "field 'legacyGrade' is not in the schema",
        2: "field 'isVerified' has a integer value",
        3: "field 'isVerified' has a integer value",
        4: "field 'demo' has a string value",
        5: "field 'workingDays[].hours' is not in the schema",
        6: "field 'firstName' has a integer value",
    }
    with drifted_humaans() as emulator:
        people = emulator.data["people"]
        first = min(what, key=lambda i: (people[i]["updatedAt"], people[i]["id"]))
        config = HUMAANS.config(emulator, "engine", on_schema_drift="fail")
        with pytest.raises(SchemaDriftError) as info:
            sync(TapHumaans, config, catalog=select_only(TapHumaans, config, {"people"}))
    assert str(info.value) == f"Stream people: {what[first]} (on_schema_drift=fail)"


SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "flag": {"type": ["boolean", "null"]},
        "tags": {"type": "array", "items": {"type": "boolean"}},
        "meta": {"type": "object", "properties": {"a": {"type": "integer"}}},
    },
}


def test_a_record_without_its_primary_key_is_an_error_naming_the_stream():
    conform, _ = compile_conformer("widgets", SCHEMA, primary_keys=["id"])
    assert conform({"id": "x"}) == {"id": "x"}
    for record in ({"flag": True}, {"id": None}):
        with pytest.raises(
            ResponseError, match=r"^Stream widgets: a record has no primary key 'id'$"
        ):
            conform(record)


def test_records_of_a_known_shape_pass_through_untouched():
    conform, drift = compile_conformer("widgets", SCHEMA)
    record = {"id": "x", "flag": None, "meta": {"a": 1}}
    assert conform(record) is record
    assert conform({"id": "y", "tags": [1, 0, None], "meta": {"a": 1, "b": 2}}) == {
        "id": "y",
        "tags": [True, False, None],
        "meta": {"a": 1},
    }
    assert dict(drift.unknown) == {"meta.b": 1}


def test_undeclared_fields_are_kept_where_the_schema_allows_more():
    conform, drift = compile_conformer("widgets", {**SCHEMA, "additionalProperties": True})
    assert conform({"id": "x", "extra": 1}) == {"id": "x", "extra": 1}
    assert dict(drift.unknown) == {"extra": 1}


def test_a_list_of_small_objects_is_conformed_in_one_pass_as_item_by_item():
    """Items of a known shape are passed over in the list's own loop; the others go through
    the item conformer: the list, its `_extra` and the drift are those of item by item."""
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "_extra": {"type": ["object", "null"]},
            "days": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"day": {"type": "string"}, "on": {"type": "boolean"}},
                },
            },
        },
    }
    conform, drift = compile_conformer("widgets", schema)
    plain = [{"day": "mon"}, {"day": "tue"}]
    record = {"id": "a", "days": plain}
    assert conform(record)["days"] is plain  # nothing to change: the same list
    days = [{"day": "mon"}, {"day": 1}, {"day": "wed", "on": 0}, {"day": "thu", "hours": 8}]
    assert conform({"id": "b", "days": [*plain, *days]}) == {
        "id": "b",
        "days": [*plain, {"day": "mon"}, {"day": 1}, {"day": "wed", "on": False}, {"day": "thu"}],
        "_extra": {"days": [None, None, None, None, None, {"hours": 8}]},
    }
    assert dict(drift.unknown) == {"days[].hours": 1}
    assert drift.mismatched == {"days[].day": "integer", "days[].on": "integer"}
