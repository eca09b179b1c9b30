"""What to schedule when one machine is not enough: one `meltano run` per tap, with Human
API split into shards of its users.

Every run here is an independent process with its own state ID, so an orchestrator may place
each on any machine and run them all at once. This module imports no orchestrator: the
Dagster example (`dagster_definitions.py`) builds its jobs from it, the tests check it, and an
Airflow DAG could loop over `runs()` the same way.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

#: `meltano --environment=<this>`: settings from environment variables, nothing secret in
#: meltano.yml (see the project's `prod` environment).
ENVIRONMENT = "prod"
#: The loader every tap writes to; a team replaces it with its warehouse target.
LOADER = "target-jsonl"
#: Human API workers: each syncs the users whose `humanId` hashes to its shard.
HUMANAPI_SHARDS = 4

#: tap → cron schedule (UTC). Staggered so the taps do not all start in the same minute.
TAPS: dict[str, str] = {
    "tap-humaans": "0 2 * * *",
    "tap-huma": "10 2 * * *",
    "tap-humanos": "20 2 * * *",
    "tap-openhuman": "30 2 * * *",
    "tap-humanapi": "0 3 * * *",
}
SHARDED_TAP = "tap-humanapi"


def shard_setting(index: int, count: int) -> str:
    """The value of Human API's `user_shard` setting for one shard: `i/n`, 0 <= i < n."""
    return f"{index}/{count}"


@dataclass(frozen=True)
class MeltanoRun:
    """One `meltano run`: a process of its own, with its own state ID."""

    name: str
    tap: str
    cron: str
    #: Extra environment: the shard of a sharded tap.
    env: tuple[tuple[str, str], ...] = ()
    #: Appended to the state ID (`prod:tap-humanapi-to-target-jsonl:shard-0-of-4`), so
    #: shards never share or overwrite each other's bookmarks.
    state_id_suffix: str = ""

    @property
    def args(self) -> list[str]:
        """What follows `meltano run`."""
        suffix = ["--state-id-suffix", self.state_id_suffix] if self.state_id_suffix else []
        return [*suffix, self.tap, LOADER]

    @property
    def argv(self) -> list[str]:
        """The whole command line."""
        return ["meltano", f"--environment={ENVIRONMENT}", "run", *self.args]

    @property
    def shell(self) -> str:
        """The command as a shell line, environment first (for docs and cron)."""
        env = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.env)
        return f"{env} {shlex.join(self.argv)}".strip()


def runs(shards: int = HUMANAPI_SHARDS) -> list[MeltanoRun]:
    """Every run: one per tap, and `shards` for Human API (1 means unsharded)."""
    if shards < 1:
        msg = "shards must be at least 1"
        raise ValueError(msg)
    found = []
    for tap, cron in TAPS.items():
        if tap != SHARDED_TAP or shards == 1:
            found.append(MeltanoRun(tap.removeprefix("tap-"), tap, cron))
            continue
        for index in range(shards):
            found.append(
                MeltanoRun(
                    f"humanapi_shard_{index}_of_{shards}",
                    tap,
                    cron,
                    env=(("TAP_HUMANAPI_USER_SHARD", shard_setting(index, shards)),),
                    state_id_suffix=f"shard-{index}-of-{shards}",
                )
            )
    return found


if __name__ == "__main__":
    for run in runs():
        print(f"{run.cron:12}  {run.shell}")
