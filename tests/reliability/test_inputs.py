"""Bad input (issue 8, part 3): every tap, run as users run it, meets bad configs, catalogs,
states and API answers with one clear line and the right exit code.

Each case is a `bad inputs` trial and asserts, for an error: a non-zero exit and exactly one
`| ERROR` line naming the setting, file, stream or response at fault; for a warning: exit 0,
the WARNING line and the records it should (still) give; and always: no traceback, no
configured secret anywhere in stdout or stderr.

Decisions the cases pin down:
- unknown settings, a `start_date` in the future, a state bookmark of a stream the tap does
  not have and a bookmark in the future are warnings (exit 0), as the issue says;
- a catalog selecting a stream the tap does not have is an error (the user expects data
  that would never come); an unselected unknown entry is only a warning;
- a selected child whose parent is deselected is valid Singer, not bad input: the parent is
  read for its keys but not emitted, and the child's records are all there (exit 0);
- a usage error click catches (a --state file that does not exist) exits 2, click's code
  for it, but with one ERROR line like the rest.

Runs go through a `ForkServer` (see tests/support/forkserver.py): the console script's code in its
own process, without paying the SDK's start-up for each of the ~100 runs.
`test_the_fork_server_runs_as_the_console_script_does` checks that it changes nothing.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.reliability.trials import trial
from tests.support.helpers import CliRun, run_cli
from tests.support.registry import TAPS, TapSpec

FUTURE = "2999-01-01T00:00:00.000Z"
URL_PASSWORD = "url_pa55_canary_7c1e"  # a canary: must never be printed


#: The taps by console script, as the cases name them.
SCRIPTS = {spec.script: spec for spec in TAPS.values()}
#: The credentials of OpenHuman's other auth mode (the cases run it with an API key).
OPENHUMAN_OAUTH = TAPS["openhuman"].auth["OAuth"].settings
ALL_REQUIRED = tuple(dict.fromkeys(s for spec in TAPS.values() for s in spec.required))
#: Every credential of every tap: none may ever be printed.
SECRETS = (
    *(
        value
        for spec in TAPS.values()
        for auth in spec.auth.values()
        for setting, value in auth.settings.items()
        if setting in spec.secret_settings
    ),
    URL_PASSWORD,
)


# -- per tap, for all its cases --------------------------------------------------------


@dataclass
class Bench:
    """One tap's emulator, fork server, catalog and reference run."""

    spec: TapSpec
    emulator: t.Any
    server: t.Any
    config: dict
    catalog: dict
    #: stream → records of a clean run with only `bad_input.stream` (and the family) selected
    reference: dict[str, list[dict]] = field(default_factory=dict)

    def select(self, *streams: str, extra: t.Iterable[dict] = ()) -> dict:
        catalog = copy.deepcopy(self.catalog)
        for entry in catalog["streams"]:
            for meta in entry["metadata"]:
                if meta["breadcrumb"] == []:
                    meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
        catalog["streams"].extend(extra)
        return catalog

    def entry(self, stream: str) -> dict:
        return next(e for e in self.catalog["streams"] if e["tap_stream_id"] == stream)


@pytest.fixture(scope="module")
def benches(tmp_path_factory, fork_server) -> t.Iterator[t.Callable[[str], Bench]]:
    """`benches(tap)`: the tap's bench, made on first use and kept for all its cases."""
    made: dict[str, Bench] = {}
    with contextlib.ExitStack() as stack:

        def get(tap: str) -> Bench:
            if tap not in made:
                made[tap] = make_bench(
                    SCRIPTS[tap], tmp_path_factory.mktemp(tap), fork_server(tap), stack
                )
            return made[tap]

        yield get


def make_bench(spec: TapSpec, workdir: Path, server: t.Any, stack: contextlib.ExitStack) -> Bench:
    emulator = stack.enter_context(spec.emulator("inputs"))
    config = spec.config(emulator, "inputs")
    discovered = server.run(workdir, "--discover", config=config)
    assert discovered.returncode == 0, discovered.stderr
    found = Bench(spec, emulator, server, config, json.loads(discovered.stdout))
    streams = [spec.bad_input.stream, *(spec.bad_input.family or ())]
    clean = server.run(workdir, config=config, catalog=found.select(*streams))
    assert clean.returncode == 0, clean.stderr
    for message in clean.messages:
        if message["type"] == "RECORD":
            found.reference.setdefault(message["stream"], []).append(message["record"])
    assert all(found.reference.get(s) for s in streams), sorted(found.reference)
    return found


# -- the cases -------------------------------------------------------------------------


