"""tap-humanos against the Humanos emulator: signing, exact records, incremental, faults."""

from __future__ import annotations

import typing as t

import pytest

from human_sandbox.humanos import API_KEY, HumanosEmulator
from tap_humanos.tap import TapHumanos
from tests.support.helpers import as_emitted, run_cli, sync
from tests.support.registry import TAPS

HUMANOS = TAPS["humanos"]
STREAMS = list(HUMANOS.streams)


@pytest.fixture
def humanos() -> t.Iterator[HumanosEmulator]:
    with HUMANOS.emulator() as emulator:
        yield emulator


def as_listed(request: dict) -> dict:
    """A request as the tap emits it: a canceled one marked deleted, at its canceledAt."""
    if request["canceledAt"] is None:
        return request
    return {**request, "_sdc_deleted_at": request["canceledAt"]}


def expected(emulator: HumanosEmulator) -> dict[str, list[dict]]:
    records = {
        "requests": [as_listed(r) for r in emulator.requests],
        "credentials": [
            {**c, "requestId": r["id"]}
            for r in emulator.requests
            for c in emulator.details[r["id"]]["credentials"]
        ],
        "resources": emulator.resources,
        "resource_groups": emulator.resource_groups,
        "activity_events": emulator.activity,
    }
    return {stream: as_emitted(rows) for stream, rows in records.items()}


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {(r["id"], r.get("requestId")): r for r in rows}


def test_every_stream_emits_exactly_the_api_records(humanos):
    result = sync(TapHumanos, HUMANOS.config(humanos))
    want = expected(humanos)
    assert sorted(result.records) == STREAMS
    for stream in STREAMS:
        assert len(result.records[stream]) == len(want[stream]), stream
        assert by_id(result.records[stream]) == by_id(want[stream]), stream
    for stream in ("requests", "activity_events"):  # emitted oldest first: resumable state
        stamps = [r["createdAt"] for r in result.records[stream]]
        assert stamps == sorted(stamps), stream
        assert result.bookmark(stream) == max(stamps)


def test_v1_paths_are_selected_by_the_url_suffix(humanos):
    result = sync(TapHumanos, HUMANOS.config(humanos, api_url=humanos.url + "/v1"))
    assert len(result.records["requests"]) == len(humanos.requests)
    assert all(r.path.startswith("/v1/") for r in humanos.server.requests)


def test_api_version_header_is_sent_when_configured(humanos):
    sync(TapHumanos, HUMANOS.config(humanos, api_version="2026-05-17"))
    assert {r.headers.get("api-version") for r in humanos.server.requests} == {"2026-05-17"}


def test_second_run_returns_only_new_requests_and_events(humanos):
    first = sync(TapHumanos, HUMANOS.config(humanos))
    new_requests = set(humanos.add_requests(3))
    new_events = set(humanos.add_activity(4))
    humanos.server.clear_requests()
    second = sync(TapHumanos, HUMANOS.config(humanos), state=first.final_state)

    got = {r["id"] for r in second.records["requests"]}
    boundary = {r["id"] for r in humanos.requests if r["createdAt"] == first.bookmark("requests")}
    assert new_requests <= got <= new_requests | boundary
    events = {e["id"] for e in second.records["activity_events"]}
    created = {
        e["id"] for e in humanos.activity if e["createdAt"] > first.bookmark("activity_events")
    }
    assert new_events <= events
    assert events - created <= {
        e["id"] for e in humanos.activity if e["createdAt"] == first.bookmark("activity_events")
    }
    assert {c["requestId"] for c in second.records["credentials"]} == got
    pages = [r for r in humanos.server.requests if r.path == "/request"]
    assert len(pages) == 1  # newest first: the first page already reaches the bookmark
    assert pages[0].query["dateFrom"] == [first.bookmark("requests")]


def test_a_retry_after_a_long_wait_is_signed_again(humanos):
    humanos.freshness_ms = 1000  # signatures go stale after one second
    humanos.server.faults.add(
        "status", status=429, headers={"Retry-After": "2"}, path="/resource/group", times=1
    )
    result = sync(TapHumanos, HUMANOS.config(humanos))
    assert len(result.records["resource_groups"]) == len(humanos.resource_groups)
    calls = [r for r in humanos.server.requests if r.path == "/resource/group"]
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].time - calls[0].time >= 2
    assert calls[0].headers["x-timestamp"] != calls[1].headers["x-timestamp"]
    assert humanos.signature_failures == []


def test_faults_leave_the_records_unchanged(humanos):
    clean = sync(TapHumanos, HUMANOS.config(humanos))
    humanos.server.faults.add("status", status=503, path="/request", times=2)
    humanos.server.faults.add("reset", path="/resource", times=1)
    humanos.server.faults.add("status", status=429, headers={"Retry-After": "1"}, path="/activity")
    humanos.server.faults.add("truncate", path=f"/request/{humanos.requests[0]['id']}")
    faulty = sync(TapHumanos, HUMANOS.config(humanos))
    assert faulty.records == clean.records
    assert faulty.final_state == clean.final_state


def test_wrong_signature_secret_is_one_line_without_secrets(tmp_path, humanos):
    wrong = "wrong-signature-secret-canary"
    run = run_cli(
        "tap-humanos",
        tmp_path,
        config=HUMANOS.config(humanos, signature_secret=wrong),
        env={"LOGLEVEL": "DEBUG"},
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1
    assert (
        "Humanos rejected the request signature (401 Unauthorized: Invalid signature)"
        in (run.error_lines[0])
    )
    for secret in (wrong, API_KEY):
        assert secret not in run.stdout + run.stderr
    assert run.messages == []


def test_wrong_api_key_names_the_key(tmp_path, humanos):
    run = run_cli(
        "tap-humanos", tmp_path, config=HUMANOS.config(humanos, api_key="hms_wrong_key_x")
    )
    assert run.returncode == 1
    assert (
        "Humanos rejected the API key (401 Unauthorized: Invalid API key): check api_key"
        in (run.error_lines[0])
    )


@pytest.mark.parametrize("size", [4, 101])
def test_page_size_outside_the_api_range_is_a_config_error(tmp_path, humanos, size):
    run = run_cli("tap-humanos", tmp_path, config=HUMANOS.config(humanos, page_size=size))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "invalid config:" in run.error_lines[0]
    assert "page_size" in run.error_lines[0]
