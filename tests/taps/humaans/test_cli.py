"""tap-humaans as users run it: bad input gives one clear line, exit 1, no traceback, no secret."""

from __future__ import annotations

import socket

import pytest

from human_sandbox.humaans import FULL_TOKEN, HumaansEmulator
from tests.support.helpers import run_cli

WRONG_TOKEN = "hmns_wrong_canary_0d7e4b2a91"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_clean_failure(run, message: str, *secrets: str) -> None:
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.error_lines, run.stderr
    assert run.error_lines[-1].endswith(message), run.error_lines
    assert len(run.error_lines) == 1, run.error_lines
    for secret in secrets:
        assert secret not in run.stdout + run.stderr


@pytest.fixture(scope="module")
def emulator():
    with HumaansEmulator(seed=7, size=10, echo_token_in_errors=True) as emu:
        yield emu


def test_missing_api_token(tmp_path, emulator):
    run = run_cli("tap-humaans", tmp_path, config={"api_url": emulator.url})
    assert_clean_failure(run, "invalid config: 'api_token' is a required property")


def test_wrong_token_is_one_line_and_never_echoed(tmp_path, emulator):
    config = {"api_token": WRONG_TOKEN, "api_url": emulator.url}
    run = run_cli(
        "tap-humaans",
        tmp_path,
        config=config,
        env={"TAP_HUMAANS_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"},
    )
    assert_clean_failure(run, "Humaans rejected the API token (401): check api_token", WRONG_TOKEN)
    assert run.messages == []


def test_malformed_start_date(tmp_path, emulator):
    config = {"api_token": FULL_TOKEN, "api_url": emulator.url, "start_date": "2024-31-01"}
    run = run_cli("tap-humaans", tmp_path, config=config)
    assert_clean_failure(
        run,
        "start_date '2024-31-01' is not an ISO-8601 date or datetime (e.g. 2024-01-31)",
        FULL_TOKEN,
    )


def test_plain_http_to_a_remote_host_is_refused(tmp_path):
    config = {"api_token": FULL_TOKEN, "api_url": "http://app.humaans.io/api"}
    run = run_cli("tap-humaans", tmp_path, config=config)
    assert_clean_failure(
        run,
        "api_url must use https:// (plain http is only allowed for loopback hosts), "
        "got 'http://app.humaans.io'",
        FULL_TOKEN,
    )


def test_unreachable_host(tmp_path):
    port = free_port()
    config = {"api_token": FULL_TOKEN, "api_url": f"http://127.0.0.1:{port}/api", "max_retries": 1}
    run = run_cli("tap-humaans", tmp_path, config=config)
    assert_clean_failure(
        run,
        f"connection check: GET /api/me: connection refused (127.0.0.1:{port}); "
        "not retried; check api_url",
        FULL_TOKEN,
    )


def test_server_errors_echoing_the_token_stay_secret(tmp_path, emulator):
    emulator.server.faults.add(
        "status",
        status=500,
        times=-1,
        path="/api/people",
        body={"message": f"internal error for Bearer {FULL_TOKEN}"},
    )
    try:
        config = {"api_token": FULL_TOKEN, "api_url": emulator.url, "max_retries": 1}
        run = run_cli("tap-humaans", tmp_path, config=config, env={"LOGLEVEL": "DEBUG"})
    finally:
        emulator.server.faults.clear()
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert FULL_TOKEN not in run.stdout + run.stderr
    assert len(run.error_lines) == 1  # a stream failing mid-run still ends in one line
    assert run.error_lines[-1].endswith(
        "people: GET /api/people returned 500 Internal Server Error (internal error for ****); "
        "gave up after 2 attempts"
    )


def test_discover_and_about_work_without_credentials(tmp_path):
    about = run_cli("tap-humaans", tmp_path, "--about", "--format=json")
    assert about.returncode == 0
    assert '"api_token"' in about.stdout
    discover = run_cli("tap-humaans", tmp_path, "--discover", config={})
    assert discover.returncode == 0
    assert '"tap_stream_id":"people"' in discover.stdout.replace(" ", "").replace("\n", "")


def test_settings_from_the_environment(tmp_path, emulator):
    env = {
        "TAP_HUMAANS_API_TOKEN": FULL_TOKEN,
        "TAP_HUMAANS_API_URL": emulator.url,
        "TAP_HUMAANS_REQUESTS_PER_SECOND": "0",
    }
    run = run_cli("tap-humaans", tmp_path, "--config", "ENV", env=env)
    assert run.returncode == 0, run.stderr
    people = [m for m in run.messages if m["type"] == "RECORD" and m["stream"] == "people"]
    assert {p["record"]["id"] for p in people} == {p["id"] for p in emulator.data["people"]}
    assert FULL_TOKEN not in run.stderr
