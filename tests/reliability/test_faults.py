"""Issue 8, part 1: the fault matrix. Every tap, every stream, every fault.

Each tap first syncs clean against its emulator. Then, for each fault kind, one sync runs
with that fault armed once on *every* endpoint the clean sync called: each stream's own
endpoint (matched in full by a path pattern, so `/time-away` never takes the fault meant
for `/time-away-types`) plus the others (token endpoint, connection check). The fault
fires on the middle request of its endpoint (a later page, a later parent), so over the
matrix every stream meets every fault, and the records and final state must come out
identical to the clean run. "Faults injected" counts the faults that actually fired.

Retries are instant in-process (`RetryPolicy.backoff` -> 0, `Retry-After: 0` and an HTTP
date already due); one test keeps real waits to prove Retry-After is honoured in both
forms. The burst longer than the retry budget ends each tap's canary CLI run (see
tests/reliability/cases.py): it must fail in one line, leaving a STATE to resume from.
"""

from __future__ import annotations

import math
import re
import time
from email.utils import formatdate

import pytest

from taps_shared.errors import ConfigError, RetriesExhaustedError, one_line
from taps_shared.retry import RetryPolicy
from taps_shared.tap import HumanTap
from tests.reliability.cases import (
    CANARY_RETRIES,
    FAULTS,
    canary_runs,
    clean_run,
    example_path,
    fault_applies,
    record_set,
)
from tests.reliability.trials import trial
from tests.support.helpers import SyncResult, sync
from tests.support.registry import TAPS

#: The matrix's request timeout (in-process, below the setting's minimum of 1 s).
TIMEOUT_S = 0.1


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """No backoff between attempts (waits the server asks for still apply)."""
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, attempt: 0.0)


