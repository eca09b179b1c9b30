"""The Humaans emulator must enforce the API contract the tap is tested against.

If the emulator were lax (accepting a too-large $limit, ignoring scopes, serving records
that do not match the schemas), tap tests would pass against it and fail against the real
API, so these tests pin its behaviour down.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests
from jsonschema import Draft7Validator

from human_sandbox import datagen as dg
from human_sandbox.core import Request
from human_sandbox.humaans import (
    BALANCE_DAY,
    FULL_TOKEN,
    NO_SENSITIVE_TOKEN,
    RESOURCE_SCOPES,
    STREAM_PATHS,
    TEMPLATE_POOL,
    HumaansEmulator,
)
from tests.support.helpers import emulator_process
from tests.support.registry import TAPS
from tests.support.schema_check import schema_validator

SCHEMA_DIR = TAPS["humaans"].schema_dir
#: Computed leave balances: no createdAt/updatedAt is known for them.
NO_TIMESTAMPS = {"time_away_periods"}
#: Small company-wide tables (one to a dozen rows at any size).
REFERENCE_STREAMS = {
    "companies",
    "locations",
    "compensation_types",
    "time_away_types",
    "time_away_policies",
    "custom_fields",
    "document_types",
    "document_folders",
    "working_patterns",
    "public_holiday_calendars",
    "spaces",
    "equipment_types",
    "equipment_names",
    "identity_document_types",
}
TIMEOUT = 5


def load_schema(stream: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{stream}.json").read_text())


def validator(stream: str) -> Draft7Validator:
    return schema_validator(SCHEMA_DIR / f"{stream}.json")


def auth(token: str = FULL_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def emu() -> Iterator[HumaansEmulator]:
    with HumaansEmulator() as emulator:
        yield emulator


@pytest.fixture
def api(emu: HumaansEmulator) -> Iterator[requests.Session]:
    """Authenticated session on the shared emulator; faults never leak between tests."""
    session = requests.Session()
    session.headers.update(auth())
    yield session
    session.close()
    emu.server.faults.clear()


def get(session: requests.Session, emu: HumaansEmulator, path: str, **params: Any) -> Any:
    response = session.get(f"{emu.url}/{path}", params=params, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


# -- schemas and data ---------------------------------------------------------------------


def test_schema_files_cover_every_stream() -> None:
    # and people_custom's, the fixed part of a schema whose columns come from the API
    files = sorted(p.stem for p in SCHEMA_DIR.glob("*.json"))
    assert files == sorted([*STREAM_PATHS, "people_custom"])
    for stream in STREAM_PATHS:
        schema = load_schema(stream)
        Draft7Validator.check_schema(schema)
        assert schema["type"] == "object"
        assert schema["required"] == ["id"]
        assert "additionalProperties" not in schema
        props = schema["properties"]
        assert props["id"]["type"] == "string"
        if stream in NO_TIMESTAMPS:
            assert not {"createdAt", "updatedAt"} & set(props), stream
            continue
        for name in ("createdAt", "updatedAt"):  # on every main resource (the spec)
            assert props[name]["format"] == "date-time", stream
    assert load_schema("compensations")["properties"]["amount"]["type"] == ["string", "null"]


@pytest.mark.parametrize("stream", sorted(STREAM_PATHS))
def test_every_record_matches_its_schema(emu: HumaansEmulator, stream: str) -> None:
    check = validator(stream)
    props = set(load_schema(stream)["properties"])
    records = emu.data[STREAM_PATHS[stream]]
    assert records, stream
    for record in records:
        errors = [e.message for e in check.iter_errors(record)]
        assert not errors, (stream, record["id"], errors)
        assert set(record) == props, (stream, set(record) ^ props)


@pytest.mark.parametrize("stream", sorted(set(STREAM_PATHS) - REFERENCE_STREAMS))
def test_every_field_is_really_set_sometimes(emu: HumaansEmulator, stream: str) -> None:
    """Every field is populated somewhere, so a tap meets it (reference tables of a
    handful of rows are too small to vary). Every field but the key is nullable in the
    schemas (none narrower than the API), so nullability no longer says which fields the
    API leaves empty: the emulator's nulls are where its generator puts them."""
    records = emu.data[STREAM_PATHS[stream]]
    assert len(records) >= 10, stream
    for name in load_schema(stream)["properties"]:
        assert any(r[name] is not None for r in records), (stream, name, "never set")


