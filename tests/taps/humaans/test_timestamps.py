"""Public holidays and their calendars carry createdAt/updatedAt like every main Humaans
resource: incremental on updatedAt, and read in full again while records lack it."""

from __future__ import annotations

import logging

import pytest

from human_sandbox.humaans import FULL_TOKEN, HumaansEmulator
from tap_humaans.tap import TapHumaans
from tests.support.helpers import as_emitted, select_only, sync
from tests.taps.humaans.sweeps import listing_requests

STREAMS = {
    "public_holidays": "public-holidays",
    "public_holiday_calendars": "public-holiday-calendars",
}


def config_for(emulator: HumaansEmulator) -> dict:
    return {"api_token": FULL_TOKEN, "api_url": emulator.url, "requests_per_second": 0}


def run(emulator: HumaansEmulator, state: dict | None = None):
    config = config_for(emulator)
    return sync(
        TapHumaans, config, state=state, catalog=select_only(TapHumaans, config, set(STREAMS))
    )


def test_both_streams_are_incremental_on_updated_at():
    with HumaansEmulator(seed=7, size=3) as emulator:
        catalog = {
            s["tap_stream_id"]: s
            for s in select_only(TapHumaans, config_for(emulator), set())["streams"]
        }
        first = run(emulator)
        newest = {s: max(r["updatedAt"] for r in emulator.data[p]) for s, p in STREAMS.items()}
        emulator.server.requests.clear()
        second = run(emulator, first.final_state)
    for stream, path in STREAMS.items():
        assert catalog[stream]["replication_key"] == "updatedAt"
        assert catalog[stream]["replication_method"] == "INCREMENTAL"
        rows = emulator.data[path]
        assert all(row["createdAt"] <= row["updatedAt"] for row in rows)
        assert sorted(first.records[stream], key=lambda r: r["id"]) == sorted(
            as_emitted(rows), key=lambda r: r["id"]
        )
        assert first.bookmark(stream) == newest[stream]
        assert second.records[stream] == as_emitted(
            r for r in rows if r["updatedAt"] == newest[stream]
        )
        sent = [r.query for r in listing_requests(emulator.server.requests, f"/api/{path}")]
        assert [q["updatedAt[$gte]"] for q in sent] == [[newest[stream]]]


def test_records_without_updated_at_are_all_emitted_and_keep_no_bookmark(caplog):
    with HumaansEmulator(seed=7, size=3) as emulator:
        holidays = emulator.data["public-holidays"]
        del holidays[3]["updatedAt"]  # never sent
        holidays[5]["updatedAt"] = None  # sent as null
        runs = []
        with caplog.at_level(logging.WARNING):
            for _ in range(2):
                runs.append(run(emulator, runs[-1].final_state if runs else None))
    warnings = [r.getMessage() for r in caplog.records if "without updatedAt" in r.getMessage()]
    assert (
        warnings
        == [
            "Stream public_holidays: 2 record(s) without updatedAt: no bookmark kept, so the next "
            "run reads the stream in full"
        ]
        * 2
    )
    for result in runs:  # the second run is a full one again: nothing skipped
        assert sorted(r["id"] for r in result.records["public_holidays"]) == sorted(
            h["id"] for h in holidays
        )
        states = [s.get("bookmarks", {}).get("public_holidays", {}) for s in result.states]
        assert not any("replication_key_value" in s for s in states)
        assert result.bookmark("public_holiday_calendars")  # the other stream is unaffected


@pytest.mark.parametrize("missing", ["absent", "null"])
def test_a_resource_without_timestamps_is_read_in_full_every_run(missing):
    with HumaansEmulator(seed=7, size=3) as emulator:
        for row in emulator.data["public-holidays"]:
            if missing == "absent":
                del row["createdAt"], row["updatedAt"]
            else:
                row["createdAt"] = row["updatedAt"] = None
        first = run(emulator)
        second = run(emulator, first.final_state)
    expected = sorted(h["id"] for h in emulator.data["public-holidays"])
    for result in (first, second):
        assert sorted(r["id"] for r in result.records["public_holidays"]) == expected
        assert "replication_key_value" not in result.final_state["bookmarks"]["public_holidays"]
