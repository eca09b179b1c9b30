"""Hostile servers against the transport (issue 14, items 1, 2, 4, 5, 16, 17): credentials
stay with their origin, no response is read without a time and size bound, a private CA
works and a bad certificate says so, and ids from the server cannot rewrite a URL."""

from __future__ import annotations

import gzip
import re
import ssl
import time
import tracemalloc
import typing as t
from urllib.parse import urlencode

import pytest
import trustme

from human_sandbox.core import EmulatorServer, Request, Response, json_response
from human_sandbox.humaans import HumaansEmulator
from taps_shared.errors import one_line
from tests.reliability import trials
from tests.support.helpers import sync
from tests.support.registry import TAPS

TOKEN_TAPS = ["huma", "openhuman", "humanapi"]
#: The setting naming each tap's token endpoint.
TOKEN_SETTING = {"huma": "token_url", "openhuman": "auth_url", "humanapi": "auth_url"}


def foreign_server() -> EmulatorServer:
    """Another origin, answering like a token endpoint and an API; it must see nothing."""

    def app(request: Request) -> Response:
        return json_response(200, {"access_token": "issued-by-a-stranger", "data": []})

    return EmulatorServer(app).start()


def config_for(case: t.Any, emulator: t.Any) -> dict:
    config = case.config(emulator, "faults", request_timeout=5, max_retries=1)
    if case.name == "huma":  # the token endpoint as its own setting
        config["token_url"] = f"{emulator.url}/auth/oauth/token"
    return config


def failure(case: t.Any, config: dict) -> str:
    with pytest.raises(Exception) as raised:
        sync(case.tap_class, config)
    return one_line(raised.value)


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("tap", TOKEN_TAPS)
def test_a_token_endpoint_that_redirects_is_an_error_and_nothing_leaves(tap, status):
    """Item 1: the client secret, the refresh token and a foreign token stay where they
    are: a 3xx from a token endpoint ends the run in one line naming the setting."""
    with trials.hostile("1", f"{tap}: the token endpoint answers {status} to another origin"):
        case = TAPS[tap]
        foreign = foreign_server()
        try:
            with case.emulator("faults") as emulator:
                emulator.server.faults.add(
                    "status",
                    status=status,
                    headers={"Location": f"{foreign.base_url}/oauth/token"},
                    body=b"",
                    pattern=re.escape(case.token_path("faults")),
                    times=-1,
                )
                line = failure(case, config_for(case, emulator))
        finally:
            foreign.stop()
        assert foreign.requests == []
        assert f"returned {status} redirecting to {foreign.base_url}" in line
        assert "not followed" in line and f"check {TOKEN_SETTING[tap]}" in line


@pytest.mark.parametrize("tap", sorted(TAPS))
def test_an_api_redirect_to_another_origin_is_refused(tap):
    """Item 2: no Authorization, API key or Humanos signature goes to another origin, and
    nothing a foreign origin sends is taken as the API's."""
    with trials.hostile("2", f"{tap}: an API request redirected to another origin"):
        case = TAPS[tap]
        foreign = foreign_server()
        not_token = (
            f"(?!{re.escape(case.token_path('faults'))}$).*" if case.token_path("faults") else ".*"
        )
        try:
            with case.emulator("faults") as emulator:
                emulator.server.faults.add(
                    "status",
                    status=302,
                    headers={"Location": f"{foreign.base_url}/elsewhere"},
                    body=b"",
                    pattern=not_token,
                    times=-1,
                )
                line = failure(case, config_for(case, emulator))
        finally:
            foreign.stop()
        assert foreign.requests == []
        assert "returned 302 redirecting to" in line and "check api_url" in line


@pytest.mark.parametrize("tap", sorted(TAPS))
def test_a_same_origin_redirect_is_followed_and_authenticated_again(tap):
    """Item 2: the rule's other half: a GET moved within the API's origin is followed,
    with credentials set afresh, and the sync is what a clean one is."""
    with trials.hostile("2", f"{tap}: a same-origin redirect (followed, authenticated again)"):
        case = TAPS[tap]
        with case.emulator("faults") as emulator:
            clean = sync(case.tap_class, config_for(case, emulator))
            first = next(r for r in emulator.server.requests if r.path != case.token_path("faults"))
        with case.emulator("faults") as emulator:
            target = first.path + "?" + urlencode(first.query, doseq=True)
            emulator.server.faults.add(
                "status",
                status=307,
                headers={"Location": target},
                body=b"",
                pattern=re.escape(first.path),
            )
            moved = sync(case.tap_class, config_for(case, emulator))
            served = [r for r in emulator.server.requests if r.path == first.path][:2]
        assert moved.records == clean.records
        assert [r.status for r in served] == [307, 200]
        credential = {"humaans": "authorization", "humanos": "x-signature"}.get(
            tap, "authorization"
        )
        assert all(r.headers.get(credential) for r in served)


def test_an_https_api_redirecting_to_plain_http_is_refused(monkeypatch, tmp_path):
    """Item 2: https→http on the same host is another origin."""
    with trials.hostile("2", "an https API redirecting to plain http"):
        authority = trustme.CA()
        plain = foreign_server()
        secure = EmulatorServer(
            lambda request: Response(302, b"", {"Location": f"{plain.base_url}/api/me"}),
            tls=server_context(authority),
        ).start()
        bundle = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        try:
            case = TAPS["humaans"]
            line = failure(
                case, case.config(_Url(secure.base_url + "/api"), "faults", max_retries=0)
            )
        finally:
            secure.stop()
            plain.stop()
        assert plain.requests == []
        assert f"returned 302 redirecting to {plain.base_url}" in line


