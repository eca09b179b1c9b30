"""The README, followed literally, works: its shell blocks run here against the sandbox.

Every ```bash block of README.md has a marker in the line before it:
`<!-- readme-test: <name> -->` runs the block, and CHECKS[name] checks what it did;
`<!-- readme-test: skip: <why> -->` does not run it, and says why. A block without a marker
fails the test, so a new block has to say which it is.

The blocks run in the README's order, each in a bash of its own, as a user pasting them
into a terminal at the repository's root would; the only liberties taken:
- the root is a copy of this checkout made of symlinks, so what the blocks write lands in
  tmp_path: the checkout's output/, Meltano state and system database stay untouched;
- PATH holds none of the checkout's folders (`uv run pytest` puts .venv/bin there), so a
  bare `tap-humaans` fails here as on a fresh clone;
- `make sandbox` runs its recipe's command with --any-ports (8301-8305 may be taken by a
  sandbox or test run elsewhere): in the blocks, 127.0.0.1:830x becomes the port taken, and
  Meltano gets the same URLs through TAP_<NAME>_API_URL;
- `make <target>` lines are checked with `make -n` in the checkout (`make test` has built
  what they build), not run.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scripts.demo import JOBS, sandbox_configs
from tap_humaans.tap import STREAMS as HUMAANS_STREAMS
from tests.support import meltano_cli
from tests.support.helpers import ROOT

TARGET_JSONL = ROOT / ".tools" / "bin" / "target-jsonl"
MARKED = re.compile(
    r"^(?P<indent> *)<!-- readme-test: (?P<marker>.+?) -->\n"
    r"(?P=indent)```bash\n(?P<body>.*?)^(?P=indent)```$",
    re.MULTILINE | re.DOTALL,
)
#: Records each emulator serves (demo.JOBS sizes): Humaans people, Humanos requests.
PEOPLE = 200
REQUESTS = 150


@dataclass
class Block:
    marker: str
    text: str

    @property
    def make_lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.startswith("make ")]


def readme_blocks() -> list[Block]:
    text = (ROOT / "README.md").read_text()
    blocks = []
    for match in MARKED.finditer(text):
        indent = len(match["indent"])
        body = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        blocks.append(Block(match["marker"], body))
    return blocks


@dataclass
class Session:
    """The copy of the checkout the blocks run in, and the sandbox serving them."""

    root: Path
    env: dict[str, str]
    ports: dict[str, str]  # "127.0.0.1:8301" -> "127.0.0.1:<port taken>"
    sandbox_output: str

    def start(self, text: str) -> subprocess.Popen[str]:
        for fixed, taken in self.ports.items():
            text = text.replace(fixed, taken)
        lines = [line for line in text.splitlines() if not line.startswith("make ")]
        return subprocess.Popen(
            ["bash", "-c", "\n".join(lines)],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def bash(self, text: str) -> subprocess.CompletedProcess[str]:
        process = self.start(text)
        out, err = process.communicate(timeout=300)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def lines(self, folder: str, stream: str) -> int:
        """Records written so far for `stream` into `folder` (all runs)."""
        return sum(
            len(path.read_text().splitlines())
            for path in (self.root / folder).glob(f"{stream}-*.jsonl")
        )


def fresh_env(urls: dict[str, str]) -> dict[str, str]:
    """The caller's environment without this checkout on PATH nor any plugin setting, and
    the sandbox URLs for Meltano."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TAP_", "TARGET_", "MELTANO_", "VIRTUAL_ENV", "UV_"))
    }
    env["PATH"] = os.pathsep.join(
        entry
        for entry in env["PATH"].split(os.pathsep)
        if not Path(entry).resolve().is_relative_to(ROOT)
    )
    env |= {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_HUB_URL": "http://127.0.0.1:9"}
    for job in JOBS:
        for name, value in job.settings(urls[job.tap]).items():
            env[name] = value
    return env


#: Copied, not linked: Meltano wants its project files inside the project.
MELTANO_FILES = ("meltano.yml", "orchestration/meltano-shards.yml")


def clone(tmp: Path) -> Path:
    """The checkout as symlinks (Meltano's project files copied); its own .meltano/,
    sharing only the installed plugins."""
    root = tmp / "human-taps"
    root.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {".git", ".meltano", "output", "meltano.yml", "orchestration"}:
            (root / entry.name).symlink_to(entry)
    (root / "orchestration").mkdir()
    for entry in (ROOT / "orchestration").iterdir():
        (root / "orchestration" / entry.name).symlink_to(entry)
    for name in MELTANO_FILES:
        (root / name).unlink(missing_ok=True)
        (root / name).write_text((ROOT / name).read_text())
    (root / ".meltano").mkdir()
    for name in ("extractors", "loaders"):
        (root / ".meltano" / name).symlink_to(ROOT / ".meltano" / name)
    return root


# -- checks, one per marker; each runs its block and asserts what it did -----------------


def check_direct(session: Session, block: Block) -> None:
    done = session.bash(block.text)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("Name: tap-humaans"), done.stdout[:200]
    folder = Path(session.sandbox_output) / "tap-humaans"
    catalog = json.loads((session.root / folder / "catalog.json").read_text())
    people = json.loads((session.root / folder / "people.json").read_text())
    assert len(catalog["streams"]) == len(HUMAANS_STREAMS.specs)
    assert [s["tap_stream_id"] for s in people["streams"] if selected(s)] == ["people"]
    # Every stream once, then people alone again.
    assert session.lines(str(folder), "people") == 2 * PEOPLE
    assert session.lines(str(folder), "job_roles") > 0


def selected(stream: dict) -> bool:
    (top,) = [m for m in stream["metadata"] if m["breadcrumb"] == []]
    return bool(top["metadata"].get("selected"))


def check_incremental(session: Session, block: Block) -> None:
    folder = Path(session.sandbox_output) / "tap-humaans"
    state_file = session.root / folder / "state.json"
    assert not state_file.exists()
    before = session.lines(str(folder), "people")

    first = session.bash(block.text)  # no state.json yet
    assert first.returncode == 0, first.stderr[-3000:]
    state = json.loads(state_file.read_text())
    assert state["bookmarks"]["people"]["replication_key"] == "updatedAt"
    assert state["bookmarks"]["people"]["replication_key_value"]
    assert session.lines(str(folder), "people") == before + PEOPLE

    again = session.bash(block.text)  # nothing changed since
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(state_file.read_text()) == state
    assert not (session.root / folder / "new-state.json").exists()
    assert session.lines(str(folder), "people") == before + PEOPLE + 1  # the boundary record


def check_env(session: Session, block: Block) -> None:
    folder = str(Path(session.sandbox_output) / "tap-humaans")
    before = session.lines(folder, "people")
    done = session.bash(block.text)
    assert done.returncode == 0, done.stderr[-3000:]
    assert session.lines(folder, "people") == before + PEOPLE


def check_meltano(session: Session, block: Block) -> None:
    assert [line.split("#")[0].strip() for line in block.make_lines] == ["make meltano"]
    done = session.bash(block.text)
    assert done.returncode == 0, done.stderr[-3000:]
    assert session.lines("output/tap-humanos", "requests") == REQUESTS


def check_loaders(session: Session, block: Block) -> None:
    done = session.bash(block.text)
    assert done.returncode == 0, done.stderr[-3000:]
    with (session.root / "output" / "csv" / "requests.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == REQUESTS
    assert {"id", "createdAt"} <= set(rows[0])


CHECKS: dict[str, t.Callable[[Session, Block], None]] = {
    "direct": check_direct,
    "incremental": check_incremental,
    "env": check_env,
    "meltano": check_meltano,
    "loaders": check_loaders,
}


def test_every_shell_block_is_marked():
    text = (ROOT / "README.md").read_text()
    blocks = readme_blocks()
    assert len(blocks) == text.count("```bash"), "a ```bash block without a readme-test marker"
    for block in blocks:
        name = block.marker
        assert name == "sandbox" or name in CHECKS or name.startswith("skip: "), name
    assert [b.marker for b in blocks if not b.marker.startswith("skip")] == [
        "sandbox",
        *CHECKS,
    ], "each checked block exactly once, in this order"


def test_every_make_line_names_a_target():
    lines = {line for block in readme_blocks() for line in block.make_lines}
    assert {"make sandbox", "make meltano", "make demo", "make test"} <= {
        line.split("#")[0].strip() for line in lines
    }
    for line in lines:
        target = line.split("#")[0].split()[1:]
        done = subprocess.run(
            ["make", "-n", *target], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{line}: {done.stderr}"


def test_the_readme_followed_literally_works(tmp_path):
    meltano_cli.require(
        meltano_cli.installed()
        or (None if TARGET_JSONL.exists() else f"{TARGET_JSONL} is not installed")
    )
    (sandbox,) = [b for b in readme_blocks() if b.marker == "sandbox"]
    assert sandbox.make_lines[0].split("#")[0].strip() == "make sandbox"
    recipe = subprocess.run(
        ["make", "-n", "sandbox", "SANDBOX_ARGS=--any-ports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "run python -m scripts.sandbox --any-ports" in recipe

    root = clone(tmp_path)
    process = subprocess.Popen(
        [root / ".venv" / "bin" / "python", "-m", "scripts.sandbox", "--any-ports"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        printed = []
        while not printed or printed[-1] != "sandbox: serving until Ctrl-C\n":
            line = process.stdout.readline()
            assert line, "".join(printed) + process.communicate()[1]
            printed.append(line)
        urls = dict(re.findall(r"^(tap-\S+) +(http://\S+)$", "".join(printed), re.MULTILINE))
        assert list(urls) == [job.tap for job in JOBS]
        configs = sandbox_configs()
        ports = {
            urlsplit(configs[tap]["api_url"]).netloc: urlsplit(url).netloc
            for tap, url in urls.items()
        }
        session = Session(root, fresh_env(urls), ports, "output/sandbox")

        # The command printed for each tap runs it into its folder.
        commands = [line.strip() for line in printed if line.startswith("  .venv/bin/")]
        assert commands[0] == (
            ".venv/bin/tap-humaans --config output/sandbox/tap-humaans/config.json"
            " | .tools/bin/target-jsonl --config output/sandbox/tap-humaans/target.json"
        )
        assert len(commands) == len(JOBS)
        running = [session.start(command) for command in commands]  # side by side
        for job, command, run in zip(JOBS, commands, running, strict=True):
            out, err = run.communicate(timeout=300)
            assert run.returncode == 0, f"{command}: {err[-3000:]}"
            assert isinstance(json.loads(out.splitlines()[-1]), dict)  # the final STATE
            written = list((root / "output" / "sandbox" / job.tap).glob("*.jsonl"))
            assert written, job.tap
            for path in written:  # then gone, so the blocks start from the sandbox alone
                path.unlink()

        for block in readme_blocks():
            if block.marker in CHECKS:
                CHECKS[block.marker](session, block)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.endswith("sandbox: stopping the emulators\n")


def test_the_sandbox_says_when_its_ports_are_taken(tmp_path):
    configs = sandbox_configs()
    port = urlsplit(configs["tap-huma"]["api_url"]).port
    with socket.socket() as held:
        try:
            held.bind(("127.0.0.1", port))
        except OSError:
            pytest.skip(f"port {port} is in use here already")
        held.listen()
        done = subprocess.run(
            [sys.executable, "-m", "scripts.sandbox", "--output", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.startswith("sandbox: port ")
    assert f"{port} (tap-huma)" in done.stderr
    assert done.stderr.endswith(
        " in use: is a sandbox running already? "
        "(`make sandbox SANDBOX_ARGS=--any-ports` takes free ports)\n"
    )
    assert done.stdout == ""
    assert not list(tmp_path.iterdir())
