"""The Singer SDK's standard tap tests, for every tap in every auth mode of
tests/support/registry.py (a class per pair: `TestTapHumaans`, `TestTapOpenHumanOAuth`...),
each against its emulator (the `sdk` use)."""

from __future__ import annotations

import atexit
import re
import tempfile
from pathlib import Path

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tests.support.registry import TAPS


def _camel(name: str) -> str:
    return "".join(word[0].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", name))


for _spec in TAPS.values():
    _emulator = _spec.emulator("sdk").start()
    atexit.register(_emulator.stop)
    for _auth in _spec.auth:
        _extra = {}
        if _spec.rotates_refresh_token and _spec.token_path("sdk", _auth):
            # the refresh token rotates across the suite's many runs: keep it in a cache
            _extra["token_cache_path"] = str(Path(tempfile.mkdtemp()) / "token.json")
        _name = f"Test{_spec.tap_class.__name__}" + (_camel(_auth) if len(_spec.auth) > 1 else "")
        globals()[_name] = get_tap_test_class(
            tap_class=_spec.tap_class,
            config=_spec.config(_emulator, "sdk", auth=_auth, **_extra),
            suite_config=SuiteConfig(),
        )
