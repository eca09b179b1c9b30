"""The Singer SDK's standard tap tests, run against the Humanos emulator."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from human_sandbox.humanos import API_KEY, SIGNATURE_SECRET, HumanosEmulator
from tap_humanos.tap import TapHumanos

_EMULATOR = HumanosEmulator(seed=3, size=15).start()
atexit.register(_EMULATOR.stop)

TestTapHumanos = get_tap_test_class(
    tap_class=TapHumanos,
    config={
        "api_key": API_KEY,
        "signature_secret": SIGNATURE_SECRET,
        "api_url": _EMULATOR.url,
        "start_date": "2024-01-01",
        "requests_per_second": 0,
    },
    suite_config=SuiteConfig(),
)
