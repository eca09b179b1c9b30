"""`make bench`: the taps' throughput against the raw-HTTP limit, side by side in one run.

Three tables, each from emulators on loopback started here:

1. CPU: Humaans `people` (N records, page 250, no latency). A raw loop (requests +
   json, and requests + orjson) writing one RECORD line per record, tap-humaans to
   /dev/null, and the pipe tap-humaans | target-jsonl; runs interleaved, medians of wall
   time, and peak RSS from the OS (wait4). Then tap-humaans at a larger N for RSS.
2. Latency: the same sync with every response delayed, pages fetched one at a time
   (`max_parallel_requests` 1) and 4 at a time.
3. tap-humanapi, users with latency: `max_parallel_users` 1 against 8.
4. tap-humanapi at scale: batch and per-user wellness, 100 to 10,000 users with small
   datasets (the emulator's `--wellness-scale`), no latency: wall, CPU time (the tap
   process's own, from wait4), CPU per user, peak RSS and the size of the final STATE.
5. End to end: `meltano run tap-humaans target-postgres` into a throwaway PostgreSQL
   (tests/support/postgres.py), with target-postgres' defaults and with the settings that
   make it fast; the tap alone for its share.

    python scripts/bench.py [--tables cpu,latency,humanapi,scale,postgres] [--records N] ...

Each table runs alone with `--tables NAME` (and its own size flags). It prints the tables,
with the targets marked met or not, and writes them with the command line to `--output`:
bench/RESULTS.md by default when every table ran, nowhere otherwise (a run of one table
does not replace the whole file).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
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
    cpu: list[float] = field(default_factory=list)

    def add(self, usage: Usage) -> None:
        """One run: its wall time, the first process's CPU time, the largest peak RSS."""
        self.wall.append(usage.wall)
        self.cpu.append(usage.cpu[0])
        self.rss_mb.append(max(usage.rss_mb))

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(self.cpu)

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


@dataclass
class Usage:
    """One finished run of a pipe: its wall time, each process's own CPU time (user + sys,
    from wait4) and peak RSS."""

    wall: float
    cpu: list[float]
    rss_mb: list[float]


def run(*commands: list[str], sink: t.IO | None = None, stdout: t.Any = None) -> Usage:
    """Run commands as a pipe into `stdout` (default /dev/null); every one must succeed."""
    start = time.perf_counter()
    processes: list[subprocess.Popen] = []
    with open(os.devnull, "wb") as devnull:
        source = None
        for index, argv in enumerate(commands):
            last = index == len(commands) - 1
            process = subprocess.Popen(
                argv,
                stdin=source,
                stdout=(stdout or devnull) if last else subprocess.PIPE,
                stderr=sink or subprocess.DEVNULL,
            )
            if source is not None:
                source.close()
            source = process.stdout
            processes.append(process)
        cpu, peaks = [], []
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode:
                raise SystemExit(f"{shlex.join(process.args)} failed ({process.returncode})")
            cpu.append(usage.ru_utime + usage.ru_stime)
            peaks.append(usage.ru_maxrss / 1024)
    return Usage(time.perf_counter() - start, cpu, peaks)


def timed(*commands: list[str], sink: t.IO | None = None) -> tuple[float, float]:
    """Run commands as a pipe into /dev/null; wall seconds and the largest peak RSS (MB)."""
    usage = run(*commands, sink=sink)
    return usage.wall, max(usage.rss_mb)


