"""tap-humaans `people_custom`: custom fields as typed columns, one row per person.

Its columns come from `GET /custom-fields` at discovery, its rows from `GET /custom-values`:
exact rows, the typed schema, exact incremental state (a person's whole row again when one
of its values changed, nothing skipped when values change during the sync), a field added
or deleted in Humaans between runs, and the privacy settings on the custom columns."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import io
import json
import signal
from unittest.mock import ANY

import pytest

from human_sandbox.humaans import HumaansEmulator
from tap_humaans.people_custom import PeopleCustomStream
from tap_humaans.tap import TapHumaans
from taps_shared import custom_fields
from taps_shared.streams.deletes import encode_ledger
from tests.support.deletes import DeleteRuns, Interceptor
from tests.support.helpers import SyncResult, parse_messages, run_cli, select_only, sync
from tests.support.registry import TAPS
from tests.taps.humaans.expected import COLUMNS, people_custom
from tests.taps.humaans.sweeps import is_sweep, listing_requests

STREAM = "people_custom"
#: The emulator's fields: column -> (JSON schema beyond its description, field type).
TYPED = {
    "t_shirt_size": ({"type": ["string", "null"]}, "select"),
    "desk_number": ({"type": ["string", "null"]}, "text"),
    "laptop_os_preference": ({"type": ["string", "null"]}, "select"),
    "security_clearance_date": ({"type": ["string", "null"], "format": "date"}, "date"),
    "years_of_prior_experience": ({"type": ["number", "null"]}, "number"),
    "remote_worker": ({"type": ["boolean", "null"]}, "boolean"),
    "languages_spoken": (
        {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
        "multiselect",
    ),
}


def field_ids(humaans: HumaansEmulator) -> dict[str, str]:
    """Field name -> id."""
    return {f["name"]: f["id"] for f in humaans.data["custom-fields"]}


def only(config: dict) -> dict:
    """A catalog selecting people_custom alone, as discovered now."""
    return select_only(TapHumaans, config, {STREAM})


def schema_of(result) -> dict:
    (schema,) = [
        m["schema"] for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == STREAM
    ]
    return schema


def test_discovery_makes_a_typed_column_per_custom_field(humaans, humaans_config):
    schema = TapHumaans(config=humaans_config).streams[STREAM].schema
    ids = field_ids(humaans)
    names = {column: name for name, (column, _) in COLUMNS.items()}
    created = {f["id"]: f["createdAt"] for f in humaans.data["custom-fields"]}
    oldest_first = sorted(TYPED, key=lambda c: (created[ids[names[c]]], ids[names[c]]))
    properties = list(schema["properties"])
    # the file's fixed columns first, the custom ones from the oldest field, `_extra` last
    assert properties[:2] == ["personId", "updatedAt"] and properties[-1] == "_extra"
    assert [p for p in properties if p in TYPED] == oldest_first
    others = set(properties) - {"personId", "updatedAt", "_extra", *TYPED}
    assert others <= {"_sdc_deleted_at"}  # what the engine adds to every stream (issue 17)
    for column, (typed, field_type) in TYPED.items():
        name = names[column]
        assert schema["properties"][column] == {
            **typed,
            "description": f'Custom field "{name}" (id {ids[name]}, type {field_type}): '
            + (
                "the person's value (the options chosen)"
                if field_type == "multiselect"
                else "the person's value"
            ),
            "x-sensitivity": "pii",
        }, column
    assert schema["required"] == ["personId"]
    stream = TapHumaans(config=humaans_config).streams[STREAM]
    assert (stream.primary_keys, stream.replication_key) == (["personId"], "updatedAt")


def test_every_person_with_values_is_one_row_of_typed_values(humaans, humaans_config):
    result = sync(TapHumaans, humaans_config, catalog=only(humaans_config))
    rows = result.records[STREAM]
    assert rows == people_custom(humaans)
    assert len(rows) == len({v["personId"] for v in humaans.data["custom-values"]})
    assert result.bookmark(STREAM) == max(v["updatedAt"] for v in humaans.data["custom-values"])
    # every kind of value occurs, typed
    for column, kind in [
        ("years_of_prior_experience", int),
        ("remote_worker", bool),
        ("languages_spoken", list),
        ("security_clearance_date", str),
    ]:
        assert any(isinstance(r[column], kind) for r in rows), column


def test_a_changed_value_re_emits_its_persons_whole_row_and_only_it(humaans, humaans_config):
    catalog = only(humaans_config)
    first = sync(TapHumaans, humaans_config, catalog=catalog)
    old = first.bookmark(STREAM)
    size = field_ids(humaans)["T-shirt size"]
    value = next(v for v in humaans.data["custom-values"] if v["customFieldId"] == size)
    person = value["personId"]
    stamp = humaans.set_custom_value(value["id"], "XXL")
    humaans.server.clear_requests()

    second = sync(TapHumaans, humaans_config, catalog=catalog, state=first.final_state)

    at_bookmark = {v["personId"] for v in humaans.data["custom-values"] if v["updatedAt"] == old}
    assert second.records[STREAM] == people_custom(humaans, persons={person} | at_bookmark)
    row = next(r for r in second.records[STREAM] if r["personId"] == person)
    assert (row["t_shirt_size"], row["updatedAt"]) == ("XXL", stamp)
    assert second.bookmark(STREAM) == stamp
    listings = [r.query for r in listing_requests(humaans.server.requests, "/api/custom-values")]
    assert listings[0]["updatedAt[$gte]"] == [old]  # what changed since the bookmark
    assert listings[1]["personId[$in][]"] == [*sorted(at_bookmark), person]  # their values
    assert "updatedAt[$gte]" not in listings[1]
    assert len(listings) == 2


def test_values_changing_during_the_sync_are_read_again_next_run(
    humaans, humaans_config, monkeypatch
):
    """The bookmark is the newest change the first listing saw: a value changed while the
    rows are assembled (of a person in the batch, or of another) is not skipped."""
    catalog = only(humaans_config)
    first = sync(TapHumaans, humaans_config, catalog=catalog)
    values = humaans.data["custom-values"]
    seen = values[0]
    other = next(v for v in values if v["personId"] != seen["personId"])
    seen_at = humaans.set_custom_value(seen["id"], seen["value"])
    original = PeopleCustomStream._values_of
    changed: list[str] = []

    def changing(stream, persons, context):
        if not changed:  # between the two listings of the sync
            changed.append(humaans.set_custom_value(other["id"], other["value"]))
        return original(stream, persons, context)

    monkeypatch.setattr(PeopleCustomStream, "_values_of", changing)
    second = sync(TapHumaans, humaans_config, catalog=catalog, state=first.final_state)
    monkeypatch.undo()
    assert second.bookmark(STREAM) == seen_at < changed[0]
    assert other["personId"] not in {r["personId"] for r in second.records[STREAM]}

    third = sync(TapHumaans, humaans_config, catalog=catalog, state=second.final_state)
    assert other["personId"] in {r["personId"] for r in third.records[STREAM]}
    assert third.bookmark(STREAM) == changed[0]


def test_a_field_added_between_runs_is_a_column_after_rediscovery(humaans, humaans_config):
    catalog = only(humaans_config)
    first = sync(TapHumaans, humaans_config, catalog=catalog)
    people = sorted({v["personId"] for v in humaans.data["custom-values"]})[:3]
    badge = humaans.add_custom_field(
        "Badge number", "number", {people[0]: "4711", people[1]: "12", people[2]: "n/a"}
    )

    # The catalog of before knows no such column: the values are kept, under the field id
    humaans.server.clear_requests()
    same = sync(TapHumaans, humaans_config, catalog=catalog, state=first.final_state)
    assert "/api/custom-fields" not in {r.path for r in humaans.server.requests}  # no discovery
    rows = {r["personId"]: r for r in same.records[STREAM]}
    assert "badge_number" not in schema_of(same)["properties"]
    assert [rows[p]["_extra"] for p in people] == [{badge: "4711"}, {badge: "12"}, {badge: "n/a"}]

    # Rediscovered: a typed column, no code change
    again = only(humaans_config)
    rediscovered = sync(TapHumaans, humaans_config, catalog=again, state=first.final_state)
    assert schema_of(rediscovered)["properties"]["badge_number"]["type"] == ["number", "null"]
    rows = {r["personId"]: r for r in rediscovered.records[STREAM]}
    assert [rows[p]["badge_number"] for p in people] == [4711, 12, None]
    # a value that is not a number is null in its column, and kept as sent in _extra
    assert [rows[p]["_extra"] for p in people] == [None, None, {badge: "n/a"}]
    columns = {
        **COLUMNS,
        "Badge number": ("badge_number", lambda v: None if v == "n/a" else int(v)),
    }
    expected = people_custom(humaans, columns, persons=set(people))
    expected[-1]["_extra"] = {badge: "n/a"}
    assert [r for r in rediscovered.records[STREAM] if r["personId"] in people] == sorted(
        expected, key=lambda r: (r["updatedAt"], r["personId"])
    )


def test_a_field_named_like_another_gets_the_name_and_its_id(humaans, humaans_config):
    added = humaans.add_custom_field("Desk  Number!", "text", {})
    schema = TapHumaans(config=humaans_config).streams[STREAM].schema
    column = f"desk_number_{added.lower()}"
    assert schema["properties"][column]["description"].startswith(
        f'Custom field "Desk  Number!" (id {added}, type text)'
    )
    assert "desk_number" in schema["properties"]  # the older field keeps its name


def test_a_deleted_field_keeps_its_column_null_until_rediscovery(humaans, humaans_config):
    catalog = only(humaans_config)
    assert any(
        v["customFieldId"] == field_ids(humaans)["T-shirt size"]
        for v in humaans.data["custom-values"]
    )
    humaans.delete_custom_field(field_ids(humaans)["T-shirt size"])
    result = sync(TapHumaans, humaans_config, catalog=catalog)
    assert "t_shirt_size" in schema_of(result)["properties"]
    columns = {k: v for k, v in COLUMNS.items() if k != "T-shirt size"}
    expected = [{**r, "t_shirt_size": None} for r in people_custom(humaans, columns)]
    assert result.records[STREAM] == expected
    rediscovered = TapHumaans(config=humaans_config).streams[STREAM].schema
    assert "t_shirt_size" not in rediscovered["properties"]


def test_custom_columns_are_pii_unless_custom_field_sensitivity_says(humaans, humaans_config):
    sensitivity = {"Laptop OS preference": "none", "Years of prior experience": "financial"}
    config = {**humaans_config, "pii_policy": "drop", "custom_field_sensitivity": sensitivity}
    result = sync(TapHumaans, config, catalog=only(config))
    kept = ["personId", "updatedAt", "laptop_os_preference", "years_of_prior_experience", "_extra"]
    declared = [*kept, "_sdc_deleted_at"]  # what every keyed stream's schema adds
    assert sorted(schema_of(result)["properties"]) == sorted(declared)
    assert result.records[STREAM] == [{k: r[k] for k in kept} for r in people_custom(humaans)]

    key = "k" * 32
    config = {
        **humaans_config,
        "pii_policy": "hash",
        "pii_hash_key": key,
        "financial_policy": "drop",
        "custom_field_sensitivity": sensitivity,
    }
    result = sync(TapHumaans, config, catalog=only(config))
    expected = people_custom(humaans)
    got = result.records[STREAM]
    assert "years_of_prior_experience" not in schema_of(result)["properties"]
    assert schema_of(result)["properties"]["languages_spoken"]["type"] == ["string", "null"]

    def digest(value):
        if value is None:
            return None
        data = (
            value.encode()
            if isinstance(value, str)
            else json.dumps(value, separators=(",", ":")).encode()
        )
        return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()

    assert [r["t_shirt_size"] for r in got] == [digest(r["t_shirt_size"]) for r in expected]
    assert [r["languages_spoken"] for r in got] == [digest(r["languages_spoken"]) for r in expected]
    assert any(r["t_shirt_size"] for r in got) and any(r["languages_spoken"] for r in got)
    assert [r["laptop_os_preference"] for r in got] == [r["laptop_os_preference"] for r in expected]


def test_a_catalog_run_keeps_the_sensitivity_the_settings_give(humaans, humaans_config):
    """The catalog keeps no tags: a run given one tags its custom columns again, from the
    field names their descriptions give."""
    catalog = only(humaans_config)
    config = {
        **humaans_config,
        "pii_policy": "drop",
        "custom_field_sensitivity": {"T-shirt size": "none"},
    }
    result = sync(TapHumaans, config, catalog=catalog)
    assert sorted(schema_of(result)["properties"]) == [
        "_extra",
        "_sdc_deleted_at",
        "personId",
        "t_shirt_size",
        "updatedAt",
    ]
    assert [r["t_shirt_size"] for r in result.records[STREAM]] == [
        r["t_shirt_size"] for r in people_custom(humaans)
    ]


@pytest.mark.parametrize("value", [{"T-shirt size": "secret"}, ["T-shirt size"]])
def test_a_bad_custom_field_sensitivity_is_one_line(tmp_path, humaans_config, value):
    run = run_cli(
        "tap-humaans", tmp_path, config={**humaans_config, "custom_field_sensitivity": value}
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line or "CRITICAL" in line]
    assert len(errors) >= 1 and "custom_field_sensitivity" in errors[-1], run.stderr


def test_without_credentials_discovery_gives_the_fixed_columns(tmp_path):
    run = run_cli("tap-humaans", tmp_path, "--discover", config={})
    assert run.returncode == 0, run.stderr
    (entry,) = [s for s in json.loads(run.stdout)["streams"] if s["tap_stream_id"] == STREAM]
    properties = entry["schema"]["properties"]
    assert {"personId", "updatedAt", "_extra"} <= set(properties)
    assert not any(custom_fields.parse_description(p) for p in properties.values())


# -- deleted values (issue 17 for the pivot) --------------------------------------------


def values_by_person(humaans: HumaansEmulator) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for value in humaans.data["custom-values"]:
        out.setdefault(value["personId"], []).append(value)
    return out


def persons_at(humaans: HumaansEmulator, bookmark: str) -> set[str]:
    """The persons with a value at the bookmark (the next run writes their rows again)."""
    return {v["personId"] for v in humaans.data["custom-values"] if v["updatedAt"] == bookmark}


def persons_away_from(humaans: HumaansEmulator, bookmark: str) -> dict[str, list[dict]]:
    """The persons none of whose values is at the bookmark, with their values."""
    at = persons_at(humaans, bookmark)
    return {p: vs for p, vs in sorted(values_by_person(humaans).items()) if p not in at}


def ledger(humaans: HumaansEmulator) -> dict:
    """The `deletes` entry the state must hold: every value's (person, value id)."""
    return encode_ledger((v["personId"], v["id"]) for v in humaans.data["custom-values"])


