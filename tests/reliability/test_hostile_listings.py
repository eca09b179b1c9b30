"""Issue 14, hostile and broken servers, the listings: items 6 (lying totals), 7 (a large
partition the API returns unordered) and 8 (records changing while the tap pages).

Each case runs inside `trials.hostile(item, case)`: `make reliability` lists it as a row of
the "hostile servers" section of tests/RELIABILITY.md.
"""

from __future__ import annotations

import re
import typing as t
from datetime import datetime, timedelta

import orjson
import pytest

from human_sandbox.core import EmulatorServer, Request, Response
from human_sandbox.humaans import HumaansEmulator
from human_sandbox.humanapi import HumanApiEmulator
from tap_humaans.tap import TapHumaans
from tap_humanapi.tap import TapHumanApi
from taps_shared import spill
from taps_shared.errors import PaginationError
from tests.reliability import trials
from tests.shared.widgets import TOKEN, TapGadgets, TapWidgets, WidgetsApi, WidgetsStream
from tests.support.helpers import select_only, sync
from tests.support.registry import TAPS


class Between:
    """Wraps an emulator's app: `action` runs once, just before the `after`-th request to a
    path matching `pattern` is served (the listing changes while the tap pages it)."""

    def __init__(
        self, server: EmulatorServer, pattern: str, after: int, action: t.Callable
    ) -> None:
        self.inner, self.pattern, self.left, self.action = server.app, pattern, after, action
        server.app = self

    def __call__(self, request: Request) -> Response:
        if re.fullmatch(self.pattern, request.path):
            self.left -= 1
            if self.left == 0:
                self.action()
        return self.inner(request)


def widgets_run(api: WidgetsApi, tap: type = TapWidgets, **config: t.Any):
    server = EmulatorServer(api).start()
    try:
        settings = {"api_token": TOKEN, "api_url": server.base_url, **config}
        return sync(tap, settings), server.requests
    finally:
        server.stop()


def ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]


# -- item 6: a total is a hint, never a limit ------------------------------------------------


@pytest.mark.parametrize("workers", [1, 4])
def test_a_total_lower_than_the_truth_truncates_nothing_and_is_warned(workers, caplog):
    with trials.hostile("6", f"total 25 announced for 50 records, {workers} worker(s)"):
        result, _ = widgets_run(WidgetsApi(n=50, announce=25), max_parallel_requests=workers)
        assert ids(result.records["widgets"]) == [f"w{i:03d}" for i in range(50)]
        assert "widgets: the API announced 25 records but sends more" in caplog.text


def test_a_total_pages_lower_than_the_truth_truncates_nothing():
    with trials.hostile("6", "totalPages 1 announced for 5 pages"):
        result, _ = widgets_run(WidgetsApi(n=50, announce=1), TapGadgets)
        assert sorted(ids(result.records["gadgets"])) == [f"w{i:03d}" for i in range(50)]


@pytest.mark.parametrize(
    ("tap", "announced"), [(TapWidgets, 10**13), (TapGadgets, 10**12)], ids=["total", "pages"]
)
def test_an_absurd_total_costs_at_most_the_pages_in_flight(tap, announced):
    with trials.hostile("6", f"{'total' if tap is TapWidgets else 'totalPages'} of 10^12+"):
        truth, needed = widgets_run(WidgetsApi(n=20), tap, max_parallel_requests=1)
        result, requests = widgets_run(
            WidgetsApi(n=20, announce=announced), tap, max_parallel_requests=4
        )
        assert ids(next(iter(result.records.values()))) == ids(next(iter(truth.records.values())))
        # the pages a serial run reads, and those the 4 workers had asked for when the last
        # was read: nothing depends on the announced number
        assert len(needed) < len(requests) <= len(needed) + 4


def test_a_low_total_on_a_real_api_loses_no_group():
    """Huma's groups: a `total` of 5 while the account has more (issue 14's 25 of 100)."""
    spec = TAPS["huma"]
    with spec.emulator("tap") as emulator:
        config = spec.config(emulator, "tap", page_size=3)
        catalog = select_only(spec.tap_class, config, {"groups"})
        truth = sync(spec.tap_class, config, catalog=catalog).records["groups"]
        assert len(truth) > 5

        inner = emulator.server.app

        def lying(request: Request) -> Response:
            response = inner(request)
            if request.path.endswith("/groups"):
                body = orjson.loads(response.body)
                response.body = orjson.dumps({**body, "total": 5})
            return response

        emulator.server.app = lying
        with trials.hostile("6", "Huma groups with total 5 announced"):
            lied_to = sync(spec.tap_class, config, catalog=catalog).records["groups"]
            assert lied_to == truth


# -- item 7: an unordered partition larger than memory ---------------------------------------