@dataclass
class Inputs:
    """What one case runs with: files as data or as raw text, faults to arm."""

    config: dict | str
    catalog: dict | str | None = None
    #: a Path: passed as it is (a file that does not exist)
    state: dict | str | Path | None = None
    faults: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Expect:
    """An error (`error` set: exit 1, one ERROR line with every fragment) or a clean run
    (exit 0, no ERROR), with an optional WARNING and the records it must give."""

    error: tuple[str, ...] = ()
    code: int = 1  # of an error: 2 for a usage error (click's convention)
    warning: tuple[str, ...] = ()
    #: stream → "all" (as the reference run) or "none"
    records: dict[str, str] = field(default_factory=dict)
    #: texts of this case that must not be printed either
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    #: what the case tries; `{setting}`, `{value}` and `{secret}` are the tap's own
    name: str
    inputs: t.Callable[[Bench, Path], Inputs]
    expect: t.Callable[[TapSpec], Expect]
    applies: t.Callable[[TapSpec], bool] = lambda spec: True
    nth: int = 0  # which of the tap's wrong_types

    def label(self, spec: TapSpec) -> str:
        setting, value = spec.bad_input.wrong_types[self.nth]
        return self.name.format(setting=setting, value=value, secret=spec.secret)


def without(config: dict, *keys: str) -> dict:
    return {k: v for k, v in config.items() if k not in keys}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def only(b: Bench, **changes: t.Any) -> Inputs:
    """The tap's config with `changes`, its one stream selected."""
    return Inputs({**b.config, **changes}, b.select(b.spec.bad_input.stream))


def state_for(b: Bench, stream: str, value: str) -> dict:
    key = b.entry(stream)["replication_key"]
    return {"bookmarks": {stream: {"replication_key": key, "replication_key_value": value}}}


def fault_200(b: Bench, body: t.Any, content_type: str = "application/json") -> Inputs:
    fault = {
        "kind": "status",
        "status": 200,
        "body": body,
        "headers": {"Content-Type": content_type},
        "path": b.spec.bad_input.path,
        "times": -1,
    }
    return Inputs(b.config, b.select(b.spec.bad_input.stream), faults=[fault])


def config_cases() -> list[Case]:
    cases = [
        Case(
            f"missing {setting}",
            lambda b, _, s=setting: Inputs(without(b.config, s)),
            lambda p, s=setting: Expect(error=(f"'{s}' is a required property",)),
            lambda p, s=setting: s in p.required,
        )
        for setting in ALL_REQUIRED
    ]
    cases += [
        Case(
            "wrong type: {setting}={value!r}",
            lambda b, _, n=n: only(b, **dict([b.spec.bad_input.wrong_types[n]])),
            lambda p, n=n: Expect(
                error=("invalid config", f"config['{p.bad_input.wrong_types[n][0]}']")
            ),
            nth=n,
        )
        for n in (0, 1)
    ]
    cases += [
        Case(
            "wrong type of a secret: {secret} a number",
            lambda b, _: only(b, **{b.spec.secret: 987654321012345}),
            lambda p: Expect(
                error=("invalid config", f"config['{p.secret}']"),
                absent=("987654321012345",),
            ),
        ),
        Case(
            "wrong type of a secret: {secret} a list",
            lambda b, _: only(b, **{b.spec.secret: [b.config[b.spec.secret]]}),
            lambda p: Expect(error=("invalid config", f"config['{p.secret}']")),
        ),
        Case(
            "openhuman: both auth modes",
            lambda b, _: only(b, **OPENHUMAN_OAUTH),
            lambda p: Expect(error=("set either api_key or client_id", "not both")),
            lambda p: p.script == "tap-openhuman",
        ),
        Case(
            "openhuman: neither auth mode",
            lambda b, _: Inputs(without(b.config, "api_key")),
            lambda p: Expect(error=("set api_key, or client_id + client_secret + refresh_token",)),
            lambda p: p.script == "tap-openhuman",
        ),
        Case(
            "openhuman: OAuth incomplete",
            lambda b, _: Inputs({**without(b.config, "api_key"), **OPENHUMAN_OAUTH}),
            lambda p: Expect(error=("OAuth needs", "missing refresh_token")),
            lambda p: p.script == "tap-openhuman",
        ),
        Case(
            "unknown settings",
            lambda b, _: only(b, pagesize=10, api_tokn="x"),
            lambda p: Expect(
                warning=("unknown settings", "api_tokn", "pagesize"),
                records={p.bad_input.stream: "all"},
            ),
        ),
        Case(
            "start_date malformed",
            lambda b, _: only(b, start_date="2024-31-01"),
            lambda p: Expect(error=("start_date '2024-31-01' is not an ISO-8601 date",)),
            lambda p: p.incremental,
        ),
        Case(
            "start_date in the future",
            lambda b, _: only(b, start_date="2999-01-01"),
            lambda p: Expect(warning=("start_date 2999-01-01 is in the future",), records={}),
            lambda p: p.incremental,
        ),
        Case(
            "api_url malformed",
            lambda b, _: only(b, api_url="api.example.com/v1"),
            lambda p: Expect(error=("api_url must be an absolute https:// URL",)),
        ),
        Case(
            "api_url with a password in it",
            lambda b, _: only(b, api_url=f"https://user:{URL_PASSWORD}@api.example.com"),
            lambda p: Expect(error=("api_url must not carry credentials",)),
        ),
        Case(
            "api_url plain http to a remote host",
            lambda b, _: only(b, api_url="http://api.example.com"),
            lambda p: Expect(error=("api_url must use https://", "'http://api.example.com'")),
        ),
        Case(
            "api_url unreachable",
            lambda b, _: only(b, api_url=f"http://127.0.0.1:{free_port()}"),
            lambda p: Expect(error=("connection refused (127.0.0.1:", "check api_url")),
        ),
        Case(
            "api_url DNS failure",
            lambda b, _: only(b, api_url="https://no-such-host.invalid"),
            lambda p: Expect(error=("DNS lookup failed (no-such-host.invalid)", "check api_url")),
        ),
    ]
    return cases


