"""Dagster schedules for the five taps, with Human API in shards (dagster-meltano).

One Dagster job per tap; the Human API job holds one op per shard, with no dependencies
between them, so they run at the same time. Every op is `meltano run` in a process of its
own (a shard runs its own extractor, `tap-humanapi--shard-<i>-of-<n>`, from
meltano-shards.yml), so nothing is shared between them but the Meltano project and its
state backend.

Run it from the Meltano project's root (this repository, or a team's project that installs
the taps), with `meltano` on the PATH (dagster-meltano runs `meltano run <args> --force`)
and the secrets in the environment as for `meltano --environment=prod run`:

    make orchestration meltano     # dagster and dagster-meltano in .orchestration-venv
    PATH="$PWD/.meltano-venv/bin:$PATH" .orchestration-venv/bin/dagster job execute \
        -m orchestration.dagster_definitions -j tap_humaans

(`pip install dagster-webserver` there for `dagster dev`, the UI with the schedules.)

Beyond one machine:
- give each op its own pod or worker with an executor, e.g. `executor_def=k8s_job_executor`
  (dagster-k8s) or `celery_executor` (dagster-celery) on the jobs below;
- point Meltano at a shared state backend (`MELTANO_STATE_BACKEND_URI=s3://...`, `gs://`,
  `azure://` or a database system), since a `file://` backend lives on one machine.

Neither dagster nor dagster-meltano is a dependency of the taps: `make orchestration`
installs them apart, and tests/integration/test_orchestration.py executes the Human API
job (its four shards) in process over the emulators, with `op_config(..., environment="sandbox")`.
"""

from __future__ import annotations

from itertools import groupby

from dagster import Definitions, JobDefinition, ScheduleDefinition, job
from dagster_meltano import meltano_resource, meltano_run_op

from orchestration.runs import ENVIRONMENT, MeltanoRun, runs


def op_config(tap_runs: list[MeltanoRun], environment: str = ENVIRONMENT) -> dict:
    """Each op's config: the Meltano environment its `meltano run` uses."""
    return {
        "ops": {
            run.name: {"config": {"env": {"MELTANO_ENVIRONMENT": environment}}} for run in tap_runs
        }
    }


def meltano_job(tap: str, tap_runs: list[MeltanoRun]) -> JobDefinition:
    """A job of one op per run of `tap`, each with its environment set in the job's config."""

    @job(
        name=tap.replace("-", "_"),
        description=f"`meltano run` of {tap} ({len(tap_runs)} independent process(es))",
        resource_defs={"meltano": meltano_resource},
        config=op_config(tap_runs),
        tags={"tap": tap},
    )
    def extract_load() -> None:
        for run in tap_runs:
            # `meltano_run_op(args)` runs `meltano run <args>`; the alias names the op.
            meltano_run_op(" ".join(run.args)).alias(run.name)()

    return extract_load


def schedules_and_jobs() -> tuple[list[JobDefinition], list[ScheduleDefinition]]:
    jobs, schedules = [], []
    for tap, tap_runs in groupby(runs(), key=lambda run: run.tap):
        grouped = list(tap_runs)
        built = meltano_job(tap, grouped)
        jobs.append(built)
        schedules.append(
            ScheduleDefinition(
                name=f"{built.name}_daily",
                job=built,
                cron_schedule=grouped[0].cron,
                execution_timezone="UTC",
            )
        )
    return jobs, schedules


jobs, schedules = schedules_and_jobs()
defs = Definitions(jobs=jobs, schedules=schedules)
