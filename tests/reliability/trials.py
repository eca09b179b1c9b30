"""Counting what the reliability suite (issue 8) tried and what held, for `make reliability`.

Tests wrap each trial in `trial(tap, category)`: it records one outcome line (passed or
not) in the file named by RELIABILITY_LOG, and re-raises whatever the trial raised, so the
assertions stay the tests' own. Without RELIABILITY_LOG (a plain `make test`) it records
nothing. A trial that is several of its category at once (one sync through a fault on
every stream) sets `count` on what `trial` yields: the report sums counts, not lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import typing as t
from dataclasses import dataclass

#: The report's columns, in order: what each category counts.
CATEGORIES = {
    "faults": "faults injected / survived",
    "kill points": "kill points / resumed, nothing lost",
    "bad inputs": "bad inputs tried / handled cleanly",
    "secret scans": "secret scans / clean",
}


@dataclass
class Trial:
    """What `trial` yields: how many things of its category the trial tried (default 1)."""

    count: int = 1


@contextlib.contextmanager
def trial(tap: str, category: str, name: str = "") -> t.Iterator[Trial]:
    """One trial of `category` against `tap`; passed when the block raises nothing."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown reliability category {category!r}")
    passed = False
    outcome = Trial()
    try:
        yield outcome
        passed = True
    finally:
        path = os.environ.get("RELIABILITY_LOG")
        if path:
            line = {
                "tap": tap.removeprefix("tap-"),
                "category": category,
                "name": name,
                "passed": passed,
                "count": outcome.count,
            }
            with open(path, "a", encoding="utf-8") as log:
                log.write(json.dumps(line) + "\n")
