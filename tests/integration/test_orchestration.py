"""The scale-out examples in orchestration/ stay runnable and agree with the project.

Neither dagster nor dagster-meltano is installed here: the Dagster example is compiled and
then executed against stand-ins of the five names it imports (their real signatures are in
dagster-meltano's README and `dagster_meltano/ops.py`), which checks the jobs it builds.
With a Meltano binary at hand (`make demo` installs one), Meltano itself reads the shard
jobs and schedules.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest
import yaml

from orchestration.runs import HUMANAPI_SHARDS, LOADER, TAPS, runs, shard_setting
from tests.support.helpers import ROOT

ORCHESTRATION = ROOT / "orchestration"
MELTANO = ROOT / ".meltano-venv" / "bin" / "meltano"


def project_plugins(kind: str) -> set[str]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return {plugin["name"] for plugin in project["plugins"][kind]}


def test_every_tap_of_the_project_is_scheduled_once():
    assert set(TAPS) == project_plugins("extractors")
    assert LOADER in project_plugins("loaders")
    assert {run.tap for run in runs()} == set(TAPS)
    assert len({run.name for run in runs()}) == len(runs())


@pytest.mark.parametrize("shards", [1, 2, 4, 7])
def test_shards_cover_every_index_once_with_their_own_state(shards):
    humanapi = [run for run in runs(shards) if run.tap == "tap-humanapi"]
    assert len(humanapi) == shards
    if shards == 1:
        assert humanapi[0].env == ()
        assert humanapi[0].state_id_suffix == ""
        return
    assert [dict(run.env)["TAP_HUMANAPI_USER_SHARD"] for run in humanapi] == [
        f"{i}/{shards}" for i in range(shards)
    ]
    assert len({run.state_id_suffix for run in humanapi}) == shards
    assert all(run.tap == "tap-humanapi" or not run.env for run in runs(shards))


def test_a_shard_is_one_meltano_run_with_a_state_id_suffix():
    shard = next(run for run in runs(4) if run.env)
    assert shard.argv == [
        "meltano",
        "--environment=prod",
        "run",
        "--state-id-suffix",
        "shard-0-of-4",
        "tap-humanapi",
        "target-jsonl",
    ]
    assert shard.shell == (
        "TAP_HUMANAPI_USER_SHARD=0/4 meltano --environment=prod run "
        "--state-id-suffix shard-0-of-4 tap-humanapi target-jsonl"
    )
    with pytest.raises(ValueError, match="at least 1"):
        runs(0)


def test_the_runs_module_prints_the_schedule():
    done = subprocess.run(
        [sys.executable, ORCHESTRATION / "runs.py"], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert len(lines) == len(runs())
    assert "TAP_HUMANAPI_USER_SHARD=3/4 meltano --environment=prod run" in lines[-1]


def stand_ins() -> tuple[types.ModuleType, types.ModuleType, list[tuple[str, str]]]:
    """`dagster` and `dagster_meltano` with just the names the example uses."""
    invoked: list[tuple[str, str]] = []
    dagster = types.ModuleType("dagster")
    meltano = types.ModuleType("dagster_meltano")

    def job(*, name, description, resource_defs, config, tags):
        def build(body):
            invoked.clear()
            body()
            return types.SimpleNamespace(
                name=name, config=config, ops=list(invoked), resources=resource_defs, tags=tags
            )

        return build

    def meltano_run_op(command: str):
        return types.SimpleNamespace(alias=lambda name: lambda: invoked.append((name, command)))

    dagster.job = job  # type: ignore[attr-defined]
    dagster.JobDefinition = types.SimpleNamespace  # type: ignore[attr-defined]
    dagster.ScheduleDefinition = types.SimpleNamespace  # type: ignore[attr-defined]
    dagster.Definitions = types.SimpleNamespace  # type: ignore[attr-defined]
    meltano.meltano_run_op = meltano_run_op  # type: ignore[attr-defined]
    meltano.meltano_resource = object()  # type: ignore[attr-defined]
    return dagster, meltano, invoked


def test_dagster_example_compiles():
    source = (ORCHESTRATION / "dagster_definitions.py").read_text()
    compile(source, "dagster_definitions.py", "exec")


def test_dagster_example_schedules_every_tap_and_each_shard(monkeypatch):
    dagster, meltano, _ = stand_ins()
    monkeypatch.setitem(sys.modules, "dagster", dagster)
    monkeypatch.setitem(sys.modules, "dagster_meltano", meltano)
    monkeypatch.delitem(sys.modules, "orchestration.dagster_definitions", raising=False)
    example = importlib.import_module("orchestration.dagster_definitions")

    jobs = {job.name: job for job in example.defs.jobs}
    assert set(jobs) == {tap.replace("-", "_") for tap in TAPS}
    assert jobs["tap_humaans"].ops == [("humaans", "tap-humaans target-jsonl")]
    assert jobs["tap_humaans"].resources == {"meltano": meltano.meltano_resource}

    shards = jobs["tap_humanapi"]
    assert shards.ops == [
        (
            f"humanapi_shard_{i}_of_{HUMANAPI_SHARDS}",
            f"--state-id-suffix shard-{i}-of-{HUMANAPI_SHARDS} tap-humanapi target-jsonl",
        )
        for i in range(HUMANAPI_SHARDS)
    ]
    for i, (op, _) in enumerate(shards.ops):
        env = shards.config["ops"][op]["config"]["env"]
        assert env == {
            "MELTANO_ENVIRONMENT": "prod",
            "TAP_HUMANAPI_USER_SHARD": shard_setting(i, HUMANAPI_SHARDS),
        }

    crons = {schedule.job.name: schedule.cron_schedule for schedule in example.defs.schedules}
    assert crons == {tap.replace("-", "_"): cron for tap, cron in TAPS.items()}
    assert len({schedule.name for schedule in example.defs.schedules}) == len(TAPS)


def shards_yaml() -> dict:
    return yaml.safe_load((ORCHESTRATION / "meltano-shards.yml").read_text())


def test_meltano_shards_yaml_matches_the_runs():
    fragment = shards_yaml()
    extractors = fragment["plugins"]["extractors"]
    assert [plugin["inherit_from"] for plugin in extractors] == ["tap-humanapi"] * HUMANAPI_SHARDS
    assert [plugin["config"]["user_shard"] for plugin in extractors] == [
        shard_setting(i, HUMANAPI_SHARDS) for i in range(HUMANAPI_SHARDS)
    ]

    known = project_plugins("extractors") | {plugin["name"] for plugin in extractors}
    jobs = {job["name"]: job["tasks"] for job in fragment["jobs"]}
    for tasks in jobs.values():
        (task,) = tasks
        tap, loader = task.split()
        assert tap in known
        assert loader == LOADER
    scheduled = {schedule["job"]: schedule["interval"] for schedule in fragment["schedules"]}
    assert set(scheduled) == set(jobs)
    expected = {
        run.name.replace("_", "-"): run.cron
        for run in runs()
        if run.tap != "tap-humanapi" or run.env
    }
    assert scheduled == expected


@pytest.mark.skipif(not MELTANO.exists(), reason="no Meltano here (make demo installs it)")
def test_meltano_reads_the_shard_jobs_and_schedules(tmp_path):
    project = (ROOT / "meltano.yml").read_text()
    project = project.replace(
        "\nplugins:\n", "\ninclude_paths:\n- ./orchestration/meltano-shards.yml\n\nplugins:\n", 1
    )
    (tmp_path / "meltano.yml").write_text(project)
    (tmp_path / "orchestration").mkdir()
    (tmp_path / "orchestration" / "meltano-shards.yml").write_text(
        (ORCHESTRATION / "meltano-shards.yml").read_text()
    )

    def meltano(*args: str) -> str:
        return subprocess.run(
            [MELTANO, *args], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout

    schedules = meltano("schedule", "list")
    assert (
        "[0 3 * * *] job humanapi-shard-3-of-4-daily: humanapi-shard-3-of-4 → "
        "['tap-humanapi--shard-3-of-4 target-jsonl']"
    ) in schedules
    assert "[0 2 * * *] job humaans-daily: humaans → ['tap-humaans target-jsonl']" in schedules
    config = meltano("--environment=prod", "config", "print", "tap-humanapi--shard-2-of-4")
    assert '"user_shard": "2/4"' in config
