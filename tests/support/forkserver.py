"""Console-script runs without paying the interpreter and SDK start-up every time.

Starting a tap costs about 1.7 s of CPU before it does anything (the Singer SDK pulls in
fsspec, requests, jsonschema...), and the reliability suites start taps a few hundred
times. A `ForkServer` imports one console script's entry point once, in a server process
with no threads, and forks a child per run. The child is a real process with its own
stdout, stderr, environment, working directory, signal handlers and exit code, and it runs
exactly what the console script runs (`sys.exit(entry_point())`), from the same interpreter
state the script would reach after its imports: only the start-up is shared.

    with ForkServer("tap-humaans") as server:
        run = server.run(tmp_path, config=config)          # a CliRun, like helpers.run_cli
        child = server.spawn(["--config", str(path)])      # stream stdout, signal child.pid
        for line in child.stdout: ...
        child.wait()

The test process talks to the server over a SOCK_SEQPACKET socket pair: a request is one
JSON message carrying the child's stdout and stderr descriptors (SCM_RIGHTS); the answers
are the child's pid, then its exit status (negative for a signal, as in `subprocess`).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import tempfile
import typing as t
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from tests.support.helpers import ROOT, CliRun

_MAX_MESSAGE = 1 << 20


def _serve(script: str, fd: int) -> None:  # pragma: no cover - runs in the server process
    """The server loop: one child at a time, until the test process closes the socket."""
    (entry,) = entry_points(group="console_scripts", name=script)
    main = entry.load()
    channel = socket.socket(fileno=fd)
    while True:
        data, fds, _flags, _addr = socket.recv_fds(channel, _MAX_MESSAGE, 2)
        if not data:
            return
        request = json.loads(data)
        pid = os.fork()
        if pid == 0:
            channel.close()
            _become(request, fds)
            # What the generated console script does; SystemExit ends the interpreter the
            # ordinary way (stdout flushed, atexit handlers run).
            sys.exit(main())
        for descriptor in fds:
            os.close(descriptor)
        channel.send(str(pid).encode())
        _, status = os.waitpid(pid, 0)
        channel.send(str(os.waitstatus_to_exitcode(status)).encode())


def _become(request: dict, fds: list[int]) -> None:  # pragma: no cover - in the child
    """Turn the forked server into the run the request describes."""
    stdin = os.open(os.devnull, os.O_RDONLY)
    for source, target in ((stdin, 0), (fds[0], 1), (fds[1], 2)):
        os.dup2(source, target)
        os.close(source)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = [request["script"], *request["args"]]


@dataclass
class Child:
    """One forked run; `stdout` is a binary pipe when it was asked for."""

    pid: int
    server: ForkServer
    stdout: t.BinaryIO | None
    stderr_file: t.BinaryIO
    returncode: int | None = None

    def wait(self, timeout: float = 120) -> int:
        """Wait for the exit status; kill the child if it takes longer than `timeout`."""
        if self.returncode is None:
            self.returncode = self.server._status(self.pid, timeout)
        return self.returncode

    def stderr(self) -> str:
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode(errors="replace")

    def close(self) -> None:
        if self.stdout is not None:
            self.stdout.close()
        self.stderr_file.close()


class ForkServer:
    """A pre-imported console script that forks one process per run (see the module doc)."""

    def __init__(self, script: str) -> None:
        self.script = script
        self._channel: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._busy = False

    def __enter__(self) -> ForkServer:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.forkserver", self.script, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
        )
        theirs.close()
        self._channel = ours
        return self

    def __exit__(self, *exc: object) -> None:
        if self._channel is not None:
            self._channel.close()  # the server sees end of file and returns
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def spawn(
        self,
        args: t.Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        pipe_stdout: bool = True,
        pipe_size: int | None = None,
    ) -> Child:
        """Start one run: `<script> <args>`, with the environment of `run_cli` (this
        process's, without TAP_* variables, plus `env`). `pipe_size` bounds how far the
        child can write ahead of the reader (Linux only; default 64 KiB)."""
        assert self._channel is not None, "use ForkServer as a context manager"
        assert not self._busy, "wait for the previous child first"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_")}
        full_env.update(env or {})
        stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Child.close
        stdout: t.BinaryIO
        if pipe_stdout:
            read_end, write_end = os.pipe()
            if pipe_size and hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, pipe_size)
            stdout = os.fdopen(read_end, "rb")
        else:
            stdout = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Child.close
            write_end = os.dup(stdout.fileno())
        request = {
            "script": self.script,
            "args": list(args),
            "env": full_env,
            "cwd": str(cwd or Path.cwd()),
        }
        try:
            socket.send_fds(
                self._channel, [json.dumps(request).encode()], [write_end, stderr_file.fileno()]
            )
        finally:
            os.close(write_end)
        self._busy = True
        pid = int(self._channel.recv(64))
        return Child(pid, self, stdout, stderr_file)

    def _status(self, pid: int, timeout: float) -> int:
        assert self._channel is not None
        self._channel.settimeout(timeout)
        try:
            answer = self._channel.recv(64)
        except TimeoutError:
            os.kill(pid, 9)
            self._channel.settimeout(None)
            answer = self._channel.recv(64)
            raise AssertionError(f"{self.script} ran longer than {timeout}s") from None
        finally:
            self._channel.settimeout(None)
            self._busy = False
        return int(answer)

    def run(
        self,
        tmp_path: Path,
        *args: str,
        config: dict | None = None,
        state: dict | None = None,
        catalog: dict | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> CliRun:
        """One complete run, as `helpers.run_cli` does it (config/state/catalog files)."""
        argv: list[str] = []
        for name, value in (("config", config), ("state", state), ("catalog", catalog)):
            if value is not None:
                path = tmp_path / f"{name}.json"
                path.write_text(json.dumps(value))
                argv += [f"--{name}", str(path)]
        child = self.spawn([*argv, *args], env=env, cwd=tmp_path, pipe_stdout=False)
        try:
            returncode = child.wait(timeout)
            assert child.stdout is not None
            child.stdout.seek(0)
            stdout = child.stdout.read().decode(errors="replace")
            return CliRun(returncode, stdout, child.stderr())
        finally:
            child.close()


if __name__ == "__main__":  # pragma: no cover
    _serve(sys.argv[1], int(sys.argv[2]))
