"""The reliability report (issue 8): what the reliability suite tried per tap, and what held.

`make reliability` runs tests/reliability/test_*.py with RELIABILITY_LOG naming a file
that `tests.reliability.trials.trial` appends one JSON line to per trial; this script turns
that log into markdown tables (one per tap, then the fault matrix, then one row per
hostile-server case), prints them and writes them to tests/RELIABILITY.md.

`--scan-logs DIR` instead scans the Meltano logs of `make demo` (output/logs) for secrets:
the sensitive settings of meltano.yml in any encoding, and unmasked credential shapes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability.trials import CATEGORIES, HOSTILE  # noqa: E402
from tests.support.secret_scan import meltano_secrets, scan_logs  # noqa: E402

TAPS = ("humaans", "huma", "humanos", "openhuman", "humanapi")

Tally = dict[str, list[int]]  # key -> [tried, passed]


def read_log(path: Path) -> list[dict]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def tally(trials: list[dict]) -> tuple[dict[str, Tally], dict[str, Tally], list[dict]]:
    """(per tap: category -> [tried, passed]; per fault: tap -> [fired, survived]; failures)."""
    per_tap: dict[str, Tally] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    faults: dict[str, Tally] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    failed = []
    for trial in trials:
        if trial["category"] == HOSTILE:  # rows of their own section, not per-tap counts
            if not trial["passed"]:
                failed.append(trial)
            continue
        count = int(trial.get("count", 1))
        cells = [per_tap[trial["tap"]][trial["category"]]]
        if trial["category"] == "faults":
            cells.append(faults[trial["name"]][trial["tap"]])
        for cell in cells:
            cell[0] += count
            cell[1] += count if trial["passed"] else 0
        if not trial["passed"]:
            failed.append(trial)
    return per_tap, faults, failed


def cell(counts: list[int] | None) -> str:
    return "-" if not counts else f"{counts[0]} / {counts[1]}"


def hostile_section(trials: list[dict]) -> list[str]:
    """One row per hostile-server case that ran, by issue item: what was tried, by which
    test, and whether it held. Rows come only from trials, so a case is listed once its
    test exists and runs."""
    cases = [t for t in trials if t["category"] == HOSTILE]
    if not cases:
        return []

    def order(case: dict) -> tuple:
        item = str(case["item"])
        number = int(item) if item.isdigit() else 1000
        return (number, item, case["name"])

    out = [
        "## Hostile servers",
        "",
        "Issue 14: servers that lie, stall, rate-limit absurdly or echo credentials, and",
        "inputs that break naive parsing. One row per case that ran (a test wraps each case",
        "in `tests.reliability.hostile(item, case)`); *item* is the issue's item number.",
        "",
        "| item | case | test | outcome |",
        "|---|---|---|---|",
    ]
    for case in sorted(cases, key=order):
        outcome = "held" if case["passed"] else "**did not hold**"
        out.append(f"| {case['item']} | {case['name']} | `{case['test']}` | {outcome} |")
    return [*out, ""]


def render(trials: list[dict]) -> str:
    per_tap, faults, failed = tally(trials)
    taps = [t for t in TAPS if t in per_tap] + sorted(set(per_tap) - set(TAPS))
    out = [
        "# Reliability report",
        "",
        "Made by `make reliability` from tests/reliability/test_*.py (issue 8). Each cell is",
        "*tried / held*; `-` means that suite did not run. A fault counts once per time it",
        "actually fired (a fault armed on every endpoint of a sync counts once per endpoint).",
        "",
        "- **faults** (tests/reliability/test_faults.py): per tap and fault kind, one sync with",
        "  the fault armed on every endpoint the clean sync called (each stream's own, the",
        "  token endpoint, the connection check), firing on that endpoint's middle request;",
        "  records and final state must equal the clean run's. A burst longer than the retry",
        "  budget must end the CLI run in one line naming stream and status, its last STATE",
        "  resuming to the full dataset; a token endpoint down mid-sync must name the stream.",
        "- **secret scans** (tests/reliability/test_secrets.py): one CLI run per tap and auth",
        "  mode at DEBUG through every fault kind and a final burst, against an emulator that",
        "  echoes the credentials it received; no configured secret, minted token, signature",
        "  or Authorization value may appear in stdout or stderr.",
        "- **hostile servers** (tests/reliability/test_hostile*.py): one row per case, below.",
        "",
    ]
    for tap in taps:
        heading = f"tap-{tap}" if tap in TAPS else tap
        out += [f"## {heading}", "", "| check | tried / held |", "|---|---|"]
        out += [f"| {label} | {cell(per_tap[tap].get(c))} |" for c, label in CATEGORIES.items()]
        out.append("")
    if faults:
        columns = [t for t in taps if "faults" in per_tap[t]]
        out += [
            "## Faults fired / survived, by kind",
            "",
            "| fault | " + " | ".join(columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        for name in faults:
            row = " | ".join(cell(faults[name].get(t)) for t in columns)
            out.append(f"| {name} | {row} |")
        out.append("")
    out += hostile_section(trials)
    totals = [sum(per_tap[t][c][i] for t in taps for c in per_tap[t]) for i in (0, 1)]
    cases = [t for t in trials if t["category"] == HOSTILE]
    totals = [totals[0] + len(cases), totals[1] + sum(t["passed"] for t in cases)]
    out.append(f"**Total: {totals[0]} tried, {totals[1]} held.**")
    if failed:
        out += ["", "## Did not hold", ""]
        out += [
            f"- {HOSTILE}: item {f['item']}: {f['name']}"
            if f["category"] == HOSTILE
            else f"- tap-{f['tap']}: {f['category']}: {f['name']}"
            for f in failed
        ]
    return "\n".join(out) + "\n"


def scan(folder: Path) -> int:
    secrets = meltano_secrets(ROOT / "meltano.yml")
    logs = sorted(folder.rglob("*.log"))
    if not logs:
        print(f"no *.log files under {folder}: run `make demo` first")
        return 2
    found = scan_logs(folder, secrets)
    for path, lines in found.items():
        print(f"{path}:")
        print("\n".join(f"  {line}" for line in lines))
    print(f"scanned {len(logs)} log files for {len(secrets)} secrets: {len(found)} with a leak")
    return 1 if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", nargs="?", type=Path, help="the RELIABILITY_LOG of a run")
    parser.add_argument("--output", type=Path, help="also write the report here")
    parser.add_argument("--scan-logs", type=Path, metavar="DIR", help="scan Meltano logs")
    args = parser.parse_args()
    if args.scan_logs:
        return scan(args.scan_logs)
    if args.log is None:
        parser.error("give the log of a run, or --scan-logs DIR")
    trials = read_log(args.log)
    if not trials:
        print(f"{args.log}: no trials recorded")
        return 1
    report = render(trials)
    print(report, end="")
    if args.output:
        args.output.write_text(report)
    return 0 if all(t["passed"] for t in trials) else 1


if __name__ == "__main__":
    sys.exit(main())
