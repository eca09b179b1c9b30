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
from pathlib import Path

import pytest
import yaml

from human_sandbox.humanapi import HumanApiEmulator
from orchestration.runs import HUMANAPI_SHARDS, LOADER, TAPS, runs, shard_setting
from tap_humanapi.tap import TapHumanApi
from tests import meltano_cli
from tests.helpers import sync
from tests.test_tap_humanapi import config_for as humanapi_config
from tests.test_tap_humanapi import keyed

ROOT = Path(__file__).parent.parent
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
    `meltano run`, and the four shards together land exactly the unsharded records."""
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
        whole = sync(TapHumanApi, humanapi_config(emulator))

    definitions, result = map(json.loads, done.stdout.strip().splitlines()[-2:])
    assert result == {"success": True}
    jobs = definitions["jobs"]
    assert set(jobs) == {tap.replace("-", "_") for tap in TAPS}
    assert jobs["tap_humaans"]["ops"] == {
        "humaans": "Run `meltano run tap-humaans target-jsonl --force`."
    }
    assert jobs["tap_humanapi"]["ops"] == {
        f"humanapi_shard_{i}_of_{HUMANAPI_SHARDS}": (
            f"Run `meltano run --state-id-suffix shard-{i}-of-{HUMANAPI_SHARDS} "
            "tap-humanapi target-jsonl --force`."
        )
        for i in range(HUMANAPI_SHARDS)
    }
    assert jobs["tap_humanapi"]["config"]["ops"]["humanapi_shard_2_of_4"] == {
        "config": {"env": {"MELTANO_ENVIRONMENT": "prod", "TAP_HUMANAPI_USER_SHARD": "2/4"}}
    }
    assert definitions["schedules"] == {
        f"{tap.replace('-', '_')}_daily": [tap.replace("-", "_"), cron]
        for tap, cron in TAPS.items()
    }

    # Each shard saved its own state, and together they landed every record once.
    states = sorted(path.name for path in (tmp_path / "state").rglob("*") if path.is_file())
    assert len(states) == HUMANAPI_SHARDS, states
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