def test_deleted_values_rewrite_their_persons_row_or_tombstone_the_person(humaans, humaans_config):
    """Person A loses one of their values, person B all of theirs: the next run writes A's
    whole row again (that column null) and a tombstone for B, and nothing else; the run
    after that writes neither. The state keeps each value's person and id."""
    catalog = only(humaans_config)
    first = sync(TapHumaans, humaans_config, catalog=catalog)
    bookmark = first.bookmark(STREAM)
    assert first.final_state["bookmarks"][STREAM] == {
        "replication_key": "updatedAt",
        "replication_key_value": bookmark,
        "deletes": ledger(humaans),  # the first run's listing was whole: its own sweep
    }
    assert not [r for r in humaans.server.requests if is_sweep(r)]
    at_bookmark = persons_at(humaans, bookmark)
    persons = persons_away_from(humaans, bookmark)
    a = next(p for p, vs in persons.items() if len(vs) >= 2)
    b = next(p for p in persons if p != a)
    lost = persons[a][0]
    column = {f["id"]: COLUMNS[f["name"]][0] for f in humaans.data["custom-fields"]}
    humaans.delete_custom_values([lost["id"], *(v["id"] for v in persons[b])])
    humaans.server.clear_requests()

    second = sync(TapHumaans, humaans_config, catalog=catalog, state=first.final_state)

    rows = second.records[STREAM]
    (row_a,) = people_custom(humaans, persons={a})
    assert row_a[column[lost["customFieldId"]]] is None
    (tombstone,) = [r for r in rows if r["personId"] == b]
    assert tombstone == {
        **dict.fromkeys(schema_of(second)["properties"]),
        "personId": b,
        "_sdc_deleted_at": tombstone["_sdc_deleted_at"],
    }
    assert tombstone["_sdc_deleted_at"].endswith("Z")
    # after the changed rows, the persons who lost values, in the order of their ids
    lost_values = sorted([row_a, tombstone], key=lambda r: r["personId"])
    assert rows == [*people_custom(humaans, persons=at_bookmark), *lost_values]
    assert second.final_state["bookmarks"][STREAM] == {
        "replication_key": "updatedAt",
        "replication_key_value": bookmark,
        "deletes": ledger(humaans),
    }
    # the sweep: value ids and their persons, paged by id; A's values listed again
    swept = [r.query for r in humaans.server.requests if is_sweep(r)]
    assert swept == [
        {"$limit": ["250"], "$skip": ["0"], "$select[]": ["id", "personId"], "$sort[id]": ["1"]}
    ]
    lookups = [
        r.query["personId[$in][]"]
        for r in listing_requests(humaans.server.requests, "/api/custom-values")
        if "personId[$in][]" in r.query
    ]
    assert lookups[-1] == sorted([a, b])

    third = sync(TapHumaans, humaans_config, catalog=catalog, state=second.final_state)
    assert third.records[STREAM] == people_custom(humaans, persons=at_bookmark)
    assert third.final_state["bookmarks"][STREAM] == second.final_state["bookmarks"][STREAM]


