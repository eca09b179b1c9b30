"""The Singer SDK's standard tap tests, run against the Huma emulator."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from human_sandbox.huma import CLIENT_ID, CLIENT_SECRET, HumaEmulator
from tap_huma.tap import TapHuma

_EMULATOR = HumaEmulator(seed=3, size=12).start()
atexit.register(_EMULATOR.stop)

TestTapHuma = get_tap_test_class(
    tap_class=TapHuma,
    config={
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "api_url": _EMULATOR.url,
        "holiday_countries": ["NO"],
        "requests_per_second": 0,
    },
    suite_config=SuiteConfig(),
)
