"""The Singer SDK's standard tap tests, run against the Human API emulator."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from human_sandbox.humanapi import APP_KEY, CLIENT_ID, CLIENT_SECRET, HumanApiEmulator
from tap_humanapi.tap import TapHumanApi

_EMULATOR = HumanApiEmulator(seed=3, size=3, no_source_users=0).start()
atexit.register(_EMULATOR.stop)

TestTapHumanApi = get_tap_test_class(
    tap_class=TapHumanApi,
    config={
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "app_key": APP_KEY,
        "api_url": _EMULATOR.api_url,
        "auth_url": _EMULATOR.auth_url,
        "requests_per_second": 0,
    },
    suite_config=SuiteConfig(),
)
