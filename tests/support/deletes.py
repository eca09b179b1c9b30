"""Runs that delete records between two syncs, for the delete suites: the exact tombstones
(tests/taps/test_deletes.py), a run killed while it looks for deletes
(tests/reliability/test_resume.py) and one that fails there (tests/reliability/test_faults.py).

Each tap that needs more than ACTIVATE_VERSION says in the registry how to delete records
in its emulator and which requests look for deletes (`Deletes`). The runs are real CLI runs
(a `ForkServer` child), every stream selected, each resuming from the last STATE before.
"""

from __future__ import annotations

import json
import os
import signal
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from human_sandbox.core import EmulatorServer, Request, Response, json_response
from tests.support.forkserver import ForkServer
from tests.support.helpers import parse_messages
from tests.support.registry import TAPS, TapSpec

#: Taps whose deletes the suites exercise.
DELETING = [spec for spec in TAPS.values() if spec.deletes is not None]
TOMBSTONE = "_sdc_deleted_at"
#: Fields a tombstone may carry besides its key: its parent's keys, `_extra` (null).
_PARENT_KEYS = {"humanId", "conversation_id", "requestId"}


@dataclass
class Run:
    """One CLI run: its messages, exit code, and whether the test stopped it."""

    messages: list[dict]
    returncode: int
    stderr: str
    stopped: bool = False

    @property
    def last_state(self) -> dict | None:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else None

    def records(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for message in self.messages:
            if message["type"] == "RECORD":
                out.setdefault(message["stream"], []).append(message["record"])
        return out

    def tombstones(self, keys: dict[str, list[str]]) -> dict[str, list[tuple]]:
        """The tombstones by stream (their keys, in the order written): records with
        `_sdc_deleted_at` and nothing but keys beside it."""
        out: dict[str, list[tuple]] = {}
        for stream, records in self.records().items():
            for record in records:
                if not record.get(TOMBSTONE):
                    continue
                rest = set(record) - set(keys[stream]) - _PARENT_KEYS - {TOMBSTONE}
                if any(record[name] is not None for name in rest):
                    continue  # a record the API lists as deleted, with its data
                out.setdefault(stream, []).append(tuple(record[k] for k in keys[stream]))
        return out


@dataclass
class Interceptor:
    """Wraps an emulator's app: from the `after`-th request that `finds` deletes on, it
    either kills the run (`pid`) or answers 503."""

    server: EmulatorServer
    finds: t.Callable[[Request], bool]
    after: int = 1
    mode: t.Literal["kill", "fail", "off"] = "off"
    pid: int | None = None
    seen: int = 0
    fired: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inner = self.server.app
        self.server.app = self

    def __call__(self, request: Request) -> Response:
        if self.mode != "off" and self.finds(request):
            self.seen += 1
            if self.seen > self.after:
                self.fired.append(request.path)
                if self.mode == "kill" and self.pid is not None:
                    os.kill(self.pid, signal.SIGKILL)
                return json_response(503, {"message": "unavailable"}, {"Retry-After": "0"})
        return self.inner(request)


@dataclass
class DeleteRuns:
    """A tap, its emulator, a fork server and a work folder: CLI runs from a state."""

    spec: TapSpec
    emulator: t.Any
    server: ForkServer
    folder: Path
    config: dict
    interceptor: Interceptor = field(init=False)

    def __post_init__(self) -> None:
        deletes = t.cast("t.Any", self.spec.deletes)
        self.interceptor = Interceptor(self.emulator.server, deletes.finds, deletes.through)
        tap = self.spec.tap(self.config)
        self.keys = {name: list(stream.primary_keys) for name, stream in tap.streams.items()}

    def run(self, state: dict | None, *, kill: bool = False) -> Run:
        """One run from `state`; `kill`: SIGKILL when the interceptor fires."""
        args = ["--config", str(self._write("config", self.config))]
        if state is not None:
            args += ["--state", str(self._write("state", state))]
        child = self.server.spawn(args, cwd=self.folder, pipe_stdout=False)
        self.interceptor.pid = child.pid if kill else None
        try:
            returncode = child.wait(120)
            assert child.stdout is not None
            child.stdout.seek(0)
            raw = child.stdout.read().decode(errors="replace")
            complete = raw if raw.endswith("\n") or not raw else raw[: raw.rfind("\n") + 1]
            return Run(parse_messages(complete), returncode, child.stderr(), bool(kill))
        finally:
            self.interceptor.pid = None
            child.close()

    def _write(self, name: str, value: dict) -> Path:
        path = self.folder / f"{name}.json"
        path.write_text(json.dumps(value))
        return path


def keys_by_stream(found: dict[str, list[tuple]]) -> dict[str, set[tuple]]:
    return {stream: set(keys) for stream, keys in found.items()}
