"""The scale-out examples in orchestration/ run and agree with the project.

The Dagster example runs for real: `make test` installs dagster and dagster-meltano into
.orchestration-venv (`make orchestration`), and its Human API job, one op per shard, is
executed in process there over an emulator, each op a real `meltano run`. With Meltano at
hand, Meltano itself reads the shard jobs and schedules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from human_sandbox.humanapi import HumanApiEmulator
from orchestration.runs import HUMANAPI_SHARDS, LOADER, TAPS, runs, shard_extractor, shard_setting
from tap_humanapi.tap import TapHumanApi
from tests.support import meltano_cli
from tests.support.helpers import ROOT, sync
from tests.support.registry import TAPS as REGISTRY
from tests.taps.humanapi.test_tap import keyed

ORCHESTRATION = ROOT / "orchestration"
MELTANO = meltano_cli.MELTANO
DAGSTER_PYTHON = ROOT / ".orchestration-venv" / "bin" / "python"


def project_plugins(kind: str) -> set[str]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return {plugin["name"] for plugin in project["plugins"][kind]}


def test_every_tap_of_the_project_is_scheduled_once():
    assert set(TAPS) == project_plugins("extractors")
    assert LOADER in project_plugins("loaders")
    assert {run.tap for run in runs()} == set(TAPS)
    assert len({run.name for run in runs()}) == len(runs())


@pytest.mark.parametrize("shards", [1, 2, 4, 7])
def test_shards_cover_every_index_once_each_its_own_extractor(shards):
    humanapi = [run for run in runs(shards) if run.tap == "tap-humanapi"]
    assert len(humanapi) == shards
    if shards == 1:
        assert humanapi[0].args == ["tap-humanapi", LOADER]
        return
    assert [run.args[0] for run in humanapi] == [shard_extractor(i, shards) for i in range(shards)]
    assert shard_extractor(2, shards) == f"tap-humanapi--shard-2-of-{shards}"
    assert all(run.extractor == "" for run in runs(shards) if run.tap != "tap-humanapi")


def test_a_shard_is_one_meltano_run_of_its_extractor():
    shard = next(run for run in runs(4) if run.extractor)
    assert shard.argv == [
        "meltano",
        "--environment=prod",
        "run",
        "tap-humanapi--shard-0-of-4",
        "target-jsonl",
    ]
    assert shard.shell == "meltano --environment=prod run tap-humanapi--shard-0-of-4 target-jsonl"
    with pytest.raises(ValueError, match="at least 1"):
        runs(0)


def test_the_runs_module_prints_the_schedule():
    done = subprocess.run(
        [sys.executable, ORCHESTRATION / "runs.py"], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert len(lines) == len(runs())
    assert lines[-1].endswith(
        "meltano --environment=prod run tap-humanapi--shard-3-of-4 target-jsonl"
    )


#: Run by .orchestration-venv's Python: the definitions as JSON, then the Human API job
#: executed in process in the `sandbox` Meltano environment.
DAGSTER_SCRIPT = """
import json
from orchestration.dagster_definitions import defs, op_config
from orchestration.runs import runs