def test_dataset_shape_and_timeline(emu: HumaansEmulator) -> None:
    ids_ok = re.compile(r"[A-Za-z0-9]{24}")
    anchor, end = "2023-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"
    all_updated: list[str] = []
    for path, records in emu.data.items():
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)), path
        if path == "public-holiday-calendars":
            continue
        assert all(ids_ok.fullmatch(i) for i in ids), path
        for r in records:
            if "updatedAt" in r:
                assert anchor <= r["createdAt"] <= r["updatedAt"] < end, (path, r["id"])
                all_updated.append(r["updatedAt"])
    assert len(all_updated) > len(set(all_updated)), "expected duplicate updatedAt values"
    people = {p["id"] for p in emu.data["people"]}
    assert len(emu.data["people"]) == 40
    for path in ("job-roles", "compensations", "time-away", "bank-accounts", "documents"):
        assert {r["personId"] for r in emu.data[path]} <= people
    assert len(emu.data["companies"]) == 1
    assert 3 <= len(emu.data["locations"]) <= 5
    assert {p["status"] for p in emu.data["people"]} == {"active", "offboarded", "newHire"}


def test_cloned_people_beyond_the_template_pool_stay_valid() -> None:
    size = TEMPLATE_POOL + 300
    data = HumaansEmulator(size=size).data
    people = data["people"]
    assert len(people) == size
    assert len({p["id"] for p in people}) == size
    assert len({p["email"] for p in people}) == size
    assert sum(p["role"] == "owner" for p in people) == 1
    person_ids = {p["id"] for p in people}
    for stream, path in STREAM_PATHS.items():
        check = validator(stream)
        records = data[path]
        assert len({r["id"] for r in records}) == len(records), path
        for record in records[::5]:
            assert not list(check.iter_errors(record)), (stream, record["id"])
            if "createdAt" in record:
                assert record["createdAt"] <= record["updatedAt"]
    for role in data["job-roles"]:
        assert role["reportingTo"] is None or role["reportingTo"] in person_ids
    assert {r["personId"] for r in data["time-away"]} <= person_ids
    check_allocation_links(data)


def check_allocation_links(data: dict[str, list[dict[str, Any]]]) -> None:
    """Adjustments and periods name their own person's allocation (one per person)."""
    allocation = {a["personId"]: a for a in data["time-away-allocations"]}
    assert len(allocation) == len(data["time-away-allocations"]) == len(data["people"])
    for adjustment in data["time-away-adjustments"]:
        assert adjustment["timeAwayAllocationId"] == allocation[adjustment["personId"]]["id"]
    for period in data["time-away-periods"]:
        assert period["timeAwayAllocation"] == allocation[period["personId"]]


def test_same_seed_same_bytes_other_seed_other_data() -> None:
    first, second = HumaansEmulator(seed=3), HumaansEmulator(seed=3)
    assert orjson.dumps(first.data) == orjson.dumps(second.data)
    assert orjson.dumps(first.data) != orjson.dumps(HumaansEmulator(seed=4).data)
    big = TEMPLATE_POOL + 50
    assert orjson.dumps(HumaansEmulator(size=big).data) == orjson.dumps(
        HumaansEmulator(size=big).data
    )


# -- list semantics -----------------------------------------------------------------------


def test_envelope_and_skip_paging(emu: HumaansEmulator, api: requests.Session) -> None:
    first = get(api, emu, "people")
    assert set(first) == {"total", "limit", "skip", "data"}
    assert (first["total"], first["limit"], first["skip"]) == (40, 100, 0)
    seen: list[str] = []
    skip = 0
    while True:
        page = get(api, emu, "people", **{"$limit": 7, "$skip": skip})
        assert (page["limit"], page["skip"], page["total"]) == (7, skip, 40)
        seen += [p["id"] for p in page["data"]]
        skip += len(page["data"])
        if skip >= page["total"] or len(page["data"]) < 7:
            break
    assert seen == [p["id"] for p in emu.data["people"]]
    beyond = get(api, emu, "people", **{"$skip": 500})
    assert beyond["data"] == [] and beyond["total"] == 40


