"""End to end into a real PostgreSQL: `meltano run tap-humaans target-postgres` and
`meltano run tap-huma target-postgres`, then a second, incremental run of each; and deletes:
records deleted at the source between two runs of tap-humaans, tap-humanos and tap-humanapi
(a user removed from the app) are marked `_sdc_deleted_at`, and nothing else changes.

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
from human_sandbox.humanapi import HumanApiEmulator
from human_sandbox.humanos import HumanosEmulator
from tap_huma.tap import TapHuma
from tap_humaans.tap import TapHumaans
from tap_humanapi.tap import TapHumanApi
from tap_humanos.tap import TapHumanos
from tests.support import meltano_cli
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.registry import HUMA_HOLIDAYS
from tests.taps.huma.expected import expected_records
from tests.taps.humaans.expected import COLUMNS, people_custom

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


def data_of(humaans: HumaansEmulator, stream: str) -> list[dict]:
    """What a stream of tap-humaans loads: its resource's records, or the pivoted rows."""
    if stream == "people_custom":
        return people_custom(humaans)
    return humaans.data[STREAM_PATHS[stream]]


def test_humaans_into_postgres_then_incrementally(pg: PostgresServer, tmp_path: Path) -> None:
    keys = primary_keys(TapHumaans)
    with HumaansEmulator(seed=11, size=25) as humaans:
        env = {"TAP_HUMAANS_API_URL": humaans.url}

        first = meltano_run("tap-humaans", tmp_path, env, pg)

        assert tables(pg, "tap_humaans") == set(keys)
        expected = {stream: data_of(humaans, stream) for stream in keys}
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
        # people_custom's rows at its bookmark: the persons with a value changed then
        at_bookmark = {
            (v["personId"],)
            for v in humaans.data["custom-values"]
            if v["updatedAt"] == bookmarks["people_custom"]
        }
        changed = set(humaans.update_people(3))
        added = set(humaans.add_people(2))

        second = meltano_run("tap-humaans", tmp_path, env, pg)

    moved = 0
    for stream in keys:
        records = data_of(humaans, stream)
        rows = assert_table_holds(pg, "tap_humaans", stream, keys[stream], records)
        again = rows_loaded_since(pg, "tap_humaans", stream, keys[stream], loaded_at)
        if stream == "people_custom":  # no custom value changed
            assert again == at_bookmark
        elif stream in bookmarks:  # incremental: only what changed, plus the bookmark's own
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
        (removed_group,) = huma.delete_groups(1)

        second = meltano_run("tap-huma", tmp_path, env, pg)
        expected = expected_records(huma)

    assert records_loaded(second) == records_loaded(first) - 2  # one group (and its details) fewer
    for stream, records in expected.items():
        if stream in ("job_titles", "job_title_details", "groups", "group_details"):
            continue  # the removed title and group: below
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
    groups = {r["id"]: r for r in pg.rows("SELECT * FROM tap_huma.groups")}
    assert {i for i, r in groups.items() if r["_sdc_deleted_at"] is not None} == {removed_group}
    assert {i for i, r in groups.items() if r["_sdc_deleted_at"] is None} == {
        r["id"] for r in expected["groups"]
    }
    # its details (a full-table child) the same way
    details = {r["id"]: r for r in pg.rows("SELECT * FROM tap_huma.group_details")}
    assert {i for i, r in details.items() if r["_sdc_deleted_at"] is not None} == {removed_group}
    assert {i for i, r in details.items() if r["_sdc_deleted_at"] is None} == {
        r["id"] for r in expected["group_details"]
    }


# -- deletes ---------------------------------------------------------------------------

#: The taps whose deletes reach the target through tombstones (or, for full-table
#: streams, ACTIVATE_VERSION), with their schema.
DELETING = {"tap-humaans": TapHumaans, "tap-humanos": TapHumanos, "tap-humanapi": TapHumanApi}


def snapshot(pg: PostgresServer, tap: str) -> dict[str, dict[tuple, dict]]:
    """Every row of the tap's schema, by table and primary key; duplicated keys fail."""
    keys = primary_keys(DELETING[tap])
    schema = tap.replace("-", "_")
    out = {}
    for table in sorted(tables(pg, schema)):
        rows = pg.rows(f"SELECT * FROM {schema}.{table}")
        by_key = {tuple(row[k] for k in keys[table]) for row in rows}
        assert len(by_key) == len(rows), f"{table}: duplicated primary keys"
        out[table] = {tuple(row[k] for k in keys[table]): row for row in rows}
    return out


def data(row: dict) -> dict:
    """A row without the target's metadata columns (`_sdc_*`)."""
    return {k: v for k, v in row.items() if not k.startswith("_sdc_")}


