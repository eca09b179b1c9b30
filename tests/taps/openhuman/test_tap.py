"""tap-openhuman against the OpenHuman emulator: both auth modes, rotation, rate limits."""

from __future__ import annotations

import json
import logging
import typing as t
from pathlib import Path

import pytest

from human_sandbox.openhuman import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    OpenHumanEmulator,
)
from tap_openhuman.authorize import main as authorize
from tap_openhuman.tap import V1_STREAMS, TapOpenHuman
from tests.support.helpers import as_emitted, run_cli, sync
from tests.support.registry import TAPS

OPENHUMAN = TAPS["openhuman"]
#: The streams of contract (A); tests/taps/openhuman/test_backend.py has (B)'s.
STREAMS = sorted(spec.name for spec in V1_STREAMS)


def oauth_config(emulator: OpenHumanEmulator, refresh_token: str | None, **extra: t.Any) -> dict:
    """The OAuth mode's config with the given refresh token (None: without one)."""
    config = OPENHUMAN.config(emulator, auth="API key", **extra)
    del config["api_key"]
    config |= OPENHUMAN.auth["OAuth"].settings
    if refresh_token:
        config["refresh_token"] = refresh_token
    return config


def keyed(rows: list[dict]) -> dict:
    return {(r.get("id"), r.get("date"), r.get("model")): r for r in rows}


@pytest.fixture
def openhuman() -> t.Iterator[OpenHumanEmulator]:
    with OPENHUMAN.emulator() as emulator:
        yield emulator


def test_every_stream_emits_exactly_the_api_records(openhuman):
    result = sync(TapOpenHuman, OPENHUMAN.config(openhuman))
    assert sorted(result.records) == list(OPENHUMAN.streams)  # (B)'s: test_backend.py
    for stream in STREAMS:
        expected = as_emitted(openhuman.data[stream])
        assert len(result.records[stream]) == len(expected), stream
        assert keyed(result.records[stream]) == keyed(expected), stream
    assert result.bookmark("agents") == max(a["updated_at"] for a in openhuman.data["agents"])


def test_oauth_mode_emits_the_same_records(openhuman, tmp_path):
    by_key = sync(TapOpenHuman, OPENHUMAN.config(openhuman))
    token = openhuman.issue_refresh_token()
    config = oauth_config(openhuman, token, token_cache_path=str(tmp_path / "token.json"))
    by_oauth = sync(TapOpenHuman, config)
    assert by_oauth.records == by_key.records
    assert [r["grant_type"] for r in openhuman.token_requests] == ["refresh_token"]


def test_rotated_tokens_carry_over_between_runs_through_the_cache(openhuman, tmp_path):
    cache = tmp_path / "cache" / "openhuman.json"
    token = openhuman.issue_refresh_token()
    config = oauth_config(openhuman, token, token_cache_path=str(cache))
    first = sync(TapOpenHuman, config)
    second = sync(TapOpenHuman, config)  # the configured token was rotated away by run 1
    assert first.records == second.records
    assert [r["ok"] for r in openhuman.token_requests] == [True, True]
    assert (cache.stat().st_mode & 0o777) == 0o600
    assert json.loads(cache.read_text())["refresh_token"] != token


def test_without_the_cache_a_rotated_token_asks_to_reauthorize(openhuman, tmp_path):
    token = openhuman.issue_refresh_token()
    sync(TapOpenHuman, oauth_config(openhuman, token))  # rotates; nothing keeps the new one
    run = run_cli("tap-openhuman", tmp_path, config=oauth_config(openhuman, token))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1
    assert "invalid_grant" in run.error_lines[0]
    assert run.error_lines[0].endswith("re-authorize to obtain a new refresh token")
    for secret in (token, CLIENT_SECRET):
        assert secret not in run.stdout + run.stderr


