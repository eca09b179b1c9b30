"""taps_shared.spill: a partition sorted or fetched ahead holds at most `limit` records in
memory, and gives back exactly what an in-memory list would, in the same order."""

from __future__ import annotations

import random

from taps_shared import spill
from taps_shared.spill import Spool, sorted_records


def rows(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    # few distinct keys, so the sort's stability shows; values of every JSON type
    return [
        {"id": i, "at": f"2024-01-{rng.randint(1, 9):02d}", "v": [1.5, None, {"x": True}]}
        for i in range(n)
    ]


def test_a_spool_past_its_limit_spills_and_reads_back_everything_in_order():
    records = rows(1000)
    spool = Spool(records, limit=64)
    assert (len(spool.head), spool.spilled, len(spool)) == (64, 936, 1000)
    assert list(spool) == records


def test_sorting_past_the_limit_merges_sorted_runs_stably(monkeypatch):
    records = rows(5000)
    held = []
    real = Spool.__init__

    def watched(self, batch=(), limit=None):
        batch = list(batch)
        held.append(len(batch))
        real(self, batch, limit)

    monkeypatch.setattr(Spool, "__init__", watched)
    out = list(sorted_records(iter(records), key=lambda r: r["at"], limit=300))
    assert out == sorted(records, key=lambda r: r["at"])  # sorted() is stable
    assert held == [300] * 16  # sixteen runs of 300 spilled, the last 200 kept in memory


def test_a_partition_within_the_limit_never_touches_the_disk(monkeypatch):
    monkeypatch.setattr(spill.tempfile, "TemporaryFile", None)  # would fail if called
    records = rows(100)
    assert list(sorted_records(records, key=lambda r: r["at"])) == sorted(
        records, key=lambda r: r["at"]
    )
    assert list(Spool(records)) == records