def test_deletes_mark_exactly_the_deleted_rows(pg: PostgresServer, tmp_path: Path) -> None:
    with (
        HumaansEmulator(seed=11, size=25) as humaans,
        HumanosEmulator(seed=7, size=20) as humanos,
        HumanApiEmulator(seed=7, size=4) as humanapi,
    ):
        env = {
            "TAP_HUMAANS_API_URL": humaans.url,
            "TAP_HUMANOS_API_URL": humanos.url,
            "TAP_HUMANAPI_API_URL": humanapi.api_url,
            "TAP_HUMANAPI_AUTH_URL": humanapi.auth_url,
        }
        for tap in DELETING:
            meltano_run(tap, tmp_path, env, pg)
        before = {tap: snapshot(pg, tap) for tap in DELETING}

        # 3 people, 2 job roles, 1 location; 1 Humanos resource (full table); 1 user
        # removed from the Human API app, with every row of theirs.
        deleted = {
            ("tap-humaans", table): {(r["id"],) for r in humaans.delete_records(path, n)}
            for table, path, n in (("people", "people", 3), ("job_roles", "job-roles", 2))
        }
        deleted["tap-humaans", "locations"] = {
            (r["id"],) for r in humaans.delete_records("locations", 1)
        }
        # every custom value of one person (their people_custom row marked), one of
        # another's (their row written again, that column null)
        emptied, (partly, lost) = custom_values_deleted(humaans)
        deleted["tap-humaans", "custom_values"] = {(v["id"],) for v in [*emptied, lost]}
        deleted["tap-humaans", "people_custom"] = {(emptied[0]["personId"],)}
        field = {f["id"]: f["name"] for f in humaans.data["custom-fields"]}
        rewritten = {
            ("tap-humaans", "people_custom", (partly,)): COLUMNS[field[lost["customFieldId"]]][0]
        }
        deleted["tap-humanos", "resources"] = {(i,) for i in humanos.delete_resources(1)}
        human = next(
            u["humanId"] for u in humanapi.users if u["humanId"] not in humanapi.no_sources
        )
        humanapi.remove_user(human)
        for table, rows in before["tap-humanapi"].items():
            theirs = {key for key, row in rows.items() if row.get("humanId") == human}
            if theirs:
                deleted["tap-humanapi", table] = theirs

        for tap in DELETING:
            meltano_run(tap, tmp_path, env, pg)
        after = {tap: snapshot(pg, tap) for tap in DELETING}

    assert len(deleted) >= 3 + 1 + 10  # Human API: users, profile, sources, medical, wellness
    for tap, tables_before in before.items():
        for table, rows in tables_before.items():
            now = after[tap][table]
            assert now.keys() == rows.keys(), (tap, table)  # nothing added, nothing removed
            marked = {
                key
                for key, row in now.items()
                if row["_sdc_deleted_at"] is not None and rows[key]["_sdc_deleted_at"] is None
            }
            assert marked == deleted.get((tap, table), set()), (tap, table)
            for key, row in rows.items():
                if key not in marked:
                    column = rewritten.pop((tap, table, key), None)
                    if column is not None:  # the column of the value deleted: null
                        assert row[column] is not None and now[key][column] is None
                        now[key][column] = row[column]
                        now[key]["updatedAt"] = row["updatedAt"]  # the newest of the rest
                    assert data(now[key]) == data(row), (tap, table, key)
                    assert now[key]["_sdc_deleted_at"] == row["_sdc_deleted_at"]
    assert not rewritten


def custom_values_deleted(humaans: HumaansEmulator) -> tuple[list[dict], tuple[str, dict]]:
    """Deletes every custom value of the first person that has some, and the first value
    (not null) of the next with two or more: those values, and (that person, the value)."""
    by_person: dict[str, list[dict]] = {}
    for value in humaans.data["custom-values"]:
        by_person.setdefault(value["personId"], []).append(value)
    persons = sorted(by_person)
    emptied = by_person[persons[0]]
    partly = next(p for p in persons[1:] if len(by_person[p]) > 1)
    lost = next(v for v in by_person[partly] if v["value"] is not None)
    humaans.delete_custom_values(v["id"] for v in [*emptied, lost])
    return emptied, (partly, lost)


def columns(pg: PostgresServer, schema: str, table: str) -> dict[str, str]:
    """The table's columns and their PostgreSQL types, in table order (what `\\d` lists)."""
    sql = (
        "SELECT column_name AS name, CASE WHEN data_type = 'ARRAY' "  # of what, as \d says
        "THEN substr(udt_name, 2) || '[]' ELSE data_type END AS type "
        "FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = '{table}' ORDER BY ordinal_position"
    )
    return {r["name"]: r["type"] for r in pg.rows(sql)}


