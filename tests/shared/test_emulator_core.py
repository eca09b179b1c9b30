"""The emulator plumbing the reliability suite leans on: exact-path faults, a well-framed
truncated body, a fault that runs an action, and the credential-echoing canary mode."""

from __future__ import annotations

import typing as t

import orjson
import pytest
import requests

from human_sandbox.core import EmulatorServer, Request, Response, json_response

TIMEOUT = 5


def app(request: Request) -> Response:
    if request.path == "/fail":
        return json_response(403, {"error": {"code": "forbidden", "message": "No"}})
    return json_response(200, {"data": [{"id": i} for i in range(20)], "path": request.path})


@pytest.fixture
def server() -> t.Iterator[EmulatorServer]:
    with EmulatorServer(app) as emulator:
        yield emulator


def test_a_pattern_fault_hits_only_paths_matching_in_full(server):
    server.faults.add("status", status=503, pattern=r"/users/[^/]+", times=-1)
    get = requests.Session().get
    assert get(f"{server.base_url}/users", timeout=TIMEOUT).status_code == 200
    assert get(f"{server.base_url}/users/1/positions", timeout=TIMEOUT).status_code == 200
    assert get(f"{server.base_url}/users/1", timeout=TIMEOUT).status_code == 503


def test_a_cut_fault_sends_a_well_framed_half_body(server):
    server.faults.add("cut", path="/users")
    response = requests.get(f"{server.base_url}/users", timeout=TIMEOUT)
    whole = requests.get(f"{server.base_url}/users", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.content == whole.content[: len(whole.content) // 2]
    with pytest.raises(ValueError):
        orjson.loads(response.content)


def test_a_call_fault_runs_its_action_then_serves(server):
    calls: list[str] = []
    with pytest.raises(ValueError, match="action="):
        server.faults.add("call")
    fault = server.faults.add("call", action=lambda: calls.append("revoked"), after=1)
    for _ in range(3):
        assert requests.get(f"{server.base_url}/x", timeout=TIMEOUT).status_code == 200
    assert calls == ["revoked"] and fault.fired == 1


def test_echo_mode_copies_credentials_into_headers_and_error_messages(server):
    server.echo_credentials = True
    headers = {"Authorization": "Bearer tok-123456", "X-Signature": "abcdef0123"}
    ok = requests.get(f"{server.base_url}/x?api_key=k-987654", headers=headers, timeout=TIMEOUT)
    assert ok.headers["X-Echo-authorization"] == "Bearer tok-123456"
    assert ok.headers["X-Echo-api_key"] == "k-987654"
    assert "tok-123456" not in ok.text  # a success body is left alone
    failed = requests.post(
        f"{server.base_url}/fail", data={"client_secret": "s3cr3t-value"}, timeout=TIMEOUT
    )
    message = failed.json()["error"]["message"]
    assert message.startswith("No (you sent ") and "client_secret: s3cr3t-value" in message
    server.faults.add("status", status=502, body=b"<html>Bad Gateway</html>")
    html = requests.get(f"{server.base_url}/x", headers=headers, timeout=TIMEOUT)
    assert html.text.startswith("<html>Bad Gateway</html> (you sent ")
    assert "x-signature: abcdef0123" in html.text  # header names as received, lower-cased