def test_a_person_whose_value_changed_and_another_went_is_written_once(humaans, humaans_config):
    catalog = only(humaans_config)
    first = sync(TapHumaans, humaans_config, catalog=catalog)
    bookmark = first.bookmark(STREAM)
    person, values = next(
        (p, vs) for p, vs in persons_away_from(humaans, bookmark).items() if len(vs) >= 2
    )
    humaans.delete_custom_values([values[0]["id"]])
    humaans.set_custom_value(values[1]["id"], values[1]["value"])
    second = sync(TapHumaans, humaans_config, catalog=catalog, state=first.final_state)
    at_bookmark = persons_at(humaans, bookmark)
    # the changed row, read after the delete, lacks the value: it is not written again
    assert second.records[STREAM] == people_custom(humaans, persons={person} | at_bookmark)
    assert second.final_state["bookmarks"][STREAM]["deletes"] == ledger(humaans)


def test_delete_sweep_off_keeps_no_ledger_and_sends_no_sweep(humaans, humaans_config):
    config = {**humaans_config, "delete_sweep": "off"}
    catalog = only(config)
    first = sync(TapHumaans, config, catalog=catalog)
    assert "deletes" not in first.final_state["bookmarks"][STREAM]
    bookmark = first.bookmark(STREAM)
    values = next(iter(persons_away_from(humaans, bookmark).values()))
    humaans.delete_custom_values(v["id"] for v in values)
    humaans.server.clear_requests()
    second = sync(TapHumaans, config, catalog=catalog, state=first.final_state)
    at_bookmark = persons_at(humaans, bookmark)
    assert second.records[STREAM] == people_custom(humaans, persons=at_bookmark)
    assert second.final_state == first.final_state
    assert not [r for r in humaans.server.requests if is_sweep(r)]


