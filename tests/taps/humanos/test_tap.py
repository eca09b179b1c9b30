"""tap-humanos against the Humanos emulator: signing, exact records, incremental, faults."""

from __future__ import annotations

import logging
import typing as t

import pytest

from human_sandbox.humanos import API_KEY, WEBHOOK_SECRET_PREFIX, HumanosEmulator
from tap_humanos.tap import TapHumanos
from tests.shared.test_conform import deselect
from tests.support.helpers import as_emitted, run_cli, select_only, sync
from tests.support.registry import TAPS

HUMANOS = TAPS["humanos"]
STREAMS = list(HUMANOS.streams)
#: The secrets a webhook registration is served with (the emulator's field names).
WEBHOOK_SECRETS = {"signatureSecret", "encryptionSecret", "encryptionSalt"}


@pytest.fixture
def humanos() -> t.Iterator[HumanosEmulator]:
    with HUMANOS.emulator() as emulator:
        yield emulator


def expected(emulator: HumanosEmulator, *, v1: bool = False) -> dict[str, list[dict]]:
    """What every stream must emit. v1: VC 1.1 credentials, no detail (so no agent, issuer
    or credentials) for a canceled request, credentials as `{credential, internalId}`, no
    evidence route."""
    details = emulator.details_v1 if v1 else emulator.details
    served = {r["id"]: details[r["id"]] for r in emulator.requests if not (v1 and r["canceledAt"])}
    credentials = [
        {**c, "requestId": r["id"]}
        for r in emulator.requests
        for c in served.get(r["id"], {}).get("credentials", [])
    ]
    bodies = emulator.credentials_v1 if v1 else emulator.credentials
    keys = [{"requestId": c["requestId"], "credentialId": c["id"]} for c in credentials]
    records = {
        "requests": [
            {
                **r,
                "agent": served.get(r["id"], {}).get("agent"),
                "issuer": served.get(r["id"], {}).get("issuer"),
            }
            for r in emulator.requests
        ],
        "credentials": credentials,
        "credential_details": [{**bodies[k["credentialId"]], **k} for k in keys],
        "credential_evidence": [
            {**e, **k} for k in keys for e in ([] if v1 else emulator.evidence[k["credentialId"]])
        ],
        "resources": emulator.resources,
        "resource_groups": emulator.resource_groups,
        "activity_events": emulator.activity,
        "webhooks": [
            {k: v for k, v in w.items() if k not in WEBHOOK_SECRETS} for w in emulator.webhooks
        ],
    }
    return {stream: as_emitted(rows) for stream, rows in records.items() if rows}


def by_id(rows: list[dict]) -> dict[tuple, dict]:
    return {(r.get("id"), r.get("requestId"), r.get("credentialId")): r for r in rows}


def assert_records(result: t.Any, want: dict[str, list[dict]]) -> None:
    assert sorted(result.records) == sorted(want)
    for stream, rows in want.items():
        assert len(result.records[stream]) == len(rows), stream
        assert by_id(result.records[stream]) == by_id(rows), stream


def test_every_stream_emits_exactly_the_api_records(humanos):
    result = sync(TapHumanos, HUMANOS.config(humanos))
    want = expected(humanos)
    assert sorted(result.records) == STREAMS
    assert_records(result, want)
    assert any(r["agent"] for r in result.records["requests"])
    assert all(r["issuer"]["name"] for r in result.records["requests"])
    assert {r["status"] for r in result.records["credential_details"] if r["revokedAt"]} == {
        "REVOKED"
    }
    for stream in ("requests", "activity_events"):  # emitted oldest first: resumable state
        stamps = [r["createdAt"] for r in result.records[stream]]
        assert stamps == sorted(stamps), stream
        assert result.bookmark(stream) == max(stamps)
    assert result.final_state["bookmarks"]["credential_details"] == {}  # full table, one entry


