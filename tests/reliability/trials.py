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


#: The category of `hostile` cases: rows of their own section, not per-tap counts.
HOSTILE = "hostile servers"


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
        _record(
            tap=tap.removeprefix("tap-"),
            category=category,
            name=name,
            passed=passed,
            count=outcome.count,
        )


@contextlib.contextmanager
def hostile(item: str, case: str) -> t.Iterator[None]:
    """One hostile-server case of issue 14 item `item` (or `"22 (issue 22)"` style for
    a case another issue asked for); held when the block raises nothing."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0].split("[")[0]
    passed = False
    try:
        yield
        passed = True
    finally:
        _record(tap="", category=HOSTILE, name=case, item=item, test=test, passed=passed)


def _record(**line: t.Any) -> None:
    path = os.environ.get("RELIABILITY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