class _Url:
    """Stands in for an emulator where a config only needs its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_a_trickling_response_is_bounded_by_request_timeout():
    """Item 4: headers at once, then a byte every half second: the attempt ends after about
    request_timeout (not after the 25 minutes the body would take), the retry succeeds."""
    with trials.hostile("4", "a body trickled one byte every 0.5 s"):
        case = TAPS["humaans"]
        with case.emulator("faults") as emulator:
            clean = sync(case.tap_class, config_for(case, emulator))
        with case.emulator("faults") as emulator:
            emulator.server.faults.add("trickle", delay_s=0.5, path="/api/people")
            started = time.monotonic()
            slow = sync(case.tap_class, {**config_for(case, emulator), "request_timeout": 1})
            took = time.monotonic() - started
        assert slow.records == clean.records
        assert took < 8, f"a trickled response held the run for {took:.1f}s"


def test_a_compression_bomb_is_refused_before_it_is_inflated():
    """Item 5: 64 MB of zeros in a 64 KB gzip body, against max_response_mb 8: one line
    naming the endpoint and the setting, and memory never holds the inflated body."""
    with trials.hostile("5", "64 MB of gzip-compressed zeros"):
        case = TAPS["humaans"]
        bomb = gzip.compress(b"0" * (64 * 1024 * 1024), compresslevel=9)
        assert len(bomb) < 128 * 1024
        with case.emulator("faults") as emulator:
            emulator.server.faults.add(
                "status",
                status=200,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                body=bomb,
                path="/api/people",
                times=-1,
            )
            tracemalloc.start()
            try:
                line = failure(case, {**config_for(case, emulator), "max_response_mb": 8})
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        assert "people: GET /api/people returned more than 8 MB once decompressed" in line
        assert "max_response_mb" in line
        assert peak < 32 * 1024 * 1024, f"peak {peak / 2**20:.0f} MB"


def test_a_private_certificate_authority_is_trusted_through_the_environment(monkeypatch, tmp_path):
    """Item 16: REQUESTS_CA_BUNDLE or SSL_CERT_FILE name the bundle; without it, the
    failure says it is about the certificate, at once, instead of retrying a "connection
    error"."""
    with trials.hostile("16", "https signed by a private certificate authority"):
        authority = trustme.CA()
        bundle = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(bundle))
        app = HumaansEmulator(seed=7, size=5).server.app
        server = EmulatorServer(app, tls=server_context(authority)).start()
        case = TAPS["humaans"]
        config = case.config(_Url(server.base_url + "/api"), "faults", max_retries=3)
        try:
            for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
                monkeypatch.delenv(variable, raising=False)
            started = time.monotonic()
            line = failure(case, config)
            assert time.monotonic() - started < 2  # no retries: it fails the same way each time
            assert "TLS connection to 127.0.0.1" in line and "certificate verify failed" in line
            assert "REQUESTS_CA_BUNDLE or SSL_CERT_FILE" in line
            for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
                monkeypatch.setenv(variable, str(bundle))
                assert sync(case.tap_class, config).records["people"]
                monkeypatch.delenv(variable)
        finally:
            server.stop()


def hostile_conversations(conversation_id: str) -> dict:
    return {
        "data": [{"id": conversation_id, "updated_at": "2024-06-01T00:00:00.000Z"}],
        "has_more": False,
        "next_cursor": None,
    }


@pytest.mark.parametrize("hostile", ["../agents?limit=1#x", "a/b", "x%2F.."])
def test_ids_from_the_server_are_one_quoted_path_segment(hostile):
    """Item 17: a conversation id with `/`, `?`, `#` or `..` stays inside its segment of
    the child's URL, and cannot point the request at another resource."""
    with trials.hostile("17", f"a child id {hostile!r} with reserved characters"):
        case = TAPS["openhuman"]
        with case.emulator("faults") as emulator:
            emulator.server.faults.add(
                "status", status=200, body=hostile_conversations(hostile), path="/v1/conversations"
            )
            sync(case.tap_class, config_for(case, emulator))
            children = [
                r.path
                for r in emulator.server.requests
                if r.path.startswith("/v1/conversations/") and r.path.endswith("/messages")
            ]
        quoted = hostile.replace("%", "%25").replace("/", "%2F").replace("?", "%3F")
        quoted = quoted.replace("=", "%3D").replace("#", "%23")
        assert children == [f"/v1/conversations/{quoted}/messages"]


@pytest.mark.parametrize("hostile", ["..", ".", ""])
def test_an_id_that_a_url_parser_would_resolve_away_is_an_error(hostile):
    """Item 17: `..` (or `.`, or nothing) as an id would address the parent collection;
    the run stops naming the stream and the value instead of asking for it."""
    with trials.hostile("17", f"a child id {hostile!r} a URL parser resolves away"):
        case = TAPS["openhuman"]
        with case.emulator("faults") as emulator:
            emulator.server.faults.add(
                "status", status=200, body=hostile_conversations(hostile), path="/v1/conversations"
            )
            line = failure(case, config_for(case, emulator))
            asked = [r.path for r in emulator.server.requests]
        assert (
            f"messages: the API gave conversation_id {hostile!r}, which names no resource" in line
        )
        assert not [path for path in asked if path.startswith("/v1/conversations/")]