def show(title: str, listing: dict[str, str]) -> None:
    """Print a `\\d`-style listing into the test's output (`pytest -s` shows it)."""
    width = max(map(len, listing))
    print(f"\n{title}\n" + "\n".join(f"  {n:<{width}} | {k}" for n, k in listing.items()))


#: PostgreSQL type of each kind of custom column (target-postgres' mapping of the schema).
PG_TYPES = {"string": "text", "number": "numeric", "integer": "bigint"}
PG_TYPES |= {"boolean": "boolean", "date": "date", "strings": "text[]"}


def test_custom_fields_are_typed_postgres_columns(pg: PostgresServer, tmp_path: Path) -> None:
    """people_custom (tap-humaans) and user_details' custom__ columns (tap-huma) arrive as
    typed columns with the emulators' values; a field added in the source between two runs
    is a new column after Meltano's discovery of the second run."""
    for tap in ("humaans", "huma"):  # a Meltano state and system database each
        (tmp_path / tap).mkdir()
    with HumaansEmulator(seed=11, size=25) as humaans:
        env = {
            "TAP_HUMAANS_API_URL": humaans.url,
            "TAP_HUMAANS__SELECT": json.dumps(["people_custom.*"]),
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": "custom_humaans",
        }
        meltano_run("tap-humaans", tmp_path / "humaans", env, pg)
        listing = columns(pg, "custom_humaans", "people_custom")
        show("\\d custom_humaans.people_custom", listing)
        kinds = {
            "t_shirt_size": "string",
            "desk_number": "string",
            "laptop_os_preference": "string",
            "security_clearance_date": "date",
            "years_of_prior_experience": "number",
            "remote_worker": "boolean",
            "languages_spoken": "strings",
        }
        typed = {column: PG_TYPES[kind] for column, kind in kinds.items()}
        assert {c: listing[c] for c in typed} == typed
        assert listing["personId"] == "text"
        assert listing["updatedAt"] == "timestamp without time zone"
        assert_table_holds(
            pg, "custom_humaans", "people_custom", ["personId"], people_custom(humaans)
        )

        people = sorted({v["personId"] for v in humaans.data["custom-values"]})[:2]
        humaans.add_custom_field("Badge number", "number", {people[0]: "4711", people[1]: "12"})
        meltano_run("tap-humaans", tmp_path / "humaans", env, pg)
        listing = columns(pg, "custom_humaans", "people_custom")
        show("\\d custom_humaans.people_custom (after a field was added)", listing)
        assert listing["badge_number"] == "numeric"
        badges = pg.rows('SELECT "personId", badge_number FROM custom_humaans.people_custom')
        assert {r["personId"]: r["badge_number"] for r in badges if r["badge_number"]} == {
            people[0]: 4711,
            people[1]: 12,
        }

    with HumaEmulator(seed=7, size=15) as huma:
        env = {
            "TAP_HUMA_API_URL": huma.url,
            "TAP_HUMA__SELECT": json.dumps(["users.*", "user_details.*"]),
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": "custom_huma",
        }
        meltano_run("tap-huma", tmp_path / "huma", env, pg)
        listing = columns(pg, "custom_huma", "user_details")
        custom = {name: kind for name, kind in listing.items() if name.startswith("custom")}
        show("\\d custom_huma.user_details (custom columns)", custom)
        assert custom == {
            "custom": "jsonb",
            **{
                f"custom__{key}": PG_TYPES[kind]
                for key, kind in {
                    "commuteKm": "number",
                    "onCallRota": "boolean",
                    "parkingSpot": "string",
                    "portfolioUrl": "string",
                    "remoteDaysPerWeek": "integer",
                    "securityTrainingDate": "date",
                    "tshirtSize": "string",
                }.items()
            },
        }
        expected = [
            {k: v for k, v in r.items() if k.startswith("custom") or k == "id"}
            for r in expected_records(huma)["user_details"]
        ]
        assert_table_holds(pg, "custom_huma", "user_details", ["id"], expected)

        users = [u["id"] for u in huma.users[:2]]
        huma.add_custom_field("badgeNumber", "Badge number", "number", {users[0]: 4711})
        meltano_run("tap-huma", tmp_path / "huma", env, pg)
        listing = columns(pg, "custom_huma", "user_details")
        assert listing["custom__badgeNumber"] == "bigint"
        badges = pg.rows('SELECT id, "custom__badgeNumber" AS b FROM custom_huma.user_details')
        assert {r["id"]: r["b"] for r in badges if r["b"] is not None} == {users[0]: 4711}