def test_an_unordered_partition_past_the_memory_bound_spills_and_lands_the_same(monkeypatch):
    spec = TAPS["humanapi"]
    spilled = []
    real = spill.tempfile.TemporaryFile

    def counted(*args: t.Any, **kwargs: t.Any) -> t.Any:
        spilled.append(1)
        return real(*args, **kwargs)

    with spec.emulator("tap") as emulator:
        config = spec.config(emulator, "tap", wellness_mode="per_user")
        catalog = select_only(TapHumanApi, config, {"users", "heart_rate"})
        in_memory = sync(TapHumanApi, config, catalog=catalog)
        monkeypatch.setattr(spill, "MEMORY_RECORDS", 3)
        monkeypatch.setattr(spill.tempfile, "TemporaryFile", counted)
        with trials.hostile("7", "a per-user partition past the memory bound (3 records)"):
            bounded = sync(TapHumanApi, config, catalog=catalog)
            assert spilled  # the bound was reached and records went to disk
            assert bounded.records == in_memory.records
            assert bounded.final_state == in_memory.final_state


# -- item 8: a listing that changes while the tap pages it -----------------------------------


def people_run(emulator: HumaansEmulator, **settings: t.Any):
    spec = TAPS["humaans"]
    config = spec.config(emulator, "tap", page_size=5, **settings)
    catalog = select_only(TapHumaans, config, {"people"})
    return sync(TapHumaans, config, catalog=catalog)


def edit_oldest(emulator: HumaansEmulator, n: int) -> None:
    """Edit the `n` people the tap reads first: they move to the end of the listing, and
    every later offset shifts back by `n`."""
    people = emulator.data["people"]
    newest = max(datetime.fromisoformat(p["updatedAt"]) for p in people)
    stamp = (newest + timedelta(seconds=1)).isoformat(timespec="milliseconds")
    for person in sorted(people, key=lambda p: (p["updatedAt"], p["id"]))[:n]:
        people[people.index(person)] = {**person, "updatedAt": stamp.replace("+00:00", "Z")}
    emulator._tables.pop("people", None)


def newest_by_id(records: list[dict]) -> dict[str, str]:
    """Each id's newest updatedAt among the records emitted (the row a target keeps)."""
    out: dict[str, str] = {}
    for record in records:
        out[record["id"]] = max(out.get(record["id"], ""), record["updatedAt"])
    return out


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize("change", ["edited", "created", "deleted", "all three"])
def test_humaans_people_changing_between_pages_lose_nothing(change, workers, caplog):
    with HumaansEmulator(seed=3, size=60) as emulator:

        def mutate() -> None:
            if change in ("edited", "all three"):
                edit_oldest(emulator, 2)
            if change in ("created", "all three"):
                emulator.add_people(1)
            if change in ("deleted", "all three"):
                people = emulator.data["people"]
                people.remove(min(people, key=lambda p: (p["updatedAt"], p["id"])))
                emulator._tables.pop("people", None)

        before = {p["id"] for p in emulator.data["people"]}
        Between(emulator.server, "/api/people", 3, mutate)
        with trials.hostile("8", f"Humaans people {change} between pages, {workers} worker(s)"):
            result = people_run(emulator, max_parallel_requests=workers)
            records = result.records["people"]
            emitted = newest_by_id([r for r in records if not r.get("_sdc_deleted_at")])
            final = {p["id"]: p["updatedAt"] for p in emulator.data["people"]}
            # the deleted person may be found deleted in this run already, nobody else
            tombstoned = {r["id"] for r in records if r.get("_sdc_deleted_at")}
            assert tombstoned <= before - set(final)
            # every person the API holds at the end, at their newest version
            assert {pid: emitted.get(pid) for pid in final} == final
            assert result.bookmark("people") == max(final.values())
            if change != "created":  # an addition lands at the end: nothing shifts
                assert "people: GET /api/people changed between two pages" in caplog.text


def test_the_read_again_goes_on_from_the_bookmark_without_repeating_records():
    with HumaansEmulator(seed=3, size=60) as emulator:
        Between(emulator.server, "/api/people", 3, lambda: edit_oldest(emulator, 1))
        result = people_run(emulator, max_parallel_requests=1)
        people = [r for r in emulator.server.requests if r.path == "/api/people"]
    emitted = ids(result.records["people"])
    assert len(emitted) == len(set(emitted)) + 1  # only the edited person, at its new version
    restart = people[3].query
    assert restart["$skip"] == ["0"]
    # two pages held still (5 records, then 4 new): the ninth is the newest written
    assert restart["updatedAt[$gte]"] == [result.records["people"][8]["updatedAt"]]


