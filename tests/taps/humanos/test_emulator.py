"""The Humanos emulator must enforce the API contract the tap is tested against.

If the emulator were lax (accepting a badly signed request, a seconds timestamp, an
out-of-range pageSize, or serving records that do not match the tap's schemas), tap tests
would pass against it and fail against the real API, so these tests pin its behaviour down.
Requests are signed here with a helper of this module (hmac + hashlib), independently of
both the tap and the emulator.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pytest
import requests
from jsonschema import Draft7Validator

from human_sandbox.humanos import (
    ACTIVITY_TYPES,
    API_KEY,
    EPOCH_S,
    SIGNATURE_SECRET,
    WEBHOOK_SECRET_PREFIX,
    HumanosEmulator,
)
from tests.support.helpers import emulator_process
from tests.support.registry import TAPS
from tests.support.schema_check import schema_validator

SCHEMA_DIR = TAPS["humanos"].schema_dir
STREAMS = TAPS["humanos"].streams
#: Stream -> its primary key (credential details are keyed by the id asked for).
KEYS = {stream: "credentialId" if stream == "credential_details" else "id" for stream in STREAMS}
#: Stream -> list path (credentials come from the request details).
LISTS = {
    "requests": "/request",
    "resources": "/resource",
    "resource_groups": "/resource/group",
    "activity_events": "/activity",
}
TIMEOUT = 5
BODY = b'{"contacts":["+351912345678"],"processIds":["64c8e5f7d5a4f9123b7c9a1e"]}'


def load_schema(stream: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{stream}.json").read_text())


def validator(stream: str) -> Draft7Validator:
    return schema_validator(SCHEMA_DIR / f"{stream}.json")


def unauthorized(message: str) -> bytes:
    return orjson.dumps({"statusCode": 401, "message": message, "error": "Unauthorized"})


def bad_request(*messages: str) -> dict[str, Any]:
    return {"statusCode": 400, "message": list(messages), "error": "Bad Request"}


# -- signing (independent of the tap and of the emulator) ---------------------------------


def now_ms() -> str:
    return str(time.time_ns() // 1_000_000)


def signed(
    body: bytes = b"",
    *,
    ts: str | None = None,
    secret: str = SIGNATURE_SECRET,
    key: str = API_KEY,
) -> dict[str, str]:
    """Auth headers: hex HMAC-SHA256 of ``ts.body``, or of ``ts`` alone without a body."""
    ts = ts or now_ms()
    message = ts.encode() + b"." + body if body else ts.encode()
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"Authorization": f"Bearer {key}", "X-Timestamp": ts, "X-Signature": signature}


def call(
    emu: HumanosEmulator,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    hdrs = signed(body) if headers is None else dict(headers)
    if body:
        hdrs["Content-Type"] = "application/json"
    return requests.request(
        method, emu.url + path, params=params, data=body or None, headers=hdrs, timeout=TIMEOUT
    )


def get(emu: HumanosEmulator, path: str, **params: Any) -> Any:
    response = call(emu, path, params)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def walk(emu: HumanosEmulator, path: str, size: int, **params: Any) -> list[dict[str, Any]]:
    """Every record of a paged list, following totalPages and checking each envelope."""
    records: list[dict[str, Any]] = []
    index = 0
    while True:
        page = get(emu, path, pageIndex=index, pageSize=size, **params)
        assert set(page) == {"data", "totalPages"}
        assert len(page["data"]) <= size
        records += page["data"]
        index += 1
        if index >= page["totalPages"] or not page["data"]:
            break
    assert page["totalPages"] == math.ceil(len(records) / size)
    return records


@pytest.fixture(scope="module")
def emu() -> Iterator[HumanosEmulator]:
    with HumanosEmulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _clean(emu: HumanosEmulator) -> Iterator[None]:
    yield
    emu.server.faults.clear()
    emu.freshness_ms = 300_000


# -- schemas ------------------------------------------------------------------------------


def test_schema_files_cover_every_stream() -> None:
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(STREAMS)
    assert (SCHEMA_DIR / "__init__.py").read_text() == ""
    for stream in STREAMS:
        schema = load_schema(stream)
        Draft7Validator.check_schema(schema)
        assert schema["type"] == "object" and schema.get("description"), stream
        assert "additionalProperties" not in schema, stream
        key = KEYS[stream]
        assert schema["required"] == [key], stream  # the rest: tests/test_schema_policy.py
        assert schema["properties"][key]["type"] == "string", stream
    described = load_schema("activity_events")["properties"]["type"]["description"]
    assert described.endswith("Known values: " + ", ".join(ACTIVITY_TYPES) + ".")


# -- authentication -----------------------------------------------------------------------


def test_health_needs_no_auth(emu: HumanosEmulator) -> None:
    for path in ("/health", "/v1/health"):
        response = requests.get(emu.url + path, timeout=TIMEOUT)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_get_is_signed_over_the_timestamp_only(emu: HumanosEmulator) -> None:
    failures = len(emu.signature_failures)
    response = call(emu, "/request")
    assert response.status_code == 200, response.text
    ts = now_ms()
    dotted = signed(ts=ts)
    dotted["X-Signature"] = hmac.new(
        SIGNATURE_SECRET.encode(), f"{ts}.".encode(), hashlib.sha256
    ).hexdigest()
    assert call(emu, "/request", headers=dotted).content == unauthorized("Invalid signature")
    assert len(emu.signature_failures) == failures + 1
    # The query string and the path are not signed.
    response = call(emu, "/request", {"pageSize": 5, "search": "on"})
    assert response.status_code == 200


def test_a_body_is_signed_as_timestamp_dot_body(emu: HumanosEmulator) -> None:
    # A write passes authentication (then gets 405: writes are not emulated).
    response = call(emu, "/request", method="POST", body=BODY)
    assert response.status_code == 405, response.text
    assert response.json()["statusCode"] == 405
    # The signature covers the exact bytes: another serialisation of the same JSON fails.
    pretty = json.dumps(json.loads(BODY), indent=2).encode()
    headers = signed(BODY)
    response = call(emu, "/request", method="POST", body=pretty, headers=headers)
    assert response.content == unauthorized("Invalid signature")
    # Signing a body with the timestamp only fails; a GET with a body signs the body too.
    response = call(emu, "/request", method="POST", body=BODY, headers=signed())
    assert response.content == unauthorized("Invalid signature")
    assert call(emu, "/request", method="GET", body=BODY).status_code == 200
    assert "body bytes" in emu.signature_failures[-1]


def _auth_case(case: str) -> dict[str, str]:
    ts = now_ms()
    headers = signed(ts=ts)
    if case == "no authorization":
        del headers["Authorization"]
    elif case == "wrong api key":
        headers = signed(ts=ts, key="hms_test_key_000000")
    elif case == "basic scheme":
        headers["Authorization"] = f"Basic {API_KEY}"
    elif case == "wrong secret":
        headers = signed(ts=ts, secret="hms_test_sigsecret_wrong")
    elif case == "seconds timestamp":
        headers = signed(ts=ts[:10])
    elif case == "not a number":
        headers = signed(ts="17000000000ab")
    elif case == "no timestamp":
        del headers["X-Timestamp"]
    elif case == "no signature":
        del headers["X-Signature"]
    elif case == "too old":
        headers = signed(ts=str(int(ts) - 301_000))
    elif case == "too new":
        headers = signed(ts=str(int(ts) + 301_000))
    return headers


AUTH_CASES = {
    "no authorization": ("Invalid API key", None),
    "wrong api key": ("Invalid API key", None),
    "basic scheme": ("Invalid API key", None),
    "wrong secret": ("Invalid signature", "signature: X-Signature is not"),
    "seconds timestamp": ("Invalid timestamp", "is in seconds"),
    "not a number": ("Invalid timestamp", "not 13-digit"),
    "no timestamp": ("Invalid timestamp", "missing X-Timestamp"),
    "no signature": ("Invalid signature", "missing X-Signature"),
    "too old": ("Invalid timestamp", "ms from server time"),
    "too new": ("Invalid timestamp", "ms from server time"),
}


@pytest.mark.parametrize("case", AUTH_CASES)
def test_auth_failures_get_401_with_the_nest_body(emu: HumanosEmulator, case: str) -> None:
    message, reason = AUTH_CASES[case]
    before = len(emu.signature_failures)
    response = call(emu, "/request", headers=_auth_case(case))
    assert response.status_code == 401
    assert response.content == unauthorized(message)
    assert response.headers["Content-Type"] == "application/json"
    if reason is None:  # API key failures are not signature failures
        assert len(emu.signature_failures) == before
    else:
        assert len(emu.signature_failures) == before + 1
        assert reason in emu.signature_failures[-1]
        assert SIGNATURE_SECRET not in emu.signature_failures[-1]


def test_a_short_freshness_window_makes_signatures_go_stale(emu: HumanosEmulator) -> None:
    headers = signed()
    emu.freshness_ms = 200
    assert call(emu, "/activity", headers=signed()).status_code == 200
    time.sleep(0.4)
    response = call(emu, "/activity", headers=headers)
    assert response.content == unauthorized("Invalid timestamp")
    assert "allowed 200" in emu.signature_failures[-1]


ROUTES = [
    "/request",
    "/request/{id}",
    "/credential/{credential}",
    "/resource",
    "/resource/group",
    "/activity",
    "/webhooks",
]


@pytest.mark.parametrize("path", [*ROUTES, "/credential/{credential}/evidence"])
@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_every_route_needs_auth(emu: HumanosEmulator, path: str, prefix: str) -> None:
    if prefix and path.endswith("/evidence"):
        return  # not routed in v1: tested below
    credential = emu.details[emu.requests[0]["id"]]["credentials"][0]["id"]
    url = prefix + path.format(id=emu.requests[0]["id"], credential=credential)
    response = requests.get(emu.url + url, timeout=TIMEOUT)
    assert response.content == unauthorized("Invalid API key")
    assert call(emu, url).status_code == 200


def test_api_version_header(emu: HumanosEmulator) -> None:
    for version in ("2026-04-14", "2024-01-01"):
        headers = {**signed(), "API-Version": version}
        assert call(emu, "/request", headers=headers).status_code == 200
    for version in ("2999-01-01", "latest", "2025-13-01"):
        response = call(emu, "/request", headers={**signed(), "API-Version": version})
        assert response.status_code == 400, version
        body = response.json()
        assert (body["statusCode"], body["error"]) == (400, "Bad Request")
        assert version in body["message"]


def test_rate_limit_answers_429_with_retry_after() -> None:
    with HumanosEmulator(size=5, rate_limit=(1.0, 3)) as limited:
        statuses = [call(limited, "/resource").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        response = call(limited, "/resource")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        assert response.json() == {
            "statusCode": 429,
            "message": "ThrottlerException: Too Many Requests",
        }
        time.sleep(1.05)
        assert call(limited, "/resource").status_code == 200


# -- routing, paging, filters -------------------------------------------------------------


def test_v1_prefix_serves_the_same_lists(emu: HumanosEmulator) -> None:
    for path in [*LISTS.values(), "/webhooks"]:
        plain, v1 = call(emu, path, {"pageSize": 7}), call(emu, "/v1" + path, {"pageSize": 7})
        assert plain.status_code == v1.status_code == 200, path
        assert plain.content == v1.content, path
    assert call(emu, "/v1/resource/group/").status_code == 200


def test_v1_details_have_v1_credentials_and_no_canceled_request(emu: HumanosEmulator) -> None:
    """The v1 OpenAPI: VC 1.1 `w3cCredential` (issuanceDate, expirationDate, proof, name,
    resourceType, status, required), `data` an array of arrays, no decisions; 404 for a
    canceled request."""
    for summary in emu.requests:
        response = call(emu, f"/v1/request/{summary['id']}")
        if summary["canceledAt"]:
            assert response.status_code == 404
            assert response.json()["message"] == "Request not found"
            continue
        detail, dated = response.json(), emu.details[summary["id"]]
        assert detail == emu.details_v1[summary["id"]]
        assert {k: v for k, v in detail.items() if k != "credentials"} == {
            k: v for k, v in dated.items() if k != "credentials"
        }
        for old, new in zip(detail["credentials"], dated["credentials"], strict=True):
            assert set(old) == {"id", "name", "resourceType", "internalId", "status"} | {
                "w3cCredential",
                "data",
            }
            assert old["data"] == [[row["label"], row["value"]] for row in new["data"]]
            if new["w3cCredential"] is None:
                assert old["w3cCredential"] is None
                continue
            vc, vc2 = old["w3cCredential"], new["w3cCredential"]
            assert (vc["issuanceDate"], vc["expirationDate"]) == (
                vc2["validFrom"],
                vc2["validUntil"],
            )
            assert vc["proof"] == vc2["proofs"] and isinstance(vc["required"], bool)
            assert (vc["name"], vc["resourceType"], vc["status"]) == (
                new["name"],
                new["resourceType"],
                new["status"],
            )
            assert "validFrom" not in vc and "evidences" not in vc


def test_credential_endpoint_in_both_versions(emu: HumanosEmulator) -> None:
    kinds = {}
    for detail in emu.details.values():
        for credential in detail["credentials"]:
            cid = credential["id"]
            kinds[cid] = credential["resourceType"]
            dated = get(emu, f"/credential/{cid}")
            assert dated == emu.credentials[cid]
            assert {k: dated[k] for k in credential if k != "data"} == {
                k: v for k, v in credential.items() if k != "data"
            }
            assert (dated["revokedAt"] is not None) == (dated["status"] == "REVOKED")
            assert dated["tags"] and all(isinstance(tag, str) for tag in dated["tags"])
            v1 = get(emu, f"/v1/credential/{cid}")
            assert v1 == emu.credentials_v1[cid] and set(v1) == {"credential", "internalId"}
    document = next(cid for cid, kind in kinds.items() if kind == "DOCUMENT")
    other = next(cid for cid, kind in kinds.items() if kind != "DOCUMENT")
    assert "pdf" not in get(emu, f"/v1/credential/{document}", includePdf="false")
    assert get(emu, f"/v1/credential/{document}", includePdf="true")["pdf"]
    assert "pdf" not in get(emu, f"/v1/credential/{other}", includePdf="true")
    response = call(emu, f"/v1/credential/{document}", {"includePdf": "maybe"})
    assert response.json() == bad_request("includePdf must be a boolean value")
    response = call(emu, "/v1/credential/urn:via:credential:x")
    assert response.json() == bad_request("credentialId must be a mongodb id")
    for prefix in ("", "/v1"):
        response = call(emu, f"{prefix}/credential/{'0' * 24}")
        assert response.status_code == 404
        assert response.json()["message"] == "Credential not found for issuer"


def test_evidence_in_dated_versions_only(emu: HumanosEmulator) -> None:
    served = 0
    for detail in emu.details.values():
        for credential in detail["credentials"]:
            rows = get(emu, f"/credential/{credential['id']}/evidence")
            assert rows == emu.evidence[credential["id"]]
            decided = {d["id"] for d in credential["decisions"]}
            assert {e["decisionId"] for e in rows} == decided
            served += len(rows)
    assert served > 20
    cid = next(iter(emu.evidence))
    response = call(emu, f"/v1/credential/{cid}/evidence")
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "message": f"Cannot GET /v1/credential/{cid}/evidence",
        "error": "Not Found",
    }
    assert call(emu, f"/credential/{'0' * 24}/evidence").status_code == 404


def test_webhooks_are_served_with_their_secrets(emu: HumanosEmulator) -> None:
    hooks = get(emu, "/webhooks")
    assert hooks == emu.webhooks and len(hooks) == 3
    assert all(h["signatureSecret"].startswith(WEBHOOK_SECRET_PREFIX) for h in hooks)
    assert sum("encryptionSecret" in h and "encryptionSalt" in h for h in hooks) == 1


def test_unknown_paths_and_methods(emu: HumanosEmulator) -> None:
    response = requests.get(emu.url + "/users", timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "message": "Cannot GET /users",
        "error": "Not Found",
    }
    response = call(emu, f"/request/{emu.requests[0]['id']}", method="DELETE")
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


@pytest.mark.parametrize(
    ("params", "messages"),
    [
        ({"pageSize": 4}, ["pageSize must not be less than 5"]),
        ({"pageSize": 101}, ["pageSize must not be greater than 100"]),
        ({"pageSize": 0}, ["pageSize must not be less than 5"]),
        (
            {"pageSize": "ten"},
            [
                "pageSize must not be greater than 100",
                "pageSize must not be less than 5",
                "pageSize must be an integer number",
            ],
        ),
        ({"pageSize": "5.5"}, None),
        ({"pageIndex": -1}, ["pageIndex must not be less than 0"]),
    ],
)
def test_page_parameters_are_validated(
    emu: HumanosEmulator, params: dict[str, Any], messages: list[str] | None
) -> None:
    for path in LISTS.values():
        response = call(emu, path, params)
        assert response.status_code == 400, (path, params)
        if messages is not None:
            assert response.json() == bad_request(*messages)


def test_page_size_limits_and_default(emu: HumanosEmulator) -> None:
    assert len(get(emu, "/request", pageSize=5)["data"]) == 5
    page = get(emu, "/request", pageSize=100)
    assert len(page["data"]) == 40 and page["totalPages"] == 1
    page = get(emu, "/request")
    assert len(page["data"]) == emu.page_default == 10 and page["totalPages"] == 4


@pytest.mark.parametrize("stream", LISTS)
def test_paging_walks_total_pages(emu: HumanosEmulator, stream: str) -> None:
    expected = {
        "requests": emu.requests[::-1],
        "resources": emu.resources,
        "resource_groups": emu.resource_groups,
        "activity_events": emu.activity[::-1],
    }[stream]
    for size in (5, 7, 100):
        assert walk(emu, LISTS[stream], size) == expected, (stream, size)
    past = get(emu, LISTS[stream], pageIndex=99, pageSize=5)
    assert past == {"data": [], "totalPages": math.ceil(len(expected) / 5)}


def test_nothing_matching_means_zero_pages(emu: HumanosEmulator) -> None:
    assert get(emu, "/request", search="no such request") == {"data": [], "totalPages": 0}
    assert get(emu, "/activity", dateFrom="2030-01-01") == {"data": [], "totalPages": 0}


@pytest.mark.parametrize("path", ["/request", "/activity"])
def test_requests_and_activity_are_newest_first(emu: HumanosEmulator, path: str) -> None:
    rows = walk(emu, path, 100)
    keys = [(r["createdAt"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)
    stamps = Counter(r["createdAt"] for r in rows)
    assert max(stamps.values()) >= 2, "ties exist, so the id tie-break is exercised"
    stored = emu.requests if path == "/request" else emu.activity
    assert rows == stored[::-1]  # the emulator's lists are oldest first


def _busy_day(rows: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    days = Counter(r["createdAt"][:10] for r in rows)
    day = max(days, key=lambda d: (days[d], d))
    return day, [r for r in rows if r["createdAt"][:10] == day]


@pytest.mark.parametrize("path", ["/request", "/activity"])
def test_dates_are_rounded_to_whole_utc_days(emu: HumanosEmulator, path: str) -> None:
    stored = emu.requests if path == "/request" else emu.activity
    day, rows = _busy_day(stored)
    assert len(rows) >= 3
    latest = max(r["createdAt"] for r in rows)
    assert any(r["createdAt"] < latest for r in rows)
    ids = {r["id"] for r in rows}
    # A dateFrom/dateTo in the middle of the day returns the whole day.
    got = walk(emu, path, 100, dateFrom=latest, dateTo=latest)
    assert {r["id"] for r in got} == ids
    assert {r["id"] for r in walk(emu, path, 100, dateFrom=day, dateTo=day)} == ids
    # dateFrom alone: everything from the start of that day on.
    got = walk(emu, path, 100, dateFrom=latest)
    assert {r["id"] for r in got} == {r["id"] for r in stored if r["createdAt"][:10] >= day}
    # An offset is converted to UTC before rounding: 01:00+02:00 is the previous UTC day.
    following = datetime.fromisoformat(day).toordinal() + 1
    local = datetime.fromordinal(following).date().isoformat() + "T01:00:00+02:00"
    assert {r["id"] for r in walk(emu, path, 100, dateFrom=local, dateTo=local)} == ids


def test_date_filter_validation(emu: HumanosEmulator) -> None:
    response = call(emu, "/request", {"dateTo": "2025-01-01"})
    assert response.json() == bad_request("dateFrom should not be empty")
    response = call(emu, "/activity", {"dateFrom": "yesterday"})
    assert response.json() == bad_request("dateFrom must be a valid ISO 8601 date string")


def test_list_filters(emu: HumanosEmulator) -> None:
    named = next(r for r in emu.requests if r["name"])
    word = named["name"].split()[0]
    got = walk(emu, "/request", 100, search=word.upper())
    assert named in got
    assert all(r["name"] and word.lower() in r["name"].lower() for r in got)
    assert call(emu, "/request", {"search": "x" * 121}).status_code == 400

    active = walk(emu, "/resource", 100, active="true")
    inactive = walk(emu, "/resource", 100, active="false")
    assert active and inactive and len(active) + len(inactive) == len(emu.resources)
    assert all(r["active"] for r in active) and not any(r["active"] for r in inactive)
    forms = walk(emu, "/resource", 100, types=["FORM", "JSON"])
    assert forms and {r["type"] for r in forms} == {"FORM", "JSON"}
    assert call(emu, "/resource", {"types": "PDF"}).status_code == 400
    assert call(emu, "/resource", {"active": "maybe"}).status_code == 400

    decisions = walk(
        emu, "/activity", 100, type=["USER_DECISION_ACCEPTED", "USER_DECISION_REJECTED"]
    )
    assert decisions
    assert {e["type"] for e in decisions} == {"USER_DECISION_ACCEPTED", "USER_DECISION_REJECTED"}
    request_id = emu.requests[0]["id"]
    about = walk(emu, "/activity", 100, entityType="request", entityId=request_id)
    assert {e["type"] for e in about} <= {"REQUEST_CREATED", "REQUEST_CANCELED"} and about
    assert call(emu, "/activity", {"type": "LOGIN"}).status_code == 400
    assert call(emu, "/activity", {"entityId": "nope"}).status_code == 400


def test_request_detail(emu: HumanosEmulator) -> None:
    for summary in emu.requests:
        detail = get(emu, f"/request/{summary['id']}")
        assert detail == emu.details[summary["id"]]
        for key, value in summary.items():
            if key != "credentials":
                assert detail[key] == value, key
        trimmed = [{k: c[k] for k in summary["credentials"][0]} for c in detail["credentials"]]
        assert trimmed == summary["credentials"]
        assert detail["issuer"]["name"] and "agent" in detail
    canceled = [r for r in emu.requests if r["canceledAt"]]
    assert canceled and all(r["canceledAt"] > r["createdAt"] for r in canceled)
    response = call(emu, "/request/not-an-object-id")
    assert response.json() == bad_request("requestId must be a mongodb id")
    response = call(emu, "/request/" + "0" * 24)
    assert response.status_code == 404
    assert response.content == orjson.dumps(
        {"statusCode": 404, "message": "Request not found", "error": "Not Found"}
    )


def test_injected_server_errors_use_the_nest_body(emu: HumanosEmulator) -> None:
    emu.server.faults.add("status", status=500, path="/request")
    response = call(emu, "/request")
    assert response.status_code == 500
    assert response.json() == {"statusCode": 500, "message": "Internal server error"}
    assert call(emu, "/request").status_code == 200


# -- records ------------------------------------------------------------------------------


def served_records(emu: HumanosEmulator) -> dict[str, list[dict[str, Any]]]:
    """Every record as a tap would put it together: requests with their detail's agent and
    issuer, credentials from the details, and each credential in both versions' shapes."""
    records = {stream: walk(emu, path, 100) for stream, path in LISTS.items()}
    details = {r["id"]: get(emu, f"/request/{r['id']}") for r in records["requests"]}
    for r in records["requests"]:
        r.update(agent=details[r["id"]]["agent"], issuer=details[r["id"]]["issuer"])
    records["credentials"] = [
        {**credential, "requestId": rid}
        for rid, detail in details.items()
        for credential in detail["credentials"]
    ]
    keys = [{"requestId": c["requestId"], "credentialId": c["id"]} for c in records["credentials"]]
    records["credential_details"] = [
        {**get(emu, f"{prefix}/credential/{k['credentialId']}"), **k}
        for prefix in ("", "/v1")
        for k in keys
    ]
    records["credential_evidence"] = [
        {**evidence, **k}
        for k in keys
        for evidence in get(emu, f"/credential/{k['credentialId']}/evidence")
    ]
    records["webhooks"] = [
        {k: v for k, v in hook.items() if not k.startswith(("signature", "encryption"))}
        for hook in get(emu, "/webhooks")
    ]
    return records