def test_a_person_whose_values_come_back_is_a_row_again_after_the_tombstone(
    humaans, humaans_config
):
    catalog = only(humaans_config)
    first = sync(TapHumaans, humaans_config, catalog=catalog)
    bookmark = first.bookmark(STREAM)
    person, values = next(iter(persons_away_from(humaans, bookmark).items()))
    humaans.delete_custom_values(v["id"] for v in values)
    second = sync(TapHumaans, humaans_config, catalog=catalog, state=first.final_state)
    (tombstone,) = [r for r in second.records[STREAM] if r["personId"] == person]
    assert tombstone["_sdc_deleted_at"]

    badge = humaans.add_custom_field("Badge number", "number", {person: "7"})
    third = sync(TapHumaans, humaans_config, catalog=catalog, state=second.final_state)
    (back,) = [r for r in third.records[STREAM] if r["personId"] == person]
    assert back == {  # a field the catalog has no column for yet: its value in `_extra`
        **dict.fromkeys(back),
        "personId": person,
        "updatedAt": third.bookmark(STREAM),
        "_extra": {badge: "7"},
    }
    assert "_sdc_deleted_at" not in back


def test_a_fault_in_the_middle_of_the_sweep_rewrites_and_tombstones_nothing(
    humaans, humaans_config
):
    """The sweep's second page fails beyond the retries: the run fails, having written no
    row again and no tombstone; the next run from its last state writes both."""
    config = {**humaans_config, "page_size": 20, "max_retries": 1}
    catalog = only(config)
    first = sync(TapHumaans, config, catalog=catalog)
    bookmark = first.bookmark(STREAM)
    at_bookmark = persons_at(humaans, bookmark)
    persons = persons_away_from(humaans, bookmark)
    a = next(p for p, vs in persons.items() if len(vs) >= 2)
    b = next(p for p in persons if p != a)
    humaans.delete_custom_values([persons[a][0]["id"], *(v["id"] for v in persons[b])])
    sweeps = Interceptor(humaans.server, is_sweep, after=1, mode="fail")

    failed = sync_until_it_fails(config, catalog, first.final_state)

    assert sweeps.fired
    assert failed.records[STREAM] == people_custom(humaans, persons=at_bookmark)
    assert failed.final_state["bookmarks"][STREAM] == first.final_state["bookmarks"][STREAM]
    sweeps.mode = "off"
    humaans.server.clear_requests()
    again = sync(TapHumaans, config, catalog=catalog, state=failed.final_state)
    ids = sorted(v["id"] for v in humaans.data["custom-values"])
    assert [r.query.get("id[$gt]") for r in humaans.server.requests if is_sweep(r)] == [
        None,
        *([ids[i]] for i in range(19, len(ids) - 1, 20)),
    ]  # paged by value id, 20 a page
    (row_a,) = people_custom(humaans, persons={a})
    (tombstone,) = [r for r in again.records[STREAM] if r["personId"] == b]
    assert tombstone["_sdc_deleted_at"].endswith("Z")
    lost_values = sorted(
        [
            row_a,
            {
                **dict.fromkeys(row_a),
                "personId": b,
                "_sdc_deleted_at": tombstone["_sdc_deleted_at"],
            },
        ],
        key=lambda r: r["personId"],
    )
    assert again.records[STREAM] == [*people_custom(humaans, persons=at_bookmark), *lost_values]
    assert again.final_state["bookmarks"][STREAM]["deletes"] == ledger(humaans)