def file_cases() -> list[Case]:
    def unknown(b: Bench, selected: bool) -> dict:
        entry = copy.deepcopy(b.entry(b.spec.bad_input.stream))
        entry["tap_stream_id"] = entry["stream"] = "no_such_stream"
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = selected
        return entry

    return [
        Case(
            "config file malformed JSON",
            lambda b, _: Inputs('{"api_url": "https://x",'),
            lambda p: Expect(error=("config file", "config.json", "is not valid JSON")),
        ),
        Case(
            "catalog malformed JSON",
            lambda b, _: Inputs(b.config, '{"streams": [}'),
            lambda p: Expect(error=("catalog file", "catalog.json", "is not valid JSON")),
        ),
        Case(
            "catalog not a catalog",
            lambda b, _: Inputs(b.config, '{"entries": []}'),
            lambda p: Expect(error=("catalog file", "catalog.json", "no 'streams' list")),
        ),
        Case(
            "catalog selects an unknown stream",
            lambda b, _: Inputs(
                b.config, b.select(b.spec.bad_input.stream, extra=[unknown(b, selected=True)])
            ),
            lambda p: Expect(error=("catalog selects", "no_such_stream", p.script)),
        ),
        Case(
            "catalog lists an unknown stream, unselected",
            lambda b, _: Inputs(
                b.config, b.select(b.spec.bad_input.stream, extra=[unknown(b, selected=False)])
            ),
            lambda p: Expect(
                warning=("catalog", "no_such_stream", "ignored"),
                records={p.bad_input.stream: "all"},
            ),
        ),
        Case(
            "catalog selects a child, not its parent",
            lambda b, _: Inputs(b.config, b.select(b.spec.bad_input.family[1])),  # type: ignore[index]
            lambda p: Expect(records={p.bad_input.family[1]: "all", p.bad_input.family[0]: "none"}),  # type: ignore[index]
            lambda p: p.bad_input.family is not None,
        ),
        Case(
            "state malformed JSON",
            lambda b, _: Inputs(
                b.config, b.select(b.spec.bad_input.stream), state='{"bookmarks": '
            ),
            lambda p: Expect(error=("state file", "state.json", "is not valid JSON")),
        ),
        Case(
            "state file missing",
            lambda b, path: Inputs(
                b.config, b.select(b.spec.bad_input.stream), state=path / "none"
            ),
            lambda p: Expect(error=("--state", "none.json", "No such file"), code=2),
        ),
        Case(
            "state not a state",
            lambda b, _: Inputs(b.config, b.select(b.spec.bad_input.stream), state='["bookmarks"]'),
            lambda p: Expect(error=("state file", "state.json", "JSON object")),
        ),
        Case(
            "state of a stream that no longer exists",
            lambda b, _: Inputs(
                b.config,
                b.select(b.spec.bad_input.stream),
                state={"bookmarks": {"retired_stream": {"replication_key_value": FUTURE}}},
            ),
            lambda p: Expect(
                warning=("state", "retired_stream", "ignored"), records={p.bad_input.stream: "all"}
            ),
        ),
        Case(
            "state bookmark in the future",
            lambda b, _: Inputs(
                b.config,
                b.select(b.spec.bad_input.stream),
                state=state_for(b, b.spec.bad_input.stream, FUTURE),
            ),
            lambda p: Expect(
                warning=(p.bad_input.stream, "in the future"), records={p.bad_input.stream: "none"}
            ),
            lambda p: p.incremental,
        ),
        Case(
            "state bookmark malformed",
            lambda b, _: Inputs(
                b.config,
                b.select(b.spec.bad_input.stream),
                state=state_for(b, b.spec.bad_input.stream, "last tuesday"),
            ),
            lambda p: Expect(error=(p.bad_input.stream, "bookmark", "'last tuesday'")),
            lambda p: p.incremental,
        ),
    ]


