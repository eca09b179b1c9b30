"""The Human API emulator must enforce the contract of shared/specs/humanapi.md.

Per-user tokens bound to one user, the App Key on the Application API, bare arrays with
limit/offset and X-Total-Count, strict ``*_since`` filters in both date forms, the medical
404 for missing data and Boom error bodies are pinned down here: a lax emulator would let
tap tests pass that fail against the real API. Every served record must also match the
tap's schemas (after adding humanId where the tap does: sources).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator

from human_sandbox import datagen as dg
from human_sandbox.humanapi import (
    APP_KEY,
    BATCH_PATHS,
    CLIENT_ID,
    CLIENT_SECRET,
    DATA_PATHS,
    DATA_STREAMS,
    LEGACY_SOURCES,
    LEGACY_STREAMS,
    MEDICAL_STREAMS,
    STREAMS,
    TIME_SERIES_STREAMS,
    WELLNESS_STREAMS,
    HumanApiEmulator,
)
from tests.support.helpers import emulator_process
from tests.support.registry import TAPS
from tests.support.schema_check import schema_validator

SCHEMA_DIR = TAPS["humanapi"].schema_dir
TIMEOUT = 5
#: Stream -> Data API list path (under /v1/human).
PATH_OF = {stream: path for path, stream in DATA_PATHS.items()}

INVALID_CLIENT = {
    "statusCode": 401,
    "error": "Unauthorized",
    "message": "Invalid client credentials",
}
NO_SOURCES = {
    "statusCode": 404,
    "error": "Not Found",
    "message": "No connected sources for this user",
}
INVALID_TOKEN = {
    "statusCode": 401,
    "error": "Unauthorized",
    "message": "Invalid or expired access token",
}
INVALID_APP_KEY = {"statusCode": 401, "error": "Unauthorized", "message": "Invalid app key"}
NO_DATA = {"statusCode": 404, "error": "Not Found", "message": "No data"}
SERVER_ERROR = {
    "statusCode": 500,
    "error": "Internal Server Error",
    "message": "An internal server error occurred",
}
LIMIT_TOO_BIG = {
    "statusCode": 400,
    "error": "Bad Request",
    "message": '"limit" must be less than or equal to 500',
    "validation": {"source": "query", "keys": ["limit"]},
}


def load_schema(stream: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{stream}.json").read_text())


def validator(stream: str) -> Draft7Validator:
    return schema_validator(SCHEMA_DIR / f"{stream}.json")


def emitted(emu: HumanApiEmulator, stream: str) -> list[dict[str, Any]]:
    """What the tap emits for a stream: the served records, humanId added where missing."""
    if stream == "users":
        return emu.users
    if stream == "profile":
        return list(emu.profiles.values())
    if stream == "medical_profile":
        return list(emu.medical_profiles.values())
    return [
        {**r, "humanId": u["humanId"]} for u in emu.users for r in emu.data[stream][u["humanId"]]
    ]


def connected(emu: HumanApiEmulator) -> list[dict[str, Any]]:
    return [u for u in emu.users if u["humanId"] not in emu.no_sources]


# -- HTTP helpers -------------------------------------------------------------------------


def token_post(emu: HumanApiEmulator, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(emu.token_url, json=body, timeout=TIMEOUT, **kwargs)


def mint_body(external_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "client_user_id": external_id,
        "type": "access",
        **overrides,
    }


def mint(emu: HumanApiEmulator, external_id: str) -> str:
    response = token_post(emu, mint_body(external_id))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def basic(key: str = APP_KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def app_get(
    emu: HumanApiEmulator, path: str, key: str = APP_KEY, client_id: str = CLIENT_ID, **params: Any
) -> requests.Response:
    url = f"{emu.api_url}/v1/apps/{client_id}/{path}"
    return requests.get(url, headers=basic(key), params=params, timeout=TIMEOUT)


def data_get(emu: HumanApiEmulator, token: str, path: str, **params: Any) -> requests.Response:
    url = f"{emu.api_url}/v1/human/{path}".rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(url, headers=headers, params=params, timeout=TIMEOUT)


def walk(fetch: Any, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every record of a limit/offset list, checking X-Total-Count on every page."""
    rows: list[dict[str, Any]] = []
    total = None
    while True:
        response = fetch(limit=limit, offset=len(rows), **params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert isinstance(page, list) and len(page) <= limit
        count = int(response.headers["X-Total-Count"])
        assert total is None or count == total
        total = count
        rows += page
        if len(rows) >= total or not page:
            break
        assert 'rel="next"' in response.headers["Link"]
    assert len(rows) == total
    return rows


def by_id(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    keyed = {(r.get("humanId", ""), r.get("id") or r["humanId"]): r for r in rows}
    assert len(keyed) == len(rows), "duplicate records"
    return keyed


@pytest.fixture(scope="module")
def emu() -> Iterator[HumanApiEmulator]:
    with HumanApiEmulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _clear_faults(emu: HumanApiEmulator) -> Iterator[None]:
    yield
    emu.server.faults.clear()


@pytest.fixture(scope="module")
def tokens(emu: HumanApiEmulator) -> dict[str, str]:
    """humanId -> access token, for every user with sources."""
    return {u["humanId"]: mint(emu, u["externalId"]) for u in connected(emu)}


# -- schemas ------------------------------------------------------------------------------


def test_schema_files_cover_every_stream() -> None:
    assert len(STREAMS) == 29
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(STREAMS)
    assert (SCHEMA_DIR / "__init__.py").read_text() == ""
    for stream in STREAMS:
        schema = load_schema(stream)
        Draft7Validator.check_schema(schema)
        assert schema["type"] == "object" and schema.get("description"), stream
        assert "additionalProperties" not in schema, stream
        props = schema["properties"]  # the rest: tests/test_schema_policy.py
        assert "humanId" in props, stream
        if stream not in ("users", "profile", "medical_profile", "sources"):
            assert schema["required"] == ["id"], stream
            assert props["updatedAt"]["format"] == "date-time", stream
    for stream in ("users", "profile", "medical_profile"):
        assert load_schema(stream)["required"] == ["humanId"], stream
    assert load_schema("sources")["required"] == ["humanId", "id", "source"]
    assert load_schema("activities")["properties"]["steps"]["type"] == ["integer", "null"]
    assert load_schema("activities")["properties"]["distance"]["type"] == ["number", "null"]
    assert load_schema("activity_summaries")["properties"]["date"]["format"] == "date"
    vitals = load_schema("medical_vitals")["properties"]["results"]["items"]["properties"]
    assert vitals["value"]["type"] == ["string", "null"]


def _undeclared(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    """Served keys the schema does not declare (the SDK would drop them silently)."""
    out: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                out.append(f"{where}.{key}")
            else:
                out += _undeclared(schema["properties"][key], item, f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            out += _undeclared(schema["items"], item, f"{where}[]")
    return out


def test_every_record_matches_its_schema(emu: HumanApiEmulator) -> None:
    for stream in STREAMS:
        check = validator(stream)
        schema = load_schema(stream)
        rows = emitted(emu, stream)
        assert rows, stream
        undeclared: set[str] = set()
        for record in rows:
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(record)]
            assert not errors, (stream, record, errors)
            undeclared.update(_undeclared(schema, record, stream))
        assert not undeclared, undeclared


def test_schemas_reject_wrong_records(emu: HumanApiEmulator) -> None:
    activity = emitted(emu, "activities")[0]
    check = validator("activities")
    assert not check.is_valid({**activity, "id": None})
    assert not check.is_valid({**activity, "humanId": 42})
    assert not check.is_valid({**activity, "updatedAt": "2025-01-01"})
    assert not check.is_valid({**activity, "steps": 12.5})
    assert not check.is_valid({k: v for k, v in activity.items() if k != "id"})
    served_source = emu.data["sources"][emu.users[0]["humanId"]][0]
    assert "humanId" not in served_source
    assert not validator("sources").is_valid(served_source)  # the tap must add humanId
    summary = emitted(emu, "sleep_summaries")[0]
    assert not validator("sleep_summaries").is_valid({**summary, "date": "2025-13-01"})


# -- dataset ------------------------------------------------------------------------------


def test_dataset_volume_and_invariants(emu: HumanApiEmulator) -> None:
    assert len(emu.users) == 8
    assert [u["externalId"] for u in emu.users] == [f"ext-{i:04d}" for i in range(1, 9)]
    assert all(u["appId"] == CLIENT_ID for u in emu.users)
    assert len({u["humanId"] for u in emu.users}) == 8
    last = emu.users[-1]["humanId"]
    assert emu.no_sources == {last}
    assert set(emu.profiles) == {u["humanId"] for u in emu.users}
    for stream in DATA_STREAMS:
        assert set(emu.data[stream]) == set(emu.profiles), stream
        assert emu.data[stream][last] == [], stream
    legacy_sources = {stream: name for name, _label, stream, _share in LEGACY_SOURCES}
    for user in connected(emu):
        human = user["humanId"]
        sources = {s["source"] for s in emu.data["sources"][human]}
        assert 1 <= len(sources - set(legacy_sources.values())) <= 3
        for stream in LEGACY_STREAMS:  # from a source of its own, which some users connected
            rows = emu.data[stream][human]
            assert bool(rows) == (legacy_sources[stream] in sources), stream
            assert all(r["source"] == legacy_sources[stream] for r in rows)
            if rows and stream == "genetic_traits":
                assert len(rows) == 6 and all(r["value"] in r["possibleValues"] for r in rows)
            elif rows:
                assert 8 <= len(rows) <= 40, stream
        for stream in WELLNESS_STREAMS:
            if stream in LEGACY_STREAMS:
                continue
            rows = emu.data[stream][human]
            if stream.endswith("_summaries"):
                days = sorted(r["date"] for r in rows)
                assert 12 <= len(days) <= 18 and len(set(days)) == len(days)
                first = date.fromisoformat(days[0])
                assert days == [(first + timedelta(days=k)).isoformat() for k in range(len(days))]
            else:
                assert 10 <= len(rows) <= 40, stream
        for stream in MEDICAL_STREAMS:
            assert len(emu.data[stream][human]) <= 6, stream
    # User 0 has medical data, user 1 has none; some users lack some medical types.
    assert emu.data["medical_organizations"][emu.users[0]["humanId"]]
    assert all(not emu.data[s][emu.users[1]["humanId"]] for s in MEDICAL_STREAMS)
    medical_users = [u["humanId"] for u in connected(emu) if u["humanId"] in emu.medical_profiles]
    assert any(not emu.data[s][h] for h in medical_users for s in MEDICAL_STREAMS)
    assert set(medical_users) == {h for h in emu.profiles if emu.data["medical_organizations"][h]}
    # User 0 connected every legacy source; some users connected none of them.
    assert all(emu.data[s][emu.users[0]["humanId"]] for s in LEGACY_STREAMS)
    assert any(not emu.data[s][u["humanId"]] for u in connected(emu) for s in LEGACY_STREAMS)
    total = sum(len(emitted(emu, s)) for s in DATA_STREAMS)
    assert 1500 <= total <= 4000

    for stream in DATA_STREAMS:
        rows = emitted(emu, stream)
        if stream == "sources":
            assert all("humanId" not in r for h in emu.data[stream].values() for r in h)
            continue
        served = [r for h in emu.data[stream].values() for r in h]
        assert all("humanId" in r for r in served), stream  # as served, not added
        ids = [r["id"] for r in rows]
        assert len(set(ids)) == len(ids), stream
        for r in rows:
            assert r["createdAt"] <= r["updatedAt"] < "2026-01-01", (stream, r)
            assert r["humanId"] in emu.profiles
            # ObjectIds embed the creation time of the record (seconds).
            assert int(r["id"][:8], 16) == dg.ms_of(r["createdAt"]) // 1000 + 1672531200
        stamps = [r["updatedAt"] for r in rows]
        if len(rows) > 100:
            assert len(set(stamps)) < len(stamps), f"{stream}: expected a few ties"
            assert len(set(stamps)) > 0.8 * len(stamps), f"{stream}: too many ties"
    for stream in ("activities", "heart_rate", "weight", "sleeps"):
        field = {"activities": "startTime", "sleeps": "startTime"}.get(stream, "timestamp")
        for r in emitted(emu, stream):
            assert "2024-01-01" <= r[field] < "2026-01-01"
            assert re.fullmatch(r"[+-]\d{2}:00", r["tzOffset"])
    for r in emitted(emu, "sleeps"):
        assert r["timeAsleep"] + r["timeAwake"] == r["timeInBed"]
        assert r["startTime"] < r["endTime"]
    for r in emitted(emu, "blood_pressure"):
        assert 40 <= r["diastolic"] < r["systolic"] - 20


def test_dataset_is_deterministic() -> None:
    first = HumanApiEmulator(seed=11, size=6)
    again = HumanApiEmulator(seed=11, size=6)
    other = HumanApiEmulator(seed=12, size=6)
    assert first.users == again.users and first.data == again.data
    assert first.profiles == again.profiles and first.medical_profiles == again.medical_profiles
    assert first.users != other.users
    # Each user has rng streams of its own: a bigger dataset extends a smaller one.
    bigger = HumanApiEmulator(seed=11, size=9, no_source_users=1)
    assert bigger.users[:5] == first.users[:5]
    for stream in DATA_STREAMS:
        for user in first.users[:5]:
            h = user["humanId"]
            assert bigger.data[stream][h] == first.data[stream][h], stream


def test_sizes_and_no_source_users() -> None:
    none = HumanApiEmulator(size=3, no_source_users=0)
    assert none.no_sources == set()
    every = HumanApiEmulator(size=2, no_source_users=2)
    assert every.no_sources == {u["humanId"] for u in every.users}
    with pytest.raises(ValueError):
        HumanApiEmulator(size=2, no_source_users=3)
    with pytest.raises(ValueError):
        HumanApiEmulator(size=0)


# -- token endpoint -----------------------------------------------------------------------


def test_token_mint(emu: HumanApiEmulator) -> None:
    before = len(emu.token_requests)
    response = token_post(emu, mint_body("ext-0001"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "refresh_token"}
    assert body["expires_in"] == 86400 and body["token_type"] == "Bearer"
    assert body["refresh_token"].startswith("atrt-")
    assert body["access_token"] != mint(emu, "ext-0001")  # every mint is a new token
    entry = emu.token_requests[before]
    assert set(entry) == {"time", "client_user_id", "ok", "status"}
    assert entry["client_user_id"] == "ext-0001" and entry["ok"] and entry["status"] == 200


@pytest.mark.parametrize(
    ("overrides", "status", "body"),
    [
        ({"client_secret": "wrong"}, 401, INVALID_CLIENT),
        ({"client_id": "0" * 40}, 401, INVALID_CLIENT),
        ({"client_secret": None}, 401, INVALID_CLIENT),
        ({"client_user_id": "ext-0008"}, 404, NO_SOURCES),  # the no-source user
        ({"client_user_id": "nobody"}, 404, NO_SOURCES),
    ],
)
def test_token_errors(
    emu: HumanApiEmulator, overrides: dict[str, Any], status: int, body: dict[str, Any]
) -> None:
    before = len(emu.token_requests)
    response = token_post(emu, mint_body("ext-0002", **overrides))
    assert (response.status_code, response.json()) == (status, body)
    entry = emu.token_requests[before]
    assert not entry["ok"] and entry["status"] == status


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (mint_body("ext-0001", type="id_token"), "type"),
        (mint_body("ext-0001", type="refresh"), "type"),
        ({k: v for k, v in mint_body("ext-0001").items() if k != "type"}, "type"),
        (
            {k: v for k, v in mint_body("ext-0001").items() if k != "client_user_id"},
            "client_user_id",
        ),
        (mint_body("ext-0001", client_user_id=7), "client_user_id"),
    ],
)
def test_token_validation_is_400(emu: HumanApiEmulator, body: dict[str, Any], key: str) -> None:
    response = token_post(emu, body)
    assert response.status_code == 400
    error = response.json()
    assert error["statusCode"] == 400 and error["error"] == "Bad Request"
    assert error["validation"] == {"source": "payload", "keys": [key]}
    assert key in error["message"]


def test_token_endpoint_wants_json(emu: HumanApiEmulator) -> None:
    form = requests.post(emu.token_url, data=mint_body("ext-0001"), timeout=TIMEOUT)
    assert form.status_code == 415
    broken = requests.post(
        emu.token_url,
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert broken.status_code == 400
    assert broken.json()["message"] == "Invalid request payload JSON format"
    assert requests.get(emu.token_url, timeout=TIMEOUT).status_code == 404


def test_session_tokens_start_connect_even_without_sources(emu: HumanApiEmulator) -> None:
    last = emu.users[-1]
    response = token_post(emu, mint_body(last["externalId"], type="session"))
    assert response.status_code == 200
    body = response.json()
    assert body["human_id"] == last["humanId"] and body["expires_in"] == 3600
    # A session token is not a Data API credential.
    assert data_get(emu, body["session_token"], "profile").status_code == 401


# -- Application API ----------------------------------------------------------------------


def test_app_key_lists_users(emu: HumanApiEmulator) -> None:
    response = app_get(emu, "users")
    assert response.status_code == 200 and response.headers["X-Total-Count"] == "8"
    assert by_id(response.json()) == by_id(emu.users)
    one = emu.users[2]
    assert app_get(emu, f"users/{one['humanId']}").json() == one
    missing = app_get(emu, f"users/{'0' * 32}")
    assert missing.status_code == 404 and missing.json()["message"] == "User not found"


def test_app_key_errors(emu: HumanApiEmulator) -> None:
    wrong = app_get(emu, "users", key="hapi_wrong_key")
    assert (wrong.status_code, wrong.json()) == (401, INVALID_APP_KEY)
    bare = requests.get(f"{emu.api_url}/v1/apps/{CLIENT_ID}/users", timeout=TIMEOUT)
    assert bare.status_code == 401 and bare.json()["message"] == "Missing authentication"
    no_colon = {"Authorization": "Basic " + base64.b64encode(APP_KEY.encode()).decode()}
    url = f"{emu.api_url}/v1/apps/{CLIENT_ID}/users"
    assert requests.get(url, headers=no_colon, timeout=TIMEOUT).status_code == 401
    other_app = app_get(emu, "users", client_id="f" * 40)
    assert other_app.status_code == 404 and other_app.json()["statusCode"] == 404
    token = mint(emu, "ext-0001")
    bearer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert bearer.status_code == 401
    # Batch queries are wellness only.
    assert app_get(emu, "users/medical/allergies").status_code == 404


def zoned(emu: HumanApiEmulator, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as a batch response serves activities and sleeps: with the user's zone."""
    return [{**r, "timeZone": emu.profiles[r["humanId"]]["defaultTimeZone"]["name"]} for r in rows]


def test_batch_queries_return_every_users_records(emu: HumanApiEmulator) -> None:
    for path, stream in BATCH_PATHS.items():
        rows = walk(lambda **p: app_get(emu, f"users/{path}", **p), 500)  # noqa: B023
        assert all("humanId" in r for r in rows), path
        want = emu.records(stream)
        assert by_id(rows) == by_id(zoned(emu, want) if stream in TIME_SERIES_STREAMS else want)
        assert {r["humanId"] for r in rows} == {r["humanId"] for r in want}
        if stream not in LEGACY_STREAMS:  # every connected user has these
            assert {r["humanId"] for r in rows} == {u["humanId"] for u in connected(emu)}


def test_batch_equals_per_user_data_api(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    """The same records, but activities and sleeps in a batch response carry `timeZone`."""
    for path, stream in BATCH_PATHS.items():
        batch = by_id(walk(lambda **p: app_get(emu, f"users/{path}", **p), 500))  # noqa: B023
        if stream in TIME_SERIES_STREAMS:
            batch = {k: {f: v for f, v in r.items() if f != "timeZone"} for k, r in batch.items()}
        per_user: list[dict[str, Any]] = []
        for human, token in tokens.items():
            rows = walk(lambda **p: data_get(emu, token, PATH_OF[stream], **p), 500)  # noqa: B023
            assert {r["humanId"] for r in rows} <= {human}
            per_user += rows
        assert by_id(per_user) == batch, stream


# -- Data API -----------------------------------------------------------------------------


def test_a_token_reads_only_its_own_user(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    emu.data_reads.clear()
    for human, token in tokens.items():
        profile = data_get(emu, token, "profile")
        assert profile.json() == emu.profiles[human]
        sources = data_get(emu, token, "sources").json()
        assert sorted(s["id"] for s in sources) == sorted(
            s["id"] for s in emu.data["sources"][human]
        )
        for stream in ("activities", "weight", "medical_organizations"):
            response = data_get(emu, token, PATH_OF[stream], limit=500)
            if emu.data[stream][human]:
                assert by_id(response.json()) == by_id(emu.data[stream][human]), stream
    reads = {(path, human) for path, human in emu.data_reads}
    assert {h for p, h in reads if p == "/v1/human/profile"} == set(tokens)
    assert len(emu.data_reads) == len(tokens) * 5
    assert emu.cross_user_attempts == 0


def test_access_token_query_parameter(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    human, token = next(iter(tokens.items()))
    url = f"{emu.api_url}/v1/human/profile"
    response = requests.get(url, params={"access_token": token}, timeout=TIMEOUT)
    assert response.status_code == 200 and response.json()["humanId"] == human
    bogus = requests.get(url, params={"access_token": "nope"}, timeout=TIMEOUT)
    assert (bogus.status_code, bogus.json()) == (401, INVALID_TOKEN)


def test_missing_or_wrong_token_is_401(emu: HumanApiEmulator) -> None:
    bare = requests.get(f"{emu.api_url}/v1/human/activities", timeout=TIMEOUT)
    assert (bare.status_code, bare.json()) == (401, INVALID_TOKEN)
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    assert data_get(emu, "demo", "activities").status_code == 401
    basic_auth = requests.get(f"{emu.api_url}/v1/human/activities", headers=basic(), timeout=5)
    assert basic_auth.status_code == 401


def test_naming_another_users_record_is_counted(emu: HumanApiEmulator) -> None:
    first, second = connected(emu)[:2]
    mine = emu.data["activities"][first["humanId"]][0]
    theirs = emu.data["activities"][second["humanId"]][0]
    token = mint(emu, first["externalId"])
    before = emu.cross_user_attempts
    assert data_get(emu, token, f"activities/{mine['id']}").json() == mine
    response = data_get(emu, token, f"activities/{theirs['id']}")
    assert response.status_code == 404
    assert emu.cross_user_attempts == before + 1
    emu.cross_user_attempts = before


def test_tokens_expire() -> None:
    with HumanApiEmulator(size=3, token_ttl=1) as emu:
        body = token_post(emu, mint_body("ext-0001")).json()
        assert body["expires_in"] == 1
        assert data_get(emu, body["access_token"], "profile").status_code == 200
        time.sleep(1.1)
        expired = data_get(emu, body["access_token"], "profile")
        assert (expired.status_code, expired.json()) == (401, INVALID_TOKEN)
        assert data_get(emu, mint(emu, "ext-0001"), "profile").status_code == 200


def test_revoke_tokens() -> None:
    with HumanApiEmulator(size=3) as emu:
        token = mint(emu, "ext-0002")
        assert data_get(emu, token, "sources").status_code == 200
        emu.revoke_tokens()
        revoked = data_get(emu, token, "sources")
        assert (revoked.status_code, revoked.json()) == (401, INVALID_TOKEN)
        assert data_get(emu, mint(emu, "ext-0002"), "sources").status_code == 200


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("501", '"limit" must be less than or equal to 500'),
        ("0", '"limit" must be larger than or equal to 1'),
        ("-3", '"limit" must be larger than or equal to 1'),
        ("abc", '"limit" must be a number'),
        ("2.5", '"limit" must be an integer'),
    ],
)
def test_bad_limit_is_400(
    emu: HumanApiEmulator, tokens: dict[str, str], limit: str, message: str
) -> None:
    token = next(iter(tokens.values()))
    response = data_get(emu, token, "heart_rate/readings", limit=limit)
    assert response.status_code == 400 and response.json()["message"] == message
    batch = app_get(emu, "users/heart_rates", limit=limit)
    assert batch.status_code == 400 and batch.json()["message"] == message


def test_limit_501_body_and_limit_500(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    token = next(iter(tokens.values()))
    response = data_get(emu, token, "activities", limit=501)
    assert (response.status_code, response.json()) == (400, LIMIT_TOO_BIG)
    assert data_get(emu, token, "activities", limit=500).status_code == 200
    negative = data_get(emu, token, "activities", offset=-1)
    assert negative.json()["message"] == '"offset" must be larger than or equal to 0'


def test_paging_walks_every_record_once(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    human = emu.users[0]["humanId"]
    token = tokens[human]
    for stream in ("activities", "heart_rate", "activity_summaries"):
        expected = by_id(emu.data[stream][human])
        for limit in (1, 7, 50):
            rows = walk(lambda **p: data_get(emu, token, PATH_OF[stream], **p), limit)  # noqa: B023
            assert by_id(rows) == expected
    default = data_get(emu, token, "heart_rate/readings")
    assert len(default.json()) == min(50, len(emu.data["heart_rate"][human]))
    users = walk(lambda **p: app_get(emu, "users", **p), 3)
    assert by_id(users) == by_id(emu.users)
    past_the_end = data_get(emu, token, "activities", offset=10_000)
    assert past_the_end.json() == [] and "Link" not in past_the_end.headers


def test_lists_are_in_no_particular_order(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    human = emu.users[0]["humanId"]
    token = tokens[human]
    served = data_get(emu, token, "activities", limit=500).json()
    assert served == data_get(emu, token, "activities", limit=500).json()  # stable
    stored = emu.data["activities"][human]
    for key in ("updatedAt", "createdAt", "startTime", "id"):
        assert served != sorted(stored, key=lambda r: r[key])
        assert served != sorted(stored, key=lambda r: r[key], reverse=True)
    assert served != stored
    batch = app_get(emu, "users/activities", limit=500).json()
    assert batch != emu.records("activities")


def test_updated_since_is_strict_in_both_date_forms(
    emu: HumanApiEmulator, tokens: dict[str, str]
) -> None:
    human = emu.users[0]["humanId"]
    token = tokens[human]
    stored = emu.data["heart_rate"][human]
    stamps = sorted(r["updatedAt"] for r in stored)
    pivot = stamps[len(stamps) // 2]
    extended = walk(lambda **p: data_get(emu, token, "heart_rate/readings", **p), 10,
                    updated_since=pivot)  # fmt: skip
    assert by_id(extended) == by_id([r for r in stored if r["updatedAt"] > pivot])
    assert pivot not in {r["updatedAt"] for r in extended}
    moment = datetime.fromisoformat(pivot.replace("Z", "+00:00"))
    compact = moment.strftime("%Y%m%dT%H%M%SZ")  # second precision
    second = pivot[:19] + ".000Z"
    rows = data_get(emu, token, "heart_rate/readings", limit=500, updated_since=compact).json()
    assert by_id(rows) == by_id([r for r in stored if r["updatedAt"] > second])
    created = data_get(emu, token, "heart_rate/readings", limit=500, created_since=compact).json()
    assert by_id(created) == by_id([r for r in stored if r["createdAt"] > second])
    # The batch queries filter the same way, over every user.
    batch = app_get(emu, "users/heart_rates", limit=500, updated_since=pivot).json()
    assert by_id(batch) == by_id([r for r in emu.records("heart_rate") if r["updatedAt"] > pivot])
    assert app_get(emu, "users", updated_since="20300101T000000Z").json() == []


def test_updated_since_ties_are_excluded_on_the_boundary(emu: HumanApiEmulator) -> None:
    rows = emu.records("heart_rate")
    seen: dict[str, int] = {}
    for r in rows:
        seen[r["updatedAt"]] = seen.get(r["updatedAt"], 0) + 1
    tie = next(stamp for stamp, count in seen.items() if count > 1)
    served = app_get(emu, "users/heart_rates", limit=500, updated_since=tie).json()
    assert tie not in {r["updatedAt"] for r in served}
    just_before = dg.iso_ms(dg.ms_of(tie) - 1)
    served = app_get(emu, "users/heart_rates", limit=500, updated_since=just_before).json()
    assert sum(r["updatedAt"] == tie for r in served) == seen[tie]


@pytest.mark.parametrize(
    "value", ["yesterday", "2025-01-01", "20250101", "2025-13-01T00:00:00Z", "20250101T250000Z"]
)
def test_malformed_dates_are_400(emu: HumanApiEmulator, tokens: dict[str, str], value: str) -> None:
    token = next(iter(tokens.values()))
    response = data_get(emu, token, "activities", updated_since=value)
    assert response.status_code == 400
    assert response.json()["validation"] == {"source": "query", "keys": ["updated_since"]}
    assert app_get(emu, "users", created_since=value).status_code == 400


def test_date_range_and_source_filters(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    human = emu.users[0]["humanId"]
    token = tokens[human]
    stored = emu.data["weight"][human]
    rows = data_get(
        emu, token, "weight/readings", limit=500, start_date="2025-01-01", end_date="2025-06-30"
    ).json()
    want = [r for r in stored if "2025-01-01" <= r["timestamp"][:10] <= "2025-06-30"]
    assert by_id(rows) == by_id(want)
    alone = data_get(emu, token, "weight/readings", start_date="2025-01-01")
    assert alone.status_code == 400
    source = emu.data["sources"][human][0]
    for value in (source["source"], source["id"]):
        rows = data_get(emu, token, "weight/readings", limit=500, source=value).json()
        assert by_id(rows) == by_id([r for r in stored if r["source"] == source["source"]])


def test_medical_lists_without_data_are_404(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    no_medical = emu.users[1]["humanId"]
    for stream in MEDICAL_STREAMS:
        response = data_get(emu, tokens[no_medical], PATH_OF[stream])
        assert (response.status_code, response.json()) == (404, NO_DATA), stream
    profile = data_get(emu, tokens[no_medical], "medical/profile")
    assert (profile.status_code, profile.json()) == (404, NO_DATA)
    # A user with medical data but none of one kind: 404 for that kind only.
    human, stream = next(
        (h, s)
        for h in emu.medical_profiles
        for s in MEDICAL_STREAMS
        if not emu.data[s][h] and h in tokens
    )
    assert data_get(emu, tokens[human], PATH_OF[stream]).status_code == 404
    assert data_get(emu, tokens[human], "medical/organizations").status_code == 200
    assert data_get(emu, tokens[human], "medical/profile").json() == emu.medical_profiles[human]
    # Validation comes first; a filter that matches nothing is an empty list, not a 404.
    assert data_get(emu, tokens[human], PATH_OF[stream], limit=501).status_code == 400
    late = data_get(emu, tokens[human], "medical/organizations", updated_since="20300101T000000Z")
    assert late.status_code == 200 and late.json() == []


def test_time_series_only_when_asked(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    human = emu.users[0]["humanId"]
    for stream in TIME_SERIES_STREAMS:
        plain = data_get(emu, tokens[human], PATH_OF[stream], limit=500).json()
        assert all("timeSeries" not in r and "timeZone" not in r for r in plain)
        rows = data_get(emu, tokens[human], PATH_OF[stream], limit=500, time_series="true")
        assert by_id(rows.json()) == by_id(
            [{**r, "timeSeries": emu.time_series[r["id"]]} for r in plain]
        )
        series = [r["timeSeries"] for r in rows.json()]
        key = "stages" if stream == "sleeps" else "heartRate"
        assert all(s[key] for s in series), stream
        for r in rows.json():  # samples lie within the record's time span
            stamps = [p["timestamp"] for p in r["timeSeries"][key]]
            assert r["startTime"] == stamps[0] and stamps[-1] < r["endTime"]
        batch = app_get(emu, f"users/{stream}", limit=500, time_series="true").json()
        assert all(r["timeSeries"] == emu.time_series[r["id"]] and r["timeZone"] for r in batch)
        off = data_get(emu, tokens[human], PATH_OF[stream], time_series="false").json()
        assert all("timeSeries" not in r for r in off)
        bad = data_get(emu, tokens[human], PATH_OF[stream], time_series="yes")
        assert bad.status_code == 400
        assert bad.json()["message"] == '"time_series" must be a boolean'
    weight = data_get(emu, tokens[human], "weight/readings", time_series="true").json()
    assert all("timeSeries" not in r for r in weight)  # other types have none


def test_latest_single_and_summary_objects(emu: HumanApiEmulator, tokens: dict[str, str]) -> None:
    human = emu.users[0]["humanId"]
    token = tokens[human]
    latest = data_get(emu, token, "weight").json()
    assert latest["timestamp"] == max(r["timestamp"] for r in emu.data["weight"][human])
    summary = emu.data["sleep_summaries"][human][0]
    assert data_get(emu, token, f"sleeps/summaries/{summary['date']}").json() == summary
    assert data_get(emu, token, "sleeps/summaries/1999-01-01").status_code == 404
    overview = data_get(emu, token, "").json()
    assert overview["humanId"] == human and overview["weight"] == latest
    assert data_get(emu, token, "no/such/path").status_code == 404


def test_injected_server_errors_use_the_boom_shape(
    emu: HumanApiEmulator, tokens: dict[str, str]
) -> None:
    token = next(iter(tokens.values()))
    emu.server.faults.add("status", status=500, path="/v1/human/activities")
    failed = data_get(emu, token, "activities")
    assert (failed.status_code, failed.json()) == (500, SERVER_ERROR)
    emu.server.faults.add("status", status=503, path="/v1/apps/")
    busy = app_get(emu, "users")
    assert busy.json() == {
        "statusCode": 503,
        "error": "Service Unavailable",
        "message": "Service Unavailable",
    }
    assert data_get(emu, token, "activities").status_code == 200


# -- mutations ----------------------------------------------------------------------------


def test_touch() -> None:
    with HumanApiEmulator(size=4) as emu:
        human = emu.users[0]["humanId"]
        newest = max(
            [r["updatedAt"] for s in DATA_STREAMS if s != "sources" for r in emu.records(s)]
            + [u["updatedAt"] for u in emu.users]
        )
        token = mint(emu, "ext-0001")
        before = data_get(emu, token, "activities", limit=500).json()  # warm the view cache
        touched = emu.touch("activities", human, 3)
        assert len(set(touched)) == 3
        changed = data_get(emu, token, "activities", limit=500, updated_since=newest).json()
        assert sorted(r["id"] for r in changed) == sorted(touched)
        assert len({r["updatedAt"] for r in changed}) == 1 and changed[0]["updatedAt"] > newest
        after = data_get(emu, token, "activities", limit=500).json()
        assert [r["id"] for r in after] == [r["id"] for r in before]  # same order
        batch = app_get(emu, "users/activities", limit=500, updated_since=newest).json()
        assert sorted(r["id"] for r in batch) == sorted(touched)
        again = emu.touch("medical_organizations", human, 1)
        assert emu.data["medical_organizations"][human][0]["id"] in again
        assert emu.data["medical_organizations"][human][0]["updatedAt"] > changed[0]["updatedAt"]
        with pytest.raises(ValueError):
            emu.touch("sources", human, 1)
        with pytest.raises(ValueError):
            emu.touch("activities", human, 1000)
    one, two = HumanApiEmulator(size=3), HumanApiEmulator(size=3)
    human = one.users[0]["humanId"]
    assert one.touch("weight", human, 2) == two.touch("weight", human, 2)
    assert one.data == two.data


# -- CLI ----------------------------------------------------------------------------------


def test_cli_prints_ready_and_serves_until_sigterm() -> None:
    with emulator_process("humanapi", "--records", "3") as url:
        users = requests.get(f"{url}/v1/apps/{CLIENT_ID}/users", headers=basic(), timeout=5)
        assert users.status_code == 200 and len(users.json()) == 3
        minted = requests.post(f"{url}/v1/connect/token", json=mint_body("ext-0001"), timeout=5)
        assert minted.status_code == 200
