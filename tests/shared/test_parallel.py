"""Parallel pages and parallel users: the same records and state as a serial run, faults
retried without reordering, and the rate limit held across workers."""

from __future__ import annotations

import threading
import time

import pytest

from human_sandbox.humaans import HumaansEmulator
from tap_humaans.tap import TapHumaans
from taps_shared.parallel import in_order
from tests.shared.test_conform import records_and_states
from tests.support.helpers import select_only, sync
from tests.support.registry import TAPS
from tests.taps.humaans.sweeps import listing_requests

SERIAL = {"max_parallel_requests": 1, "max_parallel_users": 1}
PARALLEL = {"max_parallel_requests": 4, "max_parallel_users": 8}


@pytest.mark.parametrize("case", TAPS.values(), ids=lambda case: case.name)
def test_parallel_and_serial_runs_emit_the_same_records_and_state(case):
    with case.emulator("engine") as emulator:
        config = case.config(emulator, "engine", page_size=5 if case.name != "huma" else 10)
        if case.name != "humanapi":
            config.pop("max_parallel_users", None)
        serial = sync(case.tap_class, {**config, **_only(case, SERIAL)})
        parallel = sync(case.tap_class, {**config, **_only(case, PARALLEL)})
    assert sum(map(len, serial.records.values())) > 50
    assert records_and_states(parallel) == records_and_states(serial)


def _only(case, settings: dict) -> dict:
    known = case.tap_class.config_jsonschema["properties"]
    return {k: v for k, v in settings.items() if k in known}


def people_run(emulator: HumaansEmulator, **settings) -> tuple:
    config = TAPS["humaans"].config(emulator, "engine", page_size=5, **settings)
    result = sync(TapHumaans, config, catalog=select_only(TapHumaans, config, {"people"}))
    return result, listing_requests(emulator.server.requests, "/api/people")


def test_a_fault_in_one_workers_page_is_retried_without_reordering():
    with HumaansEmulator(seed=3, size=60) as emulator:
        clean, _ = people_run(emulator, max_parallel_requests=1)
        emulator.server.requests.clear()
        emulator.server.faults.add(
            "status", status=429, headers={"Retry-After": "0"}, path="/api/people", after=3
        )
        emulator.server.faults.add("status", status=503, path="/api/people", after=7)
        emulator.server.faults.add("reset", path="/api/people", after=9)
        # the faults count arrivals, not pages: under load one page can draw all three,
        # so it gets room for three retries (max_retries=2 failed so on a loaded machine)
        faulty, requests = people_run(emulator, max_parallel_requests=4, max_retries=3)
    assert sorted(r.status for r in requests if r.status != 200) == [0, 429, 503]
    # every page once (5 records, then 4 new ones per page as each repeats the previous
    # page's last: 15 pages), plus one retry per fault
    assert len(requests) == 15 + 3
    assert records_and_states(faulty) == records_and_states(clean)


def test_the_rate_limit_holds_across_workers():
    # the API allows the tap's rate with a burst of 4: room for the arrivals a loaded
    # machine bunches (a 300 ms stall of the API's process), none for workers that would
    # not share the limiter (4 at once, every 100 ms)
    with HumaansEmulator(seed=3, size=150, rate_limit=(10, 4)) as emulator:
        config = TAPS["humaans"].config(
            emulator, "engine", page_size=5, max_parallel_requests=4, requests_per_second=10
        )
        catalog = select_only(TapHumaans, config, {"people"})  # discovery asks the API
        emulator.rate_limiter.reset()  # as a separate `--discover` long before the run
        emulator.server.clear_requests()
        result = sync(TapHumaans, config, catalog=catalog)
    assert len(result.records["people"]) == 150
    assert all(r.status == 200 for r in emulator.server.requests)  # not one 429
    times = sorted(r.time for r in emulator.server.requests)
    busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert busiest <= 10 + 3  # the limiter's rate, plus what a stall may bunch


def test_in_order_yields_in_task_order_and_raises_a_failure_at_its_turn():
    def task(i: int):
        def run():
            time.sleep(0.02 * (5 - i))  # later tasks finish first
            if i == 3:
                raise ValueError("task 3")
            return i

        return run

    seen = []
    with pytest.raises(ValueError, match="task 3"):
        for value in in_order((task(i) for i in range(6)), 4, "test"):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_in_order_keeps_at_most_workers_tasks_ahead_and_cancels_the_rest_on_close():
    started = []
    lock = threading.Lock()

    def task(i: int):
        def run():
            with lock:
                started.append(i)
            return i

        return run

    results = in_order((task(i) for i in range(100)), 3, "test")
    assert next(results) == 0
    time.sleep(0.05)
    results.close()
    time.sleep(0.05)
    assert len(started) <= 1 + 3


def test_parallel_users_keep_each_users_records_and_state_as_a_serial_run_does():
    case = TAPS["humanapi"]
    with case.emulator("engine") as emulator:
        config = case.config(emulator, "engine", page_size=5, wellness_mode="per_user")
        serial = sync(case.tap_class, {**config, **SERIAL})
        parallel = sync(case.tap_class, {**config, **PARALLEL})
    assert sum(map(len, serial.records.values())) > 200
    assert records_and_states(parallel) == records_and_states(serial)
