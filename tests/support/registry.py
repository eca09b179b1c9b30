"""Every tap of the collection with a small emulator and a config for it, for the tests
that run the same check against all five."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from singer_sdk import Tap

from human_sandbox.core import Emulator
from human_sandbox.huma import HumaEmulator
from human_sandbox.humaans import FULL_TOKEN, HumaansEmulator
from human_sandbox.humanapi import HumanApiEmulator
from human_sandbox.humanos import HumanosEmulator
from human_sandbox.openhuman import OpenHumanEmulator
from tap_huma.tap import TapHuma
from tap_humaans.tap import TapHumaans
from tap_humanapi.tap import TapHumanApi
from tap_humanos.tap import TapHumanos
from tap_openhuman.tap import TapOpenHuman
from tests.taps.huma.test_tap import config_for as huma_config
from tests.taps.humanapi.test_tap import config_for as humanapi_config
from tests.taps.humanos.test_tap import config_for as humanos_config
from tests.taps.openhuman.test_tap import key_config as openhuman_config


@dataclass(frozen=True)
class TapCase:
    name: str
    tap_class: type[Tap]
    emulator: t.Callable[..., Emulator]
    config: t.Callable[..., dict]


def _humaans_config(emulator: HumaansEmulator, **extra: t.Any) -> dict:
    return {
        "api_token": FULL_TOKEN,
        "api_url": emulator.url,
        "requests_per_second": 0,
        "max_retries": 3,
        **extra,
    }


TAPS = [
    TapCase(
        "humaans", TapHumaans, lambda **kw: HumaansEmulator(seed=7, size=30, **kw), _humaans_config
    ),
    TapCase("huma", TapHuma, lambda **kw: HumaEmulator(seed=7, size=12, **kw), huma_config),
    TapCase(
        "humanos", TapHumanos, lambda **kw: HumanosEmulator(seed=7, size=25, **kw), humanos_config
    ),
    TapCase(
        "openhuman",
        TapOpenHuman,
        lambda **kw: OpenHumanEmulator(seed=7, size=12, **kw),
        openhuman_config,
    ),
    TapCase(
        "humanapi",
        TapHumanApi,
        lambda **kw: HumanApiEmulator(seed=7, size=6, **kw),
        humanapi_config,
    ),
]