def test_v1_shapes_and_a_v1_without_evidence(humanos, caplog):
    """v1: VC 1.1 credentials and `data` arrays, as sent; canceled requests have no
    detail; the evidence route is missing: one warning and, read one credential at a
    time, one request."""
    config = HUMANOS.config(humanos, api_url=humanos.url + "/v1", max_parallel_requests=1)
    with caplog.at_level(logging.WARNING):
        result = sync(TapHumanos, config)
    assert all(r.path.startswith("/v1/") for r in humanos.server.requests)
    assert_records(result, expected(humanos, v1=True))
    vc = next(c["w3cCredential"] for c in result.records["credentials"] if c["w3cCredential"])
    assert {"issuanceDate", "expirationDate", "proof", "required"} <= set(vc)
    assert all(isinstance(row, list) for c in result.records["credentials"] for row in c["data"])
    assert not any(c["_extra"] for c in result.records["credentials"])  # v1 fields declared
    evidence = [r for r in humanos.server.requests if r.path.endswith("/evidence")]
    assert len(evidence) == 1 and evidence[0].status == 404
    skipped = [r.getMessage() for r in caplog.records if "credential_evidence" in r.getMessage()]
    assert len(skipped) == 1 and "does not serve it" in skipped[0]
    canceled = sum(r["canceledAt"] is not None for r in humanos.requests)
    assert f"{canceled} request(s) answered 404" in caplog.text


def test_agent_and_issuer_cost_one_detail_per_request_and_nothing_when_deselected(humanos):
    config = HUMANOS.config(humanos)
    only_requests = select_only(TapHumanos, config, {"requests"})
    result = sync(TapHumanos, config, catalog=only_requests)
    assert sorted(result.records) == ["requests"]
    assert by_id(result.records["requests"]) == by_id(expected(humanos)["requests"])
    details = [r for r in humanos.server.requests if r.path.startswith("/request/")]
    assert len(details) == len(humanos.requests)

    humanos.server.clear_requests()
    deselect(only_requests, "requests", "agent", "issuer")
    result = sync(TapHumanos, config, catalog=only_requests)
    assert {p for p in (r.path for r in humanos.server.requests)} == {"/resource", "/request"}
    assert all("agent" not in r for r in result.records["requests"])


def test_credential_details_alone_read_each_detail_once_and_emit_only_themselves(humanos):
    config = HUMANOS.config(humanos)
    result = sync(
        TapHumanos, config, catalog=select_only(TapHumanos, config, {"credential_details"})
    )
    assert sorted(result.records) == ["credential_details"]
    assert by_id(result.records["credential_details"]) == by_id(
        expected(humanos)["credential_details"]
    )
    details = [r for r in humanos.server.requests if r.path.startswith("/request/")]
    assert len(details) == len({r.path for r in details}) == len(humanos.requests)


def test_webhook_secrets_are_never_emitted(tmp_path, humanos):
    served = [k for w in humanos.webhooks for k in w if k in WEBHOOK_SECRETS]
    assert sorted(set(served)) == sorted(WEBHOOK_SECRETS)  # the API did send them
    run = run_cli(
        "tap-humanos", tmp_path, config=HUMANOS.config(humanos), env={"LOGLEVEL": "DEBUG"}
    )
    assert run.returncode == 0, run.stderr
    assert WEBHOOK_SECRET_PREFIX not in run.stdout + run.stderr
    records = [m for m in run.messages if m["type"] == "RECORD"]
    hooks = [m["record"] for m in records if m["stream"] == "webhooks"]
    assert by_id(hooks) == by_id(expected(humanos)["webhooks"])


def test_a_credential_gone_since_its_request_was_read_has_no_details(humanos, caplog):
    want = expected(humanos)
    gone = want["credential_evidence"][3]["credentialId"]
    del humanos.credentials[gone], humanos.evidence[gone]  # both answer 404 now
    with caplog.at_level(logging.WARNING):
        result = sync(TapHumanos, HUMANOS.config(humanos))
    for stream in ("credential_details", "credential_evidence"):
        rows = [r for r in want[stream] if r["credentialId"] != gone]
        assert by_id(result.records[stream]) == by_id(rows), stream
    assert "Skipping stream" not in caplog.text


def test_an_account_without_webhooks_skips_them_with_a_warning(humanos, caplog):
    humanos.server.faults.add("status", status=404, path="/webhooks")
    with caplog.at_level(logging.WARNING):
        result = sync(TapHumanos, HUMANOS.config(humanos))
    assert "webhooks" not in result.records
    assert "Skipping stream webhooks: this account's API does not offer it" in caplog.text
    assert len(result.records["requests"]) == len(humanos.requests)