def test_limit_above_250_is_rejected(emu: HumaansEmulator, api: requests.Session) -> None:
    response = api.get(f"{emu.url}/people", params={"$limit": 251}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json() == {
        "name": "BadRequest",
        "message": "$limit must be at most 250",
        "code": 400,
        "className": "bad-request",
    }
    assert get(api, emu, "time-away", **{"$limit": 250})["limit"] == 250


def test_missing_or_unknown_token_gets_401(emu: HumaansEmulator) -> None:
    expected = {
        "name": "NotAuthenticated",
        "message": "Invalid authentication token",
        "code": 401,
        "className": "not-authenticated",
    }
    for headers in ({}, auth("nope"), {"Authorization": FULL_TOKEN}):
        response = requests.get(f"{emu.url}/people", headers=headers, timeout=TIMEOUT)
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == expected


def test_echo_token_in_errors_leaks_the_token_on_purpose() -> None:
    with HumaansEmulator(echo_token_in_errors=True) as emulator:
        bad = requests.get(f"{emulator.url}/me", headers=auth("hmns_leaky_secret"), timeout=TIMEOUT)
        assert bad.status_code == 401 and "hmns_leaky_secret" in bad.json()["message"]
        forbidden = requests.get(
            f"{emulator.url}/documents", headers=auth(NO_SENSITIVE_TOKEN), timeout=TIMEOUT
        )
        assert forbidden.status_code == 403 and NO_SENSITIVE_TOKEN in forbidden.text


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("compensations", "compensations:read"),
        ("compensation-types", "compensations:read"),
        ("documents", "documents:read"),
        ("document-types", "documents:read"),
        ("document-folders", "documents:read"),
        ("identity-documents", "documents:read"),
        ("identity-document-types", "documents:read"),
    ],
)
def test_sensitive_resources_need_their_scope(emu: HumaansEmulator, path: str, scope: str) -> None:
    response = requests.get(f"{emu.url}/{path}", headers=auth(NO_SENSITIVE_TOKEN), timeout=TIMEOUT)
    assert response.status_code == 403
    assert response.json() == {
        "name": "Forbidden",
        "message": f"Missing scope {scope}",
        "code": 403,
        "className": "forbidden",
    }
    one = emu.data[path][0]["id"]
    by_id = requests.get(
        f"{emu.url}/{path}/{one}", headers=auth(NO_SENSITIVE_TOKEN), timeout=TIMEOUT
    )
    assert by_id.status_code == 403
    assert requests.get(f"{emu.url}/{path}", headers=auth(), timeout=TIMEOUT).status_code == 200


def test_private_token_reads_everything_else(emu: HumaansEmulator) -> None:
    for path, scopes in RESOURCE_SCOPES.items():
        if "private:read" in scopes:
            response = requests.get(
                f"{emu.url}/{path}", headers=auth(NO_SENSITIVE_TOKEN), timeout=TIMEOUT
            )
            assert response.status_code == 200, path


def test_public_only_token_sees_the_public_subset() -> None:
    tokens = {"pub": {"public:read"}}
    with HumaansEmulator(tokens=tokens) as emulator:
        people = requests.get(f"{emulator.url}/people", headers=auth("pub"), timeout=TIMEOUT)
        assert people.status_code == 200
        record = people.json()["data"][0]
        assert "firstName" in record and "birthday" not in record and "taxId" not in record
        roles = requests.get(f"{emulator.url}/job-roles", headers=auth("pub"), timeout=TIMEOUT)
        assert roles.status_code == 403
        assert roles.json()["message"] == "Missing scope private:read"
        info = requests.get(f"{emulator.url}/token-info", headers=auth("pub"), timeout=TIMEOUT)
        assert info.json()["scopes"] == ["public:read"]


def expected_since(emu: HumaansEmulator, path: str, bookmark: str, op: str) -> list[str]:
    def keep(r: dict[str, Any]) -> bool:
        return r["updatedAt"] >= bookmark if op == "$gte" else r["updatedAt"] > bookmark

    rows = sorted((r for r in emu.data[path] if keep(r)), key=lambda r: (r["updatedAt"], r["id"]))
    return [r["id"] for r in rows]


