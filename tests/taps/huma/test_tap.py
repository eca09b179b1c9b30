"""tap-huma against the Huma emulator: exact records, token lifecycle, faults, limits."""

from __future__ import annotations

import itertools
import typing as t

import pytest

from human_sandbox.huma import CLIENT_SECRET, HumaEmulator
from tap_huma.tap import TapHuma
from taps_shared.oauth import refresh_margin
from tests.support.helpers import run_cli, sync
from tests.support.registry import TAPS
from tests.taps.huma.expected import expected_records

HUMA = TAPS["huma"]
LIMITS = {"users": 50, "groups": 25, "positions": 50}


@pytest.fixture
def huma() -> t.Iterator[HumaEmulator]:
    with HUMA.emulator() as emulator:
        yield emulator


def api_requests(emulator: HumaEmulator) -> list:
    return [r for r in emulator.server.requests if not r.path.startswith("/auth/")]


def test_every_stream_emits_exactly_the_api_records(huma):
    result = sync(TapHuma, HUMA.config(huma))
    expected = expected_records(huma)
    assert result.records == expected
    assert all(expected[s] for s in expected)  # the dataset exercises every stream
    versions = [m for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
    assert sorted(m["stream"] for m in versions) == sorted(expected)  # once per stream
    # after every record: a target acting on it marks only what the whole listing lacked
    last_record = max(i for i, m in enumerate(result.messages) if m["type"] == "RECORD")
    assert all(result.messages.index(m) > last_record for m in versions)
    assert {m["version"] for m in result.messages if m["type"] == "RECORD"} == {
        versions[0]["version"]
    }


@pytest.mark.parametrize("client_auth", ["form", "json", "basic"])
def test_one_token_serves_the_whole_run_in_each_client_auth_style(huma, client_auth):
    sync(TapHuma, HUMA.config(huma, client_auth=client_auth))
    assert [(r["style"], r["ok"]) for r in huma.token_requests] == [(client_auth, True)]
    tokens = {r.headers["authorization"] for r in api_requests(huma)}
    assert len(tokens) == 1


def test_no_page_exceeds_the_endpoint_maximum(huma):
    sync(TapHuma, HUMA.config(huma))
    for request in api_requests(huma):
        resource = "positions" if request.path.endswith("/positions") else request.path.strip("/")
        if resource in LIMITS:
            assert int(request.query["limit"][0]) <= LIMITS[resource], request.path
    assert all(r.status == 200 for r in huma.server.requests)


def test_a_token_expiring_mid_sync_is_renewed_before_it_lapses():
    ttl = 1
    with HumaEmulator(seed=7, size=30, token_ttl=ttl, latency_ms=40) as emulator:
        result = sync(TapHuma, HUMA.config(emulator))
        expected = expected_records(emulator)
    assert result.records == expected  # nothing lost, nothing duplicated
    assert all(r.status == 200 for r in emulator.server.requests)  # never a 401
    mints = [r for r in emulator.token_requests if r["ok"]]
    assert len(mints) >= 2
    gaps = [b["time"] - a["time"] for a, b in itertools.pairwise(mints)]
    early = ttl - refresh_margin(ttl) - 0.05
    assert all(gap >= early for gap in gaps), gaps  # never replaced early; never late: no 401
    used = {r.headers["authorization"] for r in api_requests(emulator)}
    assert len(used) == len(mints)


def test_a_401_triggers_exactly_one_refresh_and_retry(huma):
    clean = sync(TapHuma, HUMA.config(huma))
    huma.token_requests.clear()
    huma.server.clear_requests()
    victim = f"/users/{huma.users[3]['id']}/positions"
    huma.server.faults.add(
        "status",
        status=401,
        path=victim,
        times=1,
        body={"error": "invalid_token", "error_description": "Access token expired"},
    )
    again = sync(TapHuma, HUMA.config(huma))
    assert again.records == clean.records
    assert len(huma.token_requests) == 2
    assert [r.status for r in huma.server.requests if r.path == victim] == [401, 200]


def test_faults_leave_the_records_unchanged(huma):
    clean = sync(TapHuma, HUMA.config(huma))
    huma.server.faults.add(
        "status", status=429, headers={"Retry-After": "1"}, path="/users", times=1
    )
    huma.server.faults.add("status", status=502, path="/groups", times=2)
    huma.server.faults.add("reset", path="/job-titles", times=1)
    huma.server.faults.add("status", status=500, path="/auth/oauth/token", times=1)
    huma.server.faults.add("truncate", path="/holidays/SE", times=1)
    faulty = sync(TapHuma, HUMA.config(huma))
    assert faulty.records == clean.records


def test_inactive_users_can_be_left_out(huma):
    result = sync(TapHuma, HUMA.config(huma, include_inactive_users=False))
    assert [u["id"] for u in result.records["users"]] == [
        u["id"] for u in huma.users if u["status"]["active"]
    ]
    assert len(result.records["users"]) < len(huma.users)


def test_without_holiday_countries_the_holidays_stream_is_empty(huma):
    config = HUMA.config(huma)
    config["holiday_countries"] = []
    result = sync(TapHuma, config)
    assert "holidays" not in result.records
    assert not any(r.path.startswith("/holidays") for r in huma.server.requests)


def test_wrong_client_secret_is_one_line_without_the_secret(tmp_path):
    wrong = "0f0f0f0f-dead-4bad-8bad-c0ffee000000"
    with HumaEmulator(seed=7, size=3, echo_secret_in_errors=True) as emulator:
        config = {**HUMA.config(emulator), "client_secret": wrong}
        run = run_cli("tap-huma", tmp_path, config=config, env={"LOGLEVEL": "DEBUG"})
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert wrong not in run.stdout + run.stderr
    assert len(run.error_lines) == 1
    assert run.error_lines[0].endswith(
        "OAuth token request: POST /auth/oauth/token returned 401 Unauthorized "
        "(invalid_client: Bad client credentials (client_secret: ****)): the token endpoint "
        "refused the request; check client_id and client_secret"
    )
    assert run.messages == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"holiday_countries": ["Norway"]}, "holiday_countries must be ISO 3166-1 alpha-2"),
        ({"token_url": "http://auth.example.com/token"}, "token_url must use https://"),
        (
            {"holiday_start_date": "2026-01-01", "holiday_end_date": "2025-01-01"},
            "holiday_start_date 2026-01-01 is after holiday_end_date 2025-01-01",
        ),
    ],
)
def test_bad_settings_are_one_line(tmp_path, huma, override, message):
    run = run_cli("tap-huma", tmp_path, config={**HUMA.config(huma), **override})
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1
    assert message in run.error_lines[0]
    assert CLIENT_SECRET not in run.stderr


def test_request_count_is_one_per_user_for_details_and_positions(huma):
    sync(TapHuma, HUMA.config(huma))
    paths = [r.path for r in api_requests(huma)]
    assert sum(p.startswith("/users/") and p.count("/") == 2 for p in paths) == 30 + 1  # + /me
    positions_pages = sum(p.endswith("/positions") for p in paths)
    extra_pages = sum(max(0, (len(v) - 1) // 50) for v in huma.positions.values())
    assert positions_pages == 30 + extra_pages