MATRIX = [
    pytest.param(tap, name, id=f"{tap}-{name.replace(' ', '_')}")
    for tap, case in TAPS.items()
    for name, fault in FAULTS.items()
    if not fault.expires or case.expire is not None
]


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize(("tap", "fault_name"), MATRIX)
def test_a_fault_on_every_endpoint_leaves_records_and_state_unchanged(
    tap: str, fault_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, fault = TAPS[tap], FAULTS[fault_name]
    clean = clean_run(case)
    if fault.kind == "delay":
        monkeypatch.setattr(HumanTap, "request_timeout", property(lambda self: TIMEOUT_S))
    with trial(tap, "faults", fault_name) as outcome, case.emulator("faults") as emulator:
        outcome.count = 0
        armed = {}
        for endpoint in clean.endpoints:
            if not fault_applies(case, fault, endpoint):
                continue
            options = fault.options(TIMEOUT_S)
            if fault.expires:
                options["action"] = lambda: case.expire(emulator)  # type: ignore[misc]
            armed[endpoint] = emulator.server.faults.add(
                fault.kind, pattern=endpoint.pattern, after=endpoint.clean_requests // 2, **options
            )
        result = sync(case.tap_class, case.config(emulator, "faults"))
        outcome.count = sum(f.fired for f in armed.values())
        assert {e.name: f.fired for e, f in armed.items()} == {e.name: 1 for e in armed}
        assert result.records == clean.result.records
        assert result.final_state == clean.result.final_state
        for endpoint in armed if fault.expires else ():
            statuses = [r.status for r in emulator.server.requests if endpoint.matches(r.path)]
            assert 401 in statuses, f"{endpoint.name}: the expired token was refused"


def test_the_matrix_reaches_every_stream_of_every_tap() -> None:
    """Coverage: per tap, every stream with requests of its own is an armed endpoint of
    every fault kind (token expiry: every stream that sends a minted token)."""
    for case in TAPS.values():
        clean = clean_run(case)
        streams = clean.stream_endpoints
        assert streams and all(e.clean_requests for e in clean.endpoints), case.name
        for name, fault in FAULTS.items():
            if fault.expires and case.expire is None:
                continue
            hit = {e.name for e in clean.endpoints if fault_applies(case, fault, e)}
            needed = {e.name for e in streams}
            if fault.expires:
                needed = {e.name for e in streams if case.uses_minted_token(example_path(e))}
                assert needed, case.name
            assert needed <= hit, (case.name, name, needed - hit)


def test_retry_after_is_waited_for_in_seconds_and_as_an_http_date() -> None:
    """The matrix waits nothing; here the waits are real: `Retry-After: 1` and a date two
    seconds ahead, each on its own stream, and each retry comes no earlier."""
    case = TAPS["humaans"]
    clean = clean_run(case)
    with trial("humaans", "faults", "429 with real waits") as outcome:
        with case.emulator("faults") as emulator:
            offset = time.time() - time.monotonic()
            due = math.ceil(time.time()) + 2
            seconds = emulator.server.faults.add(
                "status", status=429, headers={"Retry-After": "1"}, pattern="/api/people"
            )
            dated = emulator.server.faults.add(
                "status",
                status=429,
                headers={"Retry-After": formatdate(due, usegmt=True)},
                pattern="/api/companies",
            )
            result = sync(case.tap_class, case.config(emulator, "faults"))
            log = emulator.server.requests
        outcome.count = seconds.fired + dated.fired
        assert result.records == clean.result.records
        people = [r for r in log if r.path == "/api/people"]
        companies = [r for r in log if r.path == "/api/companies"]
        assert [r.status for r in people[:2]] == [429, 200]
        assert [r.status for r in companies[:2]] == [429, 200]
        assert 1.0 <= people[1].time - people[0].time < 2.0
        assert due - 0.05 <= companies[1].time + offset < due + 1.0


@pytest.mark.parametrize("tap", list(TAPS))
def test_a_burst_beyond_the_retry_budget_fails_in_one_line_and_resumes(tap: str) -> None:
    """The canary run of each tap ends with a 503 that never stops: the run must exit
    non-zero with one error line naming the stream and the status, no traceback, and
    the last STATE it printed must resume to the complete dataset."""
    canary = next(c for c in canary_runs() if c.label == tap and not c.mode)
    case, run = canary.case, canary.run
    clean = clean_run(case, "canary")
    endpoint = clean.endpoint_of(canary.burst_path)
    with trial(tap, "faults", "burst beyond the retry budget") as outcome:
        outcome.count = canary.burst.fired
        assert endpoint is not None and endpoint in clean.stream_endpoints, canary.burst_path
        assert run.returncode != 0
        assert "Traceback" not in run.stderr
        assert len(run.error_lines) == 1, run.stderr[-3000:]
        error = run.error_lines[0]
        assert endpoint.name in error and "503" in error, error
        # Every attempt, then it gives up. The final request's first attempts may have met
        # another armed fault (an expired token's 401, say) before the burst reached it.
        assert f"gave up after {CANARY_RETRIES + 1} attempts" in error, error
        assert 1 <= canary.burst.fired <= CANARY_RETRIES + 1
        messages = run.messages  # every stdout line parses: no message was cut short
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        assert states, "STATE was emitted before the failure"
        wanted = record_set(clean.result.records)
        before = record_set(SyncResult(messages).records)
        assert all(rows <= wanted[s] for s, rows in before.items()), "only real records"
        with case.emulator("canary") as emulator:
            resumed = sync(case.tap_class, case.config(emulator, "canary"), state=states[-1])
        after = record_set(resumed.records)
        for stream, rows in wanted.items():
            assert rows == before.get(stream, set()) | after.get(stream, set()), stream
        assert resumed.final_state == clean.result.final_state


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("tap", [tap for tap, case in TAPS.items() if case.token_path("faults")])
def test_a_token_endpoint_down_mid_sync_fails_naming_the_stream(tap: str) -> None:
    """A token request made mid-sync (a new user's first token; a renewal after the API
    refused an expired one) that runs out of retries ends the run with a line that names
    the stream it was for, not only the token request."""
    case = TAPS[tap]
    token_path = case.token_path("faults")
    assert token_path is not None
    clean = clean_run(case)
    with trial(tap, "faults", "token endpoint down mid-sync") as outcome:
        with case.emulator("faults") as emulator:
            faults = emulator.server.faults
            tokens = [i for i, path in enumerate(clean.paths) if path == token_path]
            if len(tokens) > 1:  # a token per user: the second user's first one fails
                stream = None  # fetched for users in parallel: any of the users' streams
            else:  # one token: it expires mid-sync, and its renewal fails
                minted = [
                    e for e in clean.stream_endpoints if case.uses_minted_token(example_path(e))
                ]  # the last stream whose requests carry the token (not another API's)
                stream = sorted(minted, key=lambda e: e.first)[-1]
                faults.add("call", action=lambda: case.expire(emulator), pattern=stream.pattern)
            burst = faults.add(
                "status",
                status=503,
                pattern=re.escape(token_path),
                after=1,
                times=-1,
            )
            with pytest.raises(RetriesExhaustedError) as failure:
                sync(case.tap_class, case.config(emulator, "faults"))
        outcome.count = burst.fired
        line = one_line(failure.value)
        names = [stream.name] if stream else [e.name for e in clean.stream_endpoints]
        assert any(line.startswith(f"{name}: ") for name in names), line
        assert "token request: POST" in line and "503" in line and "gave up" in line, line


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("tap", [tap for tap, case in TAPS.items() if case.rotates_refresh_token])
def test_a_lost_token_response_under_strict_rotation_fails_in_one_clear_line(tap: str) -> None:
    """The matrix leaves out response-losing faults on a rotating token endpoint (OpenHuman's):
    the server spends the refresh token as it answers, so when the answer is lost no client
    can replay the exchange. The run must then stop at once with a line telling the user
    to re-authorize, not retry or print a traceback."""
    case = TAPS[tap]
    token_path = case.token_path("faults")
    assert token_path is not None
    with trial(tap, "faults", "lost token response (rotation)") as outcome:
        with case.emulator("faults") as emulator:
            lost = emulator.server.faults.add("cut", pattern=re.escape(token_path))
            with pytest.raises(ConfigError) as failure:
                sync(case.tap_class, case.config(emulator, "faults"))
            grants = [r["ok"] for r in emulator.token_requests]
        outcome.count = lost.fired
        assert grants == [True, False], "the exchange happened once, its replay was refused"
        line = one_line(failure.value)
        assert "re-authorize" in line and "400" in line, line
