"""Running a tap in-process or as a CLI and reading back its Singer messages."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import signal
import subprocess
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from singer_sdk import Tap

#: The repository's root.
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SyncResult:
    """Every message of one run, grouped the way tests ask about them."""

    messages: list[dict] = field(default_factory=list)

    @property
    def records(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for message in self.messages:
            if message["type"] == "RECORD":
                out.setdefault(message["stream"], []).append(message["record"])
        return out

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict:
        return self.states[-1] if self.states else {}

    def bookmark(self, stream: str) -> t.Any:
        return self.final_state["bookmarks"][stream].get("replication_key_value")


def as_emitted(records: t.Iterable[dict]) -> list[dict]:
    """Records as a tap emits them when its schema declares every field they have: with
    `_extra` null (tests/test_shared_extra.py covers undeclared fields)."""
    return [{**record, "_extra": None} for record in records]


def parse_messages(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sync(
    tap_class: type[Tap],
    config: dict,
    *,
    state: dict | None = None,
    catalog: dict | None = None,
) -> SyncResult:
    """Run a whole sync in this process and capture its stdout."""
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8")
    with contextlib.redirect_stdout(stdout):
        # the SDK updates the state it is given in place: keep the caller's copy intact
        tap = tap_class(config=config, state=copy.deepcopy(state), catalog=catalog)
        tap.sync_all()
        stdout.flush()
    return SyncResult(parse_messages(buffer.getvalue().decode()))


def select_only(tap_class: type[Tap], config: dict, streams: set[str]) -> dict:
    """A catalog with only `streams` selected."""
    catalog = tap_class(config=config, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[dict]:
        return parse_messages(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]


def run_cli(
    executable: str,
    tmp_path: Path,
    *args: str,
    config: dict | None = None,
    state: dict | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> CliRun:
    """Run a tap's console script (from this venv) with config/state files."""
    argv = [str(Path(sys.executable).parent / executable)]
    if config is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        argv += ["--config", str(path)]
    if state is not None:
        path = tmp_path / "state.json"
        path.write_text(json.dumps(state))
        argv += ["--state", str(path)]
    argv += list(args)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_")}
    full_env.update(env or {})
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


@contextlib.contextmanager
def emulator_process(name: str, *args: str) -> t.Iterator[str]:
    """`python -m human_sandbox <name> --port 0 ...` as the demo runs it: yields the URL
    of its READY line, then stops it with SIGTERM and checks it exits 0, printing nothing more."""
    process = subprocess.Popen(
        [sys.executable, "-m", "human_sandbox", name, "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"READY (http://127\.0\.0\.1:\d+\S*)\n", line)
        assert match, line
        yield match.group(1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert out == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
