"""Kill and resume (issue 8, part 2): a sync stopped at any point and restarted from the
last STATE it wrote loses nothing, and repeats only what the state could not yet cover.

For each tap with incremental streams, all of them selected (the catalog of `--discover`,
nothing else), one chain of runs against one emulator: run 1 starts from no state and is
killed; each next run starts from the last STATE the previous runs wrote and is killed in
turn; after the last kill, a run completes. Kill points are per tap, not per stream, and
seeded: 20 (or one per stream, if a tap has more), at least one in every incremental stream
(with records), the rest spread over the streams in proportion to their size, each at a
random record of its stream, so they land mid-page and at page boundaries alike; 0-2 further
messages are read after that record, so a kill may follow a RECORD, a STATE or a SCHEMA.
Only the records in the last 8 KiB of output are spared: the tap must still have more to
write than the pipe holds when the signal comes, or it might have finished (see `killable`).

What must hold, per kill point (each a `kill points` trial):
- resumed, not restarted: no record older than the resumed bookmark comes again;
- duplicates bounded: per stream (per partition for child streams), a resumed run repeats
  at most the records sharing the bookmark's value (the filters are inclusive, `>=`) plus
  what came after the last STATE, at most one STATE interval: the SDK writes STATE every
  `page_size` records of a stream (STATE_MSG_FREQUENCY), so `ties + page_size`. After a
  SIGTERM, which writes a last STATE covering every record written, `ties + 1` (the one
  record a signal can catch between its RECORD and its bookmark);
- nothing lost: every record the runs up to this kill had not emitted comes in a later run;
and for the chain: the union of all RECORDs, by stream and primary key, is exactly what a
clean run emits, with the same content.

SIGKILL cannot be handled: the run simply stops, possibly mid-line. SIGTERM must be a clean
exit (see `OneLineErrorCommand`): prompt, exit code 143, no traceback and no ERROR, one
WARNING, stdout ending with a complete STATE message. Its chains are shorter (3 kills per
tap): the resume is the SIGKILL chain's; what they add is the exit itself.

tap-huma has no incremental stream (every stream is full table, re-read whole on each run
by design), so it has no SIGKILL chain; its SIGTERM exit is checked all the same.

A run killed while it looks for deletes (a key sweep, a report of deletions) emits no
tombstone for a key it has not yet seen: records are deleted, a run is killed at its second
such request, and the run resumed from its last STATE tombstones exactly what was deleted.

Runs go through a `ForkServer` (the console script's code in a real, killable process,
without the 1.7 s interpreter and SDK start-up per run).
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from taps_shared.dates import parse_datetime
from tests.reliability.trials import trial
from tests.support.deletes import DELETING, DeleteRuns, keys_by_stream
from tests.support.forkserver import ForkServer
from tests.support.registry import TAPS, USES, TapSpec

KILLS = 20
#: SIGTERM chains are shorter: the resume logic is the SIGKILL chain's; what they add is
#: the exit itself, and that does not vary along a sync.
TERMS = 3
#: Pages of the `resume` use of tests/support/registry.py: many STATEs and page boundaries
#: in a small dataset.
PAGE_SIZE = USES["resume"].settings["page_size"]
SECONDS_TO_STOP = 10  # a SIGTERM must end the run well within this
PIPE_SIZE = 4096  # bytes the tap can write ahead of the test's reading (the Linux minimum)


# -- the tap under test ----------------------------------------------------------------


@dataclass
class Subject:
    """One tap, its emulator and fork server, its catalog and its clean run."""

    spec: TapSpec
    server: ForkServer
    workdir: Path
    config_path: Path
    catalog_path: Path
    #: stream → (primary key properties, replication key or None)
    streams: dict[str, tuple[list[str], str | None]]
    clean: dict[tuple, dict] = field(default_factory=dict)
    #: record key → bytes the clean run wrote after that record
    tail_bytes: dict[tuple, int] = field(default_factory=dict)

    @property
    def tap(self) -> str:
        return self.spec.script

    def argv(self, state: dict | None, run: int) -> list[str]:
        args = ["--config", str(self.config_path), "--catalog", str(self.catalog_path)]
        if state is not None:
            path = self.workdir / f"state-{run}.json"
            path.write_text(json.dumps(state))
            args += ["--state", str(path)]
        return args

    def key(self, message: dict) -> tuple:
        stream = message["stream"]
        keys, _ = self.streams[stream]
        return (stream, *(message["record"].get(k) for k in keys))


@pytest.fixture(
    scope="module", params=list(TAPS.values()), ids=[spec.script for spec in TAPS.values()]
)
def subject(request, tmp_path_factory, fork_server) -> t.Iterator[Subject]:
    """Per tap, for the whole series: one emulator, one fork server, one clean run."""
    spec = request.param
    tap = spec.script
    workdir = tmp_path_factory.mktemp(tap)
    server = fork_server(tap)
    with spec.emulator("resume") as emulator:
        config = spec.config(emulator, "resume")
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(config))
        discovered = server.run(workdir, "--discover", config=config)
        assert discovered.returncode == 0, discovered.stderr
        catalog = json.loads(discovered.stdout)
        streams = {}
        incremental = any(e.get("replication_key") for e in catalog["streams"])
        for entry in catalog["streams"]:
            # The incremental streams only; a tap without any (tap-huma) keeps them all.
            selected = bool(entry.get("replication_key")) or not incremental
            for meta in entry["metadata"]:
                if meta["breadcrumb"] == []:
                    meta["metadata"]["selected"] = selected
            if selected:
                streams[entry["tap_stream_id"]] = (
                    entry["key_properties"],
                    entry.get("replication_key"),
                )
        catalog_path = workdir / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        found = Subject(spec, server, workdir, config_path, catalog_path, streams)
        clean = server.run(workdir, "--config", str(config_path), "--catalog", str(catalog_path))
        assert clean.returncode == 0, clean.stderr
        found.clean = {found.key(m): m["record"] for m in clean.messages if m["type"] == "RECORD"}
        remaining = len(clean.stdout.encode())
        for line in clean.stdout.encode().splitlines(keepends=True):
            remaining -= len(line)
            message = json.loads(line)
            if message["type"] == "RECORD":
                found.tail_bytes[found.key(message)] = remaining
        assert len(found.clean) == sum(m["type"] == "RECORD" for m in clean.messages)
        assert len({k[0] for k in found.clean}) >= len(streams) * 0.75  # a dataset that tells
        yield found


# -- one chain -------------------------------------------------------------------------


@dataclass
class Run:
    """One run of a chain: what it wrote, how it ended, the state it started from."""

    state: dict | None
    messages: list[dict]
    returncode: int
    stderr: str
    signalled: bool
    cut_line: bool  # stdout ended in the middle of a message
    seconds_to_stop: float = 0.0
    killed_in: str = ""  # the stream of the record at the kill point

    @property
    def last_state(self) -> dict | None:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else None


def killable(subject: Subject) -> dict[str, list[int]]:
    """Stream → the positions (in the clean run's record order) that can be kill points.

    A kill point needs more output after it than the pipe holds, or the tap might have
    finished by the time the signal comes: that leaves out the last few records (of the
    last stream or two), which the complete run reads."""
    by_stream: dict[str, list[int]] = collections.defaultdict(list)
    for position, key in enumerate(subject.clean):
        if subject.tail_bytes[key] > 2 * PIPE_SIZE:
            by_stream[key[0]].append(position)
    return dict(by_stream)


def kill_points(rng: random.Random, subject: Subject, kills: int) -> list[int]:
    """Positions in the clean run's record order at which to stop: one in each stream (in
    `kills` of them, chosen at random, when there are more), the rest spread over the
    streams in proportion to their size; each at a random record of its stream."""
    by_stream = killable(subject)
    eligible = sorted(p for positions in by_stream.values() for p in positions)
    streams = sorted(by_stream)
    chosen = rng.sample(streams, kills) if len(streams) > kills else list(streams)
    while len(chosen) < kills:
        weights = [len(by_stream[s]) for s in streams]
        chosen.append(rng.choices(streams, weights)[0])
    points: set[int] = set()
    for stream in chosen:
        free = [p for p in by_stream[stream] if p not in points] or [
            p for p in eligible if p not in points
        ]
        points.add(rng.choice(free))
    return sorted(points)


def run_chain(subject: Subject, signum: int, kills: int, seed: int) -> list[Run]:
    """Kill `kills` runs, each resumed from the last STATE seen; then one complete run."""
    rng = random.Random(seed)
    points = kill_points(rng, subject, kills)
    extras = [rng.randrange(3) for _ in points]  # messages read past the kill point
    position = {key: index for index, key in enumerate(subject.clean)}
    seen: set[tuple] = set()
    state: dict | None = None
    runs: list[Run] = []
    for index in range(kills + 1):
        point, extra = (points[index], extras[index]) if index < kills else (None, 0)
        child = subject.server.spawn(
            subject.argv(state, index), cwd=subject.workdir, pipe_size=PIPE_SIZE
        )
        assert child.stdout is not None
        messages: list[dict] = []
        signalled_at: float | None = None
        countdown: int | None = None
        killed_in = ""
        cut = False
        try:
            for raw in child.stdout:
                if not raw.endswith(b"\n"):
                    cut = True  # only a SIGKILL can leave this; it is the end of stdout
                    break
                message = json.loads(raw)
                messages.append(message)
                if message["type"] == "RECORD":
                    seen.add(subject.key(message))
                if signalled_at is not None:
                    continue  # after SIGTERM: read what the tap still writes, to the end
                if (
                    countdown is None
                    and point is not None
                    and message["type"] == "RECORD"
                    and position[subject.key(message)] >= point
                ):
                    countdown = extra
                    killed_in = message["stream"]
                if countdown is not None:
                    if countdown == 0:
                        os.kill(child.pid, signum)
                        signalled_at = time.monotonic()
                        if signum == signal.SIGKILL:
                            break
                    countdown -= 1
            returncode = child.wait(timeout=60)
            stopped = time.monotonic()
            run = Run(
                state,
                messages,
                returncode,
                child.stderr(),
                signalled_at is not None,
                cut,
                stopped - signalled_at if signalled_at is not None else 0.0,
                killed_in,
            )
        finally:
            child.close()
        runs.append(run)
        assert run.signalled or index == kills, f"run {index} finished before its kill point"
        if not run.signalled:
            assert returncode == 0, run.stderr[-3000:]
        state = run.last_state or state
    return runs


# -- checks ----------------------------------------------------------------------------


def _moment(value: t.Any) -> t.Any:
    return parse_datetime(value, "bookmark") if isinstance(value, str) else value


class Bookmarks:
    """Reads a state: the bookmark a record of a stream (or partition) resumes from."""

    def __init__(self, state: dict | None) -> None:
        self.bookmarks = (state or {}).get("bookmarks", {})

    def partition(self, stream: str, record: dict) -> tuple:
        """The record's partition: its values of the stream's context keys, if any."""
        partitions = self.bookmarks.get(stream, {}).get("partitions") or []
        keys = sorted({k for p in partitions for k in p.get("context", {})})
        return tuple(record.get(k) for k in keys)

    def value(self, stream: str, record: dict) -> t.Any:
        entry = self.bookmarks.get(stream, {})
        if "partitions" in entry:
            for part in entry["partitions"]:
                context = part.get("context", {})
                if all(record.get(k) == v for k, v in context.items()):
                    return part.get("replication_key_value")
            return None
        return entry.get("replication_key_value")


def record_keys(subject: Subject, runs: list[Run]) -> set[tuple]:
    return {subject.key(m) for run in runs for m in run.messages if m["type"] == "RECORD"}


def check_resume(
    subject: Subject, runs: list[Run], index: int, slack: int
) -> collections.Counter[tuple]:
    """The checks of kill point `index` (see the module doc); the duplicates per stream
    and partition of the run that resumed from it."""
    resumed = runs[index + 1]
    before = record_keys(subject, runs[: index + 1])
    after = record_keys(subject, runs[index + 1 :])
    missing = set(subject.clean) - before - after
    assert not missing, f"lost after kill point {index + 1}: {sorted(missing)[:5]}"

    bookmarks = Bookmarks(resumed.state)
    duplicates: collections.Counter[tuple] = collections.Counter()
    for message in resumed.messages:
        if message["type"] != "RECORD" or subject.key(message) not in before:
            continue
        stream, record = message["stream"], message["record"]
        _, replication_key = subject.streams[stream]
        bookmark = bookmarks.value(stream, record) if replication_key else None
        if bookmark is not None:
            assert _moment(record[replication_key]) >= _moment(bookmark), (
                f"{stream}: {subject.key(message)} is older than the bookmark {bookmark}: "
                "the run restarted instead of resuming"
            )
        duplicates[(stream, bookmarks.partition(stream, record))] += 1

    for (stream, part), count in duplicates.items():
        _, replication_key = subject.streams[stream]
        if replication_key is None:
            continue  # full table: re-read whole by design (tap-huma)
        sample = next(
            m["record"]
            for m in resumed.messages
            if m["type"] == "RECORD"
            and m["stream"] == stream
            and bookmarks.partition(stream, m["record"]) == part
        )
        bookmark = bookmarks.value(stream, sample)
        ties = sum(
            1
            for (name, *_), record in subject.clean.items()
            if name == stream
            and bookmarks.partition(stream, record) == part
            and bookmark is not None
            and _moment(record[replication_key]) == _moment(bookmark)
        )
        assert count <= ties + slack, (
            f"{stream}{list(part) or ''}: {count} duplicates after kill point {index + 1}, "
            f"more than the {ties} sharing the bookmark {bookmark} + {slack}"
        )
    return duplicates


def check_union(subject: Subject, runs: list[Run]) -> int:
    """Every record of the clean run, same content, and nothing else; the duplicates."""
    union: dict[tuple, dict] = {}
    emitted = 0
    for run in runs:
        for message in run.messages:
            if message["type"] == "RECORD":
                emitted += 1
                union[subject.key(message)] = message["record"]
    assert union.keys() == subject.clean.keys()
    assert union == subject.clean
    return emitted - len(union)


def check_clean_stop(run: Run, signame: str) -> None:
    """What a clean stop on SIGTERM means for a Singer tap (see OneLineErrorCommand)."""
    assert run.returncode == 128 + signal.SIGTERM, run.stderr[-3000:]
    assert run.seconds_to_stop < SECONDS_TO_STOP
    assert "Traceback" not in run.stderr
    assert [line for line in run.stderr.splitlines() if "| ERROR" in line] == []
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    assert [w for w in warnings if "Stopped by" in w] == [
        next(w for w in warnings if "Stopped by" in w)
    ]
    assert f"Stopped by {signame} before the sync finished" in warnings[-1]
    assert not run.cut_line
    assert run.messages and run.messages[-1]["type"] == "STATE"  # complete, and the last


def report(subject: Subject, signame: str, runs: list[Run], per_kill: list) -> None:
    total = sum(sum(d.values()) for d in per_kill)
    worst = max((max(d.values(), default=0) for d in per_kill), default=0)
    streams = sorted({r.killed_in for r in runs if r.signalled})
    spared = sorted(set(subject.streams) - set(streams))
    print(
        f"\n{subject.tap} {signame}: {sum(r.signalled for r in runs)} kill points in "
        f"{len(streams)} streams ({', '.join(streams)}; none in {', '.join(spared) or '-'}), "
        f"{len(runs) - 1} resumes, "
        f"{total} duplicates (at most {worst} per stream per resume), "
        f"{sum(r.cut_line for r in runs)} cut lines"
    )


# -- the tests -------------------------------------------------------------------------


def each_kill_point(tap: str, checks: list[tuple[str, t.Callable[[], t.Any]]]) -> list:
    """Run each kill point's checks as one trial; every failure is reported, not the first."""
    results, failures = [], []
    for name, check in checks:
        try:
            with trial(tap, "kill points", name):
                results.append(check())
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, failures
    return results