def test_api_version_header_is_sent_when_configured(humanos):
    sync(TapHumanos, HUMANOS.config(humanos, api_version="2026-05-17"))
    assert {r.headers.get("api-version") for r in humanos.server.requests} == {"2026-05-17"}


def test_second_run_returns_only_new_requests_and_events(humanos):
    first = sync(TapHumanos, HUMANOS.config(humanos))
    new_requests = set(humanos.add_requests(3))
    new_events = set(humanos.add_activity(4))
    humanos.server.clear_requests()
    second = sync(TapHumanos, HUMANOS.config(humanos), state=first.final_state)

    got = {r["id"] for r in second.records["requests"]}
    boundary = {r["id"] for r in humanos.requests if r["createdAt"] == first.bookmark("requests")}
    assert new_requests <= got <= new_requests | boundary
    events = {e["id"] for e in second.records["activity_events"]}
    created = {
        e["id"] for e in humanos.activity if e["createdAt"] > first.bookmark("activity_events")
    }
    assert new_events <= events
    assert events - created <= {
        e["id"] for e in humanos.activity if e["createdAt"] == first.bookmark("activity_events")
    }
    for stream in ("credentials", "credential_details", "credential_evidence"):
        assert {c["requestId"] for c in second.records[stream]} <= got, stream
    assert {c["requestId"] for c in second.records["credential_details"]} == got
    pages = [r for r in humanos.server.requests if r.path == "/request"]
    assert len(pages) == 1  # newest first: the first page already reaches the bookmark
    assert pages[0].query["dateFrom"] == [first.bookmark("requests")]


def test_a_retry_after_a_long_wait_is_signed_again(humanos):
    humanos.freshness_ms = 1000  # signatures go stale after one second
    humanos.server.faults.add(
        "status", status=429, headers={"Retry-After": "2"}, path="/resource/group", times=1
    )
    result = sync(TapHumanos, HUMANOS.config(humanos))
    assert len(result.records["resource_groups"]) == len(humanos.resource_groups)
    calls = [r for r in humanos.server.requests if r.path == "/resource/group"]
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].time - calls[0].time >= 2
    assert calls[0].headers["x-timestamp"] != calls[1].headers["x-timestamp"]
    assert humanos.signature_failures == []


def test_faults_leave_the_records_unchanged(humanos):
    clean = sync(TapHumanos, HUMANOS.config(humanos))
    humanos.server.faults.add("status", status=503, path="/request", times=2)
    humanos.server.faults.add("reset", path="/resource", times=1)
    humanos.server.faults.add("status", status=429, headers={"Retry-After": "1"}, path="/activity")
    humanos.server.faults.add("truncate", path=f"/request/{humanos.requests[0]['id']}")
    faulty = sync(TapHumanos, HUMANOS.config(humanos))
    assert faulty.records == clean.records
    assert faulty.final_state == clean.final_state


def test_wrong_signature_secret_is_one_line_without_secrets(tmp_path, humanos):
    wrong = "wrong-signature-secret-canary"
    run = run_cli(
        "tap-humanos",
        tmp_path,
        config=HUMANOS.config(humanos, signature_secret=wrong),
        env={"LOGLEVEL": "DEBUG"},
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1
    assert (
        "Humanos rejected the request signature (401 Unauthorized: Invalid signature)"
        in (run.error_lines[0])
    )
    for secret in (wrong, API_KEY):
        assert secret not in run.stdout + run.stderr
    assert run.messages == []


def test_wrong_api_key_names_the_key(tmp_path, humanos):
    run = run_cli(
        "tap-humanos", tmp_path, config=HUMANOS.config(humanos, api_key="hms_wrong_key_x")
    )
    assert run.returncode == 1
    assert (
        "Humanos rejected the API key (401 Unauthorized: Invalid API key): check api_key"
        in (run.error_lines[0])
    )


@pytest.mark.parametrize("size", [4, 101])
def test_page_size_outside_the_api_range_is_a_config_error(tmp_path, humanos, size):
    run = run_cli("tap-humanos", tmp_path, config=HUMANOS.config(humanos, page_size=size))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "invalid config:" in run.error_lines[0]
    assert "page_size" in run.error_lines[0]
