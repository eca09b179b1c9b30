"""OAuth2 client credentials in taps_shared, against a loopback token endpoint and API."""

from __future__ import annotations

import base64
import logging
import typing as t
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import orjson
import pytest
import requests

from human_sandbox.core import EmulatorServer, Request, Response, json_response
from taps_shared.errors import ConfigError, RetriesExhaustedError, UnauthorizedError
from taps_shared.oauth import ClientCredentialsAuth
from taps_shared.responses import check_response
from taps_shared.retry import RetryPolicy, with_retries

CLIENT_ID = "client-abc"
SECRET = "s3cret-canary-7a1f"
FAST = RetryPolicy(max_tries=3, base_delay=0.01, max_delay=0.02)
log = logging.getLogger("test-oauth")


@dataclass
class TokenApi:
    """A token endpoint (form, JSON or Basic client auth) and one protected route."""

    expires_in: int = 3600
    minted: list[dict] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)

    def __call__(self, request: Request) -> Response:
        if request.path == "/token":
            return self.token(request)
        sent = (request.header("authorization") or "").removeprefix("Bearer ")
        if sent not in self.valid:
            return json_response(401, {"error": "invalid_token"})
        return json_response(200, {"ok": sent})

    def token(self, request: Request) -> Response:
        kind = request.header("content-type") or ""
        if kind.startswith("application/json"):
            fields, style = orjson.loads(request.body), "json"
        else:
            fields = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            style = "form"
        basic = request.header("authorization") or ""
        if basic.startswith("Basic "):
            cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            fields |= {"client_id": cid, "client_secret": secret}
            style = "basic"
        ok = fields.get("grant_type") == "client_credentials" and (
            fields.get("client_id"),
            fields.get("client_secret"),
        ) == (CLIENT_ID, SECRET)
        self.minted.append({"style": style, "ok": ok})
        if not ok:
            echoed = f"bad client {fields.get('client_secret')}"
            return json_response(401, {"error": "invalid_client", "error_description": echoed})
        token = f"tok-{len(self.minted):04d}-xyz"
        self.valid.add(token)
        return json_response(200, {"access_token": token, "expires_in": self.expires_in})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api() -> t.Iterator[tuple[TokenApi, EmulatorServer]]:
    app = TokenApi()
    with EmulatorServer(app) as server:
        yield app, server


def sender(session: requests.Session):
    def send(request: requests.PreparedRequest, label: str) -> requests.Response:
        def attempt(prepared):
            response = session.send(prepared, timeout=5)
            check_response(response, label)
            return response

        return with_retries(attempt, policy=FAST, label=lambda _r: label, logger=log)(request)

    return send


def make_auth(server, secret=SECRET, clock=None, client_auth="form") -> ClientCredentialsAuth:
    return ClientCredentialsAuth(
        token_url=f"{server.base_url}/token",
        client_id=CLIENT_ID,
        client_secret=secret,
        send=sender(requests.Session()),
        client_auth=client_auth,
        clock=clock or Clock(),
    )


def call(server, auth) -> requests.Response:
    session = requests.Session()

    def attempt(url: str) -> requests.Response:
        request = auth(requests.Request("GET", url).prepare())
        response = session.send(request, timeout=5)
        check_response(response, "api")
        return response

    return with_retries(attempt, policy=FAST, label=lambda u: u, logger=log, auth=auth)(
        f"{server.base_url}/data"
    )


@pytest.mark.parametrize("style", ["form", "json", "basic"])
def test_each_client_auth_style_obtains_and_reuses_one_token(api, style):
    app, server = api
    auth = make_auth(server, client_auth=style)
    for _ in range(5):
        assert call(server, auth).json() == {"ok": "tok-0001-xyz"}
    assert app.minted == [{"style": style, "ok": True}]


def test_token_is_refreshed_before_it_expires_with_a_safety_margin(api):
    app, server = api
    app.expires_in = 3600
    clock = Clock()
    auth = make_auth(server, clock=clock)
    call(server, auth)
    clock.now += 3600 - 61  # still outside the 60 s margin
    call(server, auth)
    assert len(app.minted) == 1
    clock.now += 2  # inside the margin: re-mint before the server would refuse it
    assert call(server, auth).json() == {"ok": "tok-0002-xyz"}
    assert len(app.minted) == 2