def test_an_access_token_expiring_mid_sync_is_refreshed_once():
    with OpenHumanEmulator(seed=7, size=12, token_ttl=2, latency_ms=60) as emulator:
        token = emulator.issue_refresh_token()
        config = oauth_config(emulator, token)
        del config["backend_token"]  # the /v1 API's tokens only: (B) is skipped
        result = sync(TapOpenHuman, config)
        expected = {s: keyed(as_emitted(emulator.data[s])) for s in STREAMS}
    assert {s: keyed(result.records[s]) for s in STREAMS} == expected
    assert [r["ok"] for r in emulator.token_requests] == [True] * len(emulator.token_requests)
    assert 2 <= len(emulator.token_requests) <= 6  # a 2 s token is replaced every ~1 s
    assert all(r.status == 200 for r in emulator.server.requests if r.path.startswith("/v1"))


def test_a_401_mid_sync_refreshes_once_and_retries(openhuman, tmp_path):
    clean = sync(TapOpenHuman, OPENHUMAN.config(openhuman))
    token = openhuman.issue_refresh_token()
    openhuman.server.faults.add(
        "status",
        status=401,
        path="/v1/memories",
        times=1,
        body={"error": {"code": "token_expired", "message": "Access token expired", "status": 401}},
    )
    config = oauth_config(openhuman, token, token_cache_path=str(tmp_path / "t.json"))
    result = sync(TapOpenHuman, config)
    assert result.records == clean.records
    assert [r["grant_type"] for r in openhuman.token_requests] == ["refresh_token"] * 2
    memories = [r.status for r in openhuman.server.requests if r.path == "/v1/memories"]
    assert memories[-2:] == [401, 200]


def test_incremental_second_run(openhuman):
    first = sync(TapOpenHuman, OPENHUMAN.config(openhuman))
    changed = set(openhuman.touch_agents(2)) | set(openhuman.add_agents(2))
    openhuman.server.clear_requests()
    second = sync(TapOpenHuman, OPENHUMAN.config(openhuman), state=first.final_state)
    got = {a["id"] for a in second.records["agents"]}
    boundary = {
        a["id"] for a in openhuman.data["agents"] if a["updated_at"] == first.bookmark("agents")
    }
    assert changed <= got <= changed | boundary
    agent_calls = [r for r in openhuman.server.requests if r.path == "/v1/agents"]
    assert agent_calls[-1].query["updated_after"][0] < first.bookmark("agents")


def test_a_first_run_without_start_date_reads_everything_oldest_first(openhuman):
    # Unfiltered, the API lists newest first; the tap must still ask for ascending order.
    config = {k: v for k, v in OPENHUMAN.config(openhuman).items() if k != "start_date"}
    result = sync(TapOpenHuman, config)
    for stream in ("agents", "conversations", "memories", "runs"):
        assert keyed(result.records[stream]) == keyed(as_emitted(openhuman.data[stream]))
        stamps = [r["updated_at"] for r in result.records[stream]]
        assert stamps == sorted(stamps), stream
    assert len(result.records["messages"]) == len(openhuman.data["messages"])


def test_a_proposed_endpoint_the_account_lacks_is_skipped_with_one_warning(caplog):
    emulator = OpenHumanEmulator(seed=7, size=6, missing={"runs", "memories"})
    with emulator, caplog.at_level(logging.WARNING):
        result = sync(TapOpenHuman, OPENHUMAN.config(emulator))
    assert "runs" not in result.records and "memories" not in result.records
    assert result.records["agents"]
    skipped = sorted(
        r.getMessage().split()[2].rstrip(":")
        for r in caplog.records
        if r.getMessage().startswith("Skipping stream")
    )
    assert skipped == ["memories", "runs"]


def test_rate_limit_headers_keep_the_sync_under_the_limit():
    emulator = OpenHumanEmulator(seed=7, size=4, rate_limit_per_min=8, rate_window_s=1.5)
    with emulator:
        result = sync(TapOpenHuman, OPENHUMAN.config(emulator))
        calls = [r for r in emulator.server.requests if r.path.startswith("/v1/")]
    assert emulator.rate_limited == 0  # never a 429
    assert len(calls) > 2 * 8  # the sync needed more than two windows
    assert len(result.records["agents"]) == 4