@pytest.mark.parametrize("path", ["people", "job-roles", "time-away", "timesheet-entries"])
def test_incremental_query_returns_the_ascending_subset(
    emu: HumaansEmulator, api: requests.Session, path: str
) -> None:
    stamps = sorted(r["updatedAt"] for r in emu.data[path])
    bookmark = stamps[len(stamps) // 3]
    for op in ("$gte", "$gt"):
        want = expected_since(emu, path, bookmark, op)
        got: list[str] = []
        skip = 0
        while True:
            page = get(
                api,
                emu,
                path,
                **{f"updatedAt[{op}]": bookmark, "$sort[updatedAt]": 1, "$limit": 9, "$skip": skip},
            )
            assert page["total"] == len(want)
            stamps_page = [r["updatedAt"] for r in page["data"]]
            assert stamps_page == sorted(stamps_page)
            got += [r["id"] for r in page["data"]]
            skip += len(page["data"])
            if not page["data"] or skip >= page["total"]:
                break
        assert got == want


def test_sort_descending_and_ties_broken_by_id(emu: HumaansEmulator, api: requests.Session) -> None:
    page = get(api, emu, "time-away", **{"$sort[updatedAt]": -1, "$limit": 250})
    rows = emu.data["time-away"]
    by_id = sorted(rows, key=lambda r: r["id"])
    want = sorted(by_id, key=lambda r: r["updatedAt"], reverse=True)
    assert [r["id"] for r in page["data"]] == [r["id"] for r in want]
    ordered = get(
        api, emu, "public-holidays", **{"$sort[date]": 1, "$sort[name]": -1, "$limit": 250}
    )["data"]
    assert [(h["date"], h["name"]) for h in ordered] == [
        (h["date"], h["name"])
        for h in sorted(
            sorted(emu.data["public-holidays"], key=lambda h: h["name"], reverse=True),
            key=lambda h: h["date"],
        )
    ]


def test_filters(emu: HumaansEmulator, api: requests.Session) -> None:
    person = emu.data["time-away"][0]["personId"]
    own = get(api, emu, "time-away", personId=person)
    assert own["total"] == sum(r["personId"] == person for r in emu.data["time-away"])
    assert {r["personId"] for r in own["data"]} == {person}

    statuses = get(api, emu, "people", **{"status[$in][]": ["newHire", "offboarded"]})
    assert statuses["total"] == sum(p["status"] != "active" for p in emu.data["people"])

    wfe = get(api, emu, "time-away", isTimeOff="false", **{"$limit": 250})
    assert wfe["total"] == sum(not r["isTimeOff"] for r in emu.data["time-away"]) > 0

    window = get(
        api,
        emu,
        "timesheet-entries",
        **{"date[$gte]": "2024-01-01", "date[$lt]": "2025-01-01", "$limit": 250},
    )
    assert window["total"] == sum(
        "2024-01-01" <= r["date"] < "2025-01-01" for r in emu.data["timesheet-entries"]
    )
    for bad in (
        {"$or": "x"},
        {"$foo": 1},
        {"nosuchfield": 1},
        {"status[$regex]": "a"},
        {"$limit": "ten"},
        {"$skip": -1},
        {"$sort[updatedAt]": 2},
    ):
        response = api.get(f"{emu.url}/people", params=bad, timeout=TIMEOUT)
        assert response.status_code == 400, bad
        assert response.json()["className"] == "bad-request"


def test_time_away_periods_filter_by_person_and_current_period(
    emu: HumaansEmulator, api: requests.Session
) -> None:
    """The public client's query: `personId` and `isCurrentPeriod=true` (the periods that
    contain today, BALANCE_DAY); `false` gives the others, anything else is a 400."""
    periods = emu.data["time-away-periods"]
    today = dg.iso_date(BALANCE_DAY)
    current = [p["id"] for p in periods if p["startDate"] <= today <= p["endDate"]]
    assert 0 < len(current) < len(periods)
    got = get(api, emu, "time-away-periods", isCurrentPeriod="true", **{"$limit": 250})
    assert [p["id"] for p in got["data"]] == current and got["total"] == len(current)
    past = get(api, emu, "time-away-periods", isCurrentPeriod="false", **{"$limit": 250})
    assert {p["id"] for p in past["data"]} == {p["id"] for p in periods} - set(current)
    person = periods[0]["personId"]
    mine = get(api, emu, "time-away-periods", personId=person, isCurrentPeriod="true")
    assert [p["id"] for p in mine["data"]] == [
        p["id"] for p in periods if p["personId"] == person and p["id"] in current
    ]
    assert len(mine["data"]) == 1  # one balance per person now, as the client expects
    paged = get(api, emu, "time-away-periods", isCurrentPeriod="true", **{"$limit": 5, "$skip": 5})
    assert [p["id"] for p in paged["data"]] == current[5:10]
    bad = api.get(
        f"{emu.url}/time-away-periods", params={"isCurrentPeriod": "yes"}, timeout=TIMEOUT
    )
    assert bad.status_code == 400 and bad.json()["className"] == "bad-request"
    # Another resource knows no such field.
    other = api.get(f"{emu.url}/time-away", params={"isCurrentPeriod": "true"}, timeout=TIMEOUT)
    assert other.status_code == 400


def test_leave_balances_follow_the_time_away_and_the_policy(emu: HumaansEmulator) -> None:
    """Each period's allowance is its allocation's amount pro rata, `ptoUsed` and
    `ptoUpcoming` the approved vacation working days before and after today, and what is
    carried over is what was left, capped by the policy."""
    vacation = emu.data["time-away-types"][0]["id"]
    days: dict[tuple[str, str], float] = {}  # (person, date) -> days off
    for ta in emu.data["time-away"]:
        if ta["timeAwayTypeId"] == vacation and ta["requestStatus"] == "approved":
            for item in ta["breakdown"]:
                if "kind" not in item:
                    key = (ta["personId"], item["date"])
                    days[key] = days.get(key, 0) + (1.0 if item["period"] == "full" else 0.5)
    today = dg.iso_date(BALANCE_DAY)
    people = {p["id"]: p for p in emu.data["people"]}
    by_person: dict[str, list[dict[str, Any]]] = {}
    for period in emu.data["time-away-periods"]:
        by_person.setdefault(period["personId"], []).append(period)
    assert set(by_person) <= set(people)
    used_somewhere = carried_somewhere = 0
    for person, periods in by_person.items():
        carried = 0.0
        for period in periods:
            lo, hi = period["startDate"], period["endDate"]
            assert lo[4:] == "-01-01" and hi[4:] == "-12-31" and lo[:4] == hi[:4]
            assert lo <= today and period["ptoCarriedOver"] == carried
            mine = {d: n for (p, d), n in days.items() if p == person and lo <= d <= hi}
            assert period["ptoUsed"] == sum(n for d, n in mine.items() if d <= today)
            assert period["ptoUpcoming"] == sum(n for d, n in mine.items() if d > today)
            allocation = period["timeAwayAllocation"]
            assert 0 < period["allowance"] <= allocation["amount"]
            left = period["allowance"] + carried - period["ptoUsed"] - period["ptoUpcoming"]
            cap = allocation["timeAwayPolicy"]["maxPtoCarryOver"]
            carried = max(0.0, left) if cap is None else min(cap, max(0.0, left))
            used_somewhere += period["ptoUsed"] > 0
            carried_somewhere += period["ptoCarriedOver"] > 0
    assert used_somewhere and carried_somewhere
    check_allocation_links(emu.data)


def test_lookups_point_at_existing_records(emu: HumaansEmulator) -> None:
    """What the new list resources are for: the ids other records carry."""
    data = emu.data

    def ids(path: str) -> set[str]:
        return {r["id"] for r in data[path]}

    for item in data["equipment"]:
        assert item["equipmentTypeId"] in ids("equipment-types")
        assert item["equipmentNameId"] in ids("equipment-names")
    for doc in data["documents"]:
        assert doc["folderId"] is None or doc["folderId"] in ids("document-folders")
        assert (doc["folderId"] is None) == (doc["documentTypeId"] is None)
    for doc in data["identity-documents"]:
        assert doc["identityDocumentTypeId"] in ids("identity-document-types")
    holidays = {h["id"]: h for h in data["public-holidays"]}
    for day in data["public-holiday-calendar-days"]:
        holiday = holidays[day["publicHolidayId"]]
        assert day["publicHolidayCalendarId"] == holiday["publicHolidayCalendarId"]
        assert day["publicHolidayCalendarId"] in ids("public-holiday-calendars")
    assert len(data["public-holiday-calendar-days"]) == len(holidays)
    patterns = {p["id"]: p for p in data["working-patterns"]}
    people = {p["id"]: p for p in data["people"]}
    spans: dict[str, list[tuple[str, str | None, str]]] = {}
    for allocation in data["working-pattern-allocations"]:
        spans.setdefault(allocation["personId"], []).append(
            (allocation["startDate"], allocation["endDate"], allocation["workingPatternId"])
        )
    assert set(spans) == set(people)  # everyone works some pattern
    for person, rows in spans.items():
        *before, (start, end, pattern) = rows
        assert end == people[person]["employmentEndDate"]
        assert patterns[pattern]["workingDays"] == people[person]["workingDays"]  # current
        for previous_start, previous_end, _ in before:  # an earlier pattern ended first
            assert previous_start < previous_end is not None and previous_end < start
    assert any(len(rows) > 1 for rows in spans.values())
    company = data["companies"][0]
    assert company["nextEmployeeId"] == len(data["people"]) + 1


def test_reject_updated_filter_mode() -> None:
    with HumaansEmulator(reject_updated_filter=True) as emulator:
        for params in ({"updatedAt[$gte]": "2024-01-01T00:00:00.000Z"}, {"$sort[updatedAt]": 1}):
            response = requests.get(
                f"{emulator.url}/people", params=params, headers=auth(), timeout=TIMEOUT
            )
            assert response.status_code == 400
            assert response.json()["name"] == "BadRequest"
        fine = requests.get(
            f"{emulator.url}/people", params={"$sort[id]": 1}, headers=auth(), timeout=TIMEOUT
        )
        assert fine.status_code == 200


def test_ignore_skip_mode_always_serves_the_first_page() -> None:
    with HumaansEmulator(ignore_skip=True) as emulator:
        pages = [
            requests.get(
                f"{emulator.url}/people",
                params={"$limit": 10, "$skip": skip},
                headers=auth(),
                timeout=TIMEOUT,
            ).json()
            for skip in (0, 10, 20)
        ]
        assert all(p["skip"] == 0 for p in pages)
        assert pages[0]["data"] == pages[1]["data"] == pages[2]["data"]


def test_routes(emu: HumaansEmulator, api: requests.Session) -> None:
    me = get(api, emu, "me")
    assert me == emu.data["people"][0]
    info = get(api, emu, "token-info")
    assert info == {
        "scopes": ["compensations:read", "documents:read", "private:read", "public:read"],
        "personId": me["id"],
        "companyId": emu.data["companies"][0]["id"],
    }
    role = emu.data["job-roles"][5]
    assert get(api, emu, f"job-roles/{role['id']}") == role
    missing = api.get(f"{emu.url}/job-roles/doesnotexist", timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json() == {
        "name": "NotFound",
        "message": "No record found for id 'doesnotexist'",
        "code": 404,
        "className": "not-found",
    }
    for path in ("webhooks", "people/x/y", "../etc"):
        assert api.get(f"{emu.url}/{path}", timeout=TIMEOUT).status_code == 404
    assert api.get(f"{emu.server.base_url}/other", timeout=TIMEOUT).status_code == 404
    post = api.post(f"{emu.url}/people", json={"firstName": "x"}, timeout=TIMEOUT)
    assert post.status_code == 405 and post.json()["name"] == "MethodNotAllowed"


def test_requests_are_recorded(emu: HumaansEmulator, api: requests.Session) -> None:
    emu.server.clear_requests()
    get(api, emu, "locations", **{"$limit": 2})
    api.get(f"{emu.url}/people", params={"$limit": 999}, timeout=TIMEOUT)
    first, second = emu.server.requests
    assert (first.method, first.path, first.query, first.status) == (
        "GET",
        "/api/locations",
        {"$limit": ["2"]},
        200,
    )
    assert first.headers["authorization"] == f"Bearer {FULL_TOKEN}"
    assert second.status == 400 and second.time >= first.time


# -- mutations ----------------------------------------------------------------------------


def newest(emulator: HumaansEmulator) -> str:
    return max(r["updatedAt"] for rows in emulator.data.values() for r in rows if "updatedAt" in r)


def test_update_people_moves_them_past_every_bookmark() -> None:
    with HumaansEmulator() as emulator:
        before = newest(emulator)
        old = {p["id"]: p for p in emulator.data["people"]}
        list(requests.get(f"{emulator.url}/people", headers=auth(), timeout=TIMEOUT).json())
        changed = emulator.update_people(3)
        assert len(changed) == len(set(changed)) == 3
        assert changed == HumaansEmulator().update_people(3)  # deterministic choice
        for pid in changed:
            now = next(p for p in emulator.data["people"] if p["id"] == pid)
            assert now["updatedAt"] > before
            assert now["bio"] != old[pid]["bio"]
            assert now["createdAt"] == old[pid]["createdAt"]
        page = requests.get(
            f"{emulator.url}/people",
            headers=auth(),
            timeout=TIMEOUT,
            params={"updatedAt[$gt]": before, "$sort[updatedAt]": "1"},
        ).json()
        assert sorted(r["id"] for r in page["data"]) == sorted(changed)
        assert page["total"] == 3
        second = emulator.update_people(1)
        assert (
            emulator.data["people"][[p["id"] for p in emulator.data["people"]].index(second[0])][
                "updatedAt"
            ]
            > page["data"][-1]["updatedAt"]
        )


def test_add_people_appends_newer_records() -> None:
    with HumaansEmulator() as emulator:
        before = newest(emulator)
        added = emulator.add_people(2)
        assert len(added) == 2
        everyone = requests.get(f"{emulator.url}/people", headers=auth(), timeout=TIMEOUT).json()
        assert everyone["total"] == 42
        assert [p["id"] for p in everyone["data"][-2:]] == added
        check = validator("people")
        for record in everyone["data"][-2:]:
            assert record["createdAt"] == record["updatedAt"] > before
            assert not list(check.iter_errors(record))
        since = requests.get(
            f"{emulator.url}/people",
            headers=auth(),
            timeout=TIMEOUT,
            params={"updatedAt[$gt]": before, "$sort[updatedAt]": "1"},
        ).json()
        assert sorted(r["id"] for r in since["data"]) == sorted(added)
        one = requests.get(f"{emulator.url}/people/{added[0]}", headers=auth(), timeout=TIMEOUT)
        assert one.status_code == 200


def test_custom_fields_of_every_kind_and_values_by_person() -> None:
    """Seven fields (select, text, date, number, boolean, multi-select), values as the
    public client types them (a string, or a list of strings), listed by `personId[$in]`."""
    with HumaansEmulator() as emulator:
        fields = emulator.data["custom-fields"]
        assert sorted({f["type"] for f in fields}) == [
            "boolean",
            "date",
            "multiselect",
            "number",
            "select",
            "text",
        ]
        values = emulator.data["custom-values"]
        kind = {f["id"]: f["type"] for f in fields}
        for value in values:
            if value["value"] is not None:
                wanted = list if kind[value["customFieldId"]] == "multiselect" else str
                assert isinstance(value["value"], wanted), value
        persons = sorted({v["personId"] for v in values})[:3]
        page = requests.get(
            f"{emulator.url}/custom-values",
            headers=auth(),
            timeout=TIMEOUT,
            params={"personId[$in][]": persons, "$sort[updatedAt]": "1"},
        ).json()
        assert sorted(v["id"] for v in page["data"]) == sorted(
            v["id"] for v in values if v["personId"] in persons
        )


def test_custom_fields_can_be_added_changed_and_deleted_between_runs() -> None:
    with HumaansEmulator() as emulator:
        before = newest(emulator)
        person = emulator.data["people"][0]["id"]
        field = emulator.add_custom_field("Badge number", "number", {person: "4711"})
        listed = requests.get(f"{emulator.url}/custom-fields", headers=auth(), timeout=TIMEOUT)
        added = next(f for f in listed.json()["data"] if f["id"] == field)
        assert (added["name"], added["type"]) == ("Badge number", "number")
        assert added["createdAt"] == added["updatedAt"] > before
        (value,) = [v for v in emulator.data["custom-values"] if v["customFieldId"] == field]
        assert (value["personId"], value["value"], value["updatedAt"]) == (
            person,
            "4711",
            added["updatedAt"],
        )
        stamp = emulator.set_custom_value(value["id"], "4712")
        since = requests.get(
            f"{emulator.url}/custom-values",
            headers=auth(),
            timeout=TIMEOUT,
            params={"updatedAt[$gt]": added["updatedAt"]},
        ).json()["data"]
        assert [(v["id"], v["value"], v["updatedAt"]) for v in since] == [
            (value["id"], "4712", stamp)
        ]
        emulator.delete_custom_field(field)
        assert field not in {f["id"] for f in emulator.data["custom-fields"]}
        assert field not in {v["customFieldId"] for v in emulator.data["custom-values"]}


def test_custom_values_deleted_leave_no_trace_and_list_by_id_with_their_person() -> None:
    """The hook a delete test uses (`DELETE /custom-values/{id}`), and the key listing a
    sweep of the values reads: ids and persons only, sorted by id, after a given id."""
    with HumaansEmulator(seed=3, size=10) as emulator:
        values = emulator.data["custom-values"]
        before = {v["id"]: v["updatedAt"] for v in values}
        gone = [values[0]["id"], values[3]["id"]]
        emulator.delete_custom_values(gone)
        left = sorted((v["id"], v["personId"]) for v in emulator.data["custom-values"])
        assert [i for i, _ in left] == sorted(set(before) - set(gone))
        assert all(v["updatedAt"] == before[v["id"]] for v in emulator.data["custom-values"])
        with pytest.raises(ValueError, match="no such custom values"):
            emulator.delete_custom_values(gone)
        params: dict[str, Any] = {"$select[]": ["id", "personId"], "$sort[id]": 1, "$limit": 3}
        page = requests.get(
            f"{emulator.url}/custom-values", headers=auth(), timeout=TIMEOUT, params=params
        ).json()
        assert page["total"] == len(left)
        assert page["data"] == [{"id": i, "personId": p} for i, p in left[:3]]
        params["id[$gt]"] = left[2][0]
        after = requests.get(
            f"{emulator.url}/custom-values", headers=auth(), timeout=TIMEOUT, params=params
        ).json()
        assert after["total"] == len(left) - 3
        assert after["data"] == [{"id": i, "personId": p} for i, p in left[3:6]]


# -- faults and rate limits ---------------------------------------------------------------


def test_status_fault_with_retry_after(emu: HumaansEmulator, api: requests.Session) -> None:
    emu.server.faults.add("status", status=429, headers={"Retry-After": "2"}, times=2)
    for _ in range(2):
        response = api.get(f"{emu.url}/people", timeout=TIMEOUT)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "2"
        assert response.json() == {
            "name": "TooManyRequests",
            "message": "Too many requests",
            "code": 429,
            "className": "too-many-requests",
        }
    assert api.get(f"{emu.url}/people", timeout=TIMEOUT).status_code == 200


def test_fault_path_prefix_and_after(emu: HumaansEmulator, api: requests.Session) -> None:
    emu.server.faults.add(
        "status", status=503, path="/api/time-away", after=1, body={"message": "maintenance"}
    )
    assert api.get(f"{emu.url}/people", timeout=TIMEOUT).status_code == 200
    assert api.get(f"{emu.url}/time-away", timeout=TIMEOUT).status_code == 200
    failed = api.get(f"{emu.url}/time-away", timeout=TIMEOUT)
    assert failed.status_code == 503 and failed.json() == {"message": "maintenance"}
    assert api.get(f"{emu.url}/time-away", timeout=TIMEOUT).status_code == 200
    assert not emu.server.faults.pending


def test_reset_fault_aborts_the_connection(emu: HumaansEmulator, api: requests.Session) -> None:
    emu.server.clear_requests()
    emu.server.faults.add("reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get(f"{emu.url}/people", timeout=TIMEOUT)
    assert emu.server.requests[-1].status == 0
    assert api.get(f"{emu.url}/people", timeout=TIMEOUT).status_code == 200


def test_truncate_fault_sends_half_the_body(emu: HumaansEmulator, api: requests.Session) -> None:
    emu.server.faults.add("truncate", path="/api/people")
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        api.get(f"{emu.url}/people", timeout=TIMEOUT)
    assert api.get(f"{emu.url}/people", timeout=TIMEOUT).status_code == 200


def test_delay_fault_triggers_client_read_timeouts(
    emu: HumaansEmulator, api: requests.Session
) -> None:
    emu.server.faults.add("delay", delay_s=0.6, times=1)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(f"{emu.url}/people", timeout=(TIMEOUT, 0.2))
    assert time.monotonic() - started < 0.5
    time.sleep(0.5)  # let the delayed handler finish before the next request
    emu.server.faults.add("delay", delay_s=0.1)
    started = time.monotonic()
    assert api.get(f"{emu.url}/people", timeout=TIMEOUT).status_code == 200
    assert time.monotonic() - started >= 0.1


def test_fault_switch_validates_arguments(emu: HumaansEmulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.server.faults.add("explode")
    with pytest.raises(ValueError, match="status="):
        emu.server.faults.add("status")


def test_rate_limit_per_token_answers_429_with_retry_after() -> None:
    with HumaansEmulator(rate_limit=(2, 3)) as emulator:
        session = requests.Session()
        session.headers.update(auth())
        codes = [session.get(f"{emulator.url}/locations", timeout=TIMEOUT) for _ in range(6)]
        assert [c.status_code for c in codes[:3]] == [200, 200, 200]
        limited = [c for c in codes if c.status_code == 429]
        assert limited
        assert limited[0].headers["Retry-After"] == "1"
        assert limited[0].json() == {
            "name": "TooManyRequests",
            "message": "Too many requests",
            "code": 429,
            "className": "too-many-requests",
        }
        other = requests.get(
            f"{emulator.url}/locations", headers=auth(NO_SENSITIVE_TOKEN), timeout=TIMEOUT
        )
        assert other.status_code == 200
        time.sleep(0.6)
        assert session.get(f"{emulator.url}/locations", timeout=TIMEOUT).status_code == 200


# -- speed and process --------------------------------------------------------------------


def test_incremental_page_of_250_is_fast() -> None:
    emulator = HumaansEmulator(size=3000)
    emulator.warm()
    bookmark = sorted(p["updatedAt"] for p in emulator.data["people"])[100]
    request = Request(
        "GET",
        "/api/people",
        {
            "updatedAt[$gte]": [bookmark],
            "$sort[updatedAt]": ["1"],
            "$limit": ["250"],
            "$skip": ["500"],
        },
        {"authorization": f"Bearer {FULL_TOKEN}"},
    )
    timings = []
    for _ in range(30):
        started = time.perf_counter()
        response = emulator.handle(request)
        timings.append(time.perf_counter() - started)
    assert response.status == 200
    assert len(orjson.loads(response.body)["data"]) == 250
    assert sorted(timings)[len(timings) // 2] < 0.005


def test_keep_alive_requests_do_not_pay_nagle_delays(
    emu: HumaansEmulator, api: requests.Session
) -> None:
    get(api, emu, "people")
    started = time.perf_counter()
    for _ in range(20):
        get(api, emu, "people", **{"$limit": 5})
    assert time.perf_counter() - started < 0.5  # Nagle + delayed ACK would cost ~0.8 s


def test_cli_prints_ready_and_serves_until_sigterm() -> None:
    with emulator_process("humaans", "--records", "5", "--seed", "7") as url:
        assert url.endswith("/api")
        people = requests.get(f"{url}/people", headers=auth(), timeout=TIMEOUT)
        assert people.json()["total"] == 5


def test_datagen_is_anchored_and_deterministic() -> None:
    assert dg.iso_ms(0) == "2023-01-01T00:00:00.000Z"
    assert dg.iso_ms(dg.DAY_MS + 3_723_004) == "2023-01-02T01:02:03.004Z"
    assert dg.ms_of("2023-01-02T01:02:03.004Z") == dg.DAY_MS + 3_723_004
    assert dg.iso_date(-1) == "2022-12-31"
    rng_a, rng_b = dg.sub_rng(1, "x"), dg.sub_rng(1, "x")
    assert dg.make_ids(rng_a, 3) == dg.make_ids(rng_b, 3)
    assert dg.email("Zoë", "Müller", "acme.com") == "zoe.muller@acme.com"