@pytest.mark.parametrize("workers", [1, 4])
def test_a_read_again_skips_exactly_the_records_written_at_its_instant(workers, caplog):
    """Ten widgets share one `updatedAt` across three pages; the oldest is edited between
    two pages: the read goes on from that instant, skipping the ones of it already written
    (on earlier pages too), and writes the others once."""
    api = WidgetsApi(n=23)
    for row in api.rows[3:13]:
        row["updatedAt"] = api.rows[3]["updatedAt"]

    def edit() -> None:
        api.rows[0]["updatedAt"] = "2024-01-02T00:00:00.000Z"

    server = EmulatorServer(api).start()
    try:
        Between(server, "/widgets", 3, edit)
        config = {"api_token": TOKEN, "api_url": server.base_url, "page_size": 4}
        result = sync(TapWidgets, {**config, "max_parallel_requests": workers})
    finally:
        server.stop()
    emitted = ids(result.records["widgets"])
    assert "widgets: GET /widgets changed between two pages" in caplog.text
    assert sorted(set(emitted)) == [f"w{i:03d}" for i in range(23)]
    assert len(emitted) == 23 + 1  # w000 twice: as first read, then as edited
    assert emitted[-1] == "w000"


class PlainWidgets(WidgetsStream):
    """The widgets as a full-table stream: no bookmark to go on from, read again whole."""

    name = "plain_widgets"
    replication_key = None  # type: ignore[assignment]
    incremental = None


class TapPlainWidgets(TapWidgets):
    name = "tap-plain-widgets"

    def discover_streams(self) -> list[WidgetsStream]:
        return [PlainWidgets(tap=self)]


@pytest.mark.parametrize("workers", [1, 4])
def test_a_full_table_listing_shifting_between_pages_is_read_again_whole(workers, caplog):
    api = WidgetsApi(n=40)
    server = EmulatorServer(api).start()
    Between(server, "/widgets", 2, api.rows.pop)  # the last row is served first
    try:
        config = {"api_token": TOKEN, "api_url": server.base_url}
        with trials.hostile("8", f"a full-table listing losing a row, {workers} worker(s)"):
            result = sync(TapPlainWidgets, {**config, "max_parallel_requests": workers})
            # every row still there, and the one deleted after the first page had served it
            emitted = set(ids(result.records["plain_widgets"]))
            assert emitted == {r["id"] for r in api.rows} | {"w039"}
            assert "reading it again from the start" in caplog.text
    finally:
        server.stop()


def test_a_listing_that_never_holds_still_stops_in_one_line():
    api = WidgetsApi(n=40)
    server = EmulatorServer(api).start()
    counter = iter(range(10**6))

    def churn(request: Request) -> Response:
        """A row created before every page but the first: served first, it shifts all."""
        if request.query.get("$skip", ["0"]) != ["0"]:
            api.rows.append({"id": f"new{next(counter)}", "name": "n", "updatedAt": "x"})
        return api(request)

    server.app = churn
    try:
        with trials.hostile("8", "a listing changing between every two pages"):
            with pytest.raises(PaginationError) as raised:
                sync(TapPlainWidgets, {"api_token": TOKEN, "api_url": server.base_url})
            assert str(raised.value) == (
                "plain_widgets: GET /widgets changed between two pages (a record created, "
                "deleted or moved), 4 times in a row while "
                "the tap read it: records already written and their state stay valid; run "
                "the tap again"
            )
    finally:
        server.stop()


def test_a_human_api_reading_deleted_between_pages_of_a_user_loses_nothing(caplog):
    path = "/v1/human/heart_rate/readings"
    with HumanApiEmulator(seed=7, size=1, no_source_users=0) as emulator:
        (human,) = emulator.data["heart_rate"]
        rows = emulator.data["heart_rate"][human]
        assert len(rows) > 15
        spec = TAPS["humanapi"]
        config = spec.config(emulator, "tap", wellness_mode="per_user", page_size=5)
        catalog = select_only(TapHumanApi, config, {"users", "heart_rate"})
        inner = emulator.server.app
        served: list[dict] = []

        def remembering(request: Request) -> Response:
            response = inner(request)
            if request.path == path and not served:
                served.extend(orjson.loads(response.body))
            return response

        def delete_the_first_served() -> None:
            rows.remove(next(r for r in rows if r["id"] == served[0]["id"]))
            emulator._views.clear()

        emulator.server.app = remembering
        Between(emulator.server, path, 3, delete_the_first_served)
        with trials.hostile("8", "a Human API reading deleted between a user's pages"):
            result = sync(TapHumanApi, config, catalog=catalog)
            emitted = {r["id"] for r in result.records["heart_rate"]}
            # every reading still there; the deleted one only if read before it went
            assert {r["id"] for r in rows} <= emitted <= {r["id"] for r in rows} | {served[0]["id"]}
            assert f"heart_rate: GET {path} changed between two pages" in caplog.text
