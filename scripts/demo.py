"""The main job: every tap, against its local emulator, through `meltano run` into JSONL.

Starts the emulators on the ports the `sandbox` environment expects, installs the Meltano
plugins, runs `meltano --environment=sandbox run <tap> target-jsonl` for each tap, and
prints the records written per stream. A second run resumes from the saved state; the
emulators then report a few changed and new records, so only those move.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
LOGS = OUTPUT / "logs"


@dataclass(frozen=True)
class Job:
    tap: str
    emulator: str
    port: int
    records: int
    #: Emulator flags for a resumed run: the source changed since the last one.
    changes: tuple[str, ...] = ()


JOBS = [
    Job("tap-humaans", "humaans", 8301, 200, ("--update-people", "5", "--add-people", "3")),
    Job("tap-huma", "huma", 8302, 120),  # full table: every run reads everything
    Job("tap-humanos", "humanos", 8303, 150),
    Job("tap-openhuman", "openhuman", 8304, 40),
    Job("tap-humanapi", "humanapi", 8305, 20),
]
LOADER = "target-jsonl"


def start_emulator(job: Job, resumed: bool) -> subprocess.Popen[str]:
    """Start one emulator and wait for its READY line."""
    argv = [sys.executable, "-m", "tests.emulators", job.emulator, "--port", str(job.port)]
    argv += ["--records", str(job.records)]
    if resumed:
        argv += list(job.changes)
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("READY"):
        process.kill()
        sys.exit(f"demo: the {job.emulator} emulator did not start (port {job.port} in use?)")
    return process


def meltano(binary: str, *args: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run(
        [binary, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    return done


def has_state(binary: str, job: Job) -> bool:
    done = meltano(binary, "--environment=sandbox", "state", "list")
    state_id = f"sandbox:{job.tap}-to-{LOADER}"
    return done.returncode == 0 and state_id in done.stdout.split()


def count_records(since: float) -> dict[str, int]:
    """Lines per stream in the .jsonl files this run wrote."""
    counts: dict[str, int] = {}
    for path in sorted(OUTPUT.glob("*.jsonl")):
        if path.stat().st_mtime < since:
            continue
        stream = path.stem.rsplit("-", 1)[0]
        with path.open("rb") as handle:
            counts[stream] = counts.get(stream, 0) + sum(1 for _ in handle)
    return counts


def run_jobs(binary: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    """Run every job with its emulator up; the emulators stop however this ends."""
    emulators: list[subprocess.Popen[str]] = []

    def stop_emulators() -> None:
        for process in emulators:
            if process.poll() is None:
                process.terminate()
        for process in emulators:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()

    def interrupted(signum: int, _frame: object) -> None:
        stop_emulators()
        sys.exit(128 + signum)

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    table: list[tuple[str, str, int]] = []
    failed: list[str] = []
    try:
        for index, job in enumerate(JOBS, start=1):
            resumed = has_state(binary, job)
            emulators.append(start_emulator(job, resumed))
            mode = "resuming from saved state" if resumed else "first run, full extract"
            print(f"[{index}/{len(JOBS)}] {job.tap} -> {LOADER} ({mode}) ...", end=" ", flush=True)
            started = time.time()
            time.sleep(0.01)  # files of this run are strictly newer than `started`
            log = LOGS / f"{job.tap}.log"
            done = meltano(binary, "--environment=sandbox", "run", job.tap, LOADER, log=log)
            print(f"{'ok' if done.returncode == 0 else 'FAILED'} in {time.time() - started:.1f}s")
            if done.returncode != 0:
                failed.append(job.tap)
            table += [(job.tap, stream, n) for stream, n in sorted(count_records(started).items())]
    finally:
        stop_emulators()
    return table, failed


def report(table: list[tuple[str, str, int]]) -> None:
    """Records per tap and stream, and how this run compares with the previous one."""
    width = max((len(stream) for _, stream, _ in table), default=10)
    print(f"\n{'tap':<14} {'stream':<{width}} {'records':>8}")
    for tap, stream, n in table:
        print(f"{tap:<14} {stream:<{width}} {n:>8}")
    total = sum(n for *_, n in table)
    print(f"{'total':<14} {'':<{width}} {total:>8}")
    summary = LOGS / "last-total.txt"
    if summary.exists():
        print(f"\nprevious run moved {summary.read_text().strip()} records; this run {total}")
    summary.write_text(str(total))
    print(f"\noutput: {OUTPUT}/  (logs in {LOGS}/)")
    print(
        "run `make demo` again: each tap resumes from its saved state and moves only what changed."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meltano", required=True, help="path of the meltano executable")
    args = parser.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)

    print("demo: installing the Meltano plugins (first run only takes a while)...", flush=True)
    if meltano(args.meltano, "install", log=LOGS / "meltano-install.log").returncode != 0:
        print(f"demo: meltano install failed; see {LOGS / 'meltano-install.log'}")
        return 1
    table, failed = run_jobs(args.meltano)
    report(table)
    if failed:
        print(f"demo: failed: {', '.join(failed)}; see the logs in {LOGS}/")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
