"""The Humaans emulator and a config for it, per test."""

from __future__ import annotations

import typing as t

import pytest

from human_sandbox.humaans import FULL_TOKEN, HumaansEmulator


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
