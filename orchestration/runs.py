"""What to schedule when one machine is not enough: one `meltano run` per tap, with Human
API split into shards of its users.

Every run here is an independent process with its own state ID and its own extractor name,
so an orchestrator may place each on any machine and run them all at once, several on one
machine too: Meltano keeps an extractor's run files (config, catalog) in
`.meltano/run/<extractor>/`, so two runs of one extractor in one project would overwrite
each other's. Each Human API shard is therefore an extractor of its own
(`tap-humanapi--shard-<i>-of-<n>`, declared in meltano-shards.yml). This module imports no
orchestrator: the Dagster example (`dagster_definitions.py`) builds its jobs from it, the
tests check it, and an Airflow DAG could loop over `runs()` the same way.
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


def shard_extractor(index: int, count: int) -> str:
    """The extractor of one shard (meltano-shards.yml): `tap-humanapi--shard-<i>-of-<n>`."""
    return f"{SHARDED_TAP}--shard-{index}-of-{count}"


@dataclass(frozen=True)
class MeltanoRun:
    """One `meltano run`: a process of its own, with its own state ID
    (`prod:<extractor>-to-target-jsonl`) and run files."""

    name: str
    tap: str
    cron: str
    #: The extractor `meltano run` names: the tap itself, or one shard of it.
    extractor: str = ""

    @property
    def args(self) -> list[str]:
        """What follows `meltano run`."""
        return [self.extractor or self.tap, LOADER]

    @property
    def argv(self) -> list[str]:
        """The whole command line."""
        return ["meltano", f"--environment={ENVIRONMENT}", "run", *self.args]

    @property
    def shell(self) -> str:
        """The command as a shell line (for docs and cron)."""
        return shlex.join(self.argv)


def runs(shards: int = HUMANAPI_SHARDS) -> list[MeltanoRun]:
    """Every run: one per tap, and `shards` for Human API (1 means unsharded; other counts
    than HUMANAPI_SHARDS need their extractors in meltano-shards.yml)."""
    if shards < 1:
        msg = "shards must be at least 1"
        raise ValueError(msg)
    found = []
    for tap, cron in TAPS.items():
        if tap != SHARDED_TAP or shards == 1:
            found.append(MeltanoRun(tap.removeprefix("tap-"), tap, cron))
            continue
        found += [
            MeltanoRun(f"humanapi_shard_{i}_of_{shards}", tap, cron, shard_extractor(i, shards))
            for i in range(shards)
        ]
    return found


if __name__ == "__main__":
    for run in runs():
        print(f"{run.cron:12}  {run.shell}")
