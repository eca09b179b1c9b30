"""Nothing the API sends is dropped or rejected, for every tap: its emulator in drift mode
(`human_sandbox.drift`) sends fields no schema declares, at the top and nested, and values
outside every documented list; each undeclared field arrives in `_extra` at its path, and
every record validates against the SCHEMA the tap emitted."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import typing as t

import pytest
from jsonschema import Draft7Validator

from human_sandbox.drift import PREFIX
from human_sandbox.humaans import STREAM_PATHS, HumaansEmulator
from tap_humaans.tap import TapHumaans
from taps_shared.errors import SchemaDriftError
from tests.shared.test_conform import deselect, records_and_states, sdk_path
from tests.support import meltano_cli
from tests.support.helpers import ROOT, SyncResult, select_only, sync
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.registry import TAPS, TapSpec
from tests.support.schema_check import FORMATS
from tests.taps.huma.expected import expected_records as huma_expected
from tests.taps.humanapi.test_tap import expected as humanapi_expected
from tests.taps.humanos.test_tap import expected as humanos_expected

#: What each tap must emit from its emulator's data, by stream (records as served).
EXPECTED: dict[str, t.Callable[[t.Any], dict[str, list[dict]]]] = {
    "humaans": lambda emulator: {s: emulator.data[p] for s, p in STREAM_PATHS.items()},
    "huma": huma_expected,
    "humanos": humanos_expected,
    "openhuman": lambda emulator: {**emulator.data, **emulator.backend.data},
    "humanapi": lambda emulator: {
        s: list(rows.values()) for s, rows in humanapi_expected(emulator).items()
    },
}
KNOWN = re.compile(r"Known values: (.+)\.$")
TARGET = ROOT / ".meltano/loaders/target-postgres/venv/bin/target-postgres"

Where = tuple[t.Any, ...]


def undeclared(value: t.Any, path: Where = ()) -> t.Iterator[tuple[Where, t.Any]]:
    """(path, value) of every drift field in a record or an `_extra` (list items by index)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith(PREFIX):
                yield (*path, key), item
            else:
                yield from undeclared(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from undeclared(item, (*path, index))


def leaves(extra: t.Any, path: Where = ()) -> t.Iterator[Where]:
    """Every path in an `_extra` that leads to something other than a drift field."""
    if isinstance(extra, dict):
        for key, item in extra.items():
            if not key.startswith(PREFIX):
                yield from leaves(item, (*path, key)) if isinstance(item, dict | list) else [path]
    elif isinstance(extra, list):
        for index, item in enumerate(extra):
            if item is not None:
                yield from leaves(item, (*path, index))


def object_lists(schema: dict) -> bool:
    """Whether a schema declares a list of objects with properties, at any depth."""
    items = schema.get("items")
    if isinstance(items, dict) and "properties" in items:
        return True
    children = [
        *schema.get("properties", {}).values(),
        *([items] if isinstance(items, dict) else []),
    ]
    return any(object_lists(child) for child in children)


def schemas(result: SyncResult) -> dict[str, dict]:
    return {m["stream"]: m for m in result.messages if m["type"] == "SCHEMA"}


def tally(records: dict[str, list[dict]], keys: dict[str, list[str]], where: str):
    """Each drift field as (stream, record key, path, value), with how often it occurs."""
    out: collections.Counter = collections.Counter()
    for stream, rows in records.items():
        for row in rows:
            key = tuple(row[k] for k in keys[stream])
            source = row.get("_extra") if where == "extra" else row
            for path, value in undeclared(source):
                out[stream, key, path, json.dumps(value, sort_keys=True)] += 1
    return out


def values_at(value: t.Any, path: list[str]) -> t.Iterator[t.Any]:
    """The values at a schema path (`a.b[].c`) of a record, through every list item."""
    if not path:
        yield value
        return
    head, many = path[0].removesuffix("[]"), path[0].endswith("[]")
    inner = value.get(head) if isinstance(value, dict) else None
    for item in (inner if isinstance(inner, list) else []) if many else [inner]:
        yield from values_at(item, path[1:])


def enum_like(schema: dict, path: str = "") -> t.Iterator[tuple[str, set[str]]]:
    """(path, known values) of every property whose description lists its known values."""
    for name, prop in schema.get("properties", {}).items():
        here = f"{path}.{name}" if path else name
        found = KNOWN.search(prop.get("description", ""))
        if found:
            yield here, set(found.group(1).split(", "))
        yield from enum_like(prop, here)
        if isinstance(prop.get("items"), dict):
            yield from enum_like(prop["items"], here + "[]")


@pytest.fixture(scope="module", params=TAPS.values(), ids=lambda case: case.name)
def drifted(request) -> tuple[TapSpec, SyncResult, dict[str, list[dict]]]:
    """One run of each tap against its emulator in drift mode, and what it must emit."""
    case = request.param
    with case.emulator("engine", drift=True) as emulator:
        result = sync(case.tap_class, case.config(emulator, "engine"))
        expected = EXPECTED[case.name](emulator)
    return case, result, expected


def test_every_undeclared_field_arrives_in_extra_at_its_path(drifted):
    case, result, expected = drifted
    keys = {name: m["key_properties"] for name, m in schemas(result).items()}
    sent = tally(expected, keys, "record")
    arrived = tally(result.records, keys, "extra")
    assert sent == arrived
    paths = [path for _, _, path, _ in sent]
    assert any(len(p) == 1 for p in paths) and any(len(p) > 1 for p in paths)  # top, nested
    in_lists = any(isinstance(part, int) for p in paths for part in p)
    assert in_lists == any(map(object_lists, (m["schema"] for m in schemas(result).values())))
    for stream, rows in result.records.items():
        for row in rows:
            declared = {k: v for k, v in row.items() if k != "_extra"}
            assert not list(undeclared(declared)), (stream, row)
            assert not list(leaves(row["_extra"])), (stream, row["_extra"])
    print(
        f"{case.name}: {sum(sent.values())} undeclared fields sent,",
        f"{sum(arrived.values())} in _extra",
    )


def test_every_record_validates_against_the_schema_the_tap_emitted(drifted):
    case, result, _ = drifted
    for stream, message in schemas(result).items():
        check = Draft7Validator(message["schema"], format_checker=FORMATS)
        for row in result.records.get(stream, []):
            errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in check.iter_errors(row)]
            assert not errors, (case.name, stream, errors)


