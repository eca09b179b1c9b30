"""scripts/demo.py (`make demo`) with a fake meltano: progress, report, and cleanup.

The fake stands in for `meltano` so these tests take seconds: it answers `state list`,
and for `run <tap> target-jsonl` checks that the tap's emulator answers at the URL the demo
gave it, writes one stream's .jsonl file where the demo told target-jsonl to (10 records, 2
once the pipeline has state) and saves state. The emulators and the taps' --discover (the
replication column) are the real ones. The real meltano runs in test_meltano_postgres.py.
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

#: The stream the fake writes for each tap: two `users`, told apart by their folders.
STREAMS = {
    "tap-humaans": "people",
    "tap-huma": "users",
    "tap-humanos": "requests",
    "tap-openhuman": "agents",
    "tap-humanapi": "users",
}

FAKE_MELTANO = (
    f"STREAMS = {STREAMS!r}\n"
    + """\
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
out.mkdir(parents=True, exist_ok=True)
stream = STREAMS[tap]
lines = 2 if state.exists() else 10
(out / f"{stream}-{time.time_ns()}.jsonl").write_text('{"id": 1}\\n' * lines)
state.write_text("{}")
"""
)


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


def table_rows(out: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(tap, stream) -> (replication, records) from the demo's table."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("tap-") and parts[-1].isdigit():
            rows[parts[0], parts[1]] = (" ".join(parts[2:-1]), int(parts[-1]))
    return rows


def test_two_runs_report_progress_the_table_and_both_totals(fake: dict[str, str]) -> None:
    first = start_demo(fake)
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out
    for index, job in enumerate(JOBS, start=1):
        line = f"[{index}/5] {job.tap} (first run, full extract) ... 10 records in "
        assert line in out, out
    rows = table_rows(out)
    # Every stream of every tap, with its replication from the tap's --discover.
    assert len(rows) == 32 + 13 + 8 + (6 + 23) + 29
    assert rows["tap-humaans", "people"] == ("incremental, updatedAt", 10)
    assert rows["tap-humaans", "public_holidays"] == ("incremental, updatedAt", 0)
    assert rows["tap-humaans", "time_away_periods"] == ("full table", 0)
    assert rows["tap-huma", "users"] == ("full table", 10)
    assert rows["tap-huma", "position_details"] == ("full table, per positions", 0)
    assert rows["tap-huma", "work_schedules"] == ("full table, per users", 0)
    assert rows["tap-humanos", "requests"] == ("incremental, createdAt", 10)
    assert rows["tap-humanos", "credentials"] == ("full table, per requests", 0)
    assert rows["tap-openhuman", "messages"] == ("incremental, created_at, per conversations", 0)
    assert rows["tap-openhuman", "agents"] == ("incremental, updated_at", 10)
    assert rows["tap-openhuman", "session_messages"] == ("incremental, ts, per sessions", 0)
    assert rows["tap-openhuman", "team_members"] == ("full table, per teams", 0)
    assert rows["tap-humanapi", "users"] == ("full table", 10)
    assert sum(n for _, n in rows.values()) == 50
    assert "this run moved 50 records: a full extract." in out
    assert f"output: {Path(fake['out']).resolve()}/<tap>/ (one .jsonl per stream" in out
    assert "so the record at the bookmark comes again: 1 record where nothing" in out
    assert "run `make demo` again" in out

    second = start_demo(fake)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    assert "[1/5] tap-humaans (resuming from saved state) ... 2 records in " in out
    assert table_rows(out)["tap-humanapi", "users"] == ("full table", 2)
    assert "previous run moved 50 records; this run moved 10." in out
    # A folder per tap: Huma's and Human API's users files are told apart by it.
    files = sorted(p.relative_to(fake["out"]).parts for p in Path(fake["out"]).rglob("*.jsonl"))
    assert [(tap, name.split("-")[0]) for tap, name in files] == [
        (tap, STREAMS[tap]) for tap in sorted(STREAMS) for _ in range(2)
    ]


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