def test_sigkill_at_20_points_loses_nothing_and_repeats_little(subject):
    if not subject.spec.incremental:
        pytest.skip(f"{subject.tap} has no incremental stream: a killed run restarts whole")
    # At least one in every incremental stream that can take one (with data: a few of
    # tap-humanapi's medical streams have none for this small set of users; not in the
    # last few records, see `killable`).
    kills = max(KILLS, len(killable(subject)))
    runs = run_chain(subject, signal.SIGKILL, kills, seed=20260801)

    def check(index: int) -> collections.Counter:
        assert runs[index].returncode == -signal.SIGKILL
        return check_resume(subject, runs, index, slack=PAGE_SIZE)

    per_kill = each_kill_point(
        subject.tap,
        [(f"SIGKILL {i + 1} in {runs[i].killed_in}", lambda i=i: check(i)) for i in range(kills)],
    )
    check_union(subject, runs)
    assert {r.killed_in for r in runs if r.signalled} == set(killable(subject))
    report(subject, "SIGKILL", runs, per_kill)


def test_sigterm_stops_cleanly_and_resumes_the_same(subject):
    runs = run_chain(subject, signal.SIGTERM, TERMS, seed=20260802)

    def check(index: int) -> collections.Counter:
        check_clean_stop(runs[index], "SIGTERM")
        if not subject.spec.incremental:
            return collections.Counter()  # full table: the next run re-reads it whole
        # The last STATE covers every record written: only the bookmark's ties (and a
        # record caught between its RECORD and its bookmark) come again.
        return check_resume(subject, runs, index, slack=1)

    per_kill = each_kill_point(
        subject.tap,
        [(f"SIGTERM {i + 1} in {runs[i].killed_in}", lambda i=i: check(i)) for i in range(TERMS)],
    )
    check_union(subject, runs)
    report(subject, "SIGTERM", runs, per_kill)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_in_a_long_retry_wait_ends_the_run_at_once(signum, fork_server, tmp_path):
    """Mid-run, waiting 60 s as a 503's Retry-After asks: the signal must not wait it out."""
    humaans = TAPS["humaans"]
    with humaans.emulator("resume", size=6) as emulator:
        emulator.server.faults.add(
            "status", status=503, headers={"Retry-After": "60"}, path="/api/people", times=-1
        )
        config = humaans.config(emulator, "resume", max_retries=3)
        (tmp_path / "config.json").write_text(json.dumps(config))
        child = fork_server("tap-humaans").spawn(
            ["--config", str(tmp_path / "config.json")], cwd=tmp_path
        )
        assert child.stdout is not None
        lines: list[bytes] = []
        reader = threading.Thread(target=lambda: lines.extend(child.stdout))  # type: ignore[arg-type]
        reader.start()
        try:
            deadline = time.monotonic() + 60
            while not any(r.path == "/api/people" for r in emulator.server.requests):
                assert time.monotonic() < deadline, "the tap never reached /api/people"
                time.sleep(0.05)
            time.sleep(0.3)  # into the wait
            os.kill(child.pid, signum)
            stopped_at = time.monotonic()
            returncode = child.wait(timeout=SECONDS_TO_STOP)
            elapsed = time.monotonic() - stopped_at
            reader.join(timeout=10)
            stderr = child.stderr()
        finally:
            child.close()
    name = signal.Signals(signum).name
    assert returncode == 128 + signum, stderr[-3000:]
    assert elapsed < 5
    assert "Traceback" not in stderr
    assert "| ERROR" not in stderr
    assert f"Stopped by {name} before the sync finished" in stderr.splitlines()[-1]
    assert all(line.endswith(b"\n") for line in lines)
    last = json.loads(lines[-1])
    assert last["type"] == "STATE"
    assert "people" not in last["value"].get("bookmarks", {}) or not last["value"]["bookmarks"][
        "people"
    ].get("replication_key_value")


