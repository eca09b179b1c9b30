"""scripts/demo.py (`make demo`) with a fake meltano: progress, report, and cleanup.

The fake stands in for `meltano` so these tests take seconds: it answers `state list`,
and for `run <tap> target-jsonl` checks that the tap's emulator answers at the URL the demo
gave it, writes a .jsonl file (10 records, 2 once the pipeline has state) and saves state.
The emulators are the real ones. The real meltano runs in test_meltano_postgres.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.demo import JOBS, Children
from tests.support.helpers import ROOT

FAKE_MELTANO = """\
import os, pathlib, subprocess, sys, time, urllib.error, urllib.request

home = pathlib.Path(os.environ["FAKE_MELTANO_HOME"])
args = sys.argv[1:]
assert args[0] == "--environment=sandbox", args
if args[1:] == ["state", "list"]:
    print("\\n".join(sorted(p.name for p in home.glob("sandbox:*"))))
    sys.exit(0)
assert args[1] == "run" and args[3] == "target-jsonl", args
tap = args[2]
url = os.environ[tap.upper().replace("-", "_") + "_API_URL"]
try:
    urllib.request.urlopen(url, timeout=10)
except urllib.error.HTTPError:
    pass  # any HTTP answer: the emulator is up where the demo said
(home / f"pid-{tap}").write_text(str(os.getpid()))
if os.environ.get("FAKE_HANG") == tap:  # a run that never ends, with a child of its own
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (home / "pid-grandchild").write_text(str(child.pid))
    time.sleep(600)
state = home / f"sandbox:{tap}-to-target-jsonl"
out = pathlib.Path(os.environ["TARGET_JSONL_DESTINATION_PATH"])
stream = tap.removeprefix("tap-") + "_items"
lines = 2 if state.exists() else 10
(out / f"{stream}-{time.time_ns()}.jsonl").write_text('{"id": 1}\\n' * lines)
state.write_text("{}")
"""


@pytest.fixture
def fake(tmp_path: Path) -> dict[str, str]:
    script = tmp_path / "meltano"
    script.write_text(f"#!{sys.executable}\n{FAKE_MELTANO}")
    script.chmod(0o755)
    (tmp_path / "home").mkdir()
    return {"meltano": str(script), "home": str(tmp_path / "home"), "out": str(tmp_path / "out")}


def start_demo(fake: dict[str, str], **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "scripts/demo.py", "--meltano", fake["meltano"], "--output", fake["out"]],
        cwd=ROOT,
        env={**os.environ, "FAKE_MELTANO_HOME": fake["home"], **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that does not reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[tuple[int, str]]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if ppid == pid:
            found.append((int(proc.name), cmdline))
    return found


def test_two_runs_report_progress_the_table_and_both_totals(fake: dict[str, str]) -> None:
    first = start_demo(fake)
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out
    for index, job in enumerate(JOBS, start=1):
        line = f"[{index}/5] {job.tap} (first run, full extract) ... 10 records in "
        assert line in out, out
        assert f"{job.tap:<14} {job.tap.removeprefix('tap-') + '_items'}" in out
    assert "this run moved 50 records: a full extract." in out
    assert f"output: {Path(fake['out']).resolve()}/" in out
    assert "run `make demo` again" in out

    second = start_demo(fake)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    assert "[1/5] tap-humaans (resuming from saved state) ... 2 records in " in out
    assert "previous run moved 50 records; this run moved 10." in out
    assert len(list(Path(fake["out"]).glob("*.jsonl"))) == 10


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_demo_stops_its_emulators_and_meltano(
    fake: dict[str, str], signum: int
) -> None:
    demo = start_demo(fake, FAKE_HANG="tap-huma")
    home = Path(fake["home"])
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not (home / "pid-grandchild").exists():
            assert demo.poll() is None, demo.communicate()[0]
            assert time.monotonic() < deadline, "the demo never reached tap-huma"
            time.sleep(0.1)
        emulators = [pid for pid, cmd in children_of(demo.pid) if "human_sandbox" in cmd]
        assert len(emulators) == len(JOBS)
        pids = [*emulators, int((home / "pid-tap-huma").read_text())]
        pids.append(int((home / "pid-grandchild").read_text()))
        assert all(map(alive, pids))

        demo.send_signal(signum)
        demo.wait(timeout=60)

        assert demo.returncode == 128 + signum
        assert not [pid for pid in pids if alive(pid)]
        assert demo.stdout is not None
        assert "stopping the emulators and meltano" in demo.stdout.read()
    finally:  # a failing test leaves nothing running either
        for pid in [demo.pid, *pids]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        demo.wait()


def test_children_stop_kills_what_ignores_sigterm_and_its_process_group() -> None:
    children = Children(grace_s=1.0)
    stubborn = children.start(
        [
            sys.executable,
            "-c",
            "import signal, subprocess, sys, time;"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
            "print(p.pid, flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stubborn.stdout is not None
    grandchild = int(stubborn.stdout.readline())
    started = time.monotonic()
    children.stop()
    assert stubborn.returncode == -signal.SIGKILL
    assert time.monotonic() - started >= 1.0  # it had its grace period first
    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)
    assert children.processes == []
