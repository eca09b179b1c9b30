"""`make bench`: the taps' throughput against the raw-HTTP limit, side by side in one run.

Three tables, each from emulators on loopback started here:

1. CPU: Humaans `people` (N records, page 250, no latency). A raw loop (requests +
   json, and requests + orjson) writing one RECORD line per record, tap-humaans to
   /dev/null, and the pipe tap-humaans | target-jsonl; runs interleaved, medians of wall
   time, and peak RSS from the OS (wait4). Then tap-humaans at a larger N for RSS.
2. Latency: the same sync with every response delayed, pages fetched one at a time
   (`max_parallel_requests` 1) and 4 at a time.
3. tap-humanapi, users with latency: `max_parallel_users` 1 against 8.

    python scripts/bench.py [--records 100000] [--runs 5] [--latency-ms 50] ...

It prints the tables and writes them, with the command line, to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from human_sandbox.humaans import FULL_TOKEN  # noqa: E402
from human_sandbox.humanapi import APP_KEY, CLIENT_ID, CLIENT_SECRET  # noqa: E402
from tap_humaans.tap import TapHumaans  # noqa: E402
from tests.support.helpers import select_only  # noqa: E402


@dataclass
class Sample:
    wall: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.wall)

    @property
    def rss(self) -> float:
        return max(self.rss_mb)


@contextlib.contextmanager
def emulator(name: str, *args: str) -> t.Iterator[str]:
    """`python -m human_sandbox <name> ...` until the block ends; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "human_sandbox", name, "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"READY (\S+)\n", line)
        if not match:
            raise SystemExit(f"the {name} emulator did not start: {line!r}")
        yield match.group(1)
    finally:
        process.terminate()
        process.wait()


def timed(*commands: list[str], sink: t.IO | None = None) -> tuple[float, float]:
    """Run commands as a pipe into /dev/null; wall seconds and the largest peak RSS (MB)."""
    start = time.perf_counter()
    processes: list[subprocess.Popen] = []
    with open(os.devnull, "wb") as devnull:
        source = None
        for index, argv in enumerate(commands):
            last = index == len(commands) - 1
            process = subprocess.Popen(
                argv,
                stdin=source,
                stdout=devnull if last else subprocess.PIPE,
                stderr=sink or subprocess.DEVNULL,
            )
            if source is not None:
                source.close()
            source = process.stdout
            processes.append(process)
        peaks = []
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode:
                raise SystemExit(f"{shlex.join(process.args)} failed ({process.returncode})")
            peaks.append(usage.ru_maxrss / 1024)
    return time.perf_counter() - start, max(peaks)


def humaans_files(work: Path, url: str, **settings: t.Any) -> list[str]:
    """Config and catalog (people only) for tap-humaans; its command line."""
    config = {"api_token": FULL_TOKEN, "api_url": url, "requests_per_second": 0}
    # No key sweep for deletes: the raw loop it is compared with reads the listing alone.
    config |= {"page_size": 250, "delete_sweep": "off", **settings}
    tag = "-".join(f"{k}{v}" for k, v in sorted(settings.items()))
    (work / f"config{tag}.json").write_text(json.dumps(config))
    catalog = select_only(TapHumaans, config, {"people"})
    (work / "catalog.json").write_text(json.dumps(catalog))
    return [
        str(BIN / "tap-humaans"),
        *("--config", str(work / f"config{tag}.json")),
        *("--catalog", str(work / "catalog.json")),
    ]


def raw(url: str, decoder: str) -> list[str]:
    script = str(ROOT / "bench" / "raw_loop.py")
    return [sys.executable, script, url, FULL_TOKEN, "--decoder", decoder, "--page-size", "250"]


