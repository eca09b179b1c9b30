"""tests/support/registry.py describes every tap of the workspace, and only with settings the
tap knows: a tap left out, or a config that the tap would reject or warn about, fails here
rather than as a puzzling failure in a suite that derives from the registry."""

from __future__ import annotations

from importlib.metadata import entry_points
from types import SimpleNamespace

import pytest

from tests.support.helpers import ROOT
from tests.support.registry import TAPS, USES

#: Stands in for an emulator where only its URLs and issued tokens are read.
STUB = SimpleNamespace(
    url="http://127.0.0.1:9",
    api_url="http://127.0.0.1:9/v1",
    auth_url="http://127.0.0.1:9",
    backend_url="http://127.0.0.1:9",
    issue_refresh_token=lambda: "rt_stub",
)


def test_every_tap_of_the_workspace_is_in_the_registry():
    assert sorted(p.name for p in ROOT.glob("tap-*") if p.is_dir()) == sorted(
        spec.script for spec in TAPS.values()
    )


@pytest.mark.parametrize("spec", TAPS.values(), ids=lambda spec: spec.name)
def test_the_script_is_the_taps_console_script(spec):
    (entry,) = entry_points(group="console_scripts", name=spec.script)
    assert entry.value == f"{spec.tap_class.__module__}:{spec.tap_class.__name__}.cli"


@pytest.mark.parametrize("spec", TAPS.values(), ids=lambda spec: spec.name)
def test_every_use_in_every_auth_mode_gives_a_valid_config(spec):
    assert spec.datasets.keys() == USES.keys()
    known = spec.tap_class.config_jsonschema["properties"]
    for use in USES:
        for auth in spec.auth:
            config = spec.config(STUB, use, auth=auth)
            assert set(config) <= set(known), (use, auth, set(config) - set(known))
            spec.tap_class(config=config)  # validates
    assert spec.secret in spec.secret_settings
    assert spec.bad_input.stream in spec.streams
