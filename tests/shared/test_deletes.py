"""Deletes (taps_shared.streams.deletes, .tombstones, .versions) through the widgets tap:
the ledger, the key sweep and its cadence, tombstones, and ACTIVATE_VERSION at the end of
a complete full-table sync."""

from __future__ import annotations

import base64
import copy
import json
import typing as t
import zlib

import pytest
from singer_sdk import typing as th

from taps_shared import settings
from taps_shared.errors import ConfigError
from taps_shared.schemas import complete_schema
from taps_shared.state_writer import StateWriter
from taps_shared.streams.deletes import Cadence, decode_ledger, encode_ledger
from taps_shared.writer import BufferedMsgSpecWriter
from tests.shared.widgets import TOKEN, TapWidgets, WidgetsApi, WidgetsStream, widgets_server
from tests.support.helpers import sync


class Widgets(WidgetsStream):
    """The widgets, with the schema a stream table gives (`_extra`, `_sdc_deleted_at`)."""

    schema = complete_schema(copy.deepcopy(WidgetsStream.schema))


class TapWidgetsWithDeletes(TapWidgets):
    """The widgets tap with the two delete settings every tap of the collection has."""

    name = "tap-widgets-deletes"
    config_jsonschema: t.ClassVar[dict] = {
        **TapWidgets.config_jsonschema,
        "properties": {
            **TapWidgets.config_jsonschema["properties"],
            **th.PropertiesList(settings.activate_version(), settings.delete_sweep()).to_dict()[
                "properties"
            ],
        },
    }

    def discover_streams(self) -> list[WidgetsStream]:
        return [Widgets(tap=self)]


class FullTableWidgets(Widgets):
    """The widgets, read whole on every run."""

    name = "all_widgets"
    replication_key = None


class TapAllWidgets(TapWidgetsWithDeletes):
    name = "tap-all-widgets"

    def discover_streams(self) -> list[WidgetsStream]:
        return [FullTableWidgets(tap=self)]


#: The listing always filters (from start_date, then the bookmark); the sweep never does.
START = {"start_date": "2024-01-01"}


def run(api: WidgetsApi, state: dict | None = None, tap: type = TapWidgetsWithDeletes, **config):
    server = widgets_server(api)
    try:
        config = {"api_token": TOKEN, "api_url": server.base_url, **START, **config}
        result = sync(tap, config, state=state)
        return result, server.requests
    finally:
        server.stop()


def deleted(result) -> list[dict]:
    return [r for r in result.records.get("widgets", []) if r.get("_sdc_deleted_at")]


def sweeps(requests) -> list:
    """The sweep's requests: the listing from the start, without the bookmark filter."""
    return [r for r in requests if "updatedAt[$gte]" not in r.query]


# -- the ledger and the cadence --------------------------------------------------------


def test_a_ledger_keeps_the_keys_sorted_one_per_line_deflated():
    keys = {("w002",), ("w000",), ("w001",)}
    entry = encode_ledger(keys)
    assert entry["format"] == "lines"
    assert entry["count"] == 3
    assert zlib.decompress(base64.b64decode(entry["keys"])) == b"w000\nw001\nw002"
    assert decode_ledger(entry, "widgets") == keys
    composite = {("NO", "2024-12-25"), ("SE", 7)}
    entry = encode_ledger(composite)
    assert entry["format"] == "json-lines"
    assert decode_ledger(entry, "holidays") == composite
    assert decode_ledger(encode_ledger(set()), "widgets") == set()


@pytest.mark.parametrize("entry", ["abc", {"keys": "not base64!", "format": "lines"}, {}])
def test_a_damaged_ledger_is_an_error_naming_the_stream(entry):
    if entry == {}:
        assert decode_ledger(entry, "widgets") is None  # no keys kept: not an error
        return
    with pytest.raises(ConfigError, match=r"^the state's widgets delete ledger is not valid"):
        decode_ledger(entry, "widgets")


def test_the_cadence_setting():
    assert Cadence.parse("every_run").every_run
    assert Cadence.parse("off").off
    assert Cadence.parse(None).off  # a tap without the setting detects no deletes
    assert Cadence.parse("7d").interval.days == 7
    assert Cadence.parse("12h").interval.total_seconds() == 12 * 3600
    with pytest.raises(ConfigError, match=r"^delete_sweep must be every_run, off or an interval"):
        Cadence.parse("weekly")


# -- the key sweep -----------------------------------------------------------------------