@pytest.fixture(scope="module")
def records(emu: HumanosEmulator) -> dict[str, list[dict[str, Any]]]:
    return served_records(emu)


@pytest.mark.parametrize("stream", STREAMS)
def test_every_served_record_matches_its_schema(
    records: dict[str, list[dict[str, Any]]], stream: str
) -> None:
    check = validator(stream)
    assert records[stream], stream
    for record in records[stream]:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(record)]
        assert not errors, (stream, record.get("id"), errors)


def test_schema_validation_is_strict_enough(records: dict[str, list[dict[str, Any]]]) -> None:
    """The schemas reject what the API never sends (so the check above means something),
    and accept what it may send: a security level or status they do not list yet."""
    request = records["requests"][0]
    check = validator("requests")
    assert check.is_valid({**request, "agent": None})
    assert not check.is_valid({**request, "agent": "Payroll agent"})
    assert not check.is_valid({**request, "id": None})
    assert not check.is_valid({**request, "createdAt": "2024-01-01 10:00"})
    assert not check.is_valid({**request, "credentials": "none"})
    assert check.is_valid({**request, "securityLevel": "HUMANOS_BIOMETRIC"})
    credential = records["credentials"][0]
    assert not validator("credentials").is_valid({**credential, "requestId": 7})
    assert validator("credentials").is_valid({**credential, "status": "EXPIRED"})
    assert validator("credentials").is_valid({**credential, "data": [["IBAN", "PT50"]]})
    details = validator("credential_details")
    detail = records["credential_details"][0]
    assert not details.is_valid({**detail, "credentialId": None})
    assert not details.is_valid({**detail, "revokedAt": "yesterday"})
    assert not details.is_valid({**detail, "tags": "hr"})


