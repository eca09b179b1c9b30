"""tap-humanapi against the Human API emulator: per-user tokens, both wellness modes."""

from __future__ import annotations

import collections
import logging
import typing as t

import pytest

from human_sandbox.humanapi import CLIENT_ID, TIME_SERIES_STREAMS, HumanApiEmulator
from tap_humanapi.tap import MEDICAL, WELLNESS, TapHumanApi
from tests.support.helpers import as_emitted, run_cli, sync
from tests.support.registry import TAPS

MEDICAL_STREAMS = [f"medical_{kind}" for kind in MEDICAL]
PER_USER = ["sources", *MEDICAL_STREAMS, *WELLNESS]
HUMANAPI = TAPS["humanapi"]


def keyed(rows: list[dict]) -> dict:
    return {(r["humanId"], r.get("id"), r.get("source")): r for r in rows}


def expected(
    emulator: HumanApiEmulator, mode: str = "batch", *, time_series: bool = False
) -> dict[str, dict]:
    """What every stream must emit: in batch mode activities and sleeps carry the user's
    `timeZone`; with `time_series`, their `timeSeries`."""
    out = {"users": keyed(as_emitted(emulator.users))}
    connected = [u["humanId"] for u in emulator.users if u["humanId"] not in emulator.no_sources]
    out["profile"] = keyed(as_emitted(emulator.profiles[h] for h in connected))
    medical = [emulator.medical_profiles[h] for h in connected if h in emulator.medical_profiles]
    out["medical_profile"] = keyed(as_emitted(medical))
    for stream in PER_USER:
        rows = [{**r, "humanId": h} for h in connected for r in emulator.data[stream].get(h, [])]
        if stream in TIME_SERIES_STREAMS and mode == "batch":
            zone = {h: emulator.profiles[h]["defaultTimeZone"]["name"] for h in connected}
            rows = [{**r, "timeZone": zone[r["humanId"]]} for r in rows]
        if stream in TIME_SERIES_STREAMS and time_series:
            rows = [{**r, "timeSeries": emulator.time_series[r["id"]]} for r in rows]
        if rows:
            out[stream] = keyed(as_emitted(rows))
    return out


@pytest.fixture
def humanapi() -> t.Iterator[HumanApiEmulator]:
    with HUMANAPI.emulator(no_source_users=1) as emulator:
        yield emulator


@pytest.mark.parametrize("mode", ["batch", "per_user"])
def test_every_stream_emits_exactly_the_api_records(humanapi, mode, caplog):
    with caplog.at_level(logging.WARNING):
        result = sync(TapHumanApi, HUMANAPI.config(humanapi, wellness_mode=mode))
    assert {s: keyed(rows) for s, rows in result.records.items()} == expected(humanapi, mode)
    assert sorted(result.records) == sorted(HUMANAPI.streams)  # every stream has records
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Skipping user")]
    (gone,) = humanapi.no_sources
    assert len(skipped) == 1 and gone in skipped[0]  # one warning naming the humanId


def test_both_wellness_modes_emit_the_same_records(humanapi):
    """The same records, but activities and sleeps carry `timeZone` in batch mode only:
    batch responses send it, the Data API does not."""
    batch = sync(TapHumanApi, HUMANAPI.config(humanapi, wellness_mode="batch"))
    per_user = sync(TapHumanApi, HUMANAPI.config(humanapi, wellness_mode="per_user"))
    for stream in WELLNESS:
        rows = batch.records.get(stream, [])
        if stream in TIME_SERIES_STREAMS:
            assert all(r["timeZone"] for r in rows)
            assert all("timeZone" not in r for r in per_user.records[stream])
            rows = [{k: v for k, v in r.items() if k != "timeZone"} for r in rows]
        assert keyed(rows) == keyed(per_user.records.get(stream, []))
    for stream in ("activities", "heart_rate"):  # emitted oldest first: state only moves on
        stamps = [r["updatedAt"] for r in batch.records[stream]]
        assert stamps == sorted(stamps)  # one bookmark for all users
        by_user = collections.defaultdict(list)
        for row in per_user.records[stream]:
            by_user[row["humanId"]].append(row["updatedAt"])
        assert all(v == sorted(v) for v in by_user.values())  # one bookmark per user


