"""tap-huma against the Huma emulator: exact records, token lifecycle, faults, limits."""

from __future__ import annotations

import collections
import itertools
import re
import typing as t

import pytest

from human_sandbox.huma import CLIENT_SECRET, HumaEmulator
from tap_huma.custom_columns import SAMPLED_USERS
from tap_huma.tap import TapHuma
from taps_shared.oauth import refresh_margin
from tests.support.helpers import run_cli, select_only, sync
from tests.support.registry import TAPS
from tests.taps.huma.expected import expected_records

HUMA = TAPS["huma"]
LIMITS = {"users": 50, "groups": 25, "positions": 50}
#: The streams that cost one request per parent record (user_details aside).
DETAIL_STREAMS = {"position_details", "work_schedules", "group_details", "job_title_details"}


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
    refused = [r.path for r in huma.server.requests if r.status != 200]
    unscheduled = {u["id"] for u in huma.users} - set(huma.work_schedules)
    assert sorted(refused) == sorted(f"/users/{u}/work-schedule" for u in unscheduled)


def test_a_token_expiring_mid_sync_is_renewed_before_it_lapses():
    """Over several token lifetimes. The detail streams are left out: they add nothing to
    the token's life but a longer run on a busy machine, where a request delayed past its
    token's expiry would be the scheduler's doing, not the tap's."""
    ttl = 1
    with HumaEmulator(seed=7, size=30, token_ttl=ttl, latency_ms=40) as emulator:
        config = HUMA.config(emulator)
        streams = set(HUMA.streams) - DETAIL_STREAMS
        catalog = select_only(TapHuma, config, streams)
        emulator.token_requests.clear()  # the token of the discovery that made the catalog
        emulator.server.clear_requests()
        result = sync(TapHuma, config, catalog=catalog)
        expected = {s: r for s, r in expected_records(emulator).items() if s in streams}
    assert result.records == expected  # nothing lost, nothing duplicated
    assert 401 not in {r.status for r in emulator.server.requests}  # never a 401
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
    # + /me, + the users whose custom fields discovery samples (no catalog given)
    details = 30 + 1 + SAMPLED_USERS
    assert sum(p.startswith("/users/") and p.count("/") == 2 for p in paths) == details
    positions_pages = sum(p.endswith("/positions") for p in paths)
    extra_pages = sum(max(0, (len(v) - 1) // 50) for v in huma.positions.values())
    assert positions_pages == 30 + extra_pages


def request_kinds(emulator: HumaEmulator) -> collections.Counter[str]:
    """Requests by route, ids as `{id}` (`/users/{id}/positions/{id}`)."""
    return collections.Counter(
        re.sub(r"/[0-9a-f-]{36}|/me\b", "/{id}", r.path) for r in emulator.server.requests
    )


def test_detail_streams_cost_one_request_per_parent_and_follow_the_catalog(huma):
    config = HUMA.config(huma)
    full = select_only(TapHuma, config, set(HUMA.streams))
    catalog = select_only(TapHuma, config, set(HUMA.streams) - DETAIL_STREAMS)
    huma.server.clear_requests()  # the discoveries of the two catalogs
    without = sync(TapHuma, config, catalog=catalog)
    before = request_kinds(huma)
    huma.server.clear_requests()
    sync(TapHuma, config, catalog=full)
    after = request_kinds(huma)

    assert not DETAIL_STREAMS & set(without.records)
    n_positions = sum(len(rows) for rows in huma.positions.values())
    assert after - before == {
        "/users/{id}/positions/{id}": n_positions,
        "/users/{id}/work-schedule": len(huma.users),
        "/groups/{id}": len(huma.groups),
        "/job-titles/{id}": len(huma.job_titles),
    }
    assert before - after == {}  # the other streams ask for the same as before
    # The README's formula: token, /users/me, users pages, a details request and the
    # positions pages per user, groups pages, job titles, one per holiday country.
    users, groups = len(huma.users), len(huma.groups)
    extra_pages = sum((len(rows) - 1) // 50 for rows in huma.positions.values())
    base = 2 + -(-users // 50) + 2 * users + extra_pages + -(-groups // 25) + 1 + 2
    assert sum(before.values()) == base
    assert sum(after.values()) == base + n_positions + users + groups + len(huma.job_titles)


def test_one_detail_stream_alone_reads_its_parent_but_emits_only_itself(huma):
    config = HUMA.config(huma)
    catalog = select_only(TapHuma, config, {"position_details"})
    huma.server.clear_requests()  # the discovery that made the catalog
    result = sync(TapHuma, config, catalog=catalog)
    assert list(result.records) == ["position_details"]
    assert result.records["position_details"] == expected_records(huma)["position_details"]
    kinds = request_kinds(huma)
    assert kinds["/users/{id}/positions/{id}"] == sum(len(v) for v in huma.positions.values())
    assert kinds["/users/{id}"] == 1  # /users/me, the connection check: no user details
    assert not kinds["/groups"] and not kinds["/users/{id}/work-schedule"]


def test_requests_per_second_bounds_the_whole_run_details_included():
    with HumaEmulator(seed=7, size=8) as emulator:
        config = HUMA.config(emulator, requests_per_second=40, max_parallel_requests=4)
        result = sync(TapHuma, config)
        expected = expected_records(emulator)
    assert result.records == expected
    times = sorted(r.time for r in emulator.server.requests)
    assert len(times) > 80  # details, work schedules, groups and job titles included
    busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    # The limiter's rate, plus the one its bucket may hold and one for arrival jitter
    # between the parallel workers.
    assert busiest <= 40 + 2
    # and never faster than the rate: after the two the bucket lets through at once, one
    # request each 25 ms (less one interval: the first arrival's connection set-up)
    assert times[-1] - times[0] >= (len(times) - 3) / 40


def test_work_schedules_skip_users_without_one(huma):
    result = sync(TapHuma, HUMA.config(huma, max_parallel_requests=1))
    unscheduled = [u["id"] for u in huma.users if u["id"] not in huma.work_schedules]
    assert unscheduled  # deactivated users: the API answers 404
    assert {r["userId"] for r in result.records["work_schedules"]} == set(huma.work_schedules)
    assert all(not huma.list_index[u]["status"]["active"] for u in unscheduled)