@pytest.mark.parametrize("stream", STREAMS)
def test_every_schema_property_is_served_somewhere(
    records: dict[str, list[dict[str, Any]]], stream: str
) -> None:
    """Each property is non-null in some record, so the tap meets it. Every property but
    the key is nullable (no schema narrower than the API), so nullability no longer says
    which fields the API leaves empty."""
    rows = records[stream]
    never = [
        name for name in load_schema(stream)["properties"] if all(r.get(name) is None for r in rows)
    ]
    assert not never, (stream, never)


def test_dataset_shape(emu: HumanosEmulator, records: dict[str, list[dict[str, Any]]]) -> None:
    assert len(emu.requests) == 40 and len(emu.details) == 40
    assert len(emu.resources) == 12 and len(emu.resource_groups) == 4
    assert 2.5 <= len(emu.activity) / len(emu.requests) <= 5

    def key(c: dict[str, Any]) -> tuple[str, str]:
        return c["requestId"], c["id"]

    assert sorted(records["credentials"], key=key) == sorted(emu.credential_records(), key=key)
    for r in emu.requests:
        assert 1 <= len(r["credentials"]) <= 4 and 1 <= len(r["subjects"]) <= 3
        assert "2024-01-01" <= r["createdAt"] < "2026-01-01"
        # ObjectIds carry their creation second.
        created = datetime.fromisoformat(r["createdAt"].replace("Z", "+00:00"))
        assert int(r["id"][:8], 16) == int(created.timestamp())
    credentials = records["credentials"]
    assert {c["status"] for c in credentials} == {"PENDING", "APPROVED", "REJECTED", "REVOKED"}
    assert {c["resourceType"] for c in credentials} == {"DOCUMENT", "CONSENT", "FORM", "JSON"}
    for c in credentials:
        assert (c["w3cCredential"] is None) == (not c["decisions"])
        if c["status"] == "APPROVED":
            assert c["decisions"] and all(d["accepted"] for d in c["decisions"])
    assert sum(r["canceledAt"] is not None for r in emu.requests) >= 2
    # Several requests on one UTC day, and some with exactly the same createdAt.
    assert max(Counter(r["createdAt"][:10] for r in emu.requests).values()) >= 3
    assert max(Counter(r["createdAt"] for r in emu.requests).values()) >= 2
    # Activity: every request's REQUEST_CREATED at its createdAt, nothing before it.
    created_at = {r["id"]: r["createdAt"] for r in emu.requests}
    for event in emu.activity:
        request_id = event["payload"]["requestId"]
        assert event["createdAt"] >= created_at[request_id], event
        if event["type"] == "REQUEST_CREATED":
            assert event["createdAt"] == created_at[request_id]
    created_events = [e for e in emu.activity if e["type"] == "REQUEST_CREATED"]
    assert sorted(e["entityId"] for e in created_events) == sorted(created_at)
    assert {"USER_DECISION_ACCEPTED", "USER_DECISION_REJECTED", "REQUEST_CANCELED"} <= {
        e["type"] for e in emu.activity
    }
    # Resource groups and resources agree.
    by_id = {r["id"]: r for r in emu.resources}
    for group in emu.resource_groups:
        for member in group["resources"]:
            assert group["id"] in by_id[member["id"]]["groupIds"]
            assert member["name"] == by_id[member["id"]]["name"]