def cpu_table(args: argparse.Namespace, work: Path, target: list[str]) -> list[str]:
    n = args.records
    rows = {
        "raw loop: requests + json": Sample(),
        "raw loop: requests + orjson": Sample(),
        "tap-humaans > /dev/null": Sample(),
        "tap-humaans | target-jsonl": Sample(),
    }
    with emulator("humaans", "--people-only", "--records", str(n)) as url:
        tap = humaans_files(work, url)
        commands = [[raw(url, "json")], [raw(url, "orjson")], [tap], [tap, target]]
        timed(tap)  # warm the emulator's caches and the OS's
        for run in range(args.runs):
            for index, (sample, command) in enumerate(zip(rows.values(), commands, strict=True)):
                if index == 3 and run >= args.pipe_runs:
                    continue  # target-jsonl 0.1.4 validates every record: slow, and no tap's
                wall, rss = timed(*command)
                sample.wall.append(wall)
                sample.rss_mb.append(rss)
            print(f"  cpu run {run + 1}/{args.runs} done", file=sys.stderr)
    base, fast = rows["raw loop: requests + json"], rows["raw loop: requests + orjson"]
    lines = [
        f"### 1. CPU: Humaans `people`, {n:,} records, page 250, no latency "
        f"(median of {args.runs} interleaved runs; the pipe: {args.pipe_runs})",
        "",
        "| run | wall s | records/s | peak RSS MB | vs json loop | vs orjson loop |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, sample in rows.items():
        lines.append(
            f"| {name} | {sample.seconds:.2f} | {n / sample.seconds:,.0f} | {sample.rss:.0f} | "
            f"{sample.seconds / base.seconds:.2f}x | {sample.seconds / fast.seconds:.2f}x |"
        )
    lines.append("")
    if args.rss_records:
        lines += rss_table(args, work, rows["tap-humaans > /dev/null"].rss)
    return lines


def rss_table(args: argparse.Namespace, work: Path, rss_at_n: float) -> list[str]:
    big = args.rss_records
    with emulator("humaans", "--people-only", "--records", str(big)) as url:
        wall, rss = timed(humaans_files(work, url))
    return [
        f"Peak RSS of tap-humaans > /dev/null: {rss_at_n:.0f} MB at {args.records:,} records, "
        f"{rss:.0f} MB at {big:,} records ({big / wall:,.0f} records/s): "
        f"{rss - rss_at_n:+.0f} MB.",
        "",
    ]


def latency_table(args: argparse.Namespace, work: Path) -> list[str]:
    n, pages = args.latency_records, -(-args.latency_records // 250)
    rows = {1: Sample(), 4: Sample()}
    latency = ("--latency-ms", str(args.latency_ms))
    with emulator("humaans", "--people-only", "--records", str(n), *latency) as url:
        commands = {w: humaans_files(work, url, max_parallel_requests=w) for w in rows}
        for run in range(args.latency_runs):
            for workers, sample in rows.items():
                sample.wall.append(timed(commands[workers])[0])
            print(f"  latency run {run + 1}/{args.latency_runs} done", file=sys.stderr)
    serial = rows[1].seconds
    lines = [
        f"### 2. Latency: Humaans `people`, {n:,} records in {pages:,} pages of 250, "
        f"{args.latency_ms} ms per response (median of {args.latency_runs} runs)",
        "",
        "| max_parallel_requests | wall s | pages/s | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for workers, sample in rows.items():
        lines.append(
            f"| {workers} | {sample.seconds:.2f} | {pages / sample.seconds:.1f} | "
            f"{serial / sample.seconds:.2f}x |"
        )
    return [*lines, ""]


def humanapi_table(args: argparse.Namespace, work: Path) -> list[str]:
    users = args.humanapi_users
    rows = {1: Sample(), 8: Sample()}
    latency = ("--latency-ms", str(args.latency_ms))
    with emulator("humanapi", "--records", str(users), *latency) as url:
        commands = {}
        for workers in rows:
            config = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            config |= {"app_key": APP_KEY, "api_url": url, "auth_url": url}
            config |= {"requests_per_second": 0, "max_parallel_users": workers}
            config |= {"delete_sweep": "off"}  # extraction alone, as in bench/RESULTS.md
            path = work / f"humanapi{workers}.json"
            path.write_text(json.dumps(config))
            commands[workers] = [str(BIN / "tap-humanapi"), "--config", str(path)]
        for run in range(args.humanapi_runs):
            for workers, sample in rows.items():
                sample.wall.append(timed(commands[workers])[0])
            print(f"  humanapi run {run + 1}/{args.humanapi_runs} done", file=sys.stderr)
    serial = rows[1].seconds
    lines = [
        f"### 3. tap-humanapi: {users} users, every stream (batch wellness), "
        f"{args.latency_ms} ms per response (median of {args.humanapi_runs} runs)",
        "",
        "| max_parallel_users | wall s | users/s | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for workers, sample in rows.items():
        lines.append(
            f"| {workers} | {sample.seconds:.2f} | {users / sample.seconds:.1f} | "
            f"{serial / sample.seconds:.2f}x |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="people in table 1")
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs in table 1")
    parser.add_argument("--pipe-runs", type=int, default=1, help="runs of the target pipe")
    parser.add_argument("--rss-records", type=int, default=1_000_000, help="0 skips it")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--latency-records", type=int, default=100_000)
    parser.add_argument("--latency-runs", type=int, default=3)
    parser.add_argument("--humanapi-users", type=int, default=200)
    parser.add_argument("--humanapi-runs", type=int, default=1)
    parser.add_argument("--target", default=str(ROOT / ".tools" / "bin" / "target-jsonl"))
    parser.add_argument(
        "--tables", default="cpu,latency,humanapi", help="which tables (comma-separated)"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "target.json").write_text(
            json.dumps({"destination_path": str(work / "out"), "do_timestamp_file": False})
        )
        (work / "out").mkdir()
        target = [args.target, "--config", str(work / "target.json")]
        tables = []
        if "cpu" in args.tables:
            tables += cpu_table(args, work, target)
        if "latency" in args.tables:
            tables += latency_table(args, work)
        if "humanapi" in args.tables:
            tables += humanapi_table(args, work)

    command = "python scripts/bench.py " + shlex.join(sys.argv[1:])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"`{command.strip()}` (what `make bench` runs), on {machine}, "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}. Emulators run on loopback in "
            "their own processes; wall times include each process's start-up.",
            "",
            *tables,
        ]
    )
    print(text)
    args.output.write_text(text)


if __name__ == "__main__":
    main()
