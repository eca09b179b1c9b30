"""The main job: every tap, against its local emulator, through `meltano run` into JSONL.

Starts the five emulators (on free loopback ports), runs
`meltano --environment=sandbox run <tap> target-jsonl` for each tap with the tap pointed at
its emulator (into a folder per tap), and prints the records written per tap and stream, with
each stream's replication (from the tap's --discover). A second run resumes from the saved
state; the emulators then serve a few changed and new records, so only those move.
`make demo` installs Meltano and the plugins first; then this script only needs them there.

Every process it starts (emulators, meltano and the tap and target under it) is stopped
however it ends: normally, on an error, on Ctrl-C (SIGINT), SIGTERM or SIGHUP.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType
from typing import IO, Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
LOADER = "target-jsonl"
ENVIRONMENT = "sandbox"


@dataclass(frozen=True)
class Job:
    tap: str
    emulator: str
    records: int
    #: Emulator flags for a resumed run: the source changed since the last one.
    changes: tuple[str, ...] = ()

    @property
    def state_id(self) -> str:
        return f"{ENVIRONMENT}:{self.tap}-to-{LOADER}"

    def urls(self, url: str) -> dict[str, str]:
        """The settings that point the tap at its emulator (the READY url)."""
        found = {"api_url": url}
        if self.emulator in {"openhuman", "humanapi"}:  # one server for API and auth
            found["auth_url"] = url.removesuffix("/v1")
        if self.emulator == "openhuman":  # and OpenHuman's hosted backend at its root
            found["backend_url"] = url.removesuffix("/v1")
        return found

    def settings(self, url: str) -> dict[str, str]:
        """The same as environment variables, for meltano."""
        prefix = self.tap.upper().replace("-", "_")
        return {f"{prefix}_{name.upper()}": value for name, value in self.urls(url).items()}


JOBS = [
    Job("tap-humaans", "humaans", 200, ("--update-people", "5", "--add-people", "3")),
    Job("tap-huma", "huma", 120),  # full table: every run reads everything
    Job("tap-humanos", "humanos", 150),
    Job("tap-openhuman", "openhuman", 40),
    Job("tap-humanapi", "humanapi", 20),
]


def sandbox_configs() -> dict[str, dict[str, Any]]:
    """tap -> its settings in meltano.yml's sandbox environment (the emulators' test ones)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (sandbox,) = [e for e in project["environments"] if e["name"] == ENVIRONMENT]
    return {p["name"]: p["config"] for p in sandbox["config"]["plugins"]["extractors"]}


def replication(tap: str, config: dict[str, Any]) -> dict[str, str]:
    """stream -> `full table` or `incremental, <key>`, and `, per <parent>` for a child
    stream; from the tap's own streams (its class, found through its console script)."""
    (script,) = entry_points(group="console_scripts", name=tap)
    tap_class = getattr(importlib.import_module(script.module), script.attr.split(".")[0])
    found = {}
    for name, stream in tap_class(config=config, validate_config=False).streams.items():
        key = stream.replication_key
        found[name] = f"incremental, {key}" if key else "full table"
        if stream.parent_stream_type:
            found[name] += f", per {stream.parent_stream_type.name}"
    return found