def test_short_lifetimes_use_a_proportional_margin(api):
    app, server = api
    app.expires_in = 10
    clock = Clock()
    auth = make_auth(server, clock=clock)
    call(server, auth)
    clock.now += 4.9  # a 10 s token is replaced 5 s before it expires
    call(server, auth)
    assert len(app.minted) == 1
    clock.now += 0.2
    call(server, auth)
    assert len(app.minted) == 2


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [(1, 0.5), (2, 1.0), (10, 5.0), (100, 10.0), (3600, 60.0), (86400, 60.0)],
)
def test_refresh_margin(lifetime, margin):
    from taps_shared.oauth import refresh_margin

    assert refresh_margin(lifetime) == margin


def test_a_401_refreshes_once_and_retries(api):
    app, server = api
    auth = make_auth(server)
    call(server, auth)
    app.valid.clear()  # the server revoked every token
    assert call(server, auth).json() == {"ok": "tok-0002-xyz"}
    assert len(app.minted) == 2
    assert [r.status for r in server.requests if r.path == "/data"] == [200, 401, 200]


def test_a_401_after_a_fresh_token_fails_after_exactly_one_refresh(api):
    app, server = api
    auth = make_auth(server)
    server.faults.add("status", status=401, path="/data", times=-1)
    with pytest.raises(UnauthorizedError):
        call(server, auth)
    assert len(app.minted) == 2  # the first token, then one refresh


def test_token_endpoint_faults_are_retried(api):
    app, server = api
    server.faults.add("status", status=503, path="/token", times=1)
    server.faults.add("reset", path="/token", times=1)
    assert call(server, make_auth(server)).status_code == 200
    assert len(app.minted) == 1


def test_a_token_endpoint_that_never_recovers_names_the_call_it_was_for(api):
    """Found by issue 8: a token request that runs out of retries while authenticating an
    API call must still say which call (in a tap: which stream) failed, not only the token
    request."""
    _app, server = api
    server.faults.add("status", status=503, path="/token", times=-1)
    with pytest.raises(RetriesExhaustedError) as info:
        call(server, make_auth(server))
    message = str(info.value)
    assert message.startswith(f"{server.base_url}/data: OAuth token request: POST /token ")
    assert "returned 503" in message and message.endswith("gave up after 3 attempts")


def test_wrong_secret_is_one_clear_line_without_the_secret(api):
    _, server = api
    wrong = "wrong-secret-canary-55"
    with pytest.raises(ConfigError) as info:
        call(server, make_auth(server, secret=wrong))
    message = str(info.value)
    assert message == (
        "OAuth token request: POST /token returned 401 Unauthorized "
        "(invalid_client: bad client ****): the token endpoint refused the request; "
        "check client_id and client_secret"
    )
    assert wrong not in message


@dataclass
class RotatingApi:
    """A token endpoint that rotates the refresh token on every use (and rejects reuse)."""

    live_refresh: str = "rt-0001-seed"
    minted: int = 0
    valid: set[str] = field(default_factory=set)

    def __call__(self, request: Request) -> Response:
        if request.path != "/token":
            sent = (request.header("authorization") or "").removeprefix("Bearer ")
            return json_response(200 if sent in self.valid else 401, {})
        fields = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if fields.get("grant_type") == "authorization_code" and fields.get("code") == "code-1":
            return self.issue()
        if (
            fields.get("grant_type") != "refresh_token"
            or fields.get("refresh_token") != self.live_refresh
        ):
            return json_response(
                400, {"error": "invalid_grant", "error_description": "used or unknown"}
            )
        return self.issue()

    def issue(self) -> Response:
        self.minted += 1
        self.live_refresh = f"rt-{self.minted + 1:04d}-rotated"
        access = f"at-{self.minted:04d}"
        self.valid.add(access)
        return json_response(
            200, {"access_token": access, "refresh_token": self.live_refresh, "expires_in": 3600}
        )