def first_record_seconds(command: list[str]) -> float:
    """Seconds from starting `command` to the first RECORD line it writes (the rest of its
    output is read and thrown away)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    first = None
    for line in process.stdout:
        if line.startswith(b'{"type":"RECORD"') or line.startswith(b'{"type": "RECORD"'):
            first = time.perf_counter() - start
            break
    while process.stdout.read(1 << 20):
        pass
    if process.wait() or first is None:
        raise SystemExit(f"{shlex.join(command)} failed or wrote no record")
    return first


#: Why a target is missed, from profiles of this code (cProfile and py-spy, 100,000 people).
CPU_WHY = (
    "  Why: the orjson loop decodes and writes; per record the tap also conforms the record "
    "to its schema (about 36% of its CPU under cProfile: the types of 85 fields checked, "
    "nested objects walked), reads the listing with its checks (about 14%: paging, the "
    "page-boundary and re-read checks), encodes the RECORD message (about 12%) and moves "
    "the bookmark (about 6%), and starts in about 0.45 s (importing the SDK)."
)
LATENCY_WHY = (
    "  Why: the next page is asked for as soon as one is read, so the workers do not wait "
    "for each other; the thread that conforms and writes the records is then the bound: "
    "its CPU (the CPU column) is most of the 4-worker run's wall time."
)


def ratio(sample: Sample, base: Sample) -> float:
    """`sample`'s wall time over `base`'s, run by run, the median: the runs interleave, so
    each pair shares the speed the machine had at that moment, which drifts between runs
    (on this virtual machine by 10% and more in a minute)."""
    return statistics.median(a / b for a, b in zip(sample.wall, base.wall, strict=False))


def met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def target_jsonl(args: argparse.Namespace, work: Path) -> list[str]:
    """target-jsonl's command line, writing under `work`."""
    (work / "target.json").write_text(
        json.dumps({"destination_path": str(work / "out"), "do_timestamp_file": False})
    )
    (work / "out").mkdir(exist_ok=True)
    return [args.target, "--config", str(work / "target.json")]


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


