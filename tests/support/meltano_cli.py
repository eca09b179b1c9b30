"""Running the project's Meltano (installed by `make test`) from tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.helpers import ROOT

MELTANO = Path(os.environ.get("MELTANO", ROOT / ".meltano-venv" / "bin" / "meltano"))


def require(missing: str | None) -> None:
    """Skip when something `make test` installs is missing; in CI, fail instead."""
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing}: .ci/run goes through `make test`, which installs it")
    pytest.skip(f"{missing}: run `make test`")


def installed() -> str | None:
    """What is missing of Meltano and its plugins, or None."""
    if not MELTANO.is_file():
        return f"{MELTANO} is not installed"
    if not (ROOT / ".meltano" / "plugins-installed").is_file():
        return "the Meltano plugins are not installed"
    return None


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 240):
    """`meltano <args>` in the project, with none of the caller's TAP_/TARGET_/MELTANO_
    variables, a Meltano Hub nobody answers at (no lookup may be needed) and bytecode
    written (so plugins start fast on the next run)."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_", "TARGET_", "MELTANO_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    full_env |= {
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_HUB_URL": "http://127.0.0.1:9",
        "MELTANO_HUB_API_ROOT": "http://127.0.0.1:9",
        **(env or {}),
    }
    return subprocess.run(
        [str(MELTANO), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
