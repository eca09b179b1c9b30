"""tap-openhuman against its emulator's hosted backend (contract B): exact records, the
credentials (backend token, the API key as `x-api-key`, neither), routes a credential
cannot read, `success: false`, paging, namespaces, secrets and incremental runs."""

from __future__ import annotations

import json
import logging
import typing as t

import pytest
import requests

from human_sandbox.openhuman import API_KEY, OpenHumanEmulator
from human_sandbox.openhuman_backend import BACKEND_TOKEN
from tap_openhuman.backend import unix_seconds_to_iso, unwrapped
from tap_openhuman.tap import BACKEND_STREAMS, V1_STREAMS, TapOpenHuman
from taps_shared.errors import ResponseError
from tests.support.helpers import run_cli, sync
from tests.support.registry import TAPS
from tests.taps.openhuman.expected import (
    BACKEND,
    MACHINE,
    backend_records,
    canonical,
    iso,
    secrets_served,
)

OPENHUMAN = TAPS["openhuman"]
V1 = tuple(spec.name for spec in V1_STREAMS)
#: The streams only a bearer token reads; their children are never asked for without it.
ACCOUNT = tuple(s for s in BACKEND if s not in MACHINE)
ACCOUNT_TOP = tuple(s for s in ACCOUNT if s not in {"team_members", "team_invites"})


@pytest.fixture
def openhuman() -> t.Iterator[OpenHumanEmulator]:
    with OPENHUMAN.emulator() as emulator:
        yield emulator


def config(emulator: OpenHumanEmulator, **extra: t.Any) -> dict[str, t.Any]:
    """The `tap` use's config: the API key for (A), the backend token for (B)."""
    return OPENHUMAN.config(emulator, **extra)


