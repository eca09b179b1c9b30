"""Run an API emulator as a process, for demos and benchmarks.

    python -m human_sandbox humaans --port 0 --records 40 --seed 7 --latency-ms 0

Prints exactly one line, ``READY <api_url>``, once the server accepts connections, then
serves until SIGTERM or SIGINT and exits 0. Other emulators plug in through ``REGISTRY``.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol


class Emulator(Protocol):
    """What the CLI needs from an emulator."""

    @property
    def url(self) -> str: ...

    def start(self) -> object: ...

    def stop(self) -> None: ...


def _humaans(args: argparse.Namespace) -> Emulator:
    from human_sandbox.humaans import HumaansEmulator  # loaded on demand

    emulator = HumaansEmulator(
        seed=args.seed,
        size=args.records,
        latency_ms=args.latency_ms,
        port=args.port,
        people_only=args.people_only,
    )
    # The source "moved on" since the last run: what an incremental run should pick up.
    if args.update_people:
        emulator.update_people(args.update_people)
    if args.add_people:
        emulator.add_people(args.add_people)
    # Build every serving index before READY so the first page of each stream is not slow.
    emulator.warm()
    return emulator


def _huma(args: argparse.Namespace) -> Emulator:
    from human_sandbox.huma import HumaEmulator  # loaded on demand

    # --records is the number of users.
    return HumaEmulator(
        seed=args.seed, size=args.records, latency_ms=args.latency_ms, port=args.port
    )


def _openhuman(args: argparse.Namespace) -> Emulator:
    from human_sandbox.openhuman import OpenHumanEmulator  # loaded on demand

    # --records is the number of agents; READY announces the API base URL (…/v1).
    return OpenHumanEmulator(
        seed=args.seed, size=args.records, latency_ms=args.latency_ms, port=args.port
    )


def _humanos(args: argparse.Namespace) -> Emulator:
    from human_sandbox.humanos import HumanosEmulator  # loaded on demand

    # --records is the number of requests.
    return HumanosEmulator(
        seed=args.seed, size=args.records, latency_ms=args.latency_ms, port=args.port
    )


def _humanapi(args: argparse.Namespace) -> Emulator:
    from human_sandbox.humanapi import HumanApiEmulator  # loaded on demand

    # --records is the number of users (the last one has no connected source); READY
    # announces the base URL of both the API and the auth service.
    return HumanApiEmulator(
        seed=args.seed,
        size=args.records,
        latency_ms=args.latency_ms,
        port=args.port,
        wellness_scale=args.wellness_scale,
    )


#: Emulator name -> factory taking the parsed CLI arguments.
REGISTRY: dict[str, Callable[[argparse.Namespace], Emulator]] = {
    "humaans": _humaans,
    "huma": _huma,
    "openhuman": _openhuman,
    "humanos": _humanos,
    "humanapi": _humanapi,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="human-sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=sorted(REGISTRY), help="which API to emulate")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free one)")
    parser.add_argument(
        "--records", type=int, default=40, help="dataset size (for humaans: the number of people)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the dataset")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="delay added before every response"
    )
    parser.add_argument(
        "--update-people", type=int, default=0, help="change this many people before serving"
    )
    parser.add_argument(
        "--add-people", type=int, default=0, help="add this many people before serving"
    )
    parser.add_argument(
        "--people-only",
        action="store_true",
        help="humaans: people only, other resources empty (the benchmark's dataset)",
    )
    parser.add_argument(
        "--wellness-scale",
        type=float,
        default=1.0,
        help="humanapi: wellness records per user times this (0.1: about 30 records a user)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the chosen emulator, announce it and serve until told to stop."""
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    emulator = REGISTRY[args.name](args)
    if stop.is_set():  # told to stop while the dataset was being built
        return 0
    # The dataset lives until exit: keep the cyclic GC from rescanning it while serving.
    gc.freeze()
    emulator.start()
    try:
        sys.stdout.write(f"READY {emulator.url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


def run() -> None:
    """The `human-sandbox` command and `python -m human_sandbox`."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip freeing every record one by one at exit: that takes seconds at 100k people.
    os._exit(status)


if __name__ == "__main__":
    run()
