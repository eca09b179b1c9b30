"""Deletes reach the target, on every tap that finds them itself (the registry's `Deletes`):
records deleted between two runs get exactly one tombstone each, in the run after, and
nothing else does; the run after that has none. (Full-table streams: ACTIVATE_VERSION,
tests/integration/test_meltano_postgres.py and tests/shared/test_deletes.py.)"""

from __future__ import annotations

import pytest

from tests.support.deletes import DELETING, DeleteRuns, keys_by_stream


@pytest.fixture(params=DELETING, ids=[spec.name for spec in DELETING])
def runs(request, fork_server, tmp_path):
    spec = request.param
    with spec.emulator("resume") as emulator:
        yield DeleteRuns(
            spec, emulator, fork_server(spec.script), tmp_path, spec.config(emulator, "resume")
        )


def test_each_deleted_record_gets_one_tombstone_in_the_next_run(runs):
    first = runs.run(None)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.tombstones(runs.keys) == {}
    expected = runs.spec.deletes.delete(runs.emulator, first.records())
    assert expected and all(expected.values())

    second = runs.run(first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    found = second.tombstones(runs.keys)
    assert keys_by_stream(found) == expected
    assert all(len(keys) == len(set(keys)) for keys in found.values())  # once each
    stamps = {
        r["_sdc_deleted_at"]
        for stream, records in second.records().items()
        for r in records
        if stream in expected and tuple(r[k] for k in runs.keys[stream]) in expected[stream]
    }
    assert stamps and all(s.endswith("Z") for s in stamps)

    third = runs.run(second.last_state)
    assert third.returncode == 0, third.stderr[-3000:]
    assert third.tombstones(runs.keys) == {}