print(json.dumps({
    "jobs": {
        job.name: {
            "ops": {node.name: node.definition.description for node in job.nodes},
            "config": job.run_config,
        }
        for job in defs.jobs
    },
    "schedules": {s.name: [s.job_name, s.cron_schedule] for s in defs.schedules},
}))
shards = [run for run in runs() if run.tap == "tap-humanapi"]
job = defs.get_job_def("tap_humanapi")
result = job.execute_in_process(run_config=op_config(shards, environment="sandbox"))
print(json.dumps({"success": result.success}))
"""


def test_the_dagster_job_of_the_human_api_shards_runs_over_the_sandbox(tmp_path):
    """dagster and dagster-meltano for real (`make orchestration`): each shard op runs
    `meltano run` of its shard's extractor, and the four shards together land exactly the
    unsharded records."""
    missing = meltano_cli.installed()
    if missing is None and not DAGSTER_PYTHON.is_file():
        missing = f"{DAGSTER_PYTHON} is not installed"
    meltano_cli.require(missing)
    out = tmp_path / "out"
    with HumanApiEmulator(seed=9, size=8, no_source_users=0) as emulator:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TAP_", "TARGET_", "MELTANO_", "DAGSTER_"))
        }
        env |= {
            "PATH": f"{MELTANO.parent}{os.pathsep}{env['PATH']}",  # dagster-meltano's `meltano`
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_HUB_URL": "http://127.0.0.1:9",
            # The project's own state, system database and output stay untouched.
            "MELTANO_STATE_BACKEND_URI": (tmp_path / "state").as_uri(),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "TARGET_JSONL_DESTINATION_PATH": str(out),
            "TAP_HUMANAPI_API_URL": emulator.api_url,
            "TAP_HUMANAPI_AUTH_URL": emulator.auth_url,
        }
        done = subprocess.run(
            [DAGSTER_PYTHON, "-c", DAGSTER_SCRIPT],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-6000:]
        whole = sync(TapHumanApi, REGISTRY["humanapi"].config(emulator))

    definitions, result = map(json.loads, done.stdout.strip().splitlines()[-2:])
    assert result == {"success": True}
    jobs = definitions["jobs"]
    assert set(jobs) == {tap.replace("-", "_") for tap in TAPS}
    assert jobs["tap_humaans"]["ops"] == {
        "humaans": "Run `meltano run tap-humaans target-jsonl --force`."
    }
    assert jobs["tap_humanapi"]["ops"] == {
        f"humanapi_shard_{i}_of_4": (
            f"Run `meltano run tap-humanapi--shard-{i}-of-4 target-jsonl --force`."
        )
        for i in range(HUMANAPI_SHARDS)
    }
    assert jobs["tap_humanapi"]["config"]["ops"]["humanapi_shard_2_of_4"] == {
        "config": {"env": {"MELTANO_ENVIRONMENT": "prod"}}
    }
    assert definitions["schedules"] == {
        f"{tap.replace('-', '_')}_daily": [tap.replace("-", "_"), cron]
        for tap, cron in TAPS.items()
    }

    # Each shard saved its own state, and together they landed every record once.
    states = sorted(path.parent.name for path in (tmp_path / "state").rglob("state.json"))
    assert states == [
        f"sandbox:{shard_extractor(i, 4)}-to-target-jsonl" for i in range(HUMANAPI_SHARDS)
    ]
    landed: dict[str, list[dict]] = {}
    for path in out.glob("*.jsonl"):
        stream = path.name.rsplit("-", 1)[0]
        landed.setdefault(stream, []).extend(map(json.loads, path.read_text().splitlines()))
    assert set(landed) == set(whole.records)
    for stream, records in whole.records.items():
        assert keyed(landed[stream]) == keyed(records), stream
        assert len(landed[stream]) == len(records), stream


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
    expected = {run.name.replace("_", "-"): run.cron for run in runs()}
    assert scheduled == expected
    assert {tuple(tasks) for tasks in jobs.values()} == {(" ".join(run.args),) for run in runs()}


@pytest.mark.skipif(not MELTANO.exists(), reason="no Meltano here (make meltano installs it)")
def test_meltano_reads_the_shard_jobs_and_schedules():
    """meltano.yml includes meltano-shards.yml: Meltano knows the shards, their config
    (inherited from tap-humanapi, environments included), jobs and schedules."""
    schedules = meltano_cli.run("schedule", "list")
    assert schedules.returncode == 0, schedules.stderr
    assert (
        "[0 3 * * *] job humanapi-shard-3-of-4-daily: humanapi-shard-3-of-4 → "
        "['tap-humanapi--shard-3-of-4 target-jsonl']"
    ) in schedules.stdout
    assert "[0 2 * * *] job humaans-daily: humaans → ['tap-humaans target-jsonl']" in (
        schedules.stdout
    )
    config = meltano_cli.run("--environment=sandbox", "config", "print", shard_extractor(2, 4))
    assert config.returncode == 0, config.stderr
    printed = json.loads(config.stdout)
    assert printed["user_shard"] == "2/4"
    assert printed["api_url"] == "http://127.0.0.1:8305"