def test_the_first_run_keeps_the_keys_and_a_later_one_tombstones_those_gone():
    api = WidgetsApi(n=23)
    first, requests = run(api)
    assert deleted(first) == []
    ledger = first.final_state["bookmarks"]["widgets"]["deletes"]
    assert decode_ledger(ledger, "widgets") == {(f"w{i:03d}",) for i in range(23)}
    assert len(sweeps(requests)) == 3  # the whole listing again, 10 at a time

    gone = [api.rows.pop(4), api.rows.pop(10)]  # w004 and w011
    second, _ = run(api, first.final_state)

    tombstones = deleted(second)
    assert [t["id"] for t in tombstones] == [gone[0]["id"], gone[1]["id"]]
    when = tombstones[0]["_sdc_deleted_at"]
    assert tombstones == [
        {"id": g["id"], "name": None, "updatedAt": None, "_extra": None, "_sdc_deleted_at": when}
        for g in gone
    ]
    state = second.final_state["bookmarks"]["widgets"]
    assert state["replication_key_value"] == "2024-01-01T00:00:22.000Z"  # tombstones move none
    assert state["deletes"]["count"] == 21
    third, _ = run(api, second.final_state)
    assert deleted(third) == []  # told once


def test_a_listing_read_whole_is_its_own_sweep():
    """Without start_date or a bookmark the listing is every record: it is the sweep, and
    no key is read twice."""
    api = WidgetsApi(n=23)
    first, requests = run(api, start_date=None)
    assert len(requests) == 3  # the listing alone, 10 at a time
    ledger = first.final_state["bookmarks"]["widgets"]["deletes"]
    assert decode_ledger(ledger, "widgets") == {(f"w{i:03d}",) for i in range(23)}
    gone = api.rows.pop(7)
    second, requests = run(api, first.final_state, start_date=None)
    # filtered by the bookmark now: a sweep is due (by offset: read twice, as a key is gone)
    assert len(sweeps(requests)) == 6
    assert [t["id"] for t in deleted(second)] == [gone["id"]]


class UnfilteredWidgets(Widgets):
    """Widgets the API cannot filter: every run lists them whole and filters here."""

    name = "widgets"
    incremental = None
    api_order = "unordered"


class TapUnfilteredWidgets(TapWidgetsWithDeletes):
    name = "tap-unfiltered-widgets"

    def discover_streams(self) -> list[WidgetsStream]:
        return [UnfilteredWidgets(tap=self)]


def test_a_stream_the_api_cannot_filter_finds_its_deletes_without_a_sweep():
    api = WidgetsApi(n=23)
    first, _ = run(api, tap=TapUnfilteredWidgets)
    gone = api.rows.pop(7)
    second, requests = run(api, first.final_state, tap=TapUnfilteredWidgets)
    assert len(requests) == 3  # one listing, the sweep included
    assert [t["id"] for t in deleted(second)] == [gone["id"]]
    assert second.final_state["bookmarks"]["widgets"]["deletes"]["count"] == 22


def test_a_record_deleted_and_created_again_comes_back_after_its_tombstone():
    api = WidgetsApi(n=5)
    first, _ = run(api)
    gone = api.rows.pop(2)
    second, _ = run(api, first.final_state)
    assert [t["id"] for t in deleted(second)] == [gone["id"]]
    api.rows.append({**gone, "updatedAt": "2024-01-01T00:01:00.000Z"})  # restored, later
    third, _ = run(api, second.final_state)
    assert [r["id"] for r in third.records["widgets"]] == ["w004", gone["id"]]
    assert deleted(third) == []
    assert third.final_state["bookmarks"]["widgets"]["deletes"]["count"] == 5


def test_a_row_deleted_during_an_offset_sweep_shifts_no_key_out_of_it():
    """A row deleted while the sweep pages by offset shifts the next one into the page
    already read (w010 would be missed): the pages' overlap sees the shift, the sweep is
    read again whole, and only the deleted row is tombstoned."""
    api = WidgetsApi(n=25)
    first, _ = run(api)
    server = widgets_server(api)
    try:
        # after the sweep's first page (w000-w009), w005 goes: w010 moves into that page
        server.faults.add(
            "call", action=lambda: api.rows.pop(5), pattern="/widgets", after=2, times=1
        )
        config = {"api_token": TOKEN, "api_url": server.base_url, **START}
        second = sync(TapWidgetsWithDeletes, config, state=first.final_state)
    finally:
        server.stop()
    assert [t["id"] for t in deleted(second)] == ["w005"]
    assert second.final_state["bookmarks"]["widgets"]["deletes"]["count"] == 24
    third, _ = run(api, second.final_state)
    assert deleted(third) == []


