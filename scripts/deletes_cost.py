"""What finding deletes costs, the numbers the taps' READMEs give under "Deletes":

1. Requests: each tap over its `make demo` dataset (scripts/demo.py's sizes, seed 7, the
   sandbox settings of meltano.yml), a first run, then a second from its state; how many
   requests the second run sends with `delete_sweep` every_run and with off (the difference
   is what looking for deletes costs per run), and the tombstones it writes (none: nothing
   was deleted).
2. State: the delete ledger (`taps_shared.streams.deletes`) of 100,000 records in one
   partition, with each tap's id format as its emulator makes them (tap-humaans'
   `people_custom`: 100,000 custom values, each its person's id and its own), and spread over
   1,000 partitions (100 records per user: Human API's per-user streams); then a real
   tap-humaans run over `--records` people (people only), the size of its final STATE.

    .venv/bin/python scripts/deletes_cost.py [--records 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import time
import typing as t
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from human_sandbox import datagen as dg  # noqa: E402
from human_sandbox.huma import HumaEmulator  # noqa: E402
from human_sandbox.humaans import HumaansEmulator  # noqa: E402
from human_sandbox.humanapi import HumanApiEmulator  # noqa: E402
from human_sandbox.humanos import HumanosEmulator, object_id  # noqa: E402
from human_sandbox.openhuman import OpenHumanEmulator  # noqa: E402
from tap_huma.tap import TapHuma  # noqa: E402
from tap_humaans.tap import TapHumaans  # noqa: E402
from tap_humanapi.tap import TapHumanApi  # noqa: E402
from tap_humanos.tap import TapHumanos  # noqa: E402
from tap_openhuman.tap import TapOpenHuman  # noqa: E402
from taps_shared.streams.deletes import encode_ledger  # noqa: E402

#: tap → (its class, its emulator, the demo's dataset size: scripts/demo.py's JOBS)
DEMO: dict[str, tuple[type, type, int]] = {
    "tap-humaans": (TapHumaans, HumaansEmulator, 200),
    "tap-huma": (TapHuma, HumaEmulator, 120),
    "tap-humanos": (TapHumanos, HumanosEmulator, 150),
    "tap-openhuman": (TapOpenHuman, OpenHumanEmulator, 40),
    "tap-humanapi": (TapHumanApi, HumanApiEmulator, 20),
}


def sandbox_config(tap: str, emulator: t.Any) -> dict[str, t.Any]:
    """meltano.yml's sandbox settings of `tap`, pointed at `emulator`."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (sandbox,) = [e for e in project["environments"] if e["name"] == "sandbox"]
    plugins = sandbox["config"]["plugins"]["extractors"]
    config = dict(next(p["config"] for p in plugins if p["name"] == tap))
    if hasattr(emulator, "api_url"):
        config |= {"api_url": emulator.api_url, "auth_url": emulator.auth_url}
    else:
        config["api_url"] = emulator.url
    if "backend_url" in config:  # OpenHuman's hosted backend, at the root of its emulator
        config["backend_url"] = emulator.url.removesuffix("/v1")
    return config