def test_every_enum_like_field_was_sent_a_value_outside_its_list(drifted):
    """Every field with a list of known values that the emulator fills is sent values
    outside it (Huma's SimpleUser inside a team's members, say, is never filled)."""
    case, result, _ = drifted
    missed = []
    exercised = 0
    for stream, message in schemas(result).items():
        for path, known in enum_like(message["schema"]):
            seen = {
                value
                for row in result.records.get(stream, [])
                for value in values_at(row, path.split("."))
                if value is not None
            }
            exercised += bool(seen)
            if seen and not seen - known:
                missed.append((stream, path, sorted(seen)))
    assert not missed, (case.name, missed)
    assert exercised or case.name == "humanapi", case.name  # its docs list no values


def select_all(case: TapSpec, config: dict) -> dict:
    """Every stream selected; humanos without `w3cCredential`, which the SDK's own
    conformance cannot pass (tests/shared/test_conform.py)."""
    catalog = case.tap_class(config=config, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        entry["metadata"][0]["metadata"]["selected"] = True
    if case.name == "humanos":
        deselect(catalog, "credentials", "w3cCredential")
        deselect(catalog, "credential_details", "w3cCredential", "credential")
    return catalog


def without_extra(result: SyncResult) -> dict[str, list[dict]]:
    return {
        s: [{k: v for k, v in r.items() if k != "_extra"} for r in rows]
        for s, rows in result.records.items()
    }


@pytest.mark.parametrize("case", TAPS.values(), ids=lambda case: case.name)
def test_extra_fields_drop_is_the_sdk_output_and_keep_only_adds_extra(case, monkeypatch):
    with case.emulator("engine", drift=True) as emulator:
        config = case.config(emulator, "engine", max_parallel_requests=1)
        catalog = select_all(case, config)
        keep = sync(case.tap_class, config, catalog=catalog)
        drop = sync(case.tap_class, {**config, "extra_fields": "drop"}, catalog=catalog)
        sdk_path(monkeypatch)
        sdk = sync(case.tap_class, {**config, "extra_fields": "drop"}, catalog=catalog)
    assert records_and_states(drop) == records_and_states(sdk)  # today's output
    assert not any("_extra" in r for rows in drop.records.values() for r in rows)
    assert without_extra(keep) == drop.records  # declared fields untouched
    assert any(r["_extra"] for rows in keep.records.values() for r in rows)


def humaans_people(emulator, **settings: t.Any) -> tuple[dict, dict]:
    config = TAPS["humaans"].config(emulator, "engine", **settings)
    return config, select_only(TapHumaans, config, {"people"})


def test_on_schema_drift_fail_still_stops_at_the_first_undeclared_field():
    with HumaansEmulator(seed=7, size=30, drift=True) as emulator:
        config, catalog = humaans_people(emulator, on_schema_drift="fail")
        with pytest.raises(SchemaDriftError) as info:
            sync(TapHumaans, config, catalog=catalog)
    assert str(info.value) == (
        "Stream people: field 'driftNote' is not in the schema (on_schema_drift=fail)"
    )


def test_a_stream_map_can_read_extra_and_drop_it():
    maps = {
        "people": {
            "drift_note": "_extra.get('driftNote') if _extra else None",
            "_extra": "__NULL__",
        }
    }
    with HumaansEmulator(seed=7, size=30, drift=True) as emulator:
        config, catalog = humaans_people(emulator, stream_maps=maps)
        result = sync(TapHumaans, config, catalog=catalog)
    notes = {p["id"]: p.get("driftNote") for p in emulator.data["people"]}
    assert sum(map(bool, notes.values())) == 10
    assert {p["id"]: p["drift_note"] for p in result.records["people"]} == notes
    assert not any("_extra" in p for p in result.records["people"])
    (message,) = [m for m in result.messages if m["type"] == "SCHEMA"]
    assert "drift_note" in message["schema"]["properties"]
    assert "_extra" not in message["schema"]["properties"]


def test_deselecting_extra_in_the_catalog_drops_the_undeclared_fields():
    with HumaansEmulator(seed=7, size=30, drift=True) as emulator:
        config, catalog = humaans_people(emulator)
        deselected = sync(TapHumaans, config, catalog=deselect(catalog, "people", "_extra"))
        dropped = sync(TapHumaans, {**config, "extra_fields": "drop"}, catalog=catalog)
    assert deselected.records == dropped.records
    assert not any("_extra" in p for p in deselected.records["people"])
    (message,) = [m for m in deselected.messages if m["type"] == "SCHEMA"]
    assert "_extra" not in message["schema"]["properties"]


@pytest.mark.parametrize("case", TAPS.values(), ids=lambda case: case.name)
def test_serial_and_parallel_runs_emit_the_same_extra(case):
    small = {"page_size": 7} if case.name == "humaans" else {}  # many pages, fetched ahead
    with case.emulator("engine", drift=True) as emulator:
        runs = [
            sync(case.tap_class, case.config(emulator, "engine", max_parallel_requests=n, **small))
            for n in (1, 4)
        ]
    assert records_and_states(runs[0]) == records_and_states(runs[1])
    assert any(r["_extra"] for rows in runs[0].records.values() for r in rows)


@pytest.fixture(scope="module")
def pg() -> t.Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    missing = None if TARGET.is_file() else f"{TARGET} is not installed"
    if missing is None and bin_dir is None:
        missing = "no PostgreSQL server binaries"
    meltano_cli.require(missing)
    assert bin_dir is not None
    with PostgresServer(bin_dir) as server:
        yield server


def test_postgres_stores_extra_as_jsonb(drifted, pg, tmp_path):
    """target-postgres, as `meltano run` starts it, loads each tap's drift-mode run: every
    table has a jsonb `_extra` holding what the tap emitted there."""
    case, result, _ = drifted
    schema = f"drift_{case.name}"
    config = tmp_path / "target.json"
    settings = {k.removeprefix("TARGET_POSTGRES_").lower(): v for k, v in pg.env.items()}
    settings |= {"port": pg.port, "default_target_schema": schema}
    config.write_text(json.dumps(settings))
    lines = "".join(json.dumps(m) + "\n" for m in result.messages)
    done = subprocess.run(
        [str(TARGET), "--config", str(config)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    keys = {name: m["key_properties"] for name, m in schemas(result).items()}
    sql = (
        "SELECT table_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND column_name = '_extra'"
    )
    assert {r["table_name"]: r["data_type"] for r in pg.rows(sql)} == dict.fromkeys(
        result.records, "jsonb"
    )
    for stream, rows in result.records.items():
        cols = ", ".join(f'"{k}"' for k in [*keys[stream], "_extra"])
        stored = pg.rows(f"SELECT {cols} FROM {schema}.{stream}")
        by_key = {tuple(str(r[k]) for k in keys[stream]): r["_extra"] for r in stored}
        emitted = {tuple(str(r[k]) for k in keys[stream]): r["_extra"] for r in rows}
        assert by_key == emitted, (case.name, stream)