def api_cases() -> list[Case]:
    return [
        Case(
            "API: non-JSON 200",
            lambda b, _: fault_200(b, "<html><body>Maintenance</body></html>", "text/html"),
            lambda p: Expect(
                error=(
                    f"{p.bad_input.stream}: GET {p.bad_input.path}",
                    "200",
                    "not valid JSON (text/html)",
                )
            ),
        ),
        Case(
            "API: envelope without its data key",
            lambda b, _: fault_200(b, {"total": 3, "results": []}),
            lambda p: Expect(
                error=(
                    f"{p.bad_input.stream}: GET {p.bad_input.path} returned 200 without "
                    + (
                        f"a '{p.bad_input.records_key}' list"
                        if p.bad_input.records_key
                        else "a JSON list"
                    ),
                )
            ),
        ),
    ]


CASES = config_cases() + file_cases() + api_cases()


def case_params() -> list:
    return [
        pytest.param(tap, case, id=f"{tap}: {case.label(spec)}")
        for tap, spec in SCRIPTS.items()
        for case in CASES
        if case.applies(spec)
    ]


# -- running and judging ---------------------------------------------------------------


def run_case(b: Bench, inputs: Inputs, tmp_path: Path) -> CliRun:
    argv: list[str] = []
    for name in ("config", "catalog", "state"):
        value = getattr(inputs, name)
        if value is None:
            continue
        if isinstance(value, Path):
            argv += [f"--{name}", f"{value}.json"]
            continue
        path = tmp_path / f"{name}.json"
        path.write_text(value if isinstance(value, str) else json.dumps(value))
        argv += [f"--{name}", str(path)]
    for fault in inputs.faults:
        b.emulator.server.faults.add(**fault)
    try:
        return b.server.run(tmp_path, *argv)
    finally:
        b.emulator.server.faults.clear()


def judge(b: Bench, run: CliRun, expect: Expect) -> None:
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    output = run.stdout + run.stderr
    leaked = [s for s in (*SECRETS, *expect.absent) if s in output]
    assert not leaked, f"secrets printed: {leaked}"
    lines = run.stderr.splitlines()
    if expect.error:
        assert run.returncode == expect.code, run.stderr[-3000:]
        assert len(run.error_lines) == 1, run.error_lines or run.stderr[-3000:]
        for fragment in expect.error:
            assert fragment in run.error_lines[0], run.error_lines[0]
        assert not [m for m in run.messages if m["type"] == "RECORD"]
        return
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.error_lines == []
    if expect.warning:
        warnings = [line for line in lines if "| WARNING" in line]
        matching = [w for w in warnings if all(f in w for f in expect.warning)]
        assert len(matching) == 1, warnings
    records: dict[str, list[dict]] = {}
    for message in run.messages:
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    for stream, how in expect.records.items():
        got = records.get(stream, [])
        if how == "all":
            assert got == b.reference[stream], stream
        else:
            assert got == [], stream
    if not expect.records:  # "zero records"
        assert records == {}


@pytest.mark.parametrize(("tap", "case"), case_params())
def test_bad_input(tap, case, benches, tmp_path):
    bench = benches(tap)
    with trial(tap, "bad inputs", case.label(bench.spec)):
        inputs = case.inputs(bench, tmp_path)
        run = run_case(bench, inputs, tmp_path)
        judge(bench, run, case.expect(bench.spec))


def comparable(run: CliRun) -> list:
    """The messages without what differs between two runs (time_extracted, signposts)."""
    return [
        (m["type"], m.get("stream"), m.get("record"))
        for m in run.messages
        if m["type"] in {"SCHEMA", "RECORD"}
    ]


def test_the_fork_server_runs_as_the_console_script_does(tmp_path, fork_server):
    """Same exit code, messages and error line through the console script and the server."""
    humaans = TAPS["humaans"]
    with humaans.emulator("inputs", size=4) as emulator:
        config = humaans.config(emulator, "inputs")
        for variant in (config, {**config, "page_size": "x"}):
            direct = run_cli("tap-humaans", tmp_path, config=variant)
            forked = fork_server("tap-humaans").run(tmp_path, config=variant)
            assert forked.returncode == direct.returncode
            assert comparable(forked) == comparable(direct)
            strip = [line.split("| ", 1)[-1] for line in direct.error_lines]
            assert [line.split("| ", 1)[-1] for line in forked.error_lines] == strip
