"""taps_shared retries, Retry-After, rate limiting and error mapping, against a loopback server."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from human_sandbox.core import EmulatorServer, Request, Response, json_response
from taps_shared.auth import BearerTokenAuth, HumanAuth
from taps_shared.errors import HTTPStatusError, RetriesExhaustedError, UnauthorizedError
from taps_shared.ratelimit import RateLimiter
from taps_shared.responses import check_response, json_body
from taps_shared.retry import RetryPolicy, server_wait, with_retries

FAST = RetryPolicy(max_tries=4, base_delay=0.01, max_delay=0.05, max_total_wait=5)
log = logging.getLogger("test")


def ok_app(request: Request) -> Response:
    return json_response(200, {"ok": True, "path": request.path})


@pytest.fixture
def server():
    with EmulatorServer(ok_app) as srv:
        yield srv


def caller(server: EmulatorServer, policy: RetryPolicy = FAST, timeout: float = 2, **kwargs):
    session = requests.Session()

    def attempt(path: str) -> requests.Response:
        response = session.get(server.base_url + path, timeout=timeout)
        check_response(response, "test")
        return response

    return with_retries(
        attempt, policy=policy, label=lambda p: f"test: GET {p}", logger=log, **kwargs
    )


@pytest.mark.parametrize(
    ("fault", "extra"),
    [
        ({"kind": "status", "status": 503}, {}),
        ({"kind": "status", "status": 500, "body": "<html>proxy error</html>"}, {}),
        ({"kind": "status", "status": 429}, {}),
        ({"kind": "reset"}, {}),
        ({"kind": "truncate"}, {}),
        ({"kind": "status", "status": 200, "body": "<html>not json</html>"}, {}),
    ],
)
def test_transient_failures_are_retried(server, fault, extra):
    server.faults.add(**fault, times=2)
    response = caller(server)("/x")
    assert json_body(response) == {"ok": True, "path": "/x"}
    assert len(server.requests) == 3


def test_retry_after_seconds_is_honoured_exactly(server):
    server.faults.add("status", status=429, headers={"Retry-After": "1"}, times=1)
    caller(server)("/x")
    first, second = server.requests
    assert first.status == 429 and second.status == 200
    assert 1.0 <= second.time - first.time < 1.9  # no jitter (up to 1 s) on a server-given wait


def test_retry_after_http_date_is_honoured(server):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    server.faults.add("status", status=503, headers={"Retry-After": when}, times=1)
    caller(server)("/x")
    first, second = server.requests
    assert 0.9 <= second.time - first.time < 2.6  # HTTP dates have one-second resolution


def test_server_wait_parsing():
    def response(status: int, headers: dict[str, str]) -> requests.Response:
        r = requests.Response()
        r.status_code = status
        r.headers.update(headers)
        return r

    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)

    def seconds(status: int, headers: dict[str, str]) -> float | None:
        wait = server_wait(response(status, headers), now)
        return None if wait is None else wait.seconds

    assert seconds(429, {"Retry-After": "7"}) == 7
    assert seconds(429, {"Retry-After": "0.5"}) == 0.5
    assert seconds(503, {"Retry-After": date}) == 30
    assert seconds(429, {"X-RateLimit-Reset": str(int(now) + 12)}) == 12
    assert seconds(429, {"RateLimit-Reset": "3"}) == 3
    assert seconds(500, {"X-RateLimit-Reset": "3"}) is None
    assert seconds(429, {"Retry-After": "soon"}) is None
    assert server_wait(None) is None


def test_attempts_are_bounded(server):
    server.faults.add("status", status=502, times=-1)
    with pytest.raises(
        RetriesExhaustedError, match=r"test: GET /x returned 502 .*after 4 attempts"
    ):
        caller(server)("/x")
    assert len(server.requests) == 4


def test_total_wait_is_bounded(server):
    server.faults.add("status", status=429, headers={"Retry-After": "60"}, times=-1)
    started = time.monotonic()
    with pytest.raises(RetriesExhaustedError, match="asked to wait 60s, beyond the retry budget"):
        caller(server)("/x")
    assert time.monotonic() - started < 1
    assert len(server.requests) == 1


def test_backoff_grows_and_is_jittered():
    policy = RetryPolicy(base_delay=1, max_delay=8)
    waits = [policy.backoff(n) for n in range(1, 7)]
    for n, wait in enumerate(waits, start=1):
        ceiling = min(8, 2 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert len({round(policy.backoff(3), 6) for _ in range(20)}) > 1


def test_read_timeout_is_retried(server):
    server.faults.add("delay", delay_s=1.5, times=1)
    started = time.monotonic()
    response = caller(server, timeout=0.5)("/x")
    assert response.status_code == 200
    assert time.monotonic() - started < 2.5


def test_client_errors_are_fatal_and_not_retried(server):
    server.faults.add("status", status=404, body={"name": "NotFound", "message": "No record"})
    with pytest.raises(HTTPStatusError) as info:
        caller(server)("/x")
    assert str(info.value) == "test: GET /x returned 404 Not Found (NotFound: No record)"
    assert len(server.requests) == 1


class RefreshingAuth(HumanAuth):
    def __init__(self) -> None:
        self.refreshes = 0

    def __call__(self, request):
        return request

    def handle_unauthorized(self) -> bool:
        self.refreshes += 1
        return True


def test_401_refreshes_once_then_fails(server):
    auth = RefreshingAuth()
    server.faults.add("status", status=401, times=1)
    assert caller(server, auth=auth)("/x").status_code == 200
    assert auth.refreshes == 1

    server.faults.add("status", status=401, times=-1)
    with pytest.raises(UnauthorizedError):
        caller(server, auth=auth)("/x")
    assert auth.refreshes == 2  # one refresh per call, never a loop


def test_static_credentials_do_not_retry_401(server):
    server.faults.add("status", status=401, times=-1)
    with pytest.raises(UnauthorizedError):
        caller(server, auth=BearerTokenAuth("t0ken-value"))("/x")
    assert len(server.requests) == 1


def test_rate_limiter_spaces_requests(server):
    call = caller(server, limiter=RateLimiter(20))
    for _ in range(11):
        call("/x")
    times = [r.time for r in server.requests]
    assert times[-1] - times[0] >= 0.45  # 10 gaps at 20/s


def test_rate_limiter_disabled_is_free():
    limiter = RateLimiter(0)
    assert sum(limiter.acquire() for _ in range(1000)) == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "statusCode": 400,
                "message": ["pageSize must be at most 100", "x"],
                "error": "Bad Request",
            },
            "Bad Request: pageSize must be at most 100; x",
        ),
        (
            {"error": "invalid_client", "error_description": "Bad client"},
            "invalid_client: Bad client",
        ),
        (
            {"error": {"code": "rate_limit", "message": "Slow down", "status": 429}},
            "rate_limit: Slow down",
        ),
        ({"name": "NotFound", "message": "No record", "code": 404}, "NotFound: No record"),
        (
            {"errorCode": "field:invalid-format", "errorMessage": "Invalid"},
            "field:invalid-format: Invalid",
        ),
        ([1, 2], ""),
    ],
)
def test_api_error_messages_are_read_from_common_shapes(server, body, expected):
    server.faults.add("status", status=400, body=body)
    with pytest.raises(HTTPStatusError) as info:
        caller(server)("/x")
    assert info.value.api_message == expected


def test_an_exhausted_rate_limit_window_holds_requests_until_it_resets():
    limiter = RateLimiter(0)
    limiter.observe({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": str(time.time() + 5)})
    assert limiter.acquire() == 0  # budget left: no hold
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(time.time() + 0.4)})
    started = time.monotonic()
    limiter.acquire()
    assert 0.3 <= time.monotonic() - started < 1.5
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0.2"})  # a delta
    assert 0.1 <= limiter.acquire() <= 0.3


def test_an_api_message_never_repeats_the_credentials_the_request_sent(server):
    """A server that echoes the request's credentials into its error message (found by
    the canary, issue 8): per-request values such as an HMAC signature are never
    registered as secrets, so the message is masked with what this request sent."""
    signature = "9f2c4e1ab07d5c3e8f6a2b1d0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e"
    sent = {"X-Signature": signature, "X-Api-Key": "unregistered-key-4471", "X-Timestamp": "17"}
    server.echo_credentials = True
    server.faults.add("status", status=400, body={"message": "Invalid signature"})
    session = requests.Session()
    response = session.get(f"{server.base_url}/x?sig=abc&page=2", headers=sent, timeout=2)
    with pytest.raises(HTTPStatusError) as info:
        check_response(response, "test")
    text = str(info.value)
    assert signature not in text and "unregistered-key-4471" not in text
    assert info.value.api_message.startswith("Invalid signature (you sent ")
    assert "x-signature: ****" in info.value.api_message
