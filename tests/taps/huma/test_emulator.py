"""The Huma emulator must enforce the Open API contract the tap is tested against.

If the emulator were lax (accepting a too-large limit, any bearer token, malformed ids, or
serving records that do not match the tap's schemas), tap tests would pass against it and
fail against the real API, so these tests pin its behaviour down.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests
from jsonschema import Draft7Validator

from human_sandbox.huma import (
    AS_OF,
    CLIENT_ID,
    CLIENT_SECRET,
    MANY_POSITIONS,
    HumaEmulator,
    easter,
)
from tests.support.helpers import emulator_process
from tests.support.registry import TAPS
from tests.support.schema_check import DATE_TIME, UUID, schema_validator

SCHEMA_DIR = TAPS["huma"].schema_dir
STREAMS = TAPS["huma"].streams
#: UserDetails arrays that are also streams of their own (each item + userId).
NESTED_STREAMS = {
    "children": "user_children",
    "emergencyContacts": "user_emergency_contacts",
    "identifications": "user_identifications",
}
TIMEOUT = 5
BAD_LIMIT = {
    "errorCode": "field:invalid-format",
    "errorMessage": "Invalid field Format",
    "fields": ["limit"],
}


def load_schema(stream: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{stream}.json").read_text())


def validator(stream: str) -> Draft7Validator:
    return schema_validator(SCHEMA_DIR / f"{stream}.json")


def unwrap(value: Any) -> Any:
    """Replace every Field wrapper (a dict with both "value" and "editable") by its value."""
    if isinstance(value, dict):
        if "value" in value and "editable" in value:
            return unwrap(value["value"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def assert_valid(check: Draft7Validator, record: dict[str, Any], label: str) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(record)]
    assert not errors, (label, record.get("id"), errors)


def form_token(url: str, secret: str = CLIENT_SECRET, **extra: str) -> requests.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": secret,
        **extra,
    }
    return requests.post(f"{url}/auth/oauth/token", data=data, timeout=TIMEOUT)


def json_token(url: str, body: Any) -> requests.Response:
    return requests.post(f"{url}/auth/oauth/token", json=body, timeout=TIMEOUT)


def basic_token(
    url: str, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET
) -> requests.Response:
    creds = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return requests.post(
        f"{url}/auth/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {creds}"},
        timeout=TIMEOUT,
    )


def mint(emu: HumaEmulator) -> str:
    response = form_token(emu.url)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def emu() -> Iterator[HumaEmulator]:
    with HumaEmulator() as emulator:
        yield emulator


@pytest.fixture
def api(emu: HumaEmulator) -> Iterator[requests.Session]:
    """Session with a fresh token on the shared emulator; faults never leak between tests."""
    session = requests.Session()
    session.headers.update(bearer(mint(emu)))
    yield session
    session.close()
    emu.server.faults.clear()


def get(session: requests.Session, emu: HumaEmulator, path: str, **params: Any) -> Any:
    response = session.get(f"{emu.url}/{path}", params=params, timeout=TIMEOUT)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def walk(
    session: requests.Session, emu: HumaEmulator, path: str, limit: int, **params: Any
) -> list[dict[str, Any]]:
    """Every item of an offset-paged list, checking the envelope on each page."""
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = get(session, emu, path, limit=limit, offset=offset, **params)
        assert set(page) == {"total", "items", "filters", "meta"}
        assert page["filters"] == {} and page["meta"] == {}
        assert len(page["items"]) <= limit
        items += page["items"]
        offset += len(page["items"])
        if offset >= page["total"] or not page["items"]:
            break
    assert len(items) == page["total"]
    return items


# -- schemas ------------------------------------------------------------------------------


def test_schema_files_cover_every_stream() -> None:
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(STREAMS)
    assert (SCHEMA_DIR / "__init__.py").read_text() == ""
    for stream in STREAMS:
        schema = load_schema(stream)
        Draft7Validator.check_schema(schema)
        assert schema["type"] == "object" and schema.get("description"), stream
        assert "additionalProperties" not in schema, stream
        props = schema["properties"]  # the rest: tests/test_schema_policy.py
        if stream == "holidays":
            assert schema["required"] == ["countryCode", "date"]
            continue
        if stream == "work_schedules":  # one current schedule per user
            assert schema["required"] == ["userId"]
            assert props["userId"]["type"] == "string"
            continue
        assert schema["required"] == ["id"]
        assert props["id"] == {"type": "string", "format": "uuid"}
    for stream in (*NESTED_STREAMS.values(), "positions", "position_details", "work_schedules"):
        schema = load_schema(stream)
        assert schema["properties"]["userId"]["format"] == "uuid"


# -- token endpoint -----------------------------------------------------------------------


def check_credentials(body: dict[str, Any], emu: HumaEmulator) -> None:
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "organizationId",
        "userId",
        "authOrigin",
        "authProvider",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == emu.token_ttl
    assert body["userId"] == emu.service_user_id
    assert body["organizationId"] == emu.organization_id
    assert body["authProvider"] == "open-api"
    for key in ("organizationId", "userId", "authOrigin"):
        assert UUID.fullmatch(body[key]), key
    assert len(body["access_token"]) >= 32


@pytest.mark.parametrize("style", ["form", "json", "basic"])
def test_token_endpoint_accepts_all_three_client_auth_styles(emu: HumaEmulator, style: str) -> None:
    before = len(emu.token_requests)
    if style == "form":
        response = form_token(emu.url)
    elif style == "json":
        response = json_token(
            emu.url,
            {
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
    else:
        response = basic_token(emu.url)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    check_credentials(body, emu)
    entry = emu.token_requests[before]
    assert len(emu.token_requests) == before + 1
    assert (entry["style"], entry["ok"], entry["token"]) == (style, True, body["access_token"])
    assert isinstance(entry["time"], float)
    users = requests.get(f"{emu.url}/users", headers=bearer(body["access_token"]), timeout=TIMEOUT)
    assert users.status_code == 200


def test_every_mint_gives_a_new_token(emu: HumaEmulator) -> None:
    tokens = {mint(emu) for _ in range(5)}
    assert len(tokens) == 5


@pytest.mark.parametrize(
    "send",
    [
        lambda url: form_token(url, secret="00000000-0000-4000-8000-000000000000"),
        lambda url: form_token(url, secret=""),
        lambda url: requests.post(
            f"{url}/auth/oauth/token", data={"grant_type": "client_credentials"}, timeout=TIMEOUT
        ),
        lambda url: json_token(
            url,
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"},
        ),
        lambda url: json_token(url, {"grant_type": "client_credentials", "client_id": CLIENT_ID}),
        lambda url: basic_token(url, secret="wrong"),
        lambda url: basic_token(url, client_id="someone-else"),
    ],
    ids=["form", "form-empty", "form-missing", "json", "json-missing", "basic", "basic-id"],
)
def test_wrong_or_missing_credentials_get_401_invalid_client(emu: HumaEmulator, send: Any) -> None:
    before = len(emu.token_requests)
    response = send(emu.url)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "Bad client credentials",
    }
    assert emu.token_requests[before]["ok"] is False
    assert emu.token_requests[before]["token"] is None


def test_echo_secret_in_errors_leaks_the_secret_on_purpose() -> None:
    with HumaEmulator(size=3, echo_secret_in_errors=True) as emulator:
        response = form_token(emulator.url, secret="s3cr3t-sent-by-the-tap")
        assert response.status_code == 401
        assert "s3cr3t-sent-by-the-tap" in response.json()["error_description"]
        basic = basic_token(emulator.url, secret="basic-s3cr3t")
        assert "basic-s3cr3t" in basic.json()["error_description"]


@pytest.mark.parametrize(
    ("send", "style"),
    [
        (lambda url: form_token(url, grant_type="password"), "form"),
        (lambda url: form_token(url, grant_type="refresh_token"), "form"),
        (
            lambda url: requests.post(
                f"{url}/auth/oauth/token",
                data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                timeout=TIMEOUT,
            ),
            "form",
        ),
        (
            lambda url: requests.post(
                f"{url}/auth/oauth/token",
                data=b"{not json",
                headers={"Content-Type": "application/json"},
                timeout=TIMEOUT,
            ),
            "json",
        ),
        (lambda url: json_token(url, ["client_credentials"]), "json"),
        (
            lambda url: requests.post(
                f"{url}/auth/oauth/token",
                data=b"grant_type=client_credentials",
                headers={"Content-Type": "text/plain"},
                timeout=TIMEOUT,
            ),
            "form",
        ),
        (
            lambda url: requests.post(
                f"{url}/auth/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": "Basic !!!not-base64"},
                timeout=TIMEOUT,
            ),
            "basic",
        ),
    ],
    ids=["password", "refresh", "no-grant", "bad-json", "json-array", "text-plain", "bad-basic"],
)
def test_bad_grant_or_malformed_body_gets_400_invalid_request(
    emu: HumaEmulator, send: Any, style: str
) -> None:
    before = len(emu.token_requests)
    response = send(emu.url)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "invalid_request" and body["error_description"]
    assert emu.token_requests[before]["style"] == style
    assert emu.token_requests[before]["ok"] is False


def test_token_endpoint_is_post_only(emu: HumaEmulator) -> None:
    response = requests.get(f"{emu.url}/auth/oauth/token", timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.json()["status"] == 405


# -- bearer tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic " + base64.b64encode(b"id:secret").decode()},
    ],
    ids=["none", "unknown", "empty", "basic"],
)
@pytest.mark.parametrize("path", ["users", "groups", "holidays/NO", "no/such/path"])
def test_every_route_needs_a_valid_bearer_token(
    emu: HumaEmulator, headers: dict[str, str], path: str
) -> None:
    response = requests.get(f"{emu.url}/{path}", headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "Access token invalid",
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_tokens_expire_after_token_ttl() -> None:
    with HumaEmulator(size=3, token_ttl=1) as emulator:
        response = form_token(emulator.url)
        assert response.json()["expires_in"] == 1
        token = response.json()["access_token"]
        url = f"{emulator.url}/users"
        assert requests.get(url, headers=bearer(token), timeout=TIMEOUT).status_code == 200
        time.sleep(1.05)
        expired = requests.get(url, headers=bearer(token), timeout=TIMEOUT)
        assert expired.status_code == 401
        assert expired.json() == {
            "error": "invalid_token",
            "error_description": "Access token expired",
        }
        fresh = mint(emulator)
        assert requests.get(url, headers=bearer(fresh), timeout=TIMEOUT).status_code == 200


def test_revoke_all_tokens_invalidates_every_issued_token() -> None:
    with HumaEmulator(size=3) as emulator:
        first, second = mint(emulator), mint(emulator)
        url = f"{emulator.url}/users"
        emulator.revoke_all_tokens()
        for token in (first, second):
            response = requests.get(url, headers=bearer(token), timeout=TIMEOUT)
            assert response.status_code == 401
            assert response.json()["error"] == "invalid_token"
        third = mint(emulator)
        assert requests.get(url, headers=bearer(third), timeout=TIMEOUT).status_code == 200

        revoke = requests.post(
            f"{emulator.url}/auth/oauth/revoke", headers=bearer(third), timeout=TIMEOUT
        )
        assert (revoke.status_code, revoke.content) == (200, b"")
        assert requests.get(url, headers=bearer(third), timeout=TIMEOUT).status_code == 401
        again = requests.post(
            f"{emulator.url}/auth/oauth/revoke", headers=bearer(third), timeout=TIMEOUT
        )
        assert again.status_code == 401


# -- validation ---------------------------------------------------------------------------


def positions_path(emu: HumaEmulator) -> str:
    return f"users/{emu.users[0]['id']}/positions"


@pytest.mark.parametrize(
    ("path", "maximum", "default"),
    [("users", 50, 25), ("groups", 25, 10), ("positions", 50, 25)],
)
def test_limit_maxima_and_defaults(
    emu: HumaEmulator, api: requests.Session, path: str, maximum: int, default: int
) -> None:
    if path == "positions":
        many = next(uid for uid, rows in emu.positions.items() if len(rows) == MANY_POSITIONS)
        path = f"users/{many}/positions"
    too_big = api.get(f"{emu.url}/{path}", params={"limit": maximum + 1}, timeout=TIMEOUT)
    assert too_big.status_code == 400
    assert too_big.json() == BAD_LIMIT
    total = get(api, emu, path)["total"]
    assert len(get(api, emu, path, limit=maximum)["items"]) == min(maximum, total)
    assert len(get(api, emu, path)["items"]) == default
    assert get(api, emu, path, limit=0)["items"] == []
    for params, field in (
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"offset": 2**31}, "offset"),
    ):
        response = api.get(f"{emu.url}/{path}", params=params, timeout=TIMEOUT)
        assert response.status_code == 400, params
        assert response.json() == {**BAD_LIMIT, "fields": [field]}


def test_other_query_parameters_are_validated(emu: HumaEmulator, api: requests.Session) -> None:
    for path, params, field in (
        ("users", {"isActive": "maybe"}, "isActive"),
        ("users", {"orderDirection": "up"}, "orderDirection"),
        ("users", {"orderDirection": "desc"}, "orderDirection"),
        ("groups", {"type": "department"}, "type"),
        ("groups", {"type[]": "team,department"}, "type"),
    ):
        response = api.get(f"{emu.url}/{path}", params=params, timeout=TIMEOUT)
        assert response.status_code == 400, (path, params)
        assert response.json()["fields"] == [field]
    # Documented filters the emulator does not apply are accepted, not rejected.
    ignored = {"search": "x", "team": emu.groups[0]["id"], "supervisor": "none", "permission": "p"}
    assert get(api, emu, "users", **ignored)["total"] == len(emu.users)


def test_uuid_path_parameters_are_validated(emu: HumaEmulator, api: requests.Session) -> None:
    user = emu.users[0]["id"]
    for path, field in (
        ("users/not-a-uuid", "id"),
        ("users/12345", "id"),
        ("users/not-a-uuid/positions", "userId"),
        ("users/me/positions", "userId"),
        (f"users/{user}/positions/not-a-uuid", "id"),
        ("users/bad/positions/also-bad", "userId"),
        ("groups/not-a-uuid", "id"),
        ("job-titles/not-a-uuid", "id"),
        ("users/not-a-uuid/work-schedule", "id"),
    ):
        response = api.get(f"{emu.url}/{path}", timeout=TIMEOUT)
        assert response.status_code == 400, path
        assert response.json() == {**BAD_LIMIT, "fields": [field]}, path


def test_unknown_ids_get_404_object_not_found(emu: HumaEmulator, api: requests.Session) -> None:
    ghost = "0b7c3a52-9d0e-4f61-8a2b-3c4d5e6f7a8b"
    user = emu.users[0]["id"]
    for path, kind in (
        (f"users/{ghost}", "User"),
        (f"users/{ghost}/positions", "User"),
        (f"users/{ghost}/positions/{ghost}", "User"),
        (f"users/{user}/positions/{ghost}", "Position"),
        (f"groups/{ghost}", "Group"),
        (f"job-titles/{ghost}", "JobTitle"),
        (f"users/{ghost}/work-schedule", "User"),
    ):
        response = api.get(f"{emu.url}/{path}", timeout=TIMEOUT)
        assert response.status_code == 404, path
        assert response.json() == {
            "errorCode": "object:not-found",
            "errorMessage": "Object not found",
            "interpolations": {"type": kind, "id": ghost},
        }, path


def test_unknown_paths_and_methods(emu: HumaEmulator, api: requests.Session) -> None:
    for path in ("nope", "users/me/subordinates/x", "holidays", "job-titles/a/b"):
        response = api.get(f"{emu.url}/{path}", timeout=TIMEOUT)
        assert response.status_code == 404, path
        assert response.json()["errorCode"] == "object:not-found"
        assert response.json()["interpolations"] == {"type": "Path", "id": f"/{path}"}
    post = api.post(f"{emu.url}/users", json={}, timeout=TIMEOUT)
    assert post.status_code == 405
    body = post.json()
    assert (body["status"], body["error"], body["path"]) == (405, "Method Not Allowed", "/users")
    assert api.head(f"{emu.url}/users", timeout=TIMEOUT).status_code == 200


# -- holidays -----------------------------------------------------------------------------


def test_holidays_require_both_dates_and_a_country_code(
    emu: HumaEmulator, api: requests.Session
) -> None:
    ok = {"fromDate": "2025-01-01", "toDate": "2025-12-31"}
    for path, params, fields in (
        ("holidays/NO", {"fromDate": "2025-01-01"}, ["toDate"]),
        ("holidays/NO", {"toDate": "2025-12-31"}, ["fromDate"]),
        ("holidays/NO", {}, ["fromDate", "toDate"]),
        ("holidays/NO", {"fromDate": "01.01.2025", "toDate": "2025-12-31"}, ["fromDate"]),
        ("holidays/NO", {"fromDate": "2025-02-30", "toDate": "2025-12-31"}, ["fromDate"]),
        ("holidays/NO", {"fromDate": "2025-01-01", "toDate": "2025-12-31T00:00:00"}, ["toDate"]),
        ("holidays/no", ok, ["countryCode"]),
        ("holidays/NOR", ok, ["countryCode"]),
        ("holidays/N1", {}, ["countryCode", "fromDate", "toDate"]),
    ):
        response = api.get(f"{emu.url}/{path}", params=params, timeout=TIMEOUT)
        assert response.status_code == 400, (path, params)
        assert response.json() == {**BAD_LIMIT, "fields": fields}, (path, params)


def test_holiday_calendars(emu: HumaEmulator, api: requests.Session) -> None:
    assert [easter(y).isoformat() for y in (2023, 2024, 2025, 2026, 2027)] == [
        "2023-04-09",
        "2024-03-31",
        "2025-04-20",
        "2026-04-05",
        "2027-03-28",
    ]
    window = {"fromDate": "2023-01-01", "toDate": "2027-12-31"}
    expected = {
        "NO": ["2025-05-17", "2025-04-17", "2025-06-09", "2025-12-26"],
        "SE": ["2025-06-06", "2025-06-21", "2025-11-01", "2025-01-06"],
        "DK": ["2023-05-05", "2025-04-17", "2025-06-09"],
        "GB": ["2023-01-02", "2023-05-08", "2025-08-25", "2026-12-28", "2027-12-27"],
        "DE": ["2025-10-03", "2025-06-09"],
        "US": ["2023-01-02", "2025-11-27", "2026-07-03", "2025-01-20"],
    }
    for country, dates in expected.items():
        served = get(api, emu, f"holidays/{country}", **window)
        assert served == emu.holidays(country, window["fromDate"], window["toDate"])
        assert served == sorted(set(served)), country
        assert {d[:4] for d in served} == {"2023", "2024", "2025", "2026", "2027"}, country
        assert set(dates) <= set(served), (country, set(dates) - set(served))
        assert 8 * 5 <= len(served) <= 14 * 5, country
    assert "2024-04-26" not in get(api, emu, "holidays/DK", **window)  # Store bededag abolished
    assert get(api, emu, "holidays/ZZ", **window) == []
    may = get(api, emu, "holidays/NO", fromDate="2025-05-01", toDate="2025-05-17")
    assert may == ["2025-05-01", "2025-05-17"]  # both ends inclusive
    assert get(api, emu, "holidays/NO", fromDate="2025-05-18", toDate="2025-05-01") == []
    assert get(api, emu, "holidays/NO", fromDate="2030-01-01", toDate="2030-12-31") == []


# -- lists and paging ---------------------------------------------------------------------


def test_users_paging_walks_to_total(emu: HumaEmulator, api: requests.Session) -> None:
    items = walk(api, emu, "users", 7)
    assert items == emu.users
    names = [(u["givenName"], u["familyName"], u["id"]) for u in items]
    assert names == sorted(names)
    descending = walk(api, emu, "users", 50, orderDirection="DESC")
    assert descending == emu.users[::-1]
    active = walk(api, emu, "users", 50, isActive="true")
    inactive = walk(api, emu, "users", 50, isActive="false")
    assert all(u["status"]["active"] for u in active)
    assert not any(u["status"]["active"] for u in inactive)
    assert len(active) + len(inactive) == len(emu.users) and inactive
    beyond = get(api, emu, "users", offset=1000)
    assert beyond["items"] == [] and beyond["total"] == len(emu.users)


def test_groups_paging_and_type_filter(emu: HumaEmulator, api: requests.Session) -> None:
    first = get(api, emu, "groups", limit=25)
    assert first["total"] == len(emu.groups) >= 30
    items = walk(api, emu, "groups", 25)
    assert items == emu.groups
    kinds = {g["type"] for g in items}
    assert kinds == {"team", "location", "company"}
    teams = [g for g in emu.groups if g["type"] == "team"]
    sites = [g for g in emu.groups if g["type"] != "team"]
    assert walk(api, emu, "groups", 25, type="team") == teams
    assert walk(api, emu, "groups", 25, **{"type[]": "team"}) == teams
    repeated = api.get(
        f"{emu.url}/groups",
        params=[("type", "location"), ("type", "company"), ("limit", "25")],
        timeout=TIMEOUT,
    ).json()
    comma = get(api, emu, "groups", type="location,company", limit=25)
    assert repeated["items"] == comma["items"] == sites[:25]
    assert repeated["total"] == comma["total"] == len(sites)


def test_positions_paging_for_the_user_with_many(emu: HumaEmulator, api: requests.Session) -> None:
    many = [uid for uid, rows in emu.positions.items() if len(rows) == MANY_POSITIONS]
    assert len(many) == 1
    path = f"users/{many[0]}/positions"
    first = get(api, emu, path, limit=50)
    assert (first["total"], len(first["items"])) == (MANY_POSITIONS, 50)
    assert walk(api, emu, path, 50) == emu.positions[many[0]]
    for uid, rows in emu.positions.items():
        if uid != many[0]:
            assert 1 <= len(rows) <= 3
            assert get(api, emu, f"users/{uid}/positions")["items"] == rows


def test_single_object_routes(emu: HumaEmulator, api: requests.Session) -> None:
    user = emu.users[0]
    assert get(api, emu, f"users/{user['id']}") == emu.details[user["id"]]
    assert get(api, emu, f"users/{user['id'].upper()}") == emu.details[user["id"]]
    me = get(api, emu, "users/me")
    assert me["id"] == emu.service_user_id and me["type"] == "service_user"
    assert get(api, emu, f"users/{emu.service_user_id}") == me
    assert emu.service_user_id not in {u["id"] for u in emu.users}
    assert emu.service_user_id not in emu.details

    titles = get(api, emu, "job-titles")
    assert isinstance(titles, list) and titles == emu.job_titles and 10 <= len(titles) <= 15
    assert all(set(t) == {"id", "name"} for t in titles)
    one = get(api, emu, f"job-titles/{titles[0]['id']}")
    assert set(one) == {"id", "name", "description"} and one["name"] == titles[0]["name"]
    assert get(api, emu, "job-titles", search="engineer") == [
        t for t in titles if "engineer" in t["name"].lower()
    ]

    group = next(g for g in emu.groups if g["type"] == "team" and g["members"])
    details = get(api, emu, f"groups/{group['id']}")
    assert {"id", "name", "members", "grants", "description", "links"} <= set(details)
    assert [m["id"] for m in details["members"]] == [m["id"] for m in group["members"]]
    check = validator("users")
    for member in details["members"]:
        assert_valid(check, member, "group member")

    summary = emu.positions[user["id"]][0]
    position = get(api, emu, f"users/{user['id']}/positions/{summary['id']}")
    assert position["id"] == summary["id"] and position["status"] == summary["status"]
    flat = unwrap(position)
    for key in ("contractStartDate", "contractEndDate", "percentage", "contractType", "title"):
        assert flat[key] == summary[key], key
    assert all(
        isinstance(v, dict) and "editable" in v
        for k, v in position.items()
        if k not in ("id", "status")
    )


def test_work_schedule_route(emu: HumaEmulator, api: requests.Session) -> None:
    """`GET /users/{id}/work-schedule`: the user's current WorkSchedule; a deactivated user
    has none (404 object:not-found of type WorkSchedule, assumed), nor has `me`."""
    active = next(u for u in emu.users if u["status"]["active"])
    schedule = get(api, emu, f"users/{active['id']}/work-schedule")
    assert schedule == emu.work_schedules[active["id"]]
    assert set(schedule) == {
        "id", "name", "countryCode", "weekDays", "weekWorkDays", "default", "userCount",
        "archived",
    }  # fmt: skip
    for raw in (next(u["id"] for u in emu.users if not u["status"]["active"]), "me"):
        response = api.get(f"{emu.url}/users/{raw}/work-schedule", timeout=TIMEOUT)
        assert response.status_code == 404
        assert response.json()["interpolations"] == {"type": "WorkSchedule", "id": raw}
    assert get(api, emu, f"users/{active['id'].upper()}/work-schedule") == schedule


def test_work_schedules_are_shared_and_counted(emu: HumaEmulator) -> None:
    active = {u["id"] for u in emu.users if u["status"]["active"]}
    assert set(emu.work_schedules) == active
    by_id: dict[str, list[str]] = {}
    for user_id, schedule in emu.work_schedules.items():
        by_id.setdefault(schedule["id"], []).append(user_id)
        days = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
        assert [days[d - 1] for d in schedule["weekDays"]] == schedule["weekWorkDays"]
        assert not schedule["archived"]
    shared = {s["id"]: s for s in emu.work_schedules.values()}
    assert all(shared[i]["userCount"] == len(users) for i, users in by_id.items())
    assert len(shared) >= 5 and sum(s["default"] for s in shared.values()) == 1


# -- data ---------------------------------------------------------------------------------


def served_records(emu: HumaEmulator, api: requests.Session) -> dict[str, list[dict[str, Any]]]:
    """Every record of every stream as the tap would emit it, fetched over HTTP."""
    users = walk(api, emu, "users", 50)
    records: dict[str, list[dict[str, Any]]] = {s: [] for s in STREAMS}
    records["users"] = users
    for user in [*users, {"id": "me"}]:
        raw = get(api, emu, f"users/{user['id']}")
        details = unwrap(raw)
        records["user_details"].append(details)
        for key, stream in NESTED_STREAMS.items():
            records[stream] += [{**item, "userId": details["id"]} for item in details[key]]
        positions = walk(api, emu, f"users/{details['id']}/positions", 50)
        records["positions"] += [{**p, "userId": details["id"]} for p in positions]
        for p in positions:
            position = unwrap(get(api, emu, f"users/{details['id']}/positions/{p['id']}"))
            records["position_details"].append({**position, "userId": details["id"]})
        schedule = api.get(f"{emu.url}/users/{user['id']}/work-schedule", timeout=TIMEOUT)
        if schedule.status_code == 200:
            records["work_schedules"].append({**schedule.json(), "userId": details["id"]})
    records["groups"] = walk(api, emu, "groups", 25)
    records["group_details"] = [get(api, emu, f"groups/{g['id']}") for g in records["groups"]]
    records["job_titles"] = get(api, emu, "job-titles")
    records["job_title_details"] = [
        get(api, emu, f"job-titles/{t['id']}") for t in records["job_titles"]
    ]
    for country in ("NO", "SE", "DK", "GB", "DE", "US"):
        days = get(api, emu, f"holidays/{country}", fromDate="2024-01-01", toDate="2026-12-31")
        records["holidays"] += [{"countryCode": country, "date": d} for d in days]
    return records


@pytest.fixture(scope="module")
def records(emu: HumaEmulator) -> dict[str, list[dict[str, Any]]]:
    with requests.Session() as session:
        session.headers.update(bearer(mint(emu)))
        return served_records(emu, session)


@pytest.mark.parametrize("stream", STREAMS)
def test_every_served_record_matches_its_schema(
    records: dict[str, list[dict[str, Any]]], stream: str
) -> None:
    check = validator(stream)
    assert records[stream], stream
    for record in records[stream]:
        assert_valid(check, record, stream)


@pytest.mark.parametrize(
    "stream",
    [
        "users",
        "user_details",
        "positions",
        "groups",
        "position_details",
        "work_schedules",
        "group_details",
        "job_title_details",
    ],
)
def test_every_schema_property_is_served_somewhere(
    records: dict[str, list[dict[str, Any]]], stream: str
) -> None:
    """The data exercises the whole schema: each property is non-null in some record, so
    the tap meets it. Every property but the key is nullable (no schema narrower than the API), so
    nullability no longer says which fields the API leaves empty."""
    rows = records[stream]
    never = [
        name for name in load_schema(stream)["properties"] if all(r.get(name) is None for r in rows)
    ]
    assert not never, (stream, never)


def test_raw_details_wrap_every_attribute(emu: HumaEmulator) -> None:
    plain = {
        "id",
        "subordinatesCount",
        "jobTitles",
        "invitedAt",
        "lastLoggedInAt",
        "connectedIntegrations",
        "completeness",
        "jubileesToday",
        "custom",
        "status",
        "type",
        "currentPositions",
        "seniorityInCompany",
        "totalSeniority",
    }
    properties = set(load_schema("user_details")["properties"])
    seen_completeness: set[str | None] = set()
    seen_integrations = set()
    requested = show = 0
    for details in [*emu.details.values(), emu.service_user]:
        assert set(details) == properties
        for key, value in details.items():
            if key in plain:
                assert not (isinstance(value, dict) and "editable" in value), key
                continue
            assert isinstance(value, dict) and {"value", "editable"} <= set(value), key
            assert isinstance(value["editable"], bool)
            extra = set(value) - {"value", "editable"}
            if key == "email":
                assert extra <= {"requestedValue", "integrations"}
                requested += "requestedValue" in value
            elif key == "birthDate":
                assert extra <= {"showBirthday", "completeness"}
                show += "showBirthday" in value
            else:
                assert extra <= {"completeness", "integrations"}, key
            seen_completeness.add(value.get("completeness"))
            if "integrations" in value:
                seen_integrations.add(orjson.dumps(value["integrations"]))
        if details is not emu.service_user:
            levels = details["completeness"]
            for level in ("important", "details"):
                assert 0 <= levels[level]["filled"] <= levels[level]["available"] > 0
    assert seen_completeness == {None, "important", "details"}
    assert b"{}" in seen_integrations and len(seen_integrations) > 1
    assert requested > 0 and show > 0


def test_list_and_details_agree(emu: HumaEmulator) -> None:
    inactive = 0
    for user in emu.users:
        details = unwrap(emu.details[user["id"]])
        for key in ("givenName", "familyName", "preferredName", "email", "phone", "avatarImage"):
            assert details[key] == user[key], key
        for key in ("teams", "locations", "companies", "groups"):
            assert details[key] == user[key], key
        assert set(user["status"]) == {"active"}, "deactivation is not in user lists"
        assert details["status"]["active"] == user["status"]["active"]
        if not user["status"]["active"]:
            inactive += 1
            assert details["status"]["deactivatedAt"] and details["status"]["deactivatedBy"]
            assert all(p["status"] == "ENDED" for p in emu.positions[user["id"]])
        else:
            assert details["status"]["deactivatedAt"] is None
        current = [p for p in emu.positions[user["id"]] if p["status"] == "CURRENT"]
        assert details["currentPositions"] == current
        assert 0 <= len(details["children"]) <= 3
        assert 0 <= len(details["emergencyContacts"]) <= 2
        assert 0 <= len(details["identifications"]) <= 2
        for child in details["children"]:
            assert child["birthDate"] is None or child["birthDate"] <= AS_OF.isoformat()
    assert 1 <= inactive <= len(emu.users) * 0.2
    supervisors = [unwrap(d)["supervisor"] for d in emu.details.values()]
    ids = {u["id"] for u in emu.users}
    assert all(s is None or s["id"] in ids for s in supervisors)
    assert sum(unwrap(d)["subordinatesCount"] for d in emu.details.values()) == sum(
        s is not None for s in supervisors
    )
    statuses = {p["status"] for rows in emu.positions.values() for p in rows}
    assert statuses == {"CURRENT", "ENDED", "UPCOMING"}
    emails = [u["email"] for u in emu.users]
    assert len(set(emails)) == len(emails)


def test_same_seed_same_data_other_seed_other_data() -> None:
    def snapshot(e: HumaEmulator) -> bytes:
        return orjson.dumps(
            [
                e.users,
                e.details,
                e.positions,
                list(e.position_details.items()),
                e.work_schedules,
                e.groups,
                e.group_details,
                e.job_titles,
                e.service_user_id,
            ],
            option=orjson.OPT_NON_STR_KEYS,
        )

    assert snapshot(HumaEmulator(seed=3)) == snapshot(HumaEmulator(seed=3))
    assert snapshot(HumaEmulator(seed=3)) != snapshot(HumaEmulator(seed=4))
    # Users are generated independently: a bigger dataset keeps the smaller one's people.
    small, big = HumaEmulator(seed=3, size=10), HumaEmulator(seed=3, size=40)
    assert {u["id"] for u in small.users} <= {u["id"] for u in big.users}


def test_dataset_volume_scales_with_size() -> None:
    emulator = HumaEmulator(size=500)
    assert len(emulator.users) == 500
    assert len(emulator.groups) == 500 // 3
    assert sum(not u["status"]["active"] for u in emulator.users) == 50
    assert max(len(rows) for rows in emulator.positions.values()) == MANY_POSITIONS
    tiny = HumaEmulator(size=1)
    assert len(tiny.users) == 1 and len(tiny.groups) == 30


# -- faults and CLI -----------------------------------------------------------------------


def test_injected_server_errors_use_the_spring_body(
    emu: HumaEmulator, api: requests.Session
) -> None:
    emu.server.faults.add("status", status=503, path="/users")
    response = api.get(f"{emu.url}/users", timeout=TIMEOUT)
    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"timestamp", "status", "error", "message", "path"}
    assert (body["status"], body["error"]) == (503, "Service Unavailable")
    assert DATE_TIME.fullmatch(body["timestamp"])
    assert api.get(f"{emu.url}/users", timeout=TIMEOUT).status_code == 200


def test_cli_prints_ready_and_serves_until_sigterm() -> None:
    with emulator_process("huma", "--records", "5", "--seed", "7") as url:
        token = form_token(url).json()["access_token"]
        users = requests.get(f"{url}/users", headers=bearer(token), timeout=TIMEOUT)
        assert users.json()["total"] == 5
