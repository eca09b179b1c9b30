"""JSON schema files shipped inside a tap's package."""

from __future__ import annotations

import json
import typing as t
from importlib import resources
from types import ModuleType


def schema_loader(package: ModuleType) -> t.Callable[[str], dict]:
    """`load(name)` → the schema `<name>.json` in `package` (a tap's `schemas` module)."""

    def load(name: str) -> dict:
        return t.cast(
            "dict", json.loads(resources.files(package).joinpath(f"{name}.json").read_text())
        )

    return load
