"""tap-humaans against the Humaans emulator: exact records, incremental, resume, faults."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from human_sandbox.humaans import FULL_TOKEN, HumaansEmulator
from tap_humaans.tap import TapHumaans
from tests.support.helpers import SyncResult, as_emitted, parse_messages, select_only, sync
from tests.support.registry import TAPS

STREAMS = list(TAPS["humaans"].streams)
#: Streams with a replication key; the others (leave balances) are read in full every run.
INCREMENTAL = sorted(
    name
    for name, stream in TAPS["humaans"].tap(config={}).streams.items()
    if stream.replication_key
)
FULL_TABLE = sorted(set(STREAMS) - set(INCREMENTAL))


def api_path(stream: str) -> str:
    return stream.replace("_", "-")


def by_id(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in records}


def test_every_stream_emits_exactly_the_emulator_records(humaans, humaans_config):
    result = sync(TapHumaans, humaans_config)
    assert sorted(result.records) == STREAMS
    for stream in STREAMS:
        expected = as_emitted(humaans.data[api_path(stream)])
        got = result.records[stream]
        assert len(got) == len(expected), stream
        assert by_id(got) == by_id(expected), stream


def test_state_bookmarks_the_newest_updated_at(humaans, humaans_config):
    result = sync(TapHumaans, humaans_config)
    for stream in STREAMS:
        rows = humaans.data[api_path(stream)]
        if "updatedAt" in rows[0]:
            assert result.bookmark(stream) == max(r["updatedAt"] for r in rows), stream
        else:
            assert "replication_key_value" not in result.final_state["bookmarks"].get(stream, {})


def test_leave_balances_are_read_in_full_every_run(humaans, humaans_config):
    """time_away_periods has no updatedAt, and its balances change as days pass: no
    incremental filter, no bookmark, every period again on every run."""
    assert FULL_TABLE == ["time_away_periods"]
    first = sync(TapHumaans, humaans_config)
    humaans.server.clear_requests()
    second = sync(TapHumaans, humaans_config, state=first.final_state)
    expected = as_emitted(humaans.data["time-away-periods"])
    assert first.records["time_away_periods"] == second.records["time_away_periods"] == expected
    asked = [r.query for r in humaans.server.requests if r.path == "/api/time-away-periods"]
    assert asked == [{"$limit": ["250"], "$skip": ["0"]}]  # every person, every period
    for result in (first, second):
        assert "replication_key" not in result.final_state["bookmarks"].get("time_away_periods", {})
    balance = expected[0]
    assert balance["timeAwayAllocation"]["timeAwayPolicy"]["name"]
    assert {"allowance", "ptoUsed", "ptoUpcoming", "ptoCarriedOver"} <= set(balance)


def test_company_and_lookup_fields_the_public_client_reads(humaans, humaans_config):
    result = sync(TapHumaans, humaans_config)
    (company,) = result.records["companies"]
    assert (
        company["autogenerateEmployeeId"],
        company["autogenerateEmployeeIdForNewHires"],
        company["nextEmployeeId"],
    ) == (True, True, 41)
    names = {r["id"]: r["name"] for r in result.records["equipment_names"]}
    kinds = {r["id"]: r["name"] for r in result.records["equipment_types"]}
    issued = {
        (kinds[e["equipmentTypeId"]], names[e["equipmentNameId"]])
        for e in result.records["equipment"]
    }
    assert len(issued) > 5  # every equipment record names a type and a model the tap read
    folders = {r["id"] for r in result.records["document_folders"]}
    assert {d["folderId"] for d in result.records["documents"]} - {None} <= folders
    patterns = {r["id"] for r in result.records["working_patterns"]}
    assert {
        a["workingPatternId"] for a in result.records["working_pattern_allocations"]
    } <= patterns


def test_pages_respect_the_limit_and_each_repeats_the_previous_last_record(humaans, humaans_config):
    config = {**humaans_config, "page_size": 7}
    catalog = select_only(TapHumaans, config, {"people"})
    result = sync(TapHumaans, config, catalog=catalog)
    people = [r for r in humaans.server.requests if r.path == "/api/people"]
    # pages after the first are fetched in parallel: they may arrive in any order; each
    # starts at the previous page's last record, so 6 new records per page after the first
    assert sorted(int(r.query["$skip"][0]) for r in people) == [0, *range(6, 40, 6)]
    assert {r.query["$limit"][0] for r in people} == {"7"}
    assert len(result.records["people"]) == 40


def test_second_run_moves_only_what_changed():
    with HumaansEmulator(seed=5, size=600) as humaans:
        config = {"api_token": FULL_TOKEN, "api_url": humaans.url, "requests_per_second": 0}
        check_incremental_run(humaans, config)


def check_incremental_run(humaans: HumaansEmulator, humaans_config: dict) -> None:
    first = sync(TapHumaans, humaans_config)
    first_requests = len(humaans.server.requests)
    old_bookmark = first.bookmark("people")
    changed = set(humaans.update_people(5)) | set(humaans.add_people(3))
    humaans.server.clear_requests()

    second = sync(TapHumaans, humaans_config, state=first.final_state)

    people = by_id(second.records["people"])
    assert changed <= set(people)
    boundary = set(people) - changed
    assert all(people[i]["updatedAt"] == old_bookmark for i in boundary)  # >= is inclusive
    assert len(boundary) <= 2
    assert second.bookmark("people") == max(r["updatedAt"] for r in humaans.data["people"])
    for stream in INCREMENTAL:
        if stream == "people":
            continue
        bookmark = first.bookmark(stream)
        assert all(r["updatedAt"] == bookmark for r in second.records.get(stream, [])), stream
    for stream in FULL_TABLE:  # read in full again, unchanged
        assert second.records[stream] == first.records[stream], stream
    assert len(humaans.server.requests) < first_requests
    incremental = INCREMENTAL
    moved = {s: len(second.records.get(s, [])) for s in incremental}
    boundary_rows = {
        s: sum(r["updatedAt"] == first.bookmark(s) for r in humaans.data[api_path(s)])
        for s in incremental
    }
    assert moved["people"] == len(changed) + boundary_rows["people"]
    assert all(moved[s] == boundary_rows[s] for s in incremental if s != "people")
    assert sum(moved.values()) < sum(len(first.records[s]) for s in incremental) / 50
    people_calls = [r for r in humaans.server.requests if r.path == "/api/people"]
    assert len(people_calls) == 1  # 600 people took 3 pages; the 8 changes take one
    assert people_calls[0].query["updatedAt[$gte]"] == [old_bookmark]


def test_a_killed_sync_resumes_from_its_last_state_without_loss(tmp_path):
    with HumaansEmulator(seed=11, size=60, latency_ms=40) as emulator:
        config = {
            "api_token": FULL_TOKEN,
            "api_url": emulator.url,
            "page_size": 5,
            "requests_per_second": 0,
        }
        catalog = select_only(TapHumaans, config, {"people"})
        (tmp_path / "config.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        tap = str(Path(sys.executable).parent / "tap-humaans")
        argv = [
            tap,
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ]

        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert process.stdout is not None
        seen: list[dict] = []
        states = 0
        for line in process.stdout:
            message = json.loads(line)
            seen.append(message)
            states += message["type"] == "STATE"
            if states == 4:  # mid-stream: 3 pages of 12 written
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=10)
        first = SyncResult(seen)
        assert 0 < len(first.records["people"]) < 60

        (tmp_path / "state.json").write_text(json.dumps(first.final_state))
        done = subprocess.run(
            [*argv, "--state", str(tmp_path / "state.json")],
            capture_output=True,
            check=True,
            timeout=60,
        )
        second = SyncResult(parse_messages(done.stdout.decode()))

    all_ids = {r["id"] for r in emulator.data["people"]}
    first_ids = {r["id"] for r in first.records["people"]}
    second_ids = {r["id"] for r in second.records["people"]}
    assert first_ids | second_ids == all_ids
    overlap = first_ids & second_ids
    bookmark = first.bookmark("people")
    assert all(by_id(second.records["people"])[i]["updatedAt"] == bookmark for i in overlap)
    assert len(second_ids) < 60


def test_faults_do_not_change_the_output(humaans, humaans_config):
    clean = sync(TapHumaans, humaans_config)
    humaans.server.clear_requests()
    humaans.server.faults.add(
        "status", status=429, headers={"Retry-After": "1"}, path="/api/people", times=1
    )
    humaans.server.faults.add("status", status=503, path="/api/job-roles", times=2)
    humaans.server.faults.add("reset", path="/api/time-away", times=1)
    faulty = sync(TapHumaans, humaans_config)

    assert faulty.records == clean.records
    assert faulty.final_state == clean.final_state
    people = [r for r in humaans.server.requests if r.path == "/api/people"]
    assert people[0].status == 429
    assert people[1].time - people[0].time >= 1.0
    statuses = [r.status for r in humaans.server.requests if r.path == "/api/job-roles"]
    assert statuses[:3] == [503, 503, 200]


def test_a_rejected_updated_at_filter_falls_back_to_a_full_scan(caplog):
    with HumaansEmulator(seed=7, size=40, reject_updated_filter=True) as emulator:
        config = {
            "api_token": FULL_TOKEN,
            "api_url": emulator.url,
            "requests_per_second": 0,
            "start_date": "2025-01-01",
        }
        catalog = select_only(TapHumaans, config, {"people"})
        result = sync(TapHumaans, config, catalog=catalog)
    expected = {r["id"] for r in emulator.data["people"] if r["updatedAt"] >= "2025-01-01"}
    assert {r["id"] for r in result.records.get("people", [])} == expected
    assert sum("rejected the incremental filter" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("scope_mode", ["warn", "fail"])
def test_missing_scope_follows_on_missing_scope(scope_mode, caplog):
    from human_sandbox.humaans import NO_SENSITIVE_TOKEN

    with HumaansEmulator(seed=7, size=10) as emulator:
        config = {
            "api_token": NO_SENSITIVE_TOKEN,
            "api_url": emulator.url,
            "requests_per_second": 0,
            "on_missing_scope": scope_mode,
        }
        if scope_mode == "fail":
            with pytest.raises(Exception, match="lack scope compensations:read"):
                sync(TapHumaans, config)
            return
        result = sync(TapHumaans, config)
    gated = {
        "compensations",
        "compensation_types",
        "documents",
        "document_types",
        "document_folders",
        "identity_documents",
        "identity_document_types",
    }
    assert gated == {
        name
        for name, stream in TAPS["humaans"].tap(config={}).streams.items()
        if stream.required_scope
    }
    assert set(result.records) == set(STREAMS) - gated
    skipped = {
        r.getMessage().split()[2].rstrip(":")
        for r in caplog.records
        if r.getMessage().startswith("Skipping stream")
    }
    assert skipped == gated
