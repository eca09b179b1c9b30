"""The OpenHuman emulator's hosted backend must enforce contract (B) of
shared/specs/openhuman.md: the `{success, data}` envelope (and `success: false` on a 200),
Bearer and `x-api-key` auth with the machine routes and scopes, `limit`/`offset`, the child
routes, and records that fit the tap's schemas once emitted."""

from __future__ import annotations

import typing as t

import pytest
import requests

from human_sandbox.openhuman import API_KEY, READONLY_NOSCOPE_KEY, OpenHumanEmulator
from human_sandbox.openhuman_backend import BACKEND_TOKEN, STATIC
from tests.support.registry import TAPS
from tests.support.schema_check import schema_validator
from tests.taps.openhuman.expected import BACKEND, MACHINE, backend_records

SCHEMA_DIR = TAPS["openhuman"].schema_dir
TIMEOUT = 5
BEARER = {"Authorization": f"Bearer {BACKEND_TOKEN}"}


@pytest.fixture(scope="module")
def emu() -> t.Iterator[OpenHumanEmulator]:
    with OpenHumanEmulator(seed=7, size=12) as emulator:
        yield emulator


def call(
    emu: OpenHumanEmulator, path: str, headers: dict[str, str] | None = None, **params: t.Any
) -> requests.Response:
    headers = BEARER if headers is None else headers
    return requests.get(emu.backend_url + path, headers=headers, params=params, timeout=TIMEOUT)


def data(emu: OpenHumanEmulator, path: str, **params: t.Any) -> t.Any:
    response = call(emu, path, **params)
    assert response.status_code == 200, (path, response.text)
    body = response.json()
    assert set(body) == {"success", "data"} and body["success"] is True, body
    return body["data"]


