"""Issue 8, part 4: secrets. A canary run of every tap at DEBUG, through every fault,
against an emulator that echoes the credentials it received into error bodies and response
headers; nothing secret may show in stdout or stderr.

The secrets looked for: every setting the tap marks secret, every token the emulator
minted, every Authorization / signature / key header value as actually sent (from the
emulator's request log), the credential inside `Bearer x` and `Basic x`, the decoded
Basic pair, and each in URL-encoded and JSON-escaped form. The runs themselves are built
in tests/reliability/cases.py (`canary_runs`, shared with the burst test of the faults
suite). The demo's Meltano logs are scanned by `scripts/reliability_report.py
--scan-logs output/logs` (Meltano is not part of this test environment); the scanner
itself is tested here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.cases import CANARY_VARIANTS, CanaryRun, canary_runs
from tests.reliability.trials import trial
from tests.support.helpers import ROOT
from tests.support.registry import TAPS
from tests.support.secret_scan import leaks, meltano_secrets, scan_logs, unmasked_credentials


def canary(label: str, mode: str) -> CanaryRun:
    return next(c for c in canary_runs() if (c.label, c.mode) == (label, mode))


@pytest.mark.parametrize(
    ("label", "mode"),
    [
        pytest.param(v.label, v.mode, id=f"{v.label}{'-' + v.mode if v.mode else ''}")
        for v in CANARY_VARIANTS
    ],
)
def test_a_debug_run_through_every_fault_prints_no_secret(label: str, mode: str) -> None:
    run = canary(label, mode)
    name = "DEBUG CLI run through every fault" + (f" ({mode})" if mode else "")
    with trial(label, "secret scans", name):
        output = run.run.stdout + run.run.stderr
        assert "| DEBUG" in run.run.stderr, "the run logged at DEBUG"
        assert run.fired and all(run.fired.values()), run.fired  # every fault happened
        assert run.burst.fired, "the run ended in the burst"
        assert "you sent" in run.run.stderr, "the echoed credentials reached the logs"
        kinds = set(run.secrets.values())
        assert any(k.startswith("setting ") for k in kinds), kinds
        assert any("authorization" in k for k in kinds), kinds
        if run.token_path and run.case.expire:
            assert any(k.startswith("response ") for k in kinds), kinds  # minted tokens
        if run.config.get("client_auth") == "basic":
            assert any("Basic credential" in k for k in kinds), kinds
        assert leaks(output, run.secrets) == []
        assert unmasked_credentials(run.run.stderr) == []


def test_the_scanner_finds_secrets_in_every_encoding_and_unmasked_credentials() -> None:
    secrets = {'s3cr3t/with+chars== &"q"  x\n': "setting x"}
    for text in (
        's3cr3t/with+chars== &"q"  x',  # the trailing newline dropped
        's3cr3t/with+chars== &"q" x',  # whitespace collapsed
        "s3cr3t%2Fwith%2Bchars%3D%3D%20%26%22q%22%20%20x%0A",  # URL-encoded
        "s3cr3t/with%2Bchars%3D%3D%20%26%22q%22%20%20x%0A",  # URL-encoded, in a path
        "s3cr3t%2Fwith%2Bchars%3D%3D+%26%22q%22++x%0A",  # form-encoded
        '{"k": "s3cr3t/with+chars== &\\"q\\"  x\\n"}',  # JSON-escaped
    ):
        line = f"sent {text}"
        assert leaks(line, secrets) == [f"setting x: {line}"], text
    assert leaks("sent ****", secrets) == []
    assert unmasked_credentials("Authorization: Bearer ****\nauthorization: ****") == []
    assert unmasked_credentials("x Authorization: Bearer abc.def\nok") == [
        "x Authorization: Bearer abc.def"
    ]
    assert unmasked_credentials("GET /x?access_token=abc123&y=1") != []
    assert unmasked_credentials("GET /x?access_token=****&y=1") == []


def test_the_meltano_log_scan_knows_the_demo_secrets_and_flags_a_leak(tmp_path: Path) -> None:
    secrets = meltano_secrets(ROOT / "meltano.yml")
    origins = set(secrets.values())
    for spec in TAPS.values():
        assert f"sandbox {spec.script} {spec.secret}" in origins, origins
    clean = tmp_path / "tap-humaans.log"
    clean.write_text("2026-01-01 | INFO | tap-humaans | people: GET /api/people (Bearer ****)\n")
    assert scan_logs(tmp_path, secrets) == {}
    leaked = tmp_path / "tap-humanos.log"
    leaked.write_text(f"error: bad key {next(iter(secrets))}\n")
    assert list(scan_logs(tmp_path, secrets)) == [str(leaked)]


def test_the_demo_meltano_logs_hold_no_secret() -> None:
    """When `make demo` has run here, its Meltano logs (output/logs) are scanned too."""
    logs = ROOT / "output" / "logs"
    if not any(logs.glob("*.log")):
        pytest.skip("no Meltano logs: `make demo` has not run in this checkout")
    with trial("meltano demo", "secret scans", "meltano logs of make demo"):
        assert scan_logs(logs, meltano_secrets(ROOT / "meltano.yml")) == {}
