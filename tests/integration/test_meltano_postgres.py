"""End to end into a real PostgreSQL: `meltano run tap-humaans target-postgres` and
`meltano run tap-huma target-postgres`, then a second, incremental run of each.

Meltano, its plugins and the PostgreSQL binaries are installed by `make test`; this test
starts its own server on a free loopback port (tests/support/postgres.py) and its own emulators,
and points the `sandbox` environment at them through environment variables. State and
Meltano's system database live in a temp dir, so the project's .meltano/state is left alone;
only the installed plugin virtualenvs under .meltano/ are shared with `make demo`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing as t
from pathlib import Path

import pytest

from human_sandbox.huma import HumaEmulator
from human_sandbox.humaans import STREAM_PATHS, HumaansEmulator
from tap_huma.tap import TapHuma
from tap_humaans.tap import TapHumaans
from tests.support import meltano_cli
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.registry import HUMA_HOLIDAYS
from tests.taps.huma.expected import expected_records

TARGET = "target-postgres"
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
NEW_TITLE_ID = "0b7d3c1e-6f52-4a8e-9d21-3e4f5a6b7c8d"


@pytest.fixture(scope="module")
def pg() -> t.Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    missing = meltano_cli.installed()
    if missing is None and bin_dir is None:
        missing = "no PostgreSQL server binaries"
    meltano_cli.require(missing)
    assert bin_dir is not None
    with PostgresServer(bin_dir) as server:
        yield server


def meltano_run(tap: str, tmp: Path, env: dict[str, str], pg: PostgresServer) -> str:
    """`meltano --environment=sandbox run <tap> target-postgres`; returns its log."""
    isolated = {  # the project's own state and system database stay untouched
        "MELTANO_STATE_BACKEND_URI": (tmp / "state").as_uri(),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
    }
    done = meltano_cli.run(
        "--environment=sandbox", "run", tap, TARGET, env={**isolated, **pg.env, **env}
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    assert pg.password not in log
    return log


def records_loaded(log: str) -> int:
    """Records target-postgres read in one run (its closing 'Reader ... completed' line)."""
    counts = re.findall(r"completed processing \d+ lines of input \(.*? (\d+) records", log)
    assert len(counts) == 1, counts
    return int(counts[0])


def primary_keys(tap_class: type) -> dict[str, list[str]]:
    tap = tap_class(config={}, validate_config=False)
    return {name: list(stream.primary_keys) for name, stream in tap.streams.items()}


def _normal(value: t.Any) -> t.Any:
    """A JSON value as PostgreSQL gives it back: date-times as naive UTC, numbers as floats."""
    if isinstance(value, str) and DATETIME.fullmatch(value):
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        return parsed
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def assert_table_holds(
    pg: PostgresServer, schema: str, table: str, keys: list[str], expected: list[dict]
) -> dict[tuple, dict]:
    """The table holds exactly the expected records, one row per primary key, every value
    equal; returns the rows by primary key."""
    rows = pg.rows(f"SELECT * FROM {schema}.{table}")
    by_key = {tuple(row[k] for k in keys): row for row in rows}
    assert len(by_key) == len(rows), f"{table}: duplicated primary keys"
    assert len(rows) == len(expected), table
    for record in expected:
        row = by_key[tuple(record[k] for k in keys)]
        got = {k: _normal(row[k]) for k in record}
        assert got == _normal(record), f"{table} {tuple(record[k] for k in keys)}"
    return by_key


def rows_loaded_since(pg: PostgresServer, schema: str, table: str, keys: list[str], since: str):
    cols = ", ".join(f'"{k}"' for k in keys)
    rows = pg.rows(f"SELECT {cols} FROM {schema}.{table} WHERE _sdc_batched_at > '{since}'")
    return {tuple(r[k] for k in keys) for r in rows}


def tables(pg: PostgresServer, schema: str) -> set[str]:
    sql = f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'"
    return {r["table_name"] for r in pg.rows(sql)}


def last_load(pg: PostgresServer, schema: str) -> str:
    """When the newest row of the schema was written (target-postgres' _sdc_batched_at)."""
    union = " UNION ALL ".join(
        f"SELECT max(_sdc_batched_at) AS at FROM {schema}.{table}" for table in tables(pg, schema)
    )
    return str(pg.scalar(f"SELECT max(at) FROM ({union}) AS u"))


def test_humaans_into_postgres_then_incrementally(pg: PostgresServer, tmp_path: Path) -> None:
    keys = primary_keys(TapHumaans)
    with HumaansEmulator(seed=11, size=25) as humaans:
        env = {"TAP_HUMAANS_API_URL": humaans.url}

        first = meltano_run("tap-humaans", tmp_path, env, pg)

        assert tables(pg, "tap_humaans") == set(keys)
        expected = {stream: humaans.data[STREAM_PATHS[stream]] for stream in keys}
        for stream, records in expected.items():
            assert records, stream  # the dataset exercises every table
            assert_table_holds(pg, "tap_humaans", stream, keys[stream], records)
        assert records_loaded(first) == sum(len(r) for r in expected.values())
        people_before = {p["id"]: p for p in humaans.data["people"]}

        # The source moves on: what the incremental run must pick up, and only that.
        loaded_at = last_load(pg, "tap_humaans")
        bookmarks = {
            s: max(r["updatedAt"] for r in recs)
            for s, recs in expected.items()
            if "updatedAt" in recs[0]
        }
        changed = set(humaans.update_people(3))
        added = set(humaans.add_people(2))

        second = meltano_run("tap-humaans", tmp_path, env, pg)

    moved = 0
    for stream in keys:
        records = humaans.data[STREAM_PATHS[stream]]
        rows = assert_table_holds(pg, "tap_humaans", stream, keys[stream], records)
        again = rows_loaded_since(pg, "tap_humaans", stream, keys[stream], loaded_at)
        if stream in bookmarks:  # incremental: only what changed, plus the bookmark's own
            boundary = {(r["id"],) for r in records if r["updatedAt"] == bookmarks[stream]}
            new = {(i,) for i in changed | added} if stream == "people" else set()
            assert again == boundary | new, stream
        else:  # full table on every run, upserted in place
            assert again == set(rows), stream
        moved += len(again)
    assert len(humaans.data["people"]) == 27
    assert records_loaded(second) == moved < records_loaded(first) / 3
    people = pg.rows('SELECT id, bio, "updatedAt" FROM tap_humaans.people')
    updated = {p["id"]: p for p in people if p["id"] in changed}
    assert len(updated) == 3
    for pid, person in updated.items():
        assert person["bio"] != people_before[pid]["bio"]
        assert person["bio"].startswith("Updated profile")


def test_huma_into_postgres_then_again_with_activate_version(
    pg: PostgresServer, tmp_path: Path
) -> None:
    keys = primary_keys(TapHuma)
    with HumaEmulator(seed=7, size=15) as huma:
        env = {
            "TAP_HUMA_API_URL": huma.url,
            # what expected_records() reads
            "TAP_HUMA_HOLIDAY_COUNTRIES": json.dumps(HUMA_HOLIDAYS["holiday_countries"]),
            "TAP_HUMA_HOLIDAY_START_DATE": HUMA_HOLIDAYS["holiday_start_date"],
            "TAP_HUMA_HOLIDAY_END_DATE": HUMA_HOLIDAYS["holiday_end_date"],
        }
        first = meltano_run("tap-huma", tmp_path, env, pg)

        expected = expected_records(huma)
        assert set(expected) == set(keys)
        for stream, records in expected.items():
            assert records, stream
            assert_table_holds(pg, "tap_huma", stream, keys[stream], records)
        assert records_loaded(first) == sum(len(r) for r in expected.values())

        # Full-table streams: the second run reads everything again, and ACTIVATE_VERSION
        # lets the target mark what the source no longer has.
        renamed, removed = huma.job_titles[0], huma.job_titles.pop()
        huma.job_titles[0] = {**renamed, "name": "Chief Emulation Officer"}
        huma.job_titles.append({"id": NEW_TITLE_ID, "name": "Data Steward"})

        second = meltano_run("tap-huma", tmp_path, env, pg)
        expected = expected_records(huma)

    assert records_loaded(second) == records_loaded(first)
    for stream, records in expected.items():
        if stream in ("job_titles", "job_title_details"):
            continue  # the removed title: below
        rows = assert_table_holds(pg, "tap_huma", stream, keys[stream], records)
        assert all(r["_sdc_deleted_at"] is None for r in rows.values()), stream
    titles = {r["id"]: r for r in pg.rows("SELECT * FROM tap_huma.job_titles")}
    assert len(titles) == len(expected["job_titles"]) + 1  # the removed one is kept, marked
    assert titles[removed["id"]]["_sdc_deleted_at"] is not None
    assert titles[renamed["id"]]["name"] == "Chief Emulation Officer"
    assert titles[NEW_TITLE_ID]["name"] == "Data Steward"
    live = {i for i, r in titles.items() if r["_sdc_deleted_at"] is None}
    assert live == {r["id"] for r in expected["job_titles"]}
    # its details (a full-table child) are marked the same way
    details = {r["id"]: r for r in pg.rows("SELECT * FROM tap_huma.job_title_details")}
    assert details[removed["id"]]["_sdc_deleted_at"] is not None
    live = {i for i, r in details.items() if r["_sdc_deleted_at"] is None}
    assert live == {r["id"] for r in expected["job_title_details"]}