def refresh_auth(server, token: str, cache: str | None = None) -> t.Any:
    from taps_shared.oauth import RefreshTokenAuth

    return RefreshTokenAuth(
        token_url=f"{server.base_url}/token",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        refresh_token=token,
        cache_path=cache,
        send=sender(requests.Session()),
    )


def test_rotated_refresh_tokens_are_kept_and_cached_with_owner_only_permissions(tmp_path):
    app = RotatingApi()
    cache = tmp_path / "state" / "token.json"
    with EmulatorServer(app) as server:
        first = refresh_auth(server, "rt-0001-seed", str(cache))
        call(server, first)
        assert first.refresh_token == "rt-0002-rotated"
        assert (cache.stat().st_mode & 0o777) == 0o600
        assert orjson.loads(cache.read_bytes()) == {"refresh_token": "rt-0002-rotated"}

        # a later run: the configured token is stale, the cached one is used and rotated
        second = refresh_auth(server, "rt-0001-seed", str(cache))
        call(server, second)
        assert orjson.loads(cache.read_bytes()) == {"refresh_token": "rt-0003-rotated"}
        assert (cache.stat().st_mode & 0o777) == 0o600


def test_a_used_refresh_token_asks_the_user_to_reauthorize():
    app = RotatingApi(live_refresh="rt-0009-newer")
    with EmulatorServer(app) as server, pytest.raises(ConfigError) as info:
        call(server, refresh_auth(server, "rt-0001-seed"))
    message = str(info.value)
    assert message.endswith(
        "returned 400 Bad Request (invalid_grant: used or unknown): the token endpoint "
        "refused the request; re-authorize to obtain a new refresh token"
    )
    assert "rt-0001-seed" not in message


def test_code_exchange_returns_the_first_tokens():
    from taps_shared.oauth import exchange_code

    app = RotatingApi()
    with EmulatorServer(app) as server:
        payload = exchange_code(
            token_url=f"{server.base_url}/token",
            client_id=CLIENT_ID,
            client_secret=SECRET,
            code="code-1",
            redirect_uri="http://127.0.0.1/cb",
            send=sender(requests.Session()),
        )
        assert payload["refresh_token"] == "rt-0002-rotated"
        with pytest.raises(ConfigError, match="codes are single-use"):
            exchange_code(
                token_url=f"{server.base_url}/token",
                client_id=CLIENT_ID,
                client_secret=SECRET,
                code="code-2",
                redirect_uri="http://127.0.0.1/cb",
                send=sender(requests.Session()),
            )


def test_an_unreadable_token_cache_is_a_config_error(tmp_path):
    from taps_shared.oauth import TokenCache

    path = tmp_path / "token.json"
    path.write_text("not json")
    with pytest.raises(ConfigError, match="is not a readable token cache"):
        TokenCache(str(path)).read()
    assert TokenCache(str(tmp_path / "absent.json")).read() is None


def test_subject_tokens_are_cached_per_subject_renewed_and_refusals_remembered():
    from taps_shared.oauth import SubjectRefusedError, SubjectTokens

    minted: list[str] = []

    def mint(subject: str) -> dict:
        minted.append(subject)
        if subject == "gone":
            raise SubjectRefusedError(subject, "404 No connected sources", first=True)
        return {"access_token": f"tok-{subject}-{len(minted)}", "expires_in": 100}

    clock = Clock()
    tokens = SubjectTokens(mint, clock=clock)
    assert tokens.token("a") == "tok-a-1"
    assert tokens.token("b") == "tok-b-2"
    assert tokens.token("a") == "tok-a-1"  # cached
    clock.now += 91  # inside the margin (a tenth of 100 s)
    assert tokens.token("a") == "tok-a-3"
    assert tokens.auth("b").handle_unauthorized() is True
    assert tokens.token("b") == "tok-b-4"
    with pytest.raises(SubjectRefusedError) as first:
        tokens.token("gone")
    with pytest.raises(SubjectRefusedError) as again:
        tokens.token("gone")
    assert (first.value.first, again.value.first) == (True, False)
    assert minted == ["a", "b", "a", "b", "gone"]  # a refusal is not asked twice
