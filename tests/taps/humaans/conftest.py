"""The Humaans emulator and a config for it, per test."""

from __future__ import annotations

import typing as t

import pytest

from human_sandbox.humaans import HumaansEmulator
from tests.support.registry import TAPS


@pytest.fixture
def humaans() -> t.Iterator[HumaansEmulator]:
    """A fresh Humaans emulator (the registry's `tap` dataset) per test."""
    with TAPS["humaans"].emulator() as emulator:
        yield emulator


@pytest.fixture
def humaans_config(humaans: HumaansEmulator) -> dict:
    """Config pointing tap-humaans at the per-test emulator, with fast retries."""
    return TAPS["humaans"].config(humaans)