def cpu_table(args: argparse.Namespace, work: Path) -> list[str]:
    n = args.records
    target = target_jsonl(args, work)
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
        firsts: dict[str, list[float]] = {"tap": [], "raw": []}
        for attempt in range(args.runs):
            for index, (sample, command) in enumerate(zip(rows.values(), commands, strict=True)):
                if index == 3 and attempt >= args.pipe_runs:
                    continue  # target-jsonl 0.1.4 validates every record: slow, and no tap's
                usage = run(*command)
                sample.add(usage)
            firsts["tap"].append(first_record_seconds(tap))
            firsts["raw"].append(first_record_seconds(commands[0][0]))
            print(f"  cpu run {attempt + 1}/{args.runs} done", file=sys.stderr)
    base, fast = rows["raw loop: requests + json"], rows["raw loop: requests + orjson"]
    lines = [
        f"### 1. CPU: Humaans `people`, {n:,} records, page 250, no latency "
        f"(median of {args.runs} interleaved runs, the ratios the median of each run's; "
        f"the pipe: {args.pipe_runs})",
        "",
        "| run | wall s | CPU s (first process) | records/s | peak RSS MB | vs json loop | "
        "vs orjson loop |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, sample in rows.items():
        if not sample.wall:
            continue  # --pipe-runs 0
        lines.append(
            f"| {name} | {sample.seconds:.2f} | {sample.cpu_seconds:.2f} | "
            f"{n / sample.seconds:,.0f} | {sample.rss:.0f} | "
            f"{ratio(sample, base):.2f}x | {ratio(sample, fast):.2f}x |"
        )
    tap = rows["tap-humaans > /dev/null"]
    vs_json, vs_orjson = ratio(tap, base), ratio(tap, fast)
    lines += [
        "",
        f"Time to first record (median of {len(firsts['tap'])}): tap-humaans "
        f"{statistics.median(firsts['tap']):.2f} s, the json loop "
        f"{statistics.median(firsts['raw']):.2f} s (both from process start).",
        "",
        f"- Target: at most 1.0x the json loop: {vs_json:.2f}x, {met(vs_json <= 1.0)}.",
        f"- Target: at most 1.8x the orjson loop: {vs_orjson:.2f}x, {met(vs_orjson <= 1.8)}.",
    ]
    if vs_json > 1.0 or vs_orjson > 1.8:
        lines.append(CPU_WHY)
    lines.append("")
    if args.rss_records:
        lines += rss_table(args, work, tap.rss)
    return lines


def rss_table(args: argparse.Namespace, work: Path, rss_at_n: float) -> list[str]:
    big = args.rss_records
    with emulator("humaans", "--people-only", "--records", str(big)) as url:
        wall, rss = timed(humaans_files(work, url))
    return [
        f"Peak RSS of tap-humaans > /dev/null: {rss_at_n:.0f} MB at {args.records:,} records, "
        f"{rss:.0f} MB at {big:,} records ({big / wall:,.0f} records/s): "
        f"{rss - rss_at_n:+.0f} MB (target: within 20 MB, {met(rss - rss_at_n <= 20)}).",
        "",
    ]


def latency_table(args: argparse.Namespace, work: Path) -> list[str]:
    n, pages = args.latency_records, -(-args.latency_records // 250)
    rows = {1: Sample(), 4: Sample()}
    latency = ("--latency-ms", str(args.latency_ms))
    with emulator("humaans", "--people-only", "--records", str(n), *latency) as url:
        commands = {w: humaans_files(work, url, max_parallel_requests=w) for w in rows}
        for attempt in range(args.latency_runs):
            for workers, sample in rows.items():
                sample.add(run(commands[workers]))
            print(f"  latency run {attempt + 1}/{args.latency_runs} done", file=sys.stderr)
    serial = rows[1].seconds
    lines = [
        f"### 2. Latency: Humaans `people`, {n:,} records in {pages:,} pages of 250, "
        f"{args.latency_ms} ms per response (median of {args.latency_runs} runs)",
        "",
        "| max_parallel_requests | wall s | CPU s | pages/s | speed-up |",
        "|---:|---:|---:|---:|---:|",
    ]
    for workers, sample in rows.items():
        lines.append(
            f"| {workers} | {sample.seconds:.2f} | {sample.cpu_seconds:.2f} | "
            f"{pages / sample.seconds:.1f} | {serial / sample.seconds:.2f}x |"
        )
    speed_up = serial / rows[4].seconds
    target = f"- Target: 4 workers at least 3.5x: {speed_up:.2f}x, {met(speed_up >= 3.5)}."
    return [*lines, "", target, *([LATENCY_WHY] if speed_up < 3.5 else []), ""]


def humanapi_config(work: Path, url: str, **settings: t.Any) -> list[str]:
    """A tap-humanapi config for the emulator at `url` (every stream); its command line."""
    config = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "app_key": APP_KEY}
    config |= {"api_url": url, "auth_url": url, "requests_per_second": 0}
    config |= {"delete_sweep": "off", **settings}  # extraction alone, as the other tables
    tag = "-".join(f"{k}{v}" for k, v in sorted(settings.items()))
    path = work / f"humanapi{tag}.json"
    path.write_text(json.dumps(config))
    return [str(BIN / "tap-humanapi"), "--config", str(path)]


def humanapi_table(args: argparse.Namespace, work: Path) -> list[str]:
    users = args.humanapi_users
    rows = {1: Sample(), 8: Sample()}
    latency = ("--latency-ms", str(args.latency_ms))
    with emulator("humanapi", "--records", str(users), *latency) as url:
        commands = {w: humanapi_config(work, url, max_parallel_users=w) for w in rows}
        for attempt in range(args.humanapi_runs):
            for workers, sample in rows.items():
                sample.add(run(commands[workers]))
            print(f"  humanapi run {attempt + 1}/{args.humanapi_runs} done", file=sys.stderr)
    serial = rows[1].seconds
    lines = [
        f"### 3. tap-humanapi: {users} users, every stream (batch wellness), "
        f"{args.latency_ms} ms per response (median of {args.humanapi_runs} runs)",
        "",
        "| max_parallel_users | wall s | CPU s | users/s | speed-up |",
        "|---:|---:|---:|---:|---:|",
    ]
    for workers, sample in rows.items():
        lines.append(
            f"| {workers} | {sample.seconds:.2f} | {sample.cpu_seconds:.2f} | "
            f"{users / sample.seconds:.1f} | {serial / sample.seconds:.2f}x |"
        )
    speed_up = serial / rows[8].seconds
    target = f"- Target: 8 users at once at least 3.5x: {speed_up:.2f}x, {met(speed_up >= 3.5)}."
    lines += ["", target]
    if speed_up < 3.5:
        busy = rows[8].cpu_seconds / rows[8].seconds
        used = (
            f"the 8-user run used {busy:.0%} of a core ({rows[8].cpu_seconds:.1f} s of CPU in "
            f"{rows[8].seconds:.1f} s, all its threads)"
        )
        lines.append(
            f"  Why: {used}: bound by the one thread that holds the GIL to conform and write "
            "the records, not by waiting."
            if busy >= 0.85
            else f"  Why: {used}, so it waits rather than computes: on the requests that are "
            "not made per user and so not 8 at a time (batch mode's ~16 wellness queries for "
            "all users, paged `max_parallel_requests` at a time), and on each user's own "
            "requests, one after another."
        )
    return [*lines, ""]


@dataclass
class FinalState:
    """The last STATE message of a run: its size and how many partition states it holds."""

    size: int
    partitions: int


def final_state(command: list[str]) -> tuple[Usage, FinalState]:
    """Run a tap into `tail -n 1` (which keeps only its last line, the final STATE); the
    tap's usage and that STATE."""
    with tempfile.TemporaryFile() as last:
        usage = run(command, ["tail", "-n", "1"], stdout=last)
        last.seek(0)
        line = last.read()
    if not line.startswith(b'{"type":"STATE"'):
        raise SystemExit(f"{shlex.join(command)} did not end with a STATE: {line[:80]!r}")
    bookmarks = json.loads(line)["value"].get("bookmarks", {})
    partitions = sum(len(entry.get("partitions", ())) for entry in bookmarks.values())
    return Usage(usage.wall, usage.cpu[:1], usage.rss_mb[:1]), FinalState(len(line), partitions)


def scale_table(args: argparse.Namespace, work: Path) -> list[str]:
    users = [int(n) for n in args.scale_users.split(",")]
    modes = args.scale_modes.split(",")
    results: dict[tuple[str, int], tuple[Usage, FinalState]] = {}
    for n in users:
        wellness = ("--wellness-scale", str(args.wellness_scale))
        with emulator("humanapi", "--records", str(n), *wellness) as url:
            for mode in modes:
                command = humanapi_config(work, url, wellness_mode=mode)
                results[mode, n] = final_state(command)
                print(f"  scale {mode} {n} users done", file=sys.stderr)
    lines = [
        f"### 4. tap-humanapi at scale: every stream, wellness records per user times "
        f"{args.wellness_scale} (the emulator's `--wellness-scale`), no latency, one run each",
        "",
        "| wellness_mode | users | wall s | CPU s | CPU ms per user | peak RSS MB | "
        "final STATE KB | partition states |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (mode, n), (usage, state) in results.items():
        lines.append(
            f"| {mode} | {n:,} | {usage.wall:.2f} | {usage.cpu[0]:.2f} | "
            f"{usage.cpu[0] / n * 1000:.1f} | {usage.rss_mb[0]:.0f} | {state.size / 1024:,.0f} | "
            f"{state.partitions:,} |"
        )
    lines.append("")
    low, high = min(users), max(users)
    for mode in modes:
        if low == high:
            break
        (small, _), (big, state) = results[mode, low], results[mode, high]
        growth = (big.cpu[0] / high) / (small.cpu[0] / low)
        extra = big.rss_mb[0] - small.rss_mb[0]
        lines.append(
            f"- {mode}: CPU per user at {high:,} users is {growth:.2f}x that at {low:,} "
            f"(target at most 1.3x: {met(growth <= 1.3)}); peak RSS {extra:+.0f} MB "
            f"(target within 100 MB: {met(extra <= 100)})."
        )
        if extra > 100:
            lines.append(
                f"  Why: the state holds one entry per user and stream, {state.partitions:,} "
                f"at {high:,} users, every one a dictionary the SDK reads and writes "
                f"(about {extra * 1024 * 1024 / state.partitions:,.0f} bytes of peak RSS "
                "each, context and index included); the SDK's state layout, not the records, "
                "sets the memory."
            )
    return [*lines, ""]


#: target-postgres settings compared in table 5, as Meltano reads them from the environment.
LOADER_SETTINGS = {
    "target-postgres defaults": {},
    "validate_records false": {"TARGET_POSTGRES_VALIDATE_RECORDS": "false"},
    "validate_records false, use_copy, batch_size_rows 100000": {
        "TARGET_POSTGRES_VALIDATE_RECORDS": "false",
        "TARGET_POSTGRES_USE_COPY": "true",
        "TARGET_POSTGRES_BATCH_SIZE_ROWS": "100000",
    },
}


def postgres_table(args: argparse.Namespace, work: Path) -> list[str]:
    """`meltano run tap-humaans target-postgres` into a throwaway server, per loader
    setting; the tap alone into /dev/null for its share of the time."""
    from tests.support import meltano_cli  # noqa: PLC0415 (Meltano only for this table)
    from tests.support.postgres import PostgresServer, find_bin_dir  # noqa: PLC0415

    n = args.postgres_records
    bin_dir = find_bin_dir()
    missing = meltano_cli.installed() or (bin_dir is None and "no PostgreSQL binaries")
    if missing:
        raise SystemExit(f"table postgres: {missing} (`make bench` installs them)")
    assert bin_dir is not None
    rows: dict[str, tuple[Usage, float]] = {}
    with emulator("humaans", "--people-only", "--records", str(n)) as url:
        alone = run(humaans_files(work, url))
        for name, settings in LOADER_SETTINGS.items():
            with PostgresServer(bin_dir) as pg:
                tag = str(len(rows))
                env = {
                    "MELTANO_STATE_BACKEND_URI": (work / f"state{tag}").as_uri(),
                    "MELTANO_DATABASE_URI": f"sqlite:///{work / f'meltano{tag}.db'}",
                    "TAP_HUMAANS_API_URL": url,
                    **pg.env,
                    **settings,
                }
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                done = meltano_cli.run(
                    "--environment=sandbox", "run", "tap-humaans", "target-postgres",
                    env=env, timeout=3600,
                )  # fmt: skip
                wall = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if done.returncode:
                    raise SystemExit(f"meltano run failed:\n{(done.stdout + done.stderr)[-3000:]}")
                loaded = pg.scalar("SELECT count(*) FROM tap_humaans.people")
                if loaded != n:
                    raise SystemExit(f"{name}: {loaded} people loaded, not {n}")
                cpu = sum(getattr(after, f) - getattr(before, f) for f in ("ru_utime", "ru_stime"))
                rows[name] = (Usage(wall, [cpu], []), loaded)
            print(f"  postgres: {name} done", file=sys.stderr)
    lines = [
        f"### 5. End to end: `meltano run tap-humaans target-postgres`, {n:,} Humaans "
        "people into a local PostgreSQL (fsync off), one run each",
        "",
        f"tap-humaans alone into /dev/null: {alone.wall:.2f} s wall, {alone.cpu[0]:.2f} s CPU.",
        "",
        "| target-postgres settings | wall s | CPU s (all processes) | records/s | "
        "tap's share of wall | tap's share of CPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, (usage, loaded) in rows.items():
        lines.append(
            f"| {name} | {usage.wall:.2f} | {usage.cpu[0]:.2f} | {loaded / usage.wall:,.0f} | "
            f"{alone.wall / usage.wall:.0%} | {alone.cpu[0] / usage.cpu[0]:.0%} |"
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
    parser.add_argument("--scale-users", default="100,1000,10000", help="users in table 4")
    parser.add_argument("--scale-modes", default="batch,per_user", help="wellness modes")
    parser.add_argument("--wellness-scale", type=float, default=0.1, help="table 4's datasets")
    parser.add_argument("--postgres-records", type=int, default=100_000, help="people in table 5")
    parser.add_argument("--target", default=str(ROOT / ".tools" / "bin" / "target-jsonl"))
    parser.add_argument("--tables", default=",".join(TABLES), help="which tables (comma-separated)")
    parser.add_argument("--output", type=Path, help="default: bench/RESULTS.md, every table")
    args = parser.parse_args()

    names = args.tables.split(",")
    if unknown := [name for name in names if name not in TABLES]:
        raise SystemExit(f"--tables: no table {unknown[0]!r} (one of {', '.join(TABLES)})")
    # Every process started here runs without PYTHONUNBUFFERED (set in some shells and
    # containers, it makes every line a write of its own, in the raw loops and the taps
    # alike): the figures are those of an ordinary shell, or of Meltano.
    os.environ.pop("PYTHONUNBUFFERED", None)
    load_before, started = os.getloadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tables = []
        for name in names:
            table_started = time.perf_counter()
            tables += TABLES[name](args, Path(tmp))
            print(f"table {name}: {time.perf_counter() - table_started:.0f} s", file=sys.stderr)
    minutes, load_after = (time.perf_counter() - started) / 60, os.getloadavg()

    command = "python scripts/bench.py " + shlex.join(sys.argv[1:])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"`{command.strip()}` (`make bench` runs it with no flags), on {machine}, "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}. Emulators run on loopback in "
            "their own processes; wall times include each process's start-up. The run took "
            f"{minutes:.0f} min; load average (1, 5, 15 min) before it "
            f"{', '.join(f'{x:.2f}' for x in load_before)}, after it "
            f"{', '.join(f'{x:.2f}' for x in load_after)}.",
            "",
            *tables,
        ]
    )
    print(text)
    output = args.output
    if output is None and set(names) == set(TABLES):
        output = ROOT / "bench" / "RESULTS.md"
    if output is not None:
        output.write_text(text)


TABLES: dict[str, t.Callable[..., list[str]]] = {
    "cpu": cpu_table,
    "latency": latency_table,
    "humanapi": humanapi_table,
    "scale": scale_table,
    "postgres": postgres_table,
}

if __name__ == "__main__":
    main()
