"""Shared fixtures: loopback emulators on free ports, torn down after each test."""

from __future__ import annotations

import typing as t

import pytest

from human_sandbox.humaans import FULL_TOKEN, HumaansEmulator
from tests.forkserver import ForkServer


@pytest.fixture
def humaans() -> t.Iterator[HumaansEmulator]:
    """A fresh Humaans emulator (seed 7, 40 people) per test."""
    with HumaansEmulator(seed=7, size=40) as emulator:
        yield emulator


@pytest.fixture
def humaans_config(humaans: HumaansEmulator) -> dict:
    """Config pointing tap-humaans at the per-test emulator, with fast retries."""
    return {
        "api_token": FULL_TOKEN,
        "api_url": humaans.url,
        "requests_per_second": 0,
        "max_retries": 3,
    }


@pytest.fixture(scope="session")
def fork_server() -> t.Iterator[t.Callable[[str], ForkServer]]:
    """`fork_server("tap-x")`: one ForkServer per console script for the whole session, so
    the suites that run a tap hundreds of times pay its start-up once."""
    servers: dict[str, ForkServer] = {}

    def get(script: str) -> ForkServer:
        if script not in servers:
            servers[script] = ForkServer(script).__enter__()
        return servers[script]

    yield get
    for server in servers.values():
        server.__exit__(None, None, None)
