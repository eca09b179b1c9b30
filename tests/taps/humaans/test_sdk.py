"""The Singer SDK's standard tap tests, run against the Humaans emulator."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from human_sandbox.humaans import FULL_TOKEN, HumaansEmulator
from tap_humaans.tap import TapHumaans

_EMULATOR = HumaansEmulator(seed=3, size=25).start()
atexit.register(_EMULATOR.stop)

TestTapHumaans = get_tap_test_class(
    tap_class=TapHumaans,
    config={
        "api_token": FULL_TOKEN,
        "api_url": _EMULATOR.url,
        "start_date": "2023-01-01",
        "requests_per_second": 0,
    },
    suite_config=SuiteConfig(),
)
