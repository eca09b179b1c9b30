"""The OpenHuman emulator must enforce contract (A) of shared/specs/openhuman.md.

The documented part (API keys, the OAuth authorization-code flow, GET /v1/agents, the error
body) is pinned exactly; the proposal part (cursor envelope, filters, other resources,
refresh rotation, rate-limit headers) as the spec proposes it. A lax emulator would let tap
tests pass that fail against the real API, and every served record must match the tap's
schemas.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from jsonschema import Draft7Validator

from human_sandbox import datagen as dg
from human_sandbox.openhuman import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    READONLY_NOSCOPE_KEY,
    REDIRECT_URI,
    OpenHumanEmulator,
)
from tap_openhuman.tap import V1_STREAMS
from tests.support.helpers import emulator_process
from tests.support.registry import TAPS
from tests.support.schema_check import schema_validator

SCHEMA_DIR = TAPS["openhuman"].schema_dir
#: The streams of contract (A); tests/taps/openhuman/test_backend_emulator.py has (B)'s.
STREAMS = tuple(spec.name for spec in V1_STREAMS)
TIMEOUT = 5

INVALID_API_KEY = {
    "error": {"code": "invalid_api_key", "message": "API key is invalid or expired", "status": 401}
}
TOKEN_EXPIRED = {
    "error": {"code": "token_expired", "message": "Access token expired", "status": 401}
}
RATE_LIMITED = {"error": {"code": "rate_limit", "message": "Rate limit exceeded", "status": 429}}
REUSED_REFRESH = {
    "error": "invalid_grant",
    "error_description": "Refresh token is invalid or has been used",
}


def load_schema(stream: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{stream}.json").read_text())


def validator(stream: str) -> Draft7Validator:
    return schema_validator(SCHEMA_DIR / f"{stream}.json")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def token_request(
    emu: OpenHumanEmulator, headers: dict[str, str] | None = None, /, **fields: str
) -> requests.Response:
    return requests.post(emu.token_url, data=fields, headers=headers or {}, timeout=TIMEOUT)


def exchange(emu: OpenHumanEmulator, code: str, **extra: str) -> requests.Response:
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **extra,
    }
    return token_request(emu, **fields)


def refresh(emu: OpenHumanEmulator, refresh_token: str) -> requests.Response:
    return token_request(
        emu,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )


def access_token(emu: OpenHumanEmulator, scope: str = "read write") -> str:
    response = exchange(emu, emu.issue_code(scope))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def api_get(
    emu: OpenHumanEmulator, path: str, token: str = API_KEY, **params: Any
) -> requests.Response:
    return requests.get(f"{emu.api_url}/{path}", headers=bearer(token), params=params, timeout=5)


@pytest.fixture(scope="module")
def emu() -> Iterator[OpenHumanEmulator]:
    with OpenHumanEmulator() as emulator:
        yield emulator


@pytest.fixture
def session(emu: OpenHumanEmulator) -> Iterator[requests.Session]:
    s = requests.Session()
    s.headers.update(bearer(API_KEY))
    yield s
    s.close()
    emu.server.faults.clear()


def get(s: requests.Session, emu: OpenHumanEmulator, path: str, **params: Any) -> Any:
    response = s.get(f"{emu.api_url}/{path}", params=params, timeout=TIMEOUT)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def walk(
    s: requests.Session, emu: OpenHumanEmulator, path: str, limit: int, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a cursor-paged list, checking the envelope on each page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = get(s, emu, path, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        assert set(page) == {"data", "has_more", "next_cursor"}
        assert len(page["data"]) <= limit
        items += page["data"]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return items
        assert len(page["data"]) == limit
        assert isinstance(page["next_cursor"], str) and page["next_cursor"]
        cursor = page["next_cursor"]


def by_created_desc(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["created_at"], r["id"]), reverse=True)


def by_updated(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["updated_at"], r["id"]))


# -- schemas ------------------------------------------------------------------------------


def test_schema_files_cover_every_stream() -> None:
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(TAPS["openhuman"].streams)
    assert (SCHEMA_DIR / "__init__.py").read_text() == ""
    for stream in STREAMS:
        schema = load_schema(stream)
        Draft7Validator.check_schema(schema)
        assert schema["type"] == "object" and schema.get("description"), stream
        assert "additionalProperties" not in schema, stream
        if stream != "usage":  # the rest: tests/test_schema_policy.py
            assert schema["required"] == ["id"] and schema["properties"]["id"]["type"] == "string"
    assert load_schema("usage")["required"] == ["date", "model"]
    usage = load_schema("usage")["properties"]
    assert usage["date"]["format"] == "date" and usage["cost_usd"]["type"] == ["number", "null"]
    assert load_schema("runs")["properties"]["completed_at"]["type"] == ["string", "null"]


def test_every_record_matches_its_schema(emu: OpenHumanEmulator) -> None:
    for stream in STREAMS:
        check = validator(stream)
        assert emu.data[stream], stream
        for record in emu.data[stream]:
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(record)]
            assert not errors, (stream, record, errors)


def test_schemas_reject_wrong_records(emu: OpenHumanEmulator) -> None:
    agent = emu.data["agents"][0]
    check = validator("agents")
    assert not check.is_valid({**agent, "id": None})
    assert check.is_valid({**agent, "status": "deleted"})  # a status not listed yet
    assert not check.is_valid({**agent, "updated_at": "2025-01-01"})
    run = emu.data["runs"][0]
    assert not validator("runs").is_valid({**run, "usage": "n/a"})
    usage = emu.data["usage"][0]
    assert not validator("usage").is_valid({**usage, "requests": 1.5})


# -- dataset ------------------------------------------------------------------------------


def test_dataset_volume_and_invariants(emu: OpenHumanEmulator) -> None:
    data = emu.data
    assert len(data["agents"]) == 30
    assert 60 <= len(data["conversations"]) <= 120
    assert len(data["memories"]) == 30
    usage_days = {u["date"] for u in data["usage"]}
    assert len(usage_days) == 60
    assert min(usage_days) == "2025-11-02" and max(usage_days) == "2025-12-31"
    per_day: dict[str, int] = {}
    for u in data["usage"]:
        per_day[u["date"]] = per_day.get(u["date"], 0) + 1
    assert set(per_day.values()) <= {2, 3}
    assert len({(u["date"], u["model"]) for u in data["usage"]}) == len(data["usage"])

    agent_ids = {a["id"] for a in data["agents"]}
    messages: dict[str, list[dict[str, Any]]] = {}
    for m in data["messages"]:
        messages.setdefault(m["conversation_id"], []).append(m)
    for c in data["conversations"]:
        assert c["agent_id"] in agent_ids
        assert 2 <= c["message_count"] <= 8 and c["message_count"] == len(messages[c["id"]])
        assert max(m["created_at"] for m in messages[c["id"]]) <= c["updated_at"]
    assert 1.5 <= len(data["runs"]) / len(data["conversations"]) <= 2.5
    conv_ids = {c["id"] for c in data["conversations"]}
    for r in data["runs"]:
        assert r["agent_id"] in agent_ids and r["conversation_id"] in conv_ids
        assert (r["started_at"] is None) == (r["status"] == "queued")
        assert (r["completed_at"] is None) == (r["status"] in ("queued", "running"))
        assert r["updated_at"] == (r["completed_at"] or r["started_at"] or r["created_at"])
    for stream in ("agents", "conversations", "memories", "runs"):
        for rec in data[stream]:
            assert "2024-01-01" <= rec["created_at"] <= rec["updated_at"] < "2026", rec
        ids = [rec["id"] for rec in data[stream]]
        assert len(set(ids)) == len(ids)
    # A few ties, which keyset paging must survive.
    for stream, name in (("agents", "updated_at"), ("memories", "updated_at")):
        values = [rec[name] for rec in data[stream]]
        assert len(set(values)) < len(values), stream
    stamps = [m["created_at"] for m in data["messages"]]
    assert len(set(stamps)) < len(stamps)


def test_dataset_is_deterministic() -> None:
    first = OpenHumanEmulator(seed=11, size=12)
    again = OpenHumanEmulator(seed=11, size=12)
    other = OpenHumanEmulator(seed=12, size=12)
    assert first.data == again.data
    assert first.data["agents"] != other.data["agents"]
    # Each agent has an rng stream of its own: a bigger dataset extends a smaller one.
    bigger = OpenHumanEmulator(seed=11, size=13)
    assert bigger.data["agents"][:12] == first.data["agents"]


# -- API key authentication ---------------------------------------------------------------


def test_api_key_lists_agents_newest_first(emu: OpenHumanEmulator) -> None:
    response = api_get(emu, "agents")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    page = response.json()
    assert set(page) == {"data", "has_more", "next_cursor"}
    assert len(page["data"]) == 20 and page["has_more"] is True
    assert page["data"] == by_created_desc(emu.data["agents"])[:20]
    assert "X-RateLimit-Limit" not in response.headers  # rate limiting is off by default


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk_live_unknown"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": "Bearer at_forged"},
        {"Authorization": "Bearer "},
    ],
)
def test_unknown_or_missing_key_is_401(emu: OpenHumanEmulator, headers: dict[str, str]) -> None:
    response = requests.get(f"{emu.api_url}/agents", headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json() == INVALID_API_KEY
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_key_without_read_scope_is_403(emu: OpenHumanEmulator) -> None:
    response = api_get(emu, "agents", READONLY_NOSCOPE_KEY)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert response.json()["error"]["status"] == 403
    write_only = access_token(emu, scope="write")
    response = api_get(emu, "agents", write_only)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_writes_are_not_allowed(emu: OpenHumanEmulator) -> None:
    response = requests.post(
        f"{emu.api_url}/agents", headers=bearer(API_KEY), json={}, timeout=TIMEOUT
    )
    assert response.status_code == 405
    assert response.json()["error"]["status"] == 405


# -- OAuth --------------------------------------------------------------------------------


def test_code_exchange_is_single_use(emu: OpenHumanEmulator) -> None:
    code = emu.issue_code()
    before = len(emu.token_requests)
    response = exchange(emu, code)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in", "token_type", "scope"}
    assert body["access_token"].startswith("at_") and body["refresh_token"].startswith("rt_")
    assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    assert body["scope"] == "read write"
    assert response.headers["Cache-Control"] == "no-store"
    assert api_get(emu, "agents", body["access_token"]).status_code == 200

    again = exchange(emu, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    entries = emu.token_requests[before:]
    assert [(e["grant_type"], e["ok"], e["error"]) for e in entries] == [
        ("authorization_code", True, None),
        ("authorization_code", False, "invalid_grant"),
    ]
    assert all(isinstance(e["time"], float) for e in entries)


def test_code_exchange_checks_redirect_uri(emu: OpenHumanEmulator) -> None:
    response = exchange(emu, emu.issue_code(), redirect_uri="http://127.0.0.1/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    response = exchange(emu, "code_never_issued")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_refresh_rotates_the_refresh_token(emu: OpenHumanEmulator) -> None:
    old = emu.issue_refresh_token()
    first = refresh(emu, old)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["refresh_token"] != old and body["refresh_token"].startswith("rt_")
    assert api_get(emu, "agents", body["access_token"]).status_code == 200

    reused = refresh(emu, old)
    assert reused.status_code == 400
    assert reused.json() == REUSED_REFRESH
    assert emu.token_requests[-1]["error"] == "invalid_grant"

    second = refresh(emu, body["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] not in (old, body["refresh_token"])
    assert refresh(emu, body["refresh_token"]).json() == REUSED_REFRESH


def test_refresh_keeps_the_granted_scope(emu: OpenHumanEmulator) -> None:
    body = refresh(emu, emu.issue_refresh_token("read")).json()
    assert body["scope"] == "read"
    assert api_get(emu, "agents", body["access_token"]).status_code == 200
    narrowed = token_request(
        emu,
        grant_type="refresh_token",
        refresh_token=emu.issue_refresh_token("write"),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="read",
    )
    assert narrowed.status_code == 400 and narrowed.json()["error"] == "invalid_scope"


def test_basic_client_authentication(emu: OpenHumanEmulator) -> None:
    response = token_request(
        emu, basic(), grant_type="refresh_token", refresh_token=emu.issue_refresh_token()
    )
    assert response.status_code == 200, response.text
    response = token_request(
        emu,
        basic(),
        grant_type="authorization_code",
        code=emu.issue_code(),
        redirect_uri=REDIRECT_URI,
    )
    assert response.status_code == 200, response.text

    wrong = token_request(
        emu, basic(secret="nope"), grant_type="refresh_token", refresh_token="rt_x"
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")

    both = token_request(
        emu,
        basic(),
        grant_type="refresh_token",
        refresh_token=emu.issue_refresh_token(),
        client_secret=CLIENT_SECRET,
    )
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        (
            {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI},
            400,
            "invalid_request",
        ),
        ({"grant_type": "refresh_token", "refresh_token": "rt_x", "client_secret": "x"}, 401, None),
        ({"grant_type": "refresh_token", "refresh_token": "rt_x", "client_id": ""}, 401, None),
    ],
)
def test_token_endpoint_errors(
    emu: OpenHumanEmulator, fields: dict[str, str], status: int, error: str | None
) -> None:
    data = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **fields}
    response = token_request(emu, **data)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == (error or "invalid_client")
    assert emu.token_requests[-1]["ok"] is False
    assert emu.token_requests[-1]["error"] == body["error"]


def test_token_endpoint_wants_a_form_post(emu: OpenHumanEmulator) -> None:
    body = {
        "grant_type": "refresh_token",
        "refresh_token": emu.issue_refresh_token(),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    response = requests.post(emu.token_url, json=body, timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    response = requests.get(emu.token_url, timeout=TIMEOUT)
    assert response.status_code == 405


def test_authorize_redirects_with_a_code(emu: OpenHumanEmulator) -> None:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "read write",
        "state": "xyz",
    }
    response = requests.get(
        f"{emu.auth_url}/oauth/authorize", params=params, allow_redirects=False, timeout=TIMEOUT
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    assert exchange(emu, query["code"][0]).status_code == 200
    bad = requests.get(
        f"{emu.auth_url}/oauth/authorize",
        params={**params, "redirect_uri": "http://evil.example/cb"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert bad.status_code == 400


def test_access_tokens_expire() -> None:
    with OpenHumanEmulator(size=3, token_ttl=1) as emu:
        body = exchange(emu, emu.issue_code()).json()
        assert body["expires_in"] == 1
        assert api_get(emu, "agents", body["access_token"]).status_code == 200
        time.sleep(1.1)
        response = api_get(emu, "agents", body["access_token"])
        assert response.status_code == 401
        assert response.json() == TOKEN_EXPIRED
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        # The refresh token still buys a new access token.
        fresh = refresh(emu, body["refresh_token"]).json()["access_token"]
        assert api_get(emu, "agents", fresh).status_code == 200


def test_revoke_access_tokens() -> None:
    with OpenHumanEmulator(size=3) as emu:
        token = access_token(emu)
        assert api_get(emu, "agents", token).status_code == 200
        emu.revoke_access_tokens()
        response = api_get(emu, "agents", token)
        assert response.status_code == 401 and response.json() == INVALID_API_KEY
        assert api_get(emu, "agents", API_KEY).status_code == 200
        assert api_get(emu, "agents", access_token(emu)).status_code == 200


# -- paging -------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["101", "0", "-1", "abc", "2.5"])
def test_bad_limit_is_400(emu: OpenHumanEmulator, limit: str) -> None:
    response = api_get(emu, "agents", limit=limit)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["status"] == 400


def test_limit_100_is_allowed(emu: OpenHumanEmulator, session: requests.Session) -> None:
    page = get(session, emu, "agents", limit=100)
    assert len(page["data"]) == 30 and page["has_more"] is False and page["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", "eyJ2IjoxfQ", "AAAA"])
def test_invalid_cursor_is_400(emu: OpenHumanEmulator, cursor: str) -> None:
    response = api_get(emu, "agents", cursor=cursor)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_cursor_belongs_to_its_list(emu: OpenHumanEmulator, session: requests.Session) -> None:
    cursor = get(session, emu, "memories", limit=2)["next_cursor"]
    assert api_get(emu, "agents", cursor=cursor).status_code == 400
    # A default-order cursor does not continue an updated_after walk.
    agents_cursor = get(session, emu, "agents", limit=2)["next_cursor"]
    response = api_get(emu, "agents", cursor=agents_cursor, updated_after="2024-01-01T00:00:00Z")
    assert response.status_code == 400


@pytest.mark.parametrize("limit", [1, 7, 100])
@pytest.mark.parametrize("stream", ["agents", "conversations", "memories", "runs"])
def test_cursor_walk_returns_every_record_once(
    emu: OpenHumanEmulator, session: requests.Session, stream: str, limit: int
) -> None:
    items = walk(session, emu, stream, limit)
    assert items == by_created_desc(emu.data[stream])
    incremental = walk(session, emu, stream, limit, updated_after="2000-01-01T00:00:00Z")
    assert incremental == by_updated(emu.data[stream])


def test_message_walks(emu: OpenHumanEmulator, session: requests.Session) -> None:
    served: list[dict[str, Any]] = []
    for conversation in emu.data["conversations"]:
        expected = [m for m in emu.data["messages"] if m["conversation_id"] == conversation["id"]]
        newest_first = walk(session, emu, f"conversations/{conversation['id']}/messages", 3)
        assert newest_first == by_created_desc(expected)
        oldest_first = walk(
            session,
            emu,
            f"conversations/{conversation['id']}/messages",
            2,
            created_after="2000-01-01T00:00:00Z",
        )
        assert oldest_first == sorted(expected, key=lambda m: (m["created_at"], m["id"]))
        served += oldest_first
    assert sorted(m["id"] for m in served) == sorted(m["id"] for m in emu.data["messages"])
    check = validator("messages")
    assert all(check.is_valid(m) for m in served)


def test_created_after_filters_messages(emu: OpenHumanEmulator, session: requests.Session) -> None:
    conversation = max(emu.data["conversations"], key=lambda c: c["message_count"])
    expected = sorted(
        (m for m in emu.data["messages"] if m["conversation_id"] == conversation["id"]),
        key=lambda m: (m["created_at"], m["id"]),
    )
    pivot = expected[1]["created_at"]
    items = walk(
        session, emu, f"conversations/{conversation['id']}/messages", 5, created_after=pivot
    )
    assert items == [m for m in expected if m["created_at"] > pivot]


def test_updated_after_is_strict_and_ordered(
    emu: OpenHumanEmulator, session: requests.Session
) -> None:
    ordered = by_updated(emu.data["agents"])
    pivot = ordered[len(ordered) // 2]["updated_at"]
    items = walk(session, emu, "agents", 4, updated_after=pivot)
    assert items == [a for a in ordered if a["updated_at"] > pivot]
    assert all(a["updated_at"] != pivot for a in items)
    # Equivalent spellings of the same instant give the same answer.
    moment = datetime.fromisoformat(pivot.replace("Z", "+00:00"))
    offset = moment.astimezone(dg.ANCHOR.tzinfo).isoformat()
    assert walk(session, emu, "agents", 100, updated_after=offset) == items
    # One millisecond earlier includes the pivot record(s) again.
    earlier = dg.iso_ms(dg.ms_of(pivot) - 1)
    again = walk(session, emu, "agents", 100, updated_after=earlier)
    assert len(again) > len(items) and again[-len(items) :] == items
    bad = api_get(emu, "agents", updated_after="yesterday")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("stream", "field"),
    [("conversations", "agent_id"), ("runs", "agent_id"), ("memories", "namespace")],
)
def test_equality_filters(
    emu: OpenHumanEmulator, session: requests.Session, stream: str, field: str
) -> None:
    values = sorted({r[field] for r in emu.data[stream]})
    for value in values[:4]:
        expected = [r for r in emu.data[stream] if r[field] == value]
        assert walk(session, emu, stream, 3, **{field: value}) == by_created_desc(expected)
        assert walk(
            session, emu, stream, 3, **{field: value}, updated_after="2024-06-01T00:00:00Z"
        ) == [r for r in by_updated(expected) if r["updated_at"] > "2024-06-01T00:00:00.000Z"]
    assert get(session, emu, stream, **{field: "nope"})["data"] == []


def test_single_objects(emu: OpenHumanEmulator, session: requests.Session) -> None:
    for stream in ("agents", "conversations", "memories", "runs"):
        record = emu.data[stream][3]
        assert get(session, emu, f"{stream}/{record['id']}") == record
        response = session.get(f"{emu.api_url}/{stream}/nope", timeout=TIMEOUT)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_not_found"
    for path in ("conversations/conv_nope/messages", "nothing", "agents/x/y", "messages"):
        response = session.get(f"{emu.api_url}/{path}", timeout=TIMEOUT)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "resource_not_found"


def test_usage_by_date_range(emu: OpenHumanEmulator, session: requests.Session) -> None:
    everything = walk(session, emu, "usage", 7, start_date="2025-01-01", end_date="2025-12-31")
    assert everything == emu.data["usage"]
    assert everything == sorted(everything, key=lambda u: (u["date"], u["model"]))
    week = walk(session, emu, "usage", 4, start_date="2025-12-01", end_date="2025-12-07")
    assert week == [u for u in emu.data["usage"] if "2025-12-01" <= u["date"] <= "2025-12-07"]
    one_day = get(session, emu, "usage", start_date="2025-12-31", end_date="2025-12-31")
    assert {u["date"] for u in one_day["data"]} == {"2025-12-31"}
    empty = get(session, emu, "usage", start_date="2024-01-01", end_date="2024-01-31")
    assert empty == {"data": [], "has_more": False, "next_cursor": None}
    check = validator("usage")
    assert all(check.is_valid(u) for u in everything)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"start_date": "2025-12-01"},
        {"end_date": "2025-12-01"},
        {"start_date": "2025-12-10", "end_date": "2025-12-01"},
        {"start_date": "2025-12-01T00:00:00Z", "end_date": "2025-12-31"},
        {"start_date": "2025/12/01", "end_date": "2025-12-31"},
    ],
)
def test_usage_needs_a_valid_date_range(emu: OpenHumanEmulator, params: dict[str, str]) -> None:
    response = api_get(emu, "usage", **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


# -- missing resources, faults, rate limit ------------------------------------------------


def test_missing_resources_answer_404() -> None:
    with OpenHumanEmulator(size=4, missing={"runs", "memories"}) as emu:
        for path in ("runs", "memories", f"runs/{emu.data['runs'][0]['id']}"):
            response = api_get(emu, path)
            assert response.status_code == 404, path
            error = response.json()["error"]
            assert error["code"] == "resource_not_found" and error["status"] == 404
        assert api_get(emu, "agents").status_code == 200
        assert api_get(emu, "conversations").status_code == 200
    with OpenHumanEmulator(size=4, missing={"messages"}) as emu:
        conv = emu.data["conversations"][0]["id"]
        assert api_get(emu, f"conversations/{conv}/messages").status_code == 404
        assert api_get(emu, f"conversations/{conv}").status_code == 200
    with pytest.raises(ValueError, match="unknown resources"):
        OpenHumanEmulator(missing={"people"})


def test_injected_server_errors_use_the_api_error_shape(
    emu: OpenHumanEmulator, session: requests.Session
) -> None:
    emu.server.faults.add("status", status=503, path="/v1/agents")
    response = session.get(f"{emu.api_url}/agents", timeout=TIMEOUT)
    assert response.status_code == 503
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Internal server error", "status": 503}
    }
    assert session.get(f"{emu.api_url}/agents", timeout=TIMEOUT).status_code == 200


def test_rate_limit_headers_and_429() -> None:
    with OpenHumanEmulator(size=3, rate_limit_per_min=3) as emu:
        remaining = []
        for path in ("agents/nope", "agents", "agents"):
            response = api_get(emu, path)
            # Error responses of a known credential count and carry the headers too.
            assert response.status_code == (404 if path.endswith("nope") else 200)
            assert response.headers["X-RateLimit-Limit"] == "3"
            remaining.append(response.headers["X-RateLimit-Remaining"])
            reset = int(response.headers["X-RateLimit-Reset"])
            assert time.time() + 55 <= reset <= time.time() + 61
        assert remaining == ["2", "1", "0"]
        limited = api_get(emu, "agents")
        assert limited.status_code == 429
        assert limited.json() == RATE_LIMITED
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert emu.rate_limited == 1
        # Unauthenticated requests are not counted against anyone (no credential).
        assert "X-RateLimit-Limit" not in api_get(emu, "agents", "sk_unknown").headers

        # Another credential has a window of its own; access tokens count per user.
        first, second = access_token(emu), access_token(emu)
        assert api_get(emu, "agents", first).headers["X-RateLimit-Remaining"] == "2"
        assert api_get(emu, "agents", second).headers["X-RateLimit-Remaining"] == "1"
        emu.reset_rate_limits()
        assert api_get(emu, "agents").status_code == 200


# -- mutations ----------------------------------------------------------------------------


def test_touch_and_add_agents() -> None:
    with OpenHumanEmulator(size=10) as emu, requests.Session() as s:
        s.headers.update(bearer(API_KEY))
        newest = max(a["updated_at"] for a in emu.data["agents"])
        latest_anywhere = max(
            r.get(name) or ""
            for stream in STREAMS
            for r in emu.data[stream]
            for name in ("created_at", "updated_at", "completed_at")
        )
        touched = emu.touch_agents(3)
        assert len(touched) == len(set(touched)) == 3
        changed = walk(s, emu, "agents", 2, updated_after=newest)
        assert sorted(a["id"] for a in changed) == sorted(touched)
        assert all(a["updated_at"] > latest_anywhere for a in changed)
        assert len({a["updated_at"] for a in changed}) == 1

        added = emu.add_agents(2)
        assert len(emu.data["agents"]) == 12
        page = get(s, emu, "agents", limit=2)
        assert sorted(a["id"] for a in page["data"]) == sorted(added)
        for agent in page["data"]:
            assert agent["created_at"] == agent["updated_at"] > changed[0]["updated_at"]
            assert validator("agents").is_valid(agent)
        assert get(s, emu, f"agents/{added[0]}")["id"] == added[0]
        later = walk(s, emu, "agents", 100, updated_after=changed[0]["updated_at"])
        assert [a["id"] for a in later] == sorted(added)
        with pytest.raises(ValueError):
            emu.touch_agents(13)


def test_mutations_are_deterministic() -> None:
    one, two = OpenHumanEmulator(size=8), OpenHumanEmulator(size=8)
    assert one.touch_agents(2) == two.touch_agents(2)
    assert one.add_agents(2) == two.add_agents(2)
    assert one.data == two.data


# -- CLI ----------------------------------------------------------------------------------


def test_cli_prints_ready_and_serves_until_sigterm() -> None:
    with emulator_process("openhuman", "--records", "5") as url:
        assert url.endswith("/v1")
        response = requests.get(
            f"{url}/agents", headers=bearer(API_KEY), params={"limit": 100}, timeout=5
        )
        assert len(response.json()["data"]) == 5
