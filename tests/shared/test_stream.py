"""HumanRESTStream and the paginators, end to end through a minimal tap on loopback."""

from __future__ import annotations

import logging

import pytest

from taps_shared.errors import PaginationError
from tests.reliability import trials
from tests.shared.widgets import TOKEN, TapGadgets, TapWidgets, WidgetsApi, widgets_server
from tests.support.helpers import sync


def run(api: WidgetsApi, **config):
    server = widgets_server(api)
    try:
        result = sync(TapWidgets, {"api_token": TOKEN, "api_url": server.base_url, **config})
        return result, server.requests
    finally:
        server.stop()


def ids(result) -> list[str]:
    return [r["id"] for r in result.records.get("widgets", [])]


def test_offset_paging_ends_on_a_short_page_not_on_the_announced_total():
    result, requests = run(WidgetsApi(n=20))
    assert ids(result) == [f"w{i:03d}" for i in range(20)]
    # each page starts at the previous page's last record (the proof the listing held
    # still), and paging ends on the short page, whatever the total says (the pages after
    # the first are fetched in parallel: they may arrive in either order)
    assert sorted(int(r.query["$skip"][0]) for r in requests) == [0, 9, 18]
    assert result.bookmark("widgets") == "2024-01-01T00:00:19.000Z"


def test_short_page_ends_paging_when_total_is_absent():
    result, requests = run(WidgetsApi(n=23, drop_total=True))
    assert len(ids(result)) == 23
    assert len(requests) == 3


def test_empty_page_ends_paging_when_total_is_absent():
    result, requests = run(WidgetsApi(n=20, drop_total=True))
    assert len(ids(result)) == 20
    assert len(requests) == 3  # a full last page cannot be told from a middle one


def test_an_api_ignoring_the_offset_is_an_error_not_a_loop():
    with pytest.raises(PaginationError, match="returned page 2 again"):
        run(WidgetsApi(n=50, ignore_skip=True))


def test_page_cap_stops_with_an_error():
    with pytest.raises(PaginationError, match=r"page cap \(2 pages\)"):
        run(WidgetsApi(n=50), max_pages=2)


def test_incremental_filter_is_sent_and_fixed_for_the_whole_sync():
    state = {
        "bookmarks": {
            "widgets": {
                "replication_key": "updatedAt",
                "replication_key_value": "2024-01-01T00:00:05.000Z",
            }
        }
    }
    server = widgets_server(WidgetsApi(n=23))
    try:
        config = {"api_token": TOKEN, "api_url": server.base_url}
        result = sync(TapWidgets, config, state=state)
    finally:
        server.stop()
    assert ids(result) == [f"w{i:03d}" for i in range(5, 23)]
    assert {r.query["updatedAt[$gte]"][0] for r in server.requests} == {"2024-01-01T00:00:05.000Z"}
    assert all(r.query["$sort[updatedAt]"] == ["1"] for r in server.requests)
    assert result.bookmark("widgets") == "2024-01-01T00:00:22.000Z"


def test_start_date_as_a_date_is_used_when_there_is_no_state():
    result, requests = run(WidgetsApi(n=5), start_date="2024-01-01")
    assert requests[0].query["updatedAt[$gte]"] == ["2024-01-01T00:00:00.000Z"]
    assert len(ids(result)) == 5


def test_a_bookmark_in_the_future_yields_nothing():
    state = {
        "bookmarks": {
            "widgets": {
                "replication_key": "updatedAt",
                "replication_key_value": "2999-01-01T00:00:00Z",
            }
        }
    }
    server = widgets_server(WidgetsApi(n=5))
    try:
        result = sync(TapWidgets, {"api_token": TOKEN, "api_url": server.base_url}, state=state)
    finally:
        server.stop()
    assert ids(result) == []
    assert result.bookmark("widgets") == "2999-01-01T00:00:00.000Z"  # in the canonical form