def test_same_seed_same_data_other_seed_other_data() -> None:
    def snapshot(e: HumanosEmulator) -> bytes:
        return orjson.dumps(
            [
                *(e.requests, e.details, e.details_v1, e.resources, e.resource_groups),
                *(e.activity, e.credentials, e.credentials_v1, e.evidence, e.webhooks),
            ]
        )

    assert snapshot(HumanosEmulator(seed=3)) == snapshot(HumanosEmulator(seed=3))
    assert snapshot(HumanosEmulator(seed=3)) != snapshot(HumanosEmulator(seed=4))
    # Requests are generated independently: a bigger dataset keeps the smaller one's.
    small, big = HumanosEmulator(seed=3, size=10), HumanosEmulator(seed=3, size=60)
    assert {r["id"] for r in small.requests} <= {r["id"] for r in big.requests}
    assert len(big.requests) == 60


def test_add_requests_and_add_activity() -> None:
    with HumanosEmulator(size=20) as emulator:
        latest = max(r["createdAt"] for r in [*emulator.requests, *emulator.activity])
        new = emulator.add_requests(3)
        assert len(new) == 3 and len(emulator.requests) == 23
        page = get(emulator, "/request", pageSize=5)["data"]
        assert [r["id"] for r in page[:3]] == new[::-1]
        assert all(r["createdAt"] > latest for r in page[:3])
        for request_id in new:
            assert get(emulator, f"/request/{request_id}") == emulator.details[request_id]
            assert any(
                e["type"] == "REQUEST_CREATED" and e["entityId"] == request_id
                for e in emulator.activity
            )
        latest = max(e["createdAt"] for e in emulator.activity)
        assert latest >= max(r["createdAt"] for r in emulator.requests)

        before = len(emulator.activity)
        events = emulator.add_activity(4)
        assert len(events) == 4 and len(emulator.activity) == before + 4
        assert [e["id"] for e in emulator.activity[-4:]] == events
        assert all(e["createdAt"] > latest for e in emulator.activity[-4:])
        served = get(emulator, "/activity", pageSize=5)["data"]
        assert [e["id"] for e in served[:4]] == events[::-1]
        check = validator("activity_events")
        assert all(check.is_valid(e) for e in served)
        # Both are deterministic too.
        twin = HumanosEmulator(size=20)
        assert twin.add_requests(3) == new and twin.add_activity(4) == events


# -- CLI ----------------------------------------------------------------------------------


def test_cli_prints_ready_and_serves_until_sigterm() -> None:
    with emulator_process("humanos", "--records", "5") as url:
        page = requests.get(
            f"{url}/request", params={"pageSize": 100}, headers=signed(), timeout=TIMEOUT
        ).json()
        assert len(page["data"]) == 5 and page["totalPages"] == 1
        assert int(page["data"][0]["id"][:8], 16) > EPOCH_S