def sync_until_it_fails(config: dict, catalog: dict, state: dict) -> SyncResult:
    """An in-process run that must fail: what it wrote before."""
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8")
    with contextlib.redirect_stdout(stdout), pytest.raises(Exception, match="503"):
        TapHumaans(config=config, state=copy.deepcopy(state), catalog=catalog).sync_all()
    stdout.flush()
    return SyncResult(parse_messages(buffer.getvalue().decode()))


def test_a_run_killed_in_the_middle_of_the_sweep_loses_no_delete(fork_server, tmp_path):
    """A CLI run killed (SIGKILL) at the second page of people_custom's sweep: it wrote no
    row again and no tombstone; the run resumed from its last state writes both, once, and
    the run after that neither."""
    spec = TAPS["humaans"]
    with spec.emulator("resume") as emulator:
        config = spec.config(emulator, "resume", page_size=4)
        runs = DeleteRuns(spec, emulator, fork_server(spec.script), tmp_path, config)
        runs.interceptor.finds = lambda r: r.query.get("$select[]") == ["id", "personId"]
        first = runs.run(None)
        assert first.returncode == 0, first.stderr[-3000:]
        bookmark = first.last_state["bookmarks"][STREAM]["replication_key_value"]
        persons = persons_away_from(emulator, bookmark)
        a = next(p for p, vs in persons.items() if len(vs) >= 2)
        b = next(p for p in persons if p != a)
        emulator.delete_custom_values([persons[a][0]["id"], *(v["id"] for v in persons[b])])
        runs.interceptor.mode = "kill"
        killed = runs.run(first.last_state, kill=True)
        runs.interceptor.mode = "off"
        resumed = runs.run(killed.last_state or first.last_state)
        after = runs.run(resumed.last_state)
        (row_a,) = people_custom(emulator, persons={a})

    assert killed.returncode == -signal.SIGKILL and runs.interceptor.fired
    assert not {a, b} & {r["personId"] for r in killed.records().get(STREAM, [])}
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    written = [r for r in resumed.records()[STREAM] if r["personId"] in {a, b}]
    assert written == sorted(
        [row_a, {**dict.fromkeys(row_a), "personId": b, "_sdc_deleted_at": ANY}],
        key=lambda r: r["personId"],
    )
    assert not {a, b} & {r["personId"] for r in after.records().get(STREAM, [])}