class Children:
    """The processes this script started; `stop()` ends each with everything it started.

    Each child leads a process group of its own, so a terminal's Ctrl-C reaches only this
    script, which then stops the children in order, and `meltano run` is stopped together
    with the tap and the target it runs.
    """

    def __init__(self, grace_s: float = 10.0) -> None:
        self.grace_s = grace_s
        self.processes: list[subprocess.Popen[Any]] = []

    def start(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        process = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def _signal_group(self, process: subprocess.Popen[Any], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
            os.killpg(process.pid, signum)

    def stop(self) -> None:
        """SIGTERM to every group, then SIGKILL to what is left after the grace period."""
        for process in self.processes:
            self._signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for process in self.processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self._signal_group(process, signal.SIGKILL)  # grandchildren that outlived it
        self.processes.clear()


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


def meltano_env(output: Path) -> dict[str, str]:
    """The environment for meltano: the sandbox's own settings, not the caller's."""
    env = {
        key: value
        for key, value in os.environ.items()
        # A TAP_HUMAANS_API_TOKEN exported for production would win over the sandbox's
        # test credentials and be sent to an emulator.
        if not key.startswith(("TAP_", "TARGET_")) and key != "PYTHONDONTWRITEBYTECODE"
    }
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def saved_states(meltano: str, env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [meltano, f"--environment={ENVIRONMENT}", "state", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return set(done.stdout.split()) if done.returncode == 0 else set()


def start_emulators(children: Children, resumed: dict[str, bool]) -> dict[str, str]:
    """Start every emulator at once; wait for each READY line; returns tap -> its URL."""
    started = {}
    for job in JOBS:
        argv = [sys.executable, "-m", "human_sandbox", job.emulator, "--port", "0"]
        argv += ["--records", str(job.records), *(job.changes if resumed[job.tap] else ())]
        started[job.tap] = children.start(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    urls = {}
    for tap, process in started.items():
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the emulator for {tap} did not start")
        urls[tap] = line.split()[1]
    return urls


def count_records(folder: Path, since: float) -> dict[str, int]:
    """Lines per stream in the .jsonl files written to `folder` since `since`."""
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("*.jsonl")):
        if path.stat().st_mtime < since:
            continue
        stream = path.stem.rsplit("-", 1)[0]
        with path.open("rb") as handle:
            counts[stream] = counts.get(stream, 0) + sum(1 for _ in handle)
    return counts


Row = tuple[str, str, str, int]  # tap, stream, replication, records


def run_jobs(
    meltano: str, output: Path, children: Children, out: IO[str]
) -> tuple[list[Row], list[str]]:
    env = meltano_env(output)
    logs = output / "logs"
    states = saved_states(meltano, env)
    resumed = {job.tap: job.state_id in states for job in JOBS}
    print(f"demo: starting {len(JOBS)} emulators on free loopback ports ...", file=out, flush=True)
    urls = start_emulators(children, resumed)
    counts: dict[str, dict[str, int]] = {}
    failed: list[str] = []
    for index, job in enumerate(JOBS, start=1):
        mode = "resuming from saved state" if resumed[job.tap] else "first run, full extract"
        print(f"[{index}/{len(JOBS)}] {job.tap} ({mode}) ...", end=" ", file=out, flush=True)
        folder = output / job.tap
        started = time.time()
        time.sleep(0.01)  # files of this run are strictly newer than `started`
        with (logs / f"{job.tap}.log").open("w") as log:
            process = children.start(
                [meltano, f"--environment={ENVIRONMENT}", "run", job.tap, LOADER],
                cwd=ROOT,
                env={
                    **env,
                    **job.settings(urls[job.tap]),
                    "TARGET_JSONL_DESTINATION_PATH": str(folder),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            returncode = process.wait()
        counts[job.tap] = count_records(folder, started)
        took = time.time() - started
        status = "" if returncode == 0 else f"  FAILED (exit {returncode}, see {log.name})"
        n = sum(counts[job.tap].values())
        print(f"{n} records in {took:.1f} s{status}", file=out, flush=True)
        if returncode != 0:
            failed.append(job.tap)
    configs = sandbox_configs()
    table: list[Row] = []
    for job in JOBS:
        streams = replication(job.tap, configs[job.tap])
        table += [(job.tap, s, streams[s], counts[job.tap].get(s, 0)) for s in sorted(streams)]
    return table, failed


def report(table: list[Row], output: Path, out: IO[str]) -> None:
    """Records per tap and stream, how this run compares with the previous one, what next."""
    width = max((len(stream) for _, stream, *_ in table), default=10)
    kind = max((len(method) for _, _, method, _ in table), default=11)
    print(f"\n{'tap':<14} {'stream':<{width}} {'replication':<{kind}} {'records':>8}", file=out)
    for tap, stream, method, n in table:
        print(f"{tap:<14} {stream:<{width}} {method:<{kind}} {n:>8}", file=out)
    total = sum(n for *_, n in table)
    print(f"{'total':<14} {'':<{width}} {'':<{kind}} {total:>8}", file=out)

    summary = output / "logs" / "last-total.txt"
    previous = summary.read_text().strip() if summary.exists() else None
    summary.write_text(str(total))
    print(
        f"\noutput: {output}/<tap>/ (one .jsonl per stream and run); logs in {output}/logs/",
        file=out,
    )
    if previous is None:
        print(f"this run moved {total} records: a full extract.", file=out)
    else:
        print(f"previous run moved {previous} records; this run moved {total}.", file=out)
    print(
        "\nfull table: every run reads the whole stream again, and ACTIVATE_VERSION lets a\n"
        "  target that supports it (target-postgres here) mark what has gone.\n"
        "incremental: a resumed run asks for records changed at or after the bookmark (the\n"
        "  last value seen), so the record at the bookmark comes again: 1 record where nothing\n"
        "  changed. Inclusive because several records can share that instant and a run may\n"
        "  have stopped between them; targets upsert on the primary key, so it lands once.\n"
        "per <parent>: read for each record of the parent stream that moves.\n"
        "\nrun `make demo` again: each tap resumes from its saved state (.meltano/state/) and\n"
        "moves only what changed since (the emulators then serve a few changed and new\n"
        "people). To start over: rm -rf .meltano/state output",
        file=out,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meltano", required=True, help="path of the meltano executable")
    parser.add_argument("--output", type=Path, default=ROOT / "output", help="JSONL folder")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    (output / "logs").mkdir(parents=True, exist_ok=True)

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in signals:
        signal.signal(signum, _raise_interrupted)
    children = Children()
    try:
        table, failed = run_jobs(args.meltano, output, children, sys.stdout)
    except Interrupted as stop:
        print(f"\ndemo: {stop}: stopping the emulators and meltano", flush=True)
        return 128 + stop.signum
    except RuntimeError as error:
        print(f"\ndemo: {error}", flush=True)
        return 1
    finally:
        for signum in signals:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(signum, signal.SIG_IGN)
        children.stop()
    report(table, output, sys.stdout)
    if failed:
        print(f"demo: failed: {', '.join(failed)}; see the logs in {output}/logs/")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