def test_a_sweep_that_fails_part_way_tombstones_nothing_and_keeps_the_ledger():
    api = WidgetsApi(n=25)
    first, _ = run(api)
    api.rows.pop(0)
    server = widgets_server(api)
    try:
        server.faults.add("status", status=503, pattern="/widgets", after=3, times=-1)
        config = {"api_token": TOKEN, "api_url": server.base_url, **START, "max_retries": 1}
        with pytest.raises(Exception, match="503"):
            sync(TapWidgetsWithDeletes, config, state=first.final_state)
    finally:
        server.stop()
    second, _ = run(api, first.final_state)
    assert [t["id"] for t in deleted(second)] == ["w000"]


def test_an_interval_sweeps_when_the_last_sweep_is_that_old():
    api = WidgetsApi(n=5)
    first, requests = run(api, delete_sweep="7d")
    ledger = first.final_state["bookmarks"]["widgets"]["deletes"]
    assert len(sweeps(requests)) == 1 and "swept_at" in ledger
    api.rows.pop(0)
    second, requests = run(api, first.final_state, delete_sweep="7d")
    assert sweeps(requests) == [] and deleted(second) == []  # not due yet
    assert second.final_state["bookmarks"]["widgets"]["deletes"]["swept_at"] == ledger["swept_at"]
    old = {**second.final_state}
    old["bookmarks"]["widgets"]["deletes"]["swept_at"] = "2024-01-01T00:00:00.000Z"
    third, requests = run(api, old, delete_sweep="7d")
    assert len(sweeps(requests)) == 2  # a key gone: confirmed by a second sweep
    assert [t["id"] for t in deleted(third)] == ["w000"]


def test_off_reads_no_keys_and_keeps_none():
    api = WidgetsApi(n=5)
    first, requests = run(api, delete_sweep="off")
    assert sweeps(requests) == []
    assert "deletes" not in first.final_state["bookmarks"]["widgets"]


# -- full table: ACTIVATE_VERSION at the end ---------------------------------------------


def test_a_full_table_stream_announces_its_version_after_its_records():
    result, _ = run(WidgetsApi(n=12), tap=TapAllWidgets)
    kinds = [m["type"] for m in result.messages if m.get("stream") == "all_widgets"]
    assert kinds[0] == "SCHEMA"
    assert kinds[1:] == ["RECORD"] * 12 + ["ACTIVATE_VERSION"]
    versions = {m["version"] for m in result.messages if "version" in m}
    assert len(versions) == 1  # every record carries the version announced


def test_a_failed_full_table_run_announces_nothing():
    server = widgets_server(WidgetsApi(n=25))
    try:
        server.faults.add("status", status=503, pattern="/widgets", after=1, times=-1)
        config = {"api_token": TOKEN, "api_url": server.base_url, "max_retries": 0}
        with pytest.raises(Exception, match="503"):
            sync(TapAllWidgets, config)
    finally:
        server.stop()


def test_without_the_setting_records_carry_no_version():
    result, _ = run(WidgetsApi(n=3), tap=TapAllWidgets, emit_activate_version_messages=False)
    assert [m for m in result.messages if m["type"] == "ACTIVATE_VERSION"] == []
    assert all("version" not in m for m in result.messages if m["type"] == "RECORD")


# -- STATE messages carrying big ledgers -------------------------------------------------


def test_a_big_state_waits_until_as_many_record_bytes_were_written(capsysbinary):
    """A delete ledger makes the state big: it goes out only after as many bytes of records
    (`taps_shared.state_writer`), and the run's last STATE at once."""
    writer = BufferedMsgSpecWriter()
    states = StateWriter(writer)
    big = {"bookmarks": {"s": {"deletes": {"keys": "k" * 100_000}}}}
    states.write_state(big)
    writer.flush()
    assert capsysbinary.readouterr().out == b""  # held back: no records since the start
    for _ in range(40):
        writer.write_record("s", {"id": "x" * 2_000}, None, "2024-01-01T00:00:00Z")
    states.write_state({**big, "n": 1})  # 80 KB of records since: held back
    for _ in range(20):
        writer.write_record("s", {"id": "x" * 2_000}, None, "2024-01-01T00:00:00Z")
    states.write_state({**big, "n": 2})  # 120 KB since: due
    states.write_state({**big, "n": 2})  # unchanged: not again
    # judged by the last size without encoding it: a state that shrank waits as well
    states.write_state({"small": 1})
    states.write_state({"small": 1}, now=True)  # the run's last: at once
    writer.flush()
    lines = capsysbinary.readouterr().out.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["RECORD"] * 60 + ["STATE"] * 2
    assert json.loads(lines[60])["value"]["n"] == 2
    assert json.loads(lines[61])["value"] == {"small": 1}
    assert states.deferred == 4  # the first, n=1, n=2 again, the small one