def failure(response: requests.Response, status: int, code: str) -> str:
    """The failure's message, once its status and envelope are checked."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["errorCode"] == code, body
    return body.get("error") or body["message"]


def test_every_route_answers_the_bearer_token_in_the_envelope(emu):
    for path, stream in STATIC.items():
        if stream == "models":
            continue
        assert data(emu, path) is not None, path
    assert data(emu, "/auth/me") == emu.backend.data["me"][0]
    assert data(emu, "/auth/integrations") == {"integrations": emu.backend.data["integrations"]}
    assert data(emu, "/medulla/v1/tasks") == {"tasks": emu.backend.data["tasks"]}
    assert data(emu, "/medulla/v1/workflows") == {"workflows": emu.backend.data["workflows"]}
    assert data(emu, "/medulla/v1/roster") == {"workers": emu.backend.data["roster"]}
    assert data(emu, "/medulla/v1/sessions") == emu.backend.data["sessions"]
    assert isinstance(data(emu, "/payments/stripe/currentPlan"), dict)


def test_models_answer_in_openai_shape_without_the_envelope(emu):
    body = call(emu, "/openai/v1/models").json()
    assert body == {"object": "list", "data": emu.backend.data["models"]}
    assert all(isinstance(m["created"], int) for m in body["data"])  # Unix seconds


def test_credentials_bearer_and_api_key_on_machine_routes_only(emu):
    assert failure(call(emu, "/medulla/v1/tasks", {}), 401, "UNAUTHORIZED")
    response = call(emu, "/auth/me", {"Authorization": "Bearer nope"})
    assert failure(response, 401, "INVALID_TOKEN") == "Invalid or expired token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    key = {"x-api-key": API_KEY}
    for path, stream in STATIC.items():
        response = call(emu, path, key)
        if stream in MACHINE:
            assert response.status_code == 200, path
        else:
            message = failure(response, 401, "UNAUTHORIZED")
            assert message == "This route requires a bearer token, not an API key", path
    assert failure(call(emu, "/medulla/v1/tasks", {"x-api-key": "sk_nope"}), 401, "INVALID_API_KEY")
    scopeless = {"x-api-key": READONLY_NOSCOPE_KEY}
    message = failure(call(emu, "/medulla/v1/tasks", scopeless), 403, "INSUFFICIENT_SCOPE")
    assert message == "This API key lacks the 'read' scope"
    message = failure(call(emu, "/openai/v1/models", scopeless), 403, "INSUFFICIENT_SCOPE")
    assert message == "This API key lacks the 'inference' scope"
    # the bearer token wins when both are sent; it is no credential of the /v1 API
    assert call(emu, "/auth/me", {**BEARER, "x-api-key": "sk_nope"}).status_code == 200
    v1 = requests.get(f"{emu.api_url}/agents", headers=BEARER, timeout=TIMEOUT)
    assert v1.status_code == 401 and v1.json()["error"]["code"] == "invalid_api_key"


def test_paged_lists_take_limit_and_offset_newest_first(emu):
    every = emu.backend.data["credit_transactions"]
    first = data(emu, "/payments/credits/transactions")
    assert len(first) == 20  # the default limit
    pages = [data(emu, "/payments/credits/transactions", limit=7, offset=k) for k in (0, 7, 14)]
    pages.append(data(emu, "/payments/credits/transactions", limit=100, offset=21))
    walked = [row for page in pages for row in page]
    assert walked == sorted(every, key=lambda r: (r["createdAt"], r["id"]), reverse=True)
    assert data(emu, "/payments/credits/transactions", offset=len(every)) == []
    for params in ({"limit": 101}, {"limit": 0}, {"limit": "x"}, {"offset": -1}):
        response = call(emu, "/payments/credits/transactions", **params)
        message = failure(response, 400, "VALIDATION_ERROR")
        assert message.startswith(f"'{next(iter(params))}' must be an integer")
        assert response.json()["details"] == {"field": next(iter(params))}


def test_memory_documents_by_namespace(emu):
    every = emu.backend.data["memory_documents"]
    work = data(emu, "/memory/documents", namespace="work", limit=100)["documents"]
    assert work == sorted(
        (d for d in every if d["namespace"] == "work"),
        key=lambda d: (d["created_at"], d["document_id"]),
        reverse=True,
    )
    assert len(data(emu, "/memory/documents", limit=100)["documents"]) == len(every)
    one = work[0]
    assert data(emu, f"/memory/documents/{one['document_id']}", namespace="work") == one
    wrong = call(emu, f"/memory/documents/{one['document_id']}", namespace="personal")
    assert failure(wrong, 404, "NOT_FOUND") == "Document not found"


def test_child_routes_list_each_parents_records(emu):
    team = emu.backend.data["teams"][0]["id"]
    assert data(emu, f"/teams/{team}/members") == emu.backend.children["team_members"][team]
    assert data(emu, f"/teams/{team}") == emu.backend.data["teams"][0]
    session = emu.backend.data["sessions"][0]["sessionId"]
    messages = data(emu, f"/medulla/v1/sessions/{session}/messages")
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    assert "sessionId" not in messages[0]  # the tap adds it from the path
    events = data(emu, f"/medulla/v1/sessions/{session}/events")
    assert {e["sessionId"] for e in events} == {session}
    for path, message in (
        ("/teams/nope/invites", "Team not found"),
        ("/medulla/v1/sessions/nope/events", "Session not found"),
        ("/orchestration/v1/sessions/nope/messages", "Session not found"),
        ("/webhooks/core/nope", "Webhook not found"),
        ("/nowhere", "Route not found"),
    ):
        assert failure(call(emu, path), 404, "NOT_FOUND") == message


def test_an_api_key_and_a_webhook_carry_their_secret(emu):
    assert all(k["key"].startswith("thk_live_") for k in emu.backend.data["api_keys"])
    assert all(w["signingSecret"].startswith("whsec_") for w in emu.backend.data["webhooks"])


def test_only_get_is_served():
    with OpenHumanEmulator(seed=7, size=2) as emu:
        response = requests.post(emu.backend_url + "/teams", headers=BEARER, timeout=TIMEOUT)
        assert failure(response, 405, "METHOD_NOT_ALLOWED") == "Method POST not allowed"


def test_missing_forbidden_and_unsuccessful_resources():
    emulator = OpenHumanEmulator(
        seed=7, size=4, missing={"roster"}, forbidden={"team_invites"}, unsuccessful={"tasks"}
    )
    with emulator as emu:
        assert failure(call(emu, "/medulla/v1/roster"), 404, "NOT_FOUND") == "Route not found"
        team = emu.backend.data["teams"][0]["id"]
        message = failure(call(emu, f"/teams/{team}/invites"), 403, "FORBIDDEN")
        assert message == "You do not have access to this resource"
        message = failure(call(emu, "/medulla/v1/tasks"), 200, "UPSTREAM_UNAVAILABLE")
        assert message == "tasks is temporarily unavailable"
    with pytest.raises(ValueError, match="unknown backend resources"):
        OpenHumanEmulator(forbidden={"nope"})
    with pytest.raises(ValueError, match="unknown resources in missing"):
        OpenHumanEmulator(missing={"nope"})


def test_the_dataset_is_deterministic_and_sized():
    small, again, other = (OpenHumanEmulator(seed=s, size=12) for s in (7, 7, 8))
    assert small.backend.data == again.backend.data
    assert small.backend.data["sessions"] != other.backend.data["sessions"]
    sizes = {s: len(rows) for s, rows in small.backend.data.items()}
    assert sizes["sessions"] == sizes["tasks"] == 12
    assert sizes["memory_documents"] == 24 and sizes["credit_transactions"] == 36
    assert all(sizes[s] for s in BACKEND)
    smallest = OpenHumanEmulator(seed=7, size=1).backend.data
    assert all(smallest[s] for s in BACKEND)  # every stream has records, however small


def test_advance_changes_records_strictly_later_than_everything():
    with OpenHumanEmulator(seed=7, size=12) as emu:
        before = backend_records(emu)
        latest = max(r["lastActiveAt"] for r in before["sessions"])
        changed = emu.backend.advance(3)
        after = backend_records(emu)
    assert {s: len(ids) for s, ids in changed.items()} == {
        "sessions": 3,
        "tasks": 3,
        "memory_documents": 3,
    }
    moved = [s for s in after["sessions"] if s["sessionId"] in changed["sessions"]]
    assert all(s["lastActiveAt"] > latest for s in moved)
    assert len(after["session_messages"]) == len(before["session_messages"]) + 6
    newest_task = max(before["tasks"], key=lambda r: r["updatedAt"])["updatedAt"]
    assert all(r["updatedAt"] > newest_task for r in after["tasks"] if r["id"] in changed["tasks"])


def test_every_record_as_emitted_matches_its_schema(emu):
    for stream, rows in backend_records(emu).items():
        check = schema_validator(SCHEMA_DIR / f"{stream}.json")
        assert rows, stream
        for row in rows:
            record = {k: v for k, v in row.items() if k != "_extra"}
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(record)]
            assert not errors, (stream, record, errors)
