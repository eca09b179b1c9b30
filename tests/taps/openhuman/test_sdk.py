"""The Singer SDK's standard tap tests against the OpenHuman emulator, in both auth modes."""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from human_sandbox.openhuman import API_KEY, CLIENT_ID, CLIENT_SECRET, OpenHumanEmulator
from tap_openhuman.tap import TapOpenHuman

_EMULATOR = OpenHumanEmulator(seed=3, size=6).start()
atexit.register(_EMULATOR.stop)
_CACHE = Path(tempfile.mkdtemp()) / "token.json"  # rotation across the suite's many runs
_COMMON = {
    "api_url": _EMULATOR.api_url,
    "auth_url": _EMULATOR.auth_url,
    "start_date": "2024-01-01",
    "requests_per_second": 0,
}

TestTapOpenHumanApiKey = get_tap_test_class(
    tap_class=TapOpenHuman,
    config={**_COMMON, "api_key": API_KEY},
    suite_config=SuiteConfig(),
)

TestTapOpenHumanOAuth = get_tap_test_class(
    tap_class=TapOpenHuman,
    config={
        **_COMMON,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": _EMULATOR.issue_refresh_token(),
        "token_cache_path": str(_CACHE),
    },
    suite_config=SuiteConfig(),
)
