"""`make sandbox`: the five API emulators on fixed loopback ports, and a ready config per tap.

Starts each emulator on the port meltano.yml's `sandbox` environment points at (humaans 8301,
huma 8302, humanos 8303, openhuman 8304, humanapi 8305), writes for each tap a folder
`output/sandbox/<tap>/` with `config.json` (that environment's settings: the emulators' fake
test credentials, not secrets) and `target.json` (target-jsonl writing into the same folder),
prints the command that runs the tap into target-jsonl, and serves until Ctrl-C.
`meltano --environment=sandbox run <tap> <loader>` works against it too.

`--any-ports` takes free ports instead (the configs then point at those; meltano.yml does
not): for a second sandbox, or tests.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from scripts.demo import ENVIRONMENT, JOBS, ROOT, Children, Interrupted, sandbox_configs

#: Where `make` installs the taps and target-jsonl, from the repository's root.
TAPS_BIN = ".venv/bin"
TARGET = ".tools/bin/target-jsonl"


def shown(path: Path) -> str:
    """A path as the user types it: relative to the current folder when inside it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def busy(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def start(children: Children, configs: dict[str, dict], any_ports: bool) -> dict[str, str]:
    """Start every emulator; tap -> the URL its READY line announced."""
    started = {}
    for job in JOBS:
        port = 0 if any_ports else urlsplit(configs[job.tap]["api_url"]).port
        argv = [sys.executable, "-m", "human_sandbox", job.emulator, "--port", str(port)]
        argv += ["--records", str(job.records)]
        started[job.tap] = children.start(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    urls = {}
    for tap, process in started.items():
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the emulator for {tap} did not start")
        urls[tap] = line.split()[1]
    return urls


def write_configs(output: Path, configs: dict[str, dict], urls: dict[str, str]) -> list[str]:
    """Each tap's config.json and target.json; the command lines that use them."""
    lines = []
    for job in JOBS:
        folder = output / job.tap
        folder.mkdir(parents=True, exist_ok=True)
        config = {**configs[job.tap], **job.urls(urls[job.tap])}
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        target = {"destination_path": str(folder.resolve())}
        (folder / "target.json").write_text(json.dumps(target, indent=2) + "\n")
        lines.append(
            f"{TAPS_BIN}/{job.tap} --config {shown(folder / 'config.json')}"
            f" | {TARGET} --config {shown(folder / 'target.json')}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("output") / ENVIRONMENT)
    parser.add_argument("--any-ports", action="store_true", help="free ports, not 8301-8305")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    configs = sandbox_configs()
    if not args.any_ports:
        taken = [
            f"{urlsplit(c['api_url']).port} ({tap})"
            for tap, c in configs.items()
            if busy(urlsplit(c["api_url"]).port or 0)
        ]
        if taken:
            print(
                f"sandbox: port {', '.join(taken)} in use: is a sandbox running already? "
                "(`make sandbox SANDBOX_ARGS=--any-ports` takes free ports)",
                file=sys.stderr,
            )
            return 1

    def interrupted(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in signals:
        signal.signal(signum, interrupted)
    children = Children()
    try:
        urls = start(children, configs, args.any_ports)
        lines = write_configs(output, configs, urls)
        print(f"sandbox: {len(JOBS)} emulators on loopback, a folder per tap in {shown(output)}/")
        for job, line in zip(JOBS, lines, strict=True):
            print(f"{job.tap:<14} {urls[job.tap]}\n  {line}")
        if not args.any_ports:
            meltano = f".meltano-venv/bin/meltano --environment={ENVIRONMENT} run <tap> <loader>"
            print(f"with Meltano (`make meltano` installs it): {meltano}")
        print("sandbox: serving until Ctrl-C", flush=True)
        signal.pause()
    except Interrupted:
        print("\nsandbox: stopping the emulators", flush=True)
    except RuntimeError as error:
        print(f"sandbox: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        for signum in signals:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(signum, signal.SIG_IGN)
        children.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