def test_rejected_filter_falls_back_to_a_client_side_filtered_scan(caplog):
    state = {
        "bookmarks": {
            "widgets": {
                "replication_key": "updatedAt",
                "replication_key_value": "2024-01-01T00:00:20.000Z",
            }
        }
    }
    server = widgets_server(WidgetsApi(n=23, reject_filter=True))
    try:
        with caplog.at_level(logging.WARNING):
            result = sync(TapWidgets, {"api_token": TOKEN, "api_url": server.base_url}, state=state)
    finally:
        server.stop()
    assert ids(result) == ["w022", "w021", "w020"]  # the API's own (unsorted) order
    warnings = [
        r.getMessage()
        for r in caplog.records
        if "rejected the incremental filter" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert result.bookmark("widgets") == "2024-01-01T00:00:22.000Z"
    assert [r.status for r in server.requests] == [400, 200, 200, 200]


def test_secrets_never_reach_logs_or_errors(caplog):
    server = widgets_server(WidgetsApi(n=3, echo_token=True))
    try:
        config = {"api_token": TOKEN + "-wrong", "api_url": server.base_url}
        with caplog.at_level(logging.DEBUG), pytest.raises(Exception) as info:
            sync(TapWidgets, config)
    finally:
        server.stop()
    assert "returned 401" in str(info.value)
    assert TOKEN not in str(info.value)
    assert str(info.value).endswith("(NotAuthenticated: bad token ****)")
    assert TOKEN not in caplog.text


def test_undeclared_fields_are_dropped_and_reported_once_at_the_end(caplog):
    api = WidgetsApi(n=3)
    api.rows[0]["colour"] = "teal"
    api.rows[2]["colour"] = "red"
    with caplog.at_level(logging.WARNING):
        result, _ = run(api)
    assert result.records["widgets"][0] == {
        "id": "w000",
        "name": "widget 0",
        "updatedAt": "2024-01-01T00:00:00.000Z",
    }
    drift = [r.getMessage() for r in caplog.records if "schema drift" in r.getMessage()]
    assert drift == ["Stream widgets: schema drift: 1 undeclared field(s) in records: colour (2)"]


def run_gadgets(api: WidgetsApi, state: dict | None = None, **config):
    server = widgets_server(api)
    try:
        result = sync(
            TapGadgets, {"api_token": TOKEN, "api_url": server.base_url, **config}, state=state
        )
        return result, server.requests
    finally:
        server.stop()


def test_page_index_paging_ends_on_a_short_page_and_emits_oldest_first():
    result, requests = run_gadgets(WidgetsApi(n=30))
    assert [r["id"] for r in result.records["gadgets"]] == [f"w{i:03d}" for i in range(30)]
    # pages after the first are fetched in parallel: they may arrive in any order; the
    # last announced page is full, so one more ends the listing
    assert sorted(r.query["pageIndex"][0] for r in requests) == ["0", "1", "2", "3"]
    assert result.bookmark("gadgets") == "2024-01-01T00:00:29.000Z"


def test_newest_first_paging_stops_once_past_the_bookmark():
    state = {
        "bookmarks": {
            "gadgets": {
                "replication_key": "updatedAt",
                "replication_key_value": "2024-01-01T00:00:25.000Z",
            }
        }
    }
    result, requests = run_gadgets(WidgetsApi(n=60), state=state)
    # the day-rounded dateFrom returns the whole day; the tap drops what is older and stops
    assert [r["id"] for r in result.records["gadgets"]] == [f"w{i:03d}" for i in range(25, 60)]
    assert len(requests) == 4  # pages 0-3 hold w059..w020; w019 ends the reading
    assert requests[0].query["dateFrom"] == ["2024-01-01T00:00:25.000Z"]


def test_a_404_on_an_endpoint_the_account_lacks_skips_the_stream(caplog):
    with caplog.at_level(logging.WARNING):
        result, requests = run_gadgets(WidgetsApi(n=5, missing=True))
    assert result.records == {}
    assert len(requests) == 1
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Skipping")]
    assert skipped == [
        "Skipping stream gadgets: this account's API does not offer it "
        "(gadgets: GET /widgets returned 404 Not Found (not found))"
    ]


@pytest.mark.parametrize(
    "bookmark", ["2024-01-01T00:00:05Z", "2024-01-01T05:00:05+05:00", "2024-01-01T00:00:05"]
)
def test_a_bookmark_in_another_form_compares_as_the_instant_it_is(bookmark):
    """Issue 14 item 9: `...:05Z` sorts after `...:05.000Z` as a string; compared as strings
    the first record read again ("05.000Z") looked older than the bookmark and the rerun
    ended in "Unsorted data detected". Compared as instants it resumes, and the bookmark
    is written back in the one canonical form."""
    with trials.hostile("9", f"a bookmark written as {bookmark}"):
        state = {"bookmarks": {"widgets": {"replication_key_value": bookmark}}}
        server = widgets_server(WidgetsApi(n=8))
        try:
            result = sync(TapWidgets, {"api_token": TOKEN, "api_url": server.base_url}, state=state)
        finally:
            server.stop()
        assert ids(result) == ["w005", "w006", "w007"]
        assert result.bookmark("widgets") == "2024-01-01T00:00:07.000Z"


def test_an_api_mixing_timestamp_forms_still_syncs_in_order():
    """Issue 14 item 9: records whose `updatedAt` come as `...Z`, `....000Z` and `+01:00`
    are in order as instants; the sync takes them as such and bookmarks the last instant
    canonically, while each record keeps the value as the API sent it."""
    with trials.hostile("9", "an API mixing Z, milliseconds and +01:00"):
        server = widgets_server(WidgetsApi(n=9, mixed_forms=True))
        try:
            result = sync(TapWidgets, {"api_token": TOKEN, "api_url": server.base_url})
        finally:
            server.stop()
        sent = [r["updatedAt"] for r in result.records["widgets"]]
        assert sent[:3] == [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:01.000Z",
            "2024-01-01T01:00:02+01:00",
        ]
        assert result.bookmark("widgets") == "2024-01-01T00:00:08.000Z"
