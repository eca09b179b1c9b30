"""meltano.yml against the taps it installs: settings, secrets, kinds, capabilities.

The taps' own `--about --format=json` is the source of truth; meltano.yml must declare
every setting a tap has, with the same sensitivity and a matching kind, and nothing a tap
does not have, except the settings listed in PENDING (being added to the taps on another
branch; once a tap declares one, every check below applies to it as well). With Meltano
installed (`make test`), Meltano itself must also read the file offline.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import entry_points

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from tests.support import meltano_cli
from tests.support.helpers import ROOT
from tests.support.registry import TAPS as REGISTRY

TAPS = [spec.script for spec in REGISTRY.values()]
LOADERS = ["target-jsonl", "target-csv", "target-postgres"]

#: Settings meltano.yml declares ahead of the tap code (work in progress elsewhere).
PENDING: dict[str, set[str]] = {
    tap: {"max_parallel_requests", "on_schema_drift"} for tap in TAPS
} | {"tap-humanapi": {"max_parallel_requests", "on_schema_drift", "max_parallel_users",
                      "user_shard"}}  # fmt: skip

PROJECT = yaml.safe_load((ROOT / "meltano.yml").read_text())


def plugins(kind: str) -> dict[str, dict]:
    return {p["name"]: p for p in PROJECT["plugins"][kind]}


@pytest.fixture(scope="module")
def about() -> dict[str, dict]:
    """`tap-<name> --about --format=json` of each tap: its console script, run in-process."""
    out = {}
    for tap in TAPS:
        (script,) = entry_points(group="console_scripts", name=tap)
        result = CliRunner().invoke(script.load(), ["--about", "--format=json"])
        assert result.exit_code == 0, result.output
        out[tap] = json.loads(result.stdout)
    return out


def expected_kind(name: str, prop: dict) -> str:
    """The Meltano setting kind for a JSON-schema property of a tap's config."""
    types = prop.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "enum" in prop:
        return "options"
    if "string" in types:
        if prop.get("format") in {"date", "date-time"} or name.endswith("_date"):
            return "date_iso8601"
        return "string"
    for json_type, kind in (
        ("integer", "integer"),
        ("number", "decimal"),
        ("boolean", "boolean"),
        ("array", "array"),
        ("object", "object"),
    ):
        if json_type in types:
            return kind
    raise AssertionError(f"{name}: no kind for {types}")


def test_project_keys_are_current() -> None:
    assert "version" not in PROJECT  # deprecated in Meltano 4: requires_meltano instead
    assert PROJECT["requires_meltano"]
    assert PROJECT["state_backend"]["uri"].startswith("file://${MELTANO_PROJECT_ROOT}/")
    assert {e["name"] for e in PROJECT["environments"]} == {"sandbox", "prod"}
    assert set(plugins("extractors")) == set(TAPS)
    assert set(plugins("loaders")) == set(LOADERS)


@pytest.mark.parametrize("kind", ["extractors", "loaders"])
def test_every_plugin_is_custom_and_every_setting_documented(kind: str) -> None:
    for name, plugin in plugins(kind).items():
        # namespace + pip_url + executable: a custom plugin, no Meltano Hub lookup
        assert {"namespace", "pip_url", "executable"} <= set(plugin), name
        assert "variant" not in plugin, name  # a variant means a Hub lookup
        for setting in plugin["settings"]:
            where = f"{name}.{setting['name']}"
            assert setting.get("label") and setting.get("description"), where
            assert setting.get("kind") not in {None, "password", "hidden"}, where
            if setting["kind"] == "options":
                assert setting["options"], where


@pytest.mark.parametrize("tap", TAPS)
def test_extractor_matches_the_tap(tap: str, about: dict[str, dict]) -> None:
    plugin = plugins("extractors")[tap]
    package = tap.replace("-", "_")
    assert plugin["namespace"] == package
    assert plugin["executable"] == tap
    assert plugin["pip_url"].split() == ["-e", "./shared", "-e", f"./{tap}"]
    assert sorted(plugin["capabilities"]) == sorted(about[tap]["capabilities"])

    schema = about[tap]["settings"]
    props = schema["properties"]
    declared = {s["name"]: s for s in plugin["settings"]}
    assert sorted(set(props) - set(declared)) == [], "settings missing from meltano.yml"
    assert sorted(set(declared) - set(props) - PENDING[tap]) == [], "settings the tap lacks"

    for name, prop in props.items():
        setting = declared[name]
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), name
        assert setting["kind"] == expected_kind(name, prop), name
        if "enum" in prop:
            assert [o["value"] for o in setting["options"]] == prop["enum"], name
        if "value" in setting:
            assert setting["value"] == prop.get("default"), name

    required = sorted(schema.get("required", []))
    groups = plugin.get("settings_group_validation", [])
    if required:
        assert [sorted(g) for g in groups] == [required]
    assert groups, "required settings are marked with settings_group_validation"
    for group in groups:
        assert set(group) <= set(props)


def test_sandbox_points_every_tap_at_loopback_and_prod_holds_no_value() -> None:
    sandbox, prod = (
        next(e for e in PROJECT["environments"] if e["name"] == name)
        for name in ("sandbox", "prod")
    )
    configured = {p["name"]: p["config"] for p in sandbox["config"]["plugins"]["extractors"]}
    assert set(configured) == set(TAPS)
    for config in configured.values():
        assert config["api_url"].startswith("http://127.0.0.1:")
    for kind in ("extractors", "loaders"):
        for plugin in prod["config"]["plugins"][kind]:
            assert set(plugin) == {"name"}, plugin  # everything from the environment


# -- Meltano itself (installed by `make test`) -----------------------------------------


@pytest.fixture(scope="module")
def meltano() -> t.Callable[..., subprocess.CompletedProcess[str]]:
    meltano_cli.require(meltano_cli.installed())
    return meltano_cli.run


def test_meltano_yml_is_valid_for_meltano(meltano: t.Callable) -> None:
    """Meltano's own JSON schema for meltano.yml, from the installed Meltano."""
    found = sorted(
        meltano_cli.MELTANO.parent.parent.glob("lib/python*/site-packages/meltano/schemas")
    )
    schema = json.loads((found[0] / "meltano.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(PROJECT)


def test_meltano_reads_every_extractor_offline(meltano: t.Callable, about: dict) -> None:
    def check(tap: str) -> None:
        listed = meltano("--environment=sandbox", "config", "list", tap)
        assert listed.returncode == 0, listed.stderr[-3000:]
        out = listed.stdout + listed.stderr
        assert "Environment 'sandbox' is active" in out
        assert "(from the active environment in `meltano.yml`)" in out
        assert "warning" not in out.lower(), out  # e.g. a deprecated key or kind
        sandbox = next(e for e in PROJECT["environments"] if e["name"] == "sandbox")
        config = next(
            p["config"] for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == tap
        )
        secrets = [s["name"] for s in plugins("extractors")[tap]["settings"] if s.get("sensitive")]
        for name in secrets:
            if name in config:
                assert str(config[name]) not in out, f"{tap}: {name} printed"
                (line,) = (x for x in out.splitlines() if x.startswith(f"{name} "))
                assert "current value: (redacted)" in line

        invoked = meltano("invoke", tap, "--about", "--format=json")
        assert invoked.returncode == 0, invoked.stderr[-3000:]
        assert json.loads(invoked.stdout) == about[tap]

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(check, TAPS))