# -- killed while looking for deletes ------------------------------------------------------


@pytest.mark.parametrize("spec", DELETING, ids=[spec.name for spec in DELETING])
def test_a_run_killed_while_looking_for_deletes_tombstones_nothing_it_has_not_seen(
    spec, fork_server, tmp_path
):
    """Records deleted, then a run killed (SIGKILL) at a request that looks for deletes
    (the second key sweep page, the report of deletions): it emits only tombstones due, the
    run resumed from its last STATE emits the rest, each deleted record gets one in the
    end, and no live record ever gets one."""
    with spec.emulator("resume") as emulator:
        runs = DeleteRuns(
            spec, emulator, fork_server(spec.script), tmp_path, spec.config(emulator, "resume")
        )
        first = runs.run(None)
        assert first.returncode == 0, first.stderr[-3000:]
        expected = spec.deletes.delete(emulator, first.records())  # type: ignore[union-attr]
        runs.interceptor.mode = "kill"
        killed = runs.run(first.last_state, kill=True)
        runs.interceptor.mode = "off"
        resumed = runs.run(killed.last_state or first.last_state)
        after = runs.run(resumed.last_state)
    with trial(spec.script, "kill points", "SIGKILL while looking for deletes"):
        assert killed.returncode == -signal.SIGKILL and runs.interceptor.fired
        early = keys_by_stream(killed.tombstones(runs.keys))
        assert all(keys <= expected.get(stream, set()) for stream, keys in early.items())
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        late = keys_by_stream(resumed.tombstones(runs.keys))
        assert all(keys <= expected.get(stream, set()) for stream, keys in late.items())
        union = {s: early.get(s, set()) | late.get(s, set()) for s in {*early, *late}}
        assert union == expected
        assert after.tombstones(runs.keys) == {}