def skipped(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The streams named by a "Skipping stream" warning, one entry per warning."""
    return [
        r.getMessage().split()[2].rstrip(":")
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith("Skipping stream")
    ]


def backend_requests(emulator: OpenHumanEmulator) -> list[t.Any]:
    return [r for r in emulator.server.requests if not r.path.startswith(("/v1", "/oauth"))]


def test_every_backend_stream_emits_exactly_the_api_records(openhuman):
    result = sync(TapOpenHuman, config(openhuman))
    expected = backend_records(openhuman)
    assert set(BACKEND) <= set(result.records)
    for stream in BACKEND:
        assert expected[stream], stream
        assert canonical(result.records[stream]) == canonical(expected[stream]), stream
    bookmarks = result.final_state["bookmarks"]
    assert bookmarks["sessions"]["replication_key_value"] == max(
        r["lastActiveAt"] for r in expected["sessions"]
    )
    assert bookmarks["tasks"]["replication_key_value"] == max(
        r["updatedAt"] for r in expected["tasks"]
    )
    partitions = bookmarks["session_messages"]["partitions"]
    last_ts = {
        s["sessionId"]: iso(
            openhuman.backend.children["session_messages"][s["sessionId"]][-1]["ts"]
        )
        for s in openhuman.backend.data["sessions"]
    }
    assert {p["context"]["sessionId"]: p["replication_key_value"] for p in partitions} == last_ts
    assert "team_members" not in bookmarks or not bookmarks["team_members"].get(
        "replication_key_value"
    )


def test_discover_lists_both_contracts_with_their_keys(tmp_path, openhuman):
    run = run_cli("tap-openhuman", tmp_path, "--discover", config=config(openhuman))
    assert run.returncode == 0, run.stderr
    entries = {e["tap_stream_id"]: e for e in json.loads(run.stdout)["streams"]}
    assert sorted(entries) == sorted((*V1, *BACKEND))
    shapes = {
        name: (tuple(entries[name]["key_properties"]), entries[name].get("replication_key"))
        for name in BACKEND
    }
    assert shapes == {
        "me": (("id",), None),
        "integrations": (("id",), None),
        "api_keys": (("id",), None),
        "budgets": (("id",), None),
        "spend_caps": ((), None),
        "teams": (("id",), None),
        "team_members": (("teamId", "userId"), None),
        "team_invites": (("id",), None),
        "team_usage": ((), None),
        "credit_balance": ((), None),
        "credit_transactions": (("id",), None),
        "current_plan": ((), None),
        "sessions": (("sessionId",), "lastActiveAt"),
        "session_messages": (("sessionId", "seq"), "ts"),
        "session_events": (("sessionId", "seq"), "at"),
        "tasks": (("id",), "updatedAt"),
        "workflows": (("id",), None),
        "roster": (("registryId",), None),
        "orchestration_sessions": (("sessionId",), None),
        "orchestration_session_messages": (("sessionId", "seq"), "ts"),
        "memory_documents": (("document_id",), "updated_at"),
        "webhooks": (("id",), None),
        "models": (("id",), None),
    }


def test_the_api_key_reads_the_machine_routes_and_each_other_stream_is_skipped_once(
    openhuman, caplog
):
    with caplog.at_level(logging.WARNING):
        result = sync(
            TapOpenHuman, {k: v for k, v in config(openhuman).items() if k != "backend_token"}
        )
    expected = backend_records(openhuman)
    for stream in MACHINE:
        assert canonical(result.records[stream]) == canonical(expected[stream]), stream
    assert not set(ACCOUNT) & set(result.records)
    assert sorted(skipped(caplog)) == sorted(ACCOUNT_TOP)
    assert all(
        "the credential is not accepted on this route" in r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("Skipping stream")
    )
    sent = backend_requests(openhuman)
    assert sent and all(r.headers.get("x-api-key") == API_KEY for r in sent)
    assert not any("authorization" in r.headers for r in sent)
    assert {r.path for r in sent if r.status == 401} == {
        "/auth/me",
        "/auth/integrations",
        "/api-keys",
        "/budgets",
        "/spend-caps",
        "/teams",
        "/teams/me/usage",
        "/payments/credits/balance",
        "/payments/credits/transactions",
        "/payments/stripe/currentPlan",
        "/webhooks/core",
    }


def test_a_key_without_the_scope_is_skipped_on_every_backend_route(caplog):
    with OpenHumanEmulator(seed=7, size=4) as emulator:
        emulator.backend.api_keys = {API_KEY: frozenset({"read"})}  # no inference scope
        settings = {k: v for k, v in config(emulator).items() if k != "backend_token"}
        with caplog.at_level(logging.WARNING):
            result = sync(TapOpenHuman, settings)
    assert "models" not in result.records
    assert result.records["tasks"]
    (warning,) = [r.getMessage() for r in caplog.records if "stream models" in r.getMessage()]
    assert warning.startswith("Skipping stream models: the credential may not read it (")
    assert "INSUFFICIENT_SCOPE: This API key lacks the 'inference' scope" in warning


def test_the_backend_token_alone_reads_b_and_skips_each_v1_stream_once(openhuman, caplog):
    settings = {k: v for k, v in config(openhuman).items() if k != "api_key"}
    with caplog.at_level(logging.WARNING):
        result = sync(TapOpenHuman, settings)
    expected = backend_records(openhuman)
    assert sorted(result.records) == sorted(BACKEND)
    for stream in BACKEND:
        assert canonical(result.records[stream]) == canonical(expected[stream]), stream
    top_level = [s.name for s in V1_STREAMS if s.parent is None]
    assert sorted(skipped(caplog)) == sorted(top_level)
    assert not [r for r in openhuman.server.requests if r.path.startswith("/v1")]
    first = backend_requests(openhuman)[0]
    assert first.path == "/auth/me"  # the connection check
    assert first.headers["authorization"] == f"Bearer {BACKEND_TOKEN}"


def test_oauth_without_a_backend_credential_skips_each_backend_stream_once(openhuman, caplog):
    settings = {k: v for k, v in config(openhuman).items() if k not in {"api_key", "backend_token"}}
    settings |= OPENHUMAN.auth["OAuth"].settings
    settings["refresh_token"] = openhuman.issue_refresh_token()
    with caplog.at_level(logging.WARNING):
        result = sync(TapOpenHuman, settings)
    assert sorted(result.records) == sorted(V1)
    top_level = [s.name for s in BACKEND_STREAMS if s.parent is None]
    assert sorted(skipped(caplog)) == sorted(top_level)
    assert "no credential for the hosted backend (set backend_token" in caplog.text
    assert not backend_requests(openhuman)


def test_routes_the_credential_cannot_read_are_skipped_with_one_warning_each(caplog):
    emulator = OpenHumanEmulator(
        seed=7, size=12, forbidden={"budgets", "team_invites"}, missing={"roster"}
    )
    with emulator, caplog.at_level(logging.WARNING):
        result = sync(TapOpenHuman, config(emulator))
        expected = backend_records(emulator)
    gone = {"budgets", "team_invites", "roster"}
    assert not gone & set(result.records)
    for stream in set(BACKEND) - gone:
        assert canonical(result.records[stream]) == canonical(expected[stream]), stream
    teams = [team["id"] for team in emulator.backend.data["teams"]]
    assert sorted(skipped(caplog)) == sorted(["budgets", "roster", *["team_invites"] * len(teams)])
    messages = caplog.text
    assert "Skipping stream budgets: the credential may not read it (" in messages
    assert "Skipping stream roster: this account's backend does not offer it (" in messages
    for team in teams:
        assert f"Skipping stream team_invites for teamId {team}: the credential may not" in messages


def test_success_false_on_a_200_is_one_error_line_and_not_retried(tmp_path):
    with OpenHumanEmulator(seed=7, size=4, unsuccessful={"credit_balance"}) as emulator:
        run = run_cli("tap-openhuman", tmp_path, config=config(emulator))
        calls = [r for r in emulator.server.requests if r.path == "/payments/credits/balance"]
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1
    assert run.error_lines[0].endswith(
        "credit_balance: GET /payments/credits/balance returned 200 with success: false "
        "(UPSTREAM_UNAVAILABLE: credit_balance is temporarily unavailable)"
    )
    assert [r.status for r in calls] == [200]
    assert BACKEND_TOKEN not in run.stdout + run.stderr


def test_success_false_with_a_5xx_is_retried(openhuman):
    clean = sync(TapOpenHuman, config(openhuman))
    body = {"success": False, "error": "Service unavailable", "errorCode": "UPSTREAM_UNAVAILABLE"}
    openhuman.server.faults.add(
        "status", status=503, body=body, path="/payments/credits/balance", times=2
    )
    openhuman.server.clear_requests()
    faulty = sync(TapOpenHuman, config(openhuman))
    assert faulty.records == clean.records
    calls = [r.status for r in openhuman.server.requests if r.path == "/payments/credits/balance"]
    assert calls == [503, 503, 200]


def test_a_rejected_backend_token_is_one_line_without_the_token(tmp_path, openhuman):
    wrong = "eyJ.wrong_backend_canary.0042"
    run = run_cli("tap-openhuman", tmp_path, config=config(openhuman, backend_token=wrong))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1
    assert run.error_lines[0].endswith(
        "OpenHuman's hosted backend rejected backend_token (401 INVALID_TOKEN: Invalid or "
        "expired token): check backend_token"
    )
    assert wrong not in run.stdout + run.stderr


def test_secrets_the_api_sends_are_never_emitted(tmp_path, openhuman):
    served = secrets_served(openhuman)
    assert len(served) == len(openhuman.backend.data["api_keys"]) + len(
        openhuman.backend.data["webhooks"]
    )
    run = run_cli("tap-openhuman", tmp_path, config=config(openhuman), env={"LOGLEVEL": "DEBUG"})
    assert run.returncode == 0, run.stderr
    records = [m["record"] for m in run.messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in run.messages if m["type"] == "RECORD"} >= {"api_keys", "webhooks"}
    assert all(r.get("_extra") is None for r in records)
    for secret in (*served, BACKEND_TOKEN, API_KEY):
        assert secret not in run.stdout + run.stderr


def test_paged_lists_are_read_by_limit_and_offset_to_a_short_page(openhuman):
    result = sync(TapOpenHuman, config(openhuman, page_size=5))
    expected = backend_records(openhuman)
    for stream, path, total in (
        ("memory_documents", "/memory/documents", 24),
        ("credit_transactions", "/payments/credits/transactions", 36),
    ):
        assert len(expected[stream]) == total
        assert canonical(result.records[stream]) == canonical(expected[stream])
        pages = [r.query for r in openhuman.server.requests if r.path == path]
        assert [q["limit"] for q in pages] == [["5"]] * len(pages)
        assert [int(q["offset"][0]) for q in pages] == list(range(0, total, 5))


def test_memory_namespaces_read_one_listing_and_bookmark_each(openhuman):
    result = sync(TapOpenHuman, config(openhuman, memory_namespaces=["work", "research"]))
    documents = backend_records(openhuman)["memory_documents"]
    wanted = [d for d in documents if d["namespace"] in {"work", "research"}]
    assert wanted and len(wanted) < len(documents)
    assert canonical(result.records["memory_documents"]) == canonical(wanted)
    asked = [
        r.query["namespace"] for r in openhuman.server.requests if r.path == "/memory/documents"
    ]
    assert asked == [["work"], ["research"]]
    partitions = result.final_state["bookmarks"]["memory_documents"]["partitions"]
    assert {p["context"]["namespace"]: p["replication_key_value"] for p in partitions} == {
        ns: max(d["updated_at"] for d in wanted if d["namespace"] == ns)
        for ns in ("work", "research")
    }


def test_a_second_run_emits_what_changed_with_bookmarks_per_parent(openhuman):
    settings = config(openhuman)
    first = sync(TapOpenHuman, settings)
    changed = openhuman.backend.advance(2)
    openhuman.server.clear_requests()
    second = sync(TapOpenHuman, settings, state=first.final_state)
    now = backend_records(openhuman)
    bookmarks = first.final_state["bookmarks"]

    def since(stream: str, key: str, id_field: str) -> list[dict]:
        mark = bookmarks[stream]["replication_key_value"]
        return [r for r in now[stream] if r[key] >= mark]

    sessions = since("sessions", "lastActiveAt", "sessionId")
    assert set(changed["sessions"]) <= {s["sessionId"] for s in sessions}
    assert canonical(second.records["sessions"]) == canonical(sessions)
    for stream, key in (("session_messages", "ts"), ("session_events", "at")):
        marks = {
            p["context"]["sessionId"]: p["replication_key_value"]
            for p in bookmarks[stream]["partitions"]
        }
        wanted = [
            r
            for r in now[stream]
            if r["sessionId"] in {s["sessionId"] for s in sessions}
            and r[key] >= marks[r["sessionId"]]
        ]
        assert canonical(second.records[stream]) == canonical(wanted), stream
        new = [
            r
            for r in wanted
            if r["sessionId"] in changed["sessions"] and r[key] > marks[r["sessionId"]]
        ]
        assert len(new) == (4 if stream == "session_messages" else 8)  # 2 sessions, 1 exchange
    assert canonical(second.records["tasks"]) == canonical(since("tasks", "updatedAt", "id"))
    assert set(changed["tasks"]) <= {r["id"] for r in second.records["tasks"]}
    documents = since("memory_documents", "updated_at", "document_id")
    assert canonical(second.records["memory_documents"]) == canonical(documents)
    # full-table streams are read in full again
    assert canonical(second.records["teams"]) == canonical(now["teams"])
    final = second.final_state["bookmarks"]
    assert final["sessions"]["replication_key_value"] == max(
        r["lastActiveAt"] for r in now["sessions"]
    )
    latest = {
        p["context"]["sessionId"]: p["replication_key_value"]
        for p in final["session_messages"]["partitions"]
    }
    assert {sid: latest[sid] for sid in changed["sessions"]} == {
        sid: final["sessions"]["replication_key_value"] for sid in changed["sessions"]
    }


def test_unix_seconds_become_iso_date_times_wherever_the_path_leads():
    record = {
        "at": 1_700_000_000,
        "float": 1_700_000_000.5,
        "flag": True,
        "text": "1700000000",
        "huge": 10**20,
        "list": [{"t": 0}, {"t": None}, "x"],
        "nested": {"t": 86_400},
    }
    for path in ("at", "float", "flag", "text", "huge", "list[].t", "nested.t", "absent.t"):
        unix_seconds_to_iso(record, path)
    assert record == {
        "at": "2023-11-14T22:13:20.000Z",
        "float": "2023-11-14T22:13:20.500Z",
        "flag": True,
        "text": "1700000000",
        "huge": 10**20,
        "list": [{"t": "1970-01-01T00:00:00.000Z"}, {"t": None}, "x"],
        "nested": {"t": "1970-01-02T00:00:00.000Z"},
    }


def test_the_envelope_is_unwrapped_as_the_vendor_sdk_does():
    response = requests.Response()
    response.status_code = 200
    response.url = "http://127.0.0.1/auth/me"
    response._content = b'{"success": false, "message": "Nope", "errorCode": "E_NOPE"}'
    assert unwrapped({"success": True, "data": [1]}, response, "me") == [1]
    assert unwrapped({"success": True, "jwt": "x"}, response, "me") == {"jwt": "x"}
    assert unwrapped({"object": "list", "data": []}, response, "me") == {
        "object": "list",
        "data": [],
    }
    with pytest.raises(ResponseError) as info:
        unwrapped(json.loads(response.content), response, "me")
    assert str(info.value) == "me: GET /auth/me returned 200 with success: false (E_NOPE: Nope)"


def test_a_route_skipped_as_unreadable_announces_no_version():
    """ACTIVATE_VERSION after a skipped listing would mark every row of the stream deleted:
    the unreadable route announces none, the routes read whole do."""
    with OpenHumanEmulator(seed=7, size=4) as emulator:
        emulator.backend.api_keys = {API_KEY: frozenset({"read"})}  # no inference scope
        settings = {k: v for k, v in config(emulator).items() if k != "backend_token"}
        result = sync(TapOpenHuman, settings)
    versions = {m["stream"] for m in result.messages if m["type"] == "ACTIVATE_VERSION"}
    assert "models" not in result.records and "models" not in versions
    assert "workflows" in versions and result.records["workflows"]