def sync(tap_class: type, config: dict, state: dict | None = None) -> list[dict]:
    """One in-process run; its messages."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap_class(config=config, state=state).sync_all()
        out.flush()
    return [json.loads(line) for line in out.buffer.getvalue().decode().splitlines()]  # type: ignore[attr-defined]


def last_state(messages: list[dict]) -> dict:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


def api_requests(emulator: t.Any) -> int:
    """Requests to the API (token requests left out)."""
    return sum(1 for r in emulator.server.requests if "token" not in r.path)


def requests_table() -> list[str]:
    rows = ["| tap | records (first run) | requests, 2nd run, sweep off | with every_run | "
            "sweep cost | tombstones |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for tap, (tap_class, emulator_class, size) in DEMO.items():
        counts = {}
        for cadence in ("off", "every_run"):
            with emulator_class(seed=7, size=size) as emulator:
                config = sandbox_config(tap, emulator)
                if "delete_sweep" in tap_class.config_jsonschema["properties"]:
                    config["delete_sweep"] = cadence
                first = sync(tap_class, config)
                emulator.server.clear_requests()
                second = sync(tap_class, config, last_state(first))
                counts[cadence] = api_requests(emulator)
                records = sum(m["type"] == "RECORD" for m in first)
                tombstones = sum(
                    m["type"] == "RECORD" and bool(m["record"].get("_sdc_deleted_at"))
                    for m in second
                )
        cost = counts["every_run"] - counts["off"]
        rows.append(
            f"| {tap} | {records} | {counts['off']} | {counts['every_run']} | {cost} | "
            f"{tombstones} |"
        )
    return rows


def id_formats(n: int) -> dict[str, list[tuple]]:
    """n keys in each tap's id format, as its emulator makes them."""
    rng = random.Random(7)
    # creation times over two years, as the emulators spread them
    object_ids = [object_id(rng, rng.randrange(2 * 365 * dg.DAY_MS)) for _ in range(n)]
    persons = dg.make_ids(rng, n // 2)
    return {
        "tap-humaans (24 random letters and digits)": [(i,) for i in dg.make_ids(rng, n)],
        "tap-humaans `people_custom` (a value's person and id, 2 values a person)": [
            (rng.choice(persons), i) for i in dg.make_ids(rng, n)
        ],
        "tap-humanapi (ObjectIds: 8 hex of time, 16 random)": [(i,) for i in object_ids],
        "tap-openhuman (`agt_` + 24 random letters and digits)": [
            ("agt_" + i,) for i in dg.make_ids(rng, n)
        ],
    }


def ledger_bytes(keys: list[tuple]) -> int:
    """Bytes of the state's `deletes` entry for these keys, as JSON."""
    return len(json.dumps(encode_ledger(keys), separators=(",", ":")))


def state_table(n: int) -> list[str]:
    rows = [
        f"| id format | {n:,} keys, one partition | in 1,000 partitions of {n // 1000} | "
        "bytes per key | to encode |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, keys in id_formats(n).items():
        started = time.perf_counter()
        one = ledger_bytes(keys)
        took = time.perf_counter() - started
        step = n // 1000
        spread = sum(ledger_bytes(keys[i : i + step]) for i in range(0, n, step))
        rows.append(
            f"| {name} | {one / 1e6:.2f} MB | {spread / 1e6:.2f} MB | {one / n:.1f} | "
            f"{took * 1000:.0f} ms |"
        )
    return rows


def humaans_run(n: int) -> list[str]:
    """A real tap-humaans run over `n` people: the size of its final STATE."""
    with HumaansEmulator(seed=7, size=n, people_only=True) as emulator:
        emulator.warm()
        config = sandbox_config("tap-humaans", emulator) | {"page_size": 250}
        started = time.perf_counter()
        messages = sync(TapHumaans, config)
        took = time.perf_counter() - started
        state = json.dumps(last_state(messages), separators=(",", ":"))
        sweep = sum(1 for r in emulator.server.requests if "$select[]" in r.query)
        states = [m for m in messages if m["type"] == "STATE"]
        state_bytes = sum(len(json.dumps(m)) for m in states)
        record_bytes = sum(len(json.dumps(m)) for m in messages if m["type"] == "RECORD")
    return [
        f"tap-humaans over {n:,} people (people only, page 250): {took:.0f} s; final STATE "
        f"{len(state) / 1e6:.2f} MB; {sweep} key sweep requests; {len(states)} STATE "
        f"messages, {state_bytes / 1e6:.1f} MB in all for {record_bytes / 1e6:.0f} MB of "
        "records",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    for line in (
        *requests_table(),
        "",
        *state_table(args.records),
        "",
        *humaans_run(args.records),
    ):
        print(line, flush=True)


if __name__ == "__main__":
    main()