@pytest.mark.parametrize("mode", ["batch", "per_user"])
def test_time_series_are_read_when_the_setting_asks(humanapi, mode):
    config = HUMANAPI.config(humanapi, wellness_mode=mode, time_series=True)
    result = sync(TapHumanApi, config)
    want = expected(humanapi, mode, time_series=True)
    for stream in TIME_SERIES_STREAMS:
        assert keyed(result.records[stream]) == want[stream], stream
        assert all(r["timeSeries"] for r in result.records[stream])
    asked = [r for r in humanapi.server.requests if "time_series" in r.query]
    assert {r.query["time_series"][0] for r in asked} == {"true"}
    assert {r.path.rsplit("/", 1)[-1] for r in asked} == set(TIME_SERIES_STREAMS)
    assert all("timeSeries" not in r for r in result.records["weight"])


def test_no_time_series_by_default(humanapi):
    result = sync(TapHumanApi, HUMANAPI.config(humanapi))
    assert not any("time_series" in r.query for r in humanapi.server.requests)
    assert all("timeSeries" not in r for r in result.records["activities"])


def test_a_user_without_medical_data_has_no_medical_profile(humanapi):
    result = sync(TapHumanApi, HUMANAPI.config(humanapi, wellness_mode="per_user"))
    profiles = {r["humanId"] for r in result.records["medical_profile"]}
    connected = {u["humanId"] for u in humanapi.users} - humanapi.no_sources
    without = connected - set(humanapi.medical_profiles)
    assert without and profiles == connected & set(humanapi.medical_profiles)
    reads = [r for r in humanapi.server.requests if r.path == "/v1/human/medical/profile"]
    assert len(reads) == len(connected)  # asked for every user: the 404s meant no record
    assert sorted(r.status for r in reads).count(404) == len(without)


def test_each_user_is_read_with_its_own_token_only(humanapi):
    sync(TapHumanApi, HUMANAPI.config(humanapi, wellness_mode="per_user"))
    connected = {u["humanId"] for u in humanapi.users} - humanapi.no_sources
    profiles = collections.Counter(
        h for path, h in humanapi.data_reads if path == "/v1/human/profile"
    )
    assert profiles == dict.fromkeys(connected, 1)
    assert humanapi.cross_user_attempts == 0
    minted = collections.Counter(r["client_user_id"] for r in humanapi.token_requests if r["ok"])
    assert set(minted.values()) == {1}  # one token per user for the whole run


def test_a_401_re_mints_that_users_token_once(humanapi):
    clean = sync(TapHumanApi, HUMANAPI.config(humanapi))
    humanapi.token_requests.clear()
    humanapi.server.faults.add("status", status=401, path="/v1/human/medical/vitals", times=1)
    again = sync(TapHumanApi, HUMANAPI.config(humanapi))
    assert again.records == clean.records
    minted = [r for r in humanapi.token_requests if r["ok"]]
    connected = {u["humanId"] for u in humanapi.users} - humanapi.no_sources
    assert len(minted) == len(connected) + 1


def test_tokens_expiring_mid_run_are_re_minted_before_they_lapse():
    with HumanApiEmulator(seed=7, size=4, token_ttl=2, latency_ms=70) as emulator:
        result = sync(TapHumanApi, HUMANAPI.config(emulator, wellness_mode="per_user"))
        want = expected(emulator, "per_user")
    assert {s: keyed(rows) for s, rows in result.records.items()} == want
    assert not any(r.status == 401 for r in emulator.server.requests)
    per_user = collections.Counter(r["client_user_id"] for r in emulator.token_requests if r["ok"])
    assert max(per_user.values()) >= 2