def test_faults_leave_the_records_unchanged(openhuman):
    clean = sync(TapOpenHuman, OPENHUMAN.config(openhuman))
    openhuman.server.faults.add("status", status=500, path="/v1/agents", times=2)
    openhuman.server.faults.add("status", status=429, headers={"Retry-After": "1"}, path="/v1/runs")
    openhuman.server.faults.add("reset", path="/v1/memories", times=1)
    faulty = sync(TapOpenHuman, OPENHUMAN.config(openhuman))
    assert faulty.records == clean.records
    assert faulty.final_state == clean.final_state


def test_a_bad_key_is_one_line_without_the_key(tmp_path, openhuman):
    wrong = "sk_wrong_canary_0011"
    run = run_cli("tap-openhuman", tmp_path, config=OPENHUMAN.config(openhuman, api_key=wrong))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1
    assert run.error_lines[0].endswith(
        "OpenHuman rejected the credentials (401 invalid_api_key: API key is invalid or "
        "expired): check api_key"
    )
    assert wrong not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"api_key": API_KEY, "client_id": CLIENT_ID}, "set either api_key or client_id"),
        ({}, "set api_key, or client_id + client_secret + refresh_token for OAuth"),
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, "missing refresh_token"),
    ],
)
def test_auth_modes_must_be_exactly_one_complete(tmp_path, openhuman, config, message):
    base = {"api_url": openhuman.api_url, "auth_url": openhuman.auth_url}
    run = run_cli("tap-openhuman", tmp_path, config={**base, **config})
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1
    assert message in run.error_lines[0]
    assert API_KEY not in run.stderr and CLIENT_SECRET not in run.stderr


def test_authorize_stores_the_refresh_token_without_printing_it(openhuman, tmp_path, capsys):
    cache = tmp_path / "token.json"
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "auth_url": openhuman.auth_url,
                "api_url": openhuman.api_url,
                "token_cache_path": str(cache),
            }
        )
    )
    code = openhuman.issue_code()
    assert authorize(["--config", str(config), "--redirect-uri", REDIRECT_URI, "--code", code]) == 0
    out = capsys.readouterr()
    stored = json.loads(cache.read_text())["refresh_token"]
    assert stored not in out.out + out.err
    assert f"Refresh token stored in {cache}" in out.out
    assert (cache.stat().st_mode & 0o777) == 0o600
    # the tap then runs with the cache alone
    tap_config = json.loads(config.read_text()) | {
        "requests_per_second": 0,
        "start_date": "2024-01-01",
    }
    assert sync(TapOpenHuman, tap_config).records["agents"]
    # a code is single use
    assert authorize(["--config", str(config), "--redirect-uri", REDIRECT_URI, "--code", code]) == 1
    assert "codes are single-use" in capsys.readouterr().err
    assert Path(cache).exists()


def test_authorize_refuses_a_plain_http_auth_server(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "auth_url": "http://auth.example.com",
                "token_cache_path": str(tmp_path / "t.json"),
            }
        )
    )
    code = ["--config", str(config), "--redirect-uri", REDIRECT_URI, "--code", "c"]
    assert authorize(code) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "tap-openhuman-authorize: error: auth_url must use https:// (plain http is only "
        "allowed for loopback hosts), got 'http://auth.example.com'"
    )
    assert CLIENT_SECRET not in err
    assert not (tmp_path / "t.json").exists()


def test_url_settings_are_used_without_a_trailing_slash(openhuman, tmp_path):
    token = openhuman.issue_refresh_token()
    config = oauth_config(openhuman, token, auth_url=openhuman.auth_url + "/")
    assert sync(TapOpenHuman, config).records["agents"]
    assert [r.path for r in openhuman.server.requests if "oauth" in r.path] == ["/oauth/token"]
