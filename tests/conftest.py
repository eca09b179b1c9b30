"""Fixtures for the whole suite; the ones for a part of it live in that part's conftest."""

from __future__ import annotations

import typing as t

import pytest

from tests.support.forkserver import ForkServer


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