def test_second_run_returns_only_updated_records_per_user(humanapi):
    first = sync(TapHumanApi, HUMANAPI.config(humanapi, wellness_mode="per_user"))
    human = next(u["humanId"] for u in humanapi.users if u["humanId"] not in humanapi.no_sources)
    touched = set(humanapi.touch("activities", human, 2))
    second = sync(
        TapHumanApi, HUMANAPI.config(humanapi, wellness_mode="per_user"), state=first.final_state
    )
    activities = second.records.get("activities", [])
    assert touched <= {r["id"] for r in activities}
    others = [r for r in activities if r["id"] not in touched]
    bookmarks = first.final_state["bookmarks"]["activities"]["partitions"]
    marks = {p["context"]["humanId"]: p.get("replication_key_value") for p in bookmarks}
    assert all(r["updatedAt"] == marks[r["humanId"]] for r in others)  # boundary only
    assert (
        sum(len(v) for v in second.records.values())
        < sum(len(v) for v in first.records.values()) / 5
    )


def test_client_user_ids_restrict_the_run(humanapi):
    one = humanapi.users[0]
    result = sync(TapHumanApi, HUMANAPI.config(humanapi, client_user_ids=[one["externalId"]]))
    for stream, rows in result.records.items():
        assert {r["humanId"] for r in rows} == {one["humanId"]}, stream


def test_faults_leave_the_records_unchanged(humanapi):
    clean = sync(TapHumanApi, HUMANAPI.config(humanapi))
    humanapi.server.faults.add("status", status=503, path="/v1/human/sources", times=2)
    humanapi.server.faults.add(
        "status",
        status=429,
        headers={"Retry-After": "1"},
        path=f"/v1/apps/{CLIENT_ID}/users/sleeps",
    )
    humanapi.server.faults.add("reset", path="/v1/connect/token", times=1)
    humanapi.server.faults.add("truncate", path="/v1/human/medical/allergies", times=1)
    faulty = sync(TapHumanApi, HUMANAPI.config(humanapi))
    assert faulty.records == clean.records


@pytest.mark.parametrize(
    ("override", "message", "secret"),
    [
        (
            {"app_key": "hapi_wrong_appkey_canary"},
            "Human API rejected the App Key (401",
            "hapi_wrong_appkey_canary",
        ),
        (
            {"client_secret": "hapi_wrong_secret_canary"},
            "check client_id and client_secret",
            "hapi_wrong_secret_canary",
        ),
    ],
)
def test_wrong_credentials_are_one_line_without_secrets(
    tmp_path, humanapi, override, message, secret
):
    run = run_cli(
        "tap-humanapi",
        tmp_path,
        config={**HUMANAPI.config(humanapi), **override},
        env={"LOGLEVEL": "DEBUG"},
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.error_lines, run.stderr
    assert message in run.error_lines[-1]
    assert secret not in run.stdout + run.stderr
    assert "access_token" not in run.stderr


@pytest.mark.parametrize("mode", ["batch", "per_user"])
def test_n_user_shards_together_emit_exactly_the_unsharded_records(mode):
    with HumanApiEmulator(seed=9, size=12, no_source_users=0) as emulator:
        whole = sync(TapHumanApi, HUMANAPI.config(emulator, wellness_mode=mode))
        shards = [
            sync(TapHumanApi, HUMANAPI.config(emulator, wellness_mode=mode, user_shard=f"{i}/3"))
            for i in range(3)
        ]
    users = [{u["humanId"] for u in shard.records["users"]} for shard in shards]
    assert all(users) and sum(map(len, users)) == len(set.union(*users)) == 12  # disjoint
    for stream, rows in whole.records.items():
        sharded = [row for shard in shards for row in shard.records.get(stream, [])]
        assert keyed(sharded) == keyed(rows) and len(sharded) == len(rows), stream


def test_a_user_shard_out_of_range_is_a_config_error(tmp_path, humanapi):
    run = run_cli("tap-humanapi", tmp_path, config=HUMANAPI.config(humanapi, user_shard="3/3"))
    assert run.returncode == 1
    assert run.error_lines[-1].endswith(
        "user_shard '3/3': the shard index must be below the shard count"
    )
