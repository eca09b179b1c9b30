"""Generate what each tap's documentation says about its code: the README's settings and
streams tables, and the Meltano Hub plugin definition (`tap-<x>/meltano-hub.yml`).

    uv run python scripts/readme_tables.py            # rewrite every README table and hub file
    uv run python scripts/readme_tables.py --check    # exit 1 and print a diff when any drifted
    uv run python scripts/readme_tables.py --tap tap-huma --check

Sources, so that nothing in the tables is written by hand:
- settings table: the `## Settings` table of `tap-<x> --about --format=markdown`, with the
  tap's own settings (the SDK's built-ins are named in one line below it), a `secret`
  column, and defaults written as JSON (`true`, `[]`) from `--about --format=json`;
- streams table: `tap-<x> --discover` (primary key, replication method and key), and the
  stream classes themselves, constructed in-process without validation, for what a catalog
  does not carry: the endpoint (`http_method`, `url_base` path + `path`), the parent stream
  and the token scope (`required_scope`). When a setting with fixed values changes the
  streams' shape (Human API's `wellness_mode`), each value is discovered and shown;
- hub file: `--about --format=json` (capabilities, settings with kinds, labels, defaults,
  `sensitive` for secrets) plus the few facts only this script knows (`FACTS` below);
- coverage table: the tap's `coverage` module (`taps_shared.coverage`), every documented
  read endpoint with its streams or why it is left out; a stream without a row, or a row
  naming no stream of the tap, is an error;
- privacy table: the `x-sensitivity` tags of the tap's schemas (`taps_shared.privacy`);
- the taps table of the root README: the streams of each tap, with `FACTS`.

README prose is kept: only the text between `<!-- settings:start -->` and
`<!-- settings:end -->` (and the `streams:`, `coverage:` and `privacy:` pairs) is replaced.
`tests/integration/test_readmes.py` runs the check for every tap, so a README or hub file
that drifts from the code fails the tests.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import logging
import re
import subprocess
import sys
import tempfile
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from singer_sdk import RESTStream, Tap

from taps_shared import privacy

ROOT = Path(__file__).resolve().parent.parent
#: The workspace's console scripts live next to its interpreter (`.venv/bin`).
BIN = Path(sys.executable).parent

#: Where the taps are published. Set these two before submitting the hub files to the Hub.
REPO_URL = "https://github.com/your-org/human-taps"
VARIANT = "your-org"


@dataclass(frozen=True)
class Facts:
    """What the Hub and the root README want that no tap declares in code."""

    label: str
    #: What the tap extracts, in a line (the Hub's `description`).
    description: str
    domain_url: str
    auth: str
    keywords: tuple[str, ...] = ()
    #: Alternative sets of settings that make a working config; None means the required
    #: settings of the config schema (one set).
    settings_groups: tuple[tuple[str, ...], ...] | None = None


FACTS: dict[str, Facts] = {
    "tap-humaans": Facts(
        "Humaans",
        "HRIS: people, roles, compensation, time away, documents and timesheets",
        "https://humaans.io",
        "bearer token with scopes",
        ("hris", "hr"),
    ),
    "tap-huma": Facts(
        "Huma",
        "HR platform: users, positions, work schedules, groups, job titles and public holidays",
        "https://humahr.com",
        "OAuth2 client credentials",
        ("hris", "hr"),
    ),
    "tap-humanos": Facts(
        "Humanos",
        "Human authorization for automated workflows: consent, e-signature and credentials",
        "https://humanos.id",
        "API key and HMAC-SHA256 signed requests",
        ("consent", "identity"),
    ),
    "tap-openhuman": Facts(
        "OpenHuman",
        "TinyHumans: the /v1 agents API, and the hosted backend (account, teams, billing, "
        "agent sessions and tasks, memory, webhooks)",
        "https://tinyhumans.ai",
        "`sk_` API key or OAuth2 refresh token (/v1); backend token or `x-api-key` (backend)",
        ("ai", "agents"),
        settings_groups=(
            ("api_key",),
            ("client_id", "client_secret", "refresh_token"),
            ("client_id", "client_secret", "token_cache_path"),
            ("backend_token",),
        ),
    ),
    "tap-humanapi": Facts(
        "Human API",
        "Health data aggregation: wellness and medical records of every connected user",
        "https://humanapi.co",
        "App Key, and one access token per end user",
        ("health", "medical", "wellness"),
    ),
}

GENERATED_NOTE = (
    "<!-- Generated by scripts/readme_tables.py from the tap's --about and --discover "
    "output: change the code, then run the script. -->"
)
HUB_HEADER = (
    "# Meltano Hub plugin definition (extractor), generated by scripts/readme_tables.py\n"
    "# from `{name} --about --format=json`: change the tap's code, then run the script.\n"
)


class DriftError(Exception):
    """A README cannot be updated (a marker is missing) or the tap's output is unusable."""


def taps() -> list[str]:
    """Every tap of the workspace: the `tap-*` folders with a package."""
    return sorted(p.parent.name for p in ROOT.glob("tap-*/pyproject.toml"))


def run(*argv: str) -> str:
    """Stdout of one of the tap's console commands; its log lines (stderr) are dropped."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        msg = f"`{' '.join(argv)}` failed ({done.returncode}): {last}"
        raise DriftError(msg)
    return done.stdout


def discover(executable: str, config: dict[str, t.Any]) -> dict[str, t.Any]:
    """`<tap> --config <config> --discover` (the SDK does not validate it when discovering)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(config, file)
        file.flush()
        return json.loads(run(executable, "--config", file.name, "--discover"))


def tap_class(name: str) -> type[Tap]:
    """The Tap class behind a console script (`tap_humaans.tap:TapHumaans.cli`)."""
    (script,) = entry_points(group="console_scripts", name=name)
    module = importlib.import_module(script.module)
    return t.cast("type[Tap]", getattr(module, script.attr.split(".")[0]))


# -- what the tap says about itself ---------------------------------------------------------


@dataclass(frozen=True)
class StreamShape:
    """What one stream looks like under one config: the facts the streams table shows."""

    endpoint: str
    primary_key: tuple[str, ...]
    replication: str
    parent: str
    scope: str


@dataclass
class TapInfo:
    """One tap's --about (markdown and JSON) and streams, under each config that matters."""

    name: str
    about_markdown: str
    about: dict[str, t.Any]
    #: Settings whose values change endpoints or parents (each value is discovered).
    shape_settings: list[str]
    #: label → stream name → shape; one entry unless a setting changes the streams' shape.
    shapes: dict[str, dict[str, StreamShape]] = field(default_factory=dict)

    @cached_property
    def builtin_settings(self) -> set[str]:
        """The settings the SDK adds for the tap's capabilities (stream maps, batch, ...)."""
        schema: dict[str, t.Any] = {"type": "object", "properties": {}}
        tap_class(self.name).append_builtin_config(schema)
        return set(schema["properties"])


def placeholder_config(cls: type[Tap]) -> dict[str, t.Any]:
    """Required settings without a default as `{name}`: they show as such in endpoints."""
    schema = cls.config_jsonschema
    return {
        name: f"{{{name}}}"
        for name in schema.get("required", [])
        if "default" not in schema["properties"][name]
    }


def stream_facts(cls: type[Tap], config: dict[str, t.Any]) -> dict[str, tuple[str, str, str]]:
    """stream → (endpoint, parent, scope), from the stream classes, in the tap's order."""
    logging.disable(logging.WARNING)  # "Config validation failed": validation is off anyway
    try:
        tap = cls(config={**placeholder_config(cls), **config}, validate_config=False)
        streams = tap.discover_streams()
    finally:
        logging.disable(logging.NOTSET)
    facts = {}
    for stream in streams:
        if isinstance(stream, RESTStream):
            path = urlsplit(stream.url_base).path.rstrip("/") + (stream.path or "")
            endpoint = f"`{stream.http_method} {path}`"
        else:
            endpoint = "no request: read from its parent's records"
        parent = str(getattr(stream.parent_stream_type, "name", "") or "")  # a class attribute
        scope = getattr(stream, "required_scope", None) or ""
        facts[stream.name] = (endpoint, f"`{parent}`" if parent else "", scope)
    return facts


def shape_settings(cls: type[Tap]) -> dict[str, list[t.Any]]:
    """Settings with fixed values (enums) of which some value changes endpoints or parents."""
    properties = cls.config_jsonschema["properties"]
    baseline = stream_facts(cls, {})
    found = {}
    for name, spec in properties.items():
        values = spec.get("enum") or []
        if any(stream_facts(cls, {name: value}) != baseline for value in values):
            default = spec.get("default")
            found[name] = sorted(values, key=lambda value: value != default)
    return found


def replication(entry: dict[str, t.Any]) -> str:
    if entry.get("replication_method") == "INCREMENTAL":
        return f"incremental (`{entry['replication_key']}`)"
    return "full table"


@cache
def collect(name: str) -> TapInfo:
    """Everything the tables and the hub file need from one tap (its commands in parallel).
    Cached: the code does not change while the script or the tests run."""
    executable = str(BIN / name)
    cls = tap_class(name)
    shapes = shape_settings(cls)
    configs = {
        str(value) if len(shapes) == 1 else f"{setting}: {value}": {setting: value}
        for setting, values in shapes.items()
        for value in values
    } or {"": {}}
    with ThreadPoolExecutor(max_workers=len(configs) + 2) as pool:
        markdown = pool.submit(run, executable, "--about", "--format=markdown")
        about = pool.submit(run, executable, "--about", "--format=json")
        catalogs = {
            label: pool.submit(discover, executable, {**placeholder_config(cls), **config})
            for label, config in configs.items()
        }
        info = TapInfo(name, markdown.result(), json.loads(about.result()), list(shapes))
        for label, config in configs.items():
            entries = {e["tap_stream_id"]: e for e in catalogs[label].result()["streams"]}
            facts = stream_facts(cls, config)
            if set(entries) != set(facts):
                msg = f"{name}: --discover and the stream classes disagree on the streams"
                raise DriftError(msg)
            info.shapes[label] = {
                stream: StreamShape(
                    endpoint,
                    tuple(entries[stream].get("key_properties") or ()),
                    replication(entries[stream]),
                    parent,
                    scope,
                )
                for stream, (endpoint, parent, scope) in facts.items()
            }
    return info


# -- the README tables ----------------------------------------------------------------------


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def about_settings_rows(markdown: str) -> list[list[str]]:
    """The rows of the `## Settings` table of `--about --format=markdown`."""
    section = markdown.split("\n## Settings\n", 1)
    if len(section) != 2:
        raise DriftError("--about --format=markdown printed no '## Settings' section")
    lines = [line for line in section[1].split("\n## ", 1)[0].splitlines() if line[:2] == "| "]
    # Setting, Required and Default never hold " | "; a description may, so it keeps the rest.
    return [line[2:].removesuffix(" |").split(" | ", 3) for line in lines[1:]]


def settings_table(info: TapInfo) -> str:
    properties = info.about["settings"]["properties"]
    rows, builtins = [], []
    for name, required, printed, description in about_settings_rows(info.about_markdown):
        if name.split(".")[0] in info.builtin_settings:
            if "." not in name:
                builtins.append(f"`{name}`")
            continue
        spec = properties.get(name, {})
        default = "" if printed == "None" else f"`{printed}`"
        if default and not isinstance(spec.get("default"), str):
            default = f"`{json.dumps(spec.get('default'))}`"  # `true`, `[]`: as in a config
        rows.append(
            f"| `{name}` | {'yes' if required == 'True' else ''} | "
            f"{'yes' if spec.get('secret') else ''} | {default} | {cell(description)} |"
        )
    lines = [
        "| setting | required | secret | default | description |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if builtins:
        lines += ["", f"Plus the SDK's built-in settings: {', '.join(builtins)}."]
    return "\n".join(lines)


def merged(values: dict[str, str]) -> str:
    """One cell for all configs: the value, or each config's value on its own line."""
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    return "<br>".join(f"{value or 'none'} ({label})" for label, value in values.items())


def streams_table(info: TapInfo) -> str:
    labels = list(info.shapes)
    streams = list(info.shapes[labels[0]])
    with_scope = any(s.scope for shape in info.shapes.values() for s in shape.values())
    header = ["stream", "endpoint", "primary key", "replication", "parent"]
    header += ["scope"] if with_scope else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for stream in streams:
        shapes = {label: info.shapes[label][stream] for label in labels}

        def column(get: t.Callable[[StreamShape], str], shapes: dict = shapes) -> str:
            return merged({label: get(shape) for label, shape in shapes.items()})

        cells = [
            f"`{stream}`",
            column(lambda s: s.endpoint),
            column(lambda s: ", ".join(f"`{key}`" for key in s.primary_key)),
            column(lambda s: s.replication),
            column(lambda s: s.parent),
        ]
        cells += [column(lambda s: s.scope)] if with_scope else []
        lines.append("| " + " | ".join(cells) + " |")
    if info.shape_settings:
        names = " and ".join(f"`{name}`" for name in info.shape_settings)
        lines += ["", f"Where a cell holds one value per line, the value depends on {names}."]
    return "\n".join(lines)


def replace_block(text: str, marker: str, body: str, where: str) -> str:
    """`text` with the lines between the `marker` comments replaced by `body`."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    pattern = re.compile(rf"^{re.escape(start)}\n(?:.*?\n)?{re.escape(end)}$", re.DOTALL | re.M)
    if len(pattern.findall(text)) != 1:
        msg = f"{where}: needs exactly one '{start}' … '{end}' pair, each on its own line"
        raise DriftError(msg)
    return pattern.sub(lambda _: f"{start}\n{GENERATED_NOTE}\n\n{body}\n{end}", text)


def coverage_table(info: TapInfo) -> str:
    """The "API coverage" table from the tap's `coverage` module, checked against its
    streams (under every shape)."""
    package = tap_class(info.name).__module__.split(".")[0]
    coverage = importlib.import_module(f"{package}.coverage").COVERAGE
    streams = {name: None for shape in info.shapes.values() for name in shape}
    problems = coverage.problems(streams)
    if problems:
        msg = f"{package}/coverage.py: " + "; ".join(problems)
        raise DriftError(msg)
    return t.cast("str", coverage.table())


def privacy_table(info: TapInfo) -> str:
    """The sensitive fields of each stream, by class, from the `x-sensitivity` tags of the
    tap's schemas (under every shape)."""
    cls = tap_class(info.name)
    rows: dict[str, dict[str, list[str]]] = {}
    for label in info.shapes:
        config = dict(zip(info.shape_settings, [label.split(": ")[-1]], strict=False))
        tap = cls(config={**placeholder_config(cls), **config}, validate_config=False)
        for name, stream in tap.streams.items():
            for crumb, tag in privacy.tags(stream.schema).items():
                path = ".".join(step for step in crumb if step != "properties")
                fields = rows.setdefault(name, {}).setdefault(tag, [])
                if path.replace(".items", "[]") not in fields:
                    fields.append(path.replace(".items", "[]"))
    counts = {tag: sum(len(r.get(tag, [])) for r in rows.values()) for tag in privacy.CLASSES}
    lines = [
        "Tagged fields: " + ", ".join(f"{n} {tag}" for tag, n in counts.items()) + ".",
        "",
        "| stream | " + " | ".join(privacy.CLASSES) + " |",
        "|---|" + "---|" * len(privacy.CLASSES),
    ]
    for name, by_tag in rows.items():
        cells = [", ".join(f"`{f}`" for f in by_tag.get(tag, [])) for tag in privacy.CLASSES]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme(info: TapInfo, current: str, where: str) -> str:
    text = replace_block(current, "settings", settings_table(info), where)
    text = replace_block(text, "streams", streams_table(info), where)
    text = replace_block(text, "coverage", coverage_table(info), where)
    return replace_block(text, "privacy", privacy_table(info), where)


def taps_table(infos: list[TapInfo]) -> str:
    """The root README's table: what each tap extracts, how it authenticates, its streams."""
    lines = [
        "| tap | API | extracts | auth | streams | incremental |",
        "|---|---|---|---|---|---|",
    ]
    for info in infos:
        facts, shapes = FACTS[info.name], next(iter(info.shapes.values())).values()
        incremental = [s.replication for s in shapes if s.replication != "full table"]
        keys = sorted(set(incremental), key=incremental.index)
        on = ", ".join(key.removeprefix("incremental (").removesuffix(")") for key in keys)
        lines.append(
            f"| [{info.name}]({info.name}/README.md) | [{facts.label}]({facts.domain_url}) | "
            f"{facts.description} | {facts.auth} | {len(shapes)} | "
            f"{f'{len(incremental)}, on {on}' if incremental else 'none: full table'} |"
        )
    return "\n".join(lines)


# -- the Meltano Hub definition -------------------------------------------------------------


def label_of(name: str) -> str:
    words = name.replace(".", " ").replace("_", " ").split()
    known = {"api": "API", "url": "URL", "id": "ID", "ids": "IDs", "oauth": "OAuth"}
    return " ".join(known.get(word, word.capitalize()) for word in words)


def kind_of(name: str, spec: dict[str, t.Any]) -> str:
    types = spec.get("type", "string")
    kind = next(k for k in ([types] if isinstance(types, str) else types) if k != "null")
    if kind == "string" and spec.get("enum"):
        return "options"
    if kind == "string" and (
        spec.get("format") in {"date", "date-time"} or name in {"start_date", "end_date"}
    ):
        return "date_iso8601"
    return {"number": "decimal"}.get(kind, kind)


def hub_setting(name: str, spec: dict[str, t.Any]) -> dict[str, t.Any]:
    setting: dict[str, t.Any] = {
        "name": name,
        "label": spec.get("title") or label_of(name),
        "kind": kind_of(name, spec),
        "description": spec.get("description", ""),
    }
    if spec.get("secret"):
        setting["sensitive"] = True
    if spec.get("default") is not None:
        setting["value"] = spec["default"]
    if spec.get("enum"):
        setting["options"] = [{"label": label_of(str(v)), "value": v} for v in spec["enum"]]
    return setting


def hub_definition(info: TapInfo) -> str:
    facts, schema = FACTS[info.name], info.about["settings"]
    required = tuple(schema.get("required") or ())
    groups = facts.settings_groups or ((required,) if required else ())
    repo = f"git+{REPO_URL}.git"
    definition = {
        "name": info.name,
        "namespace": info.name.replace("-", "_"),
        "variant": VARIANT,
        "label": facts.label,
        "description": facts.description,
        "docs": f"{REPO_URL}/blob/main/{info.name}/README.md",
        "repo": REPO_URL,
        # The tap depends on the workspace's shared package, which is not on PyPI either.
        "pip_url": f"{repo}#subdirectory=shared {repo}#subdirectory={info.name}",
        "executable": info.name,
        "capabilities": info.about["capabilities"],
        "settings_group_validation": [list(group) for group in groups],
        "settings": [hub_setting(name, spec) for name, spec in schema["properties"].items()],
        "keywords": ["api", "meltano_sdk", *facts.keywords],
        "maintenance_status": "active",
        "domain_url": facts.domain_url,
    }
    body = yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)
    return HUB_HEADER.format(name=info.name) + body


# -- write or check -------------------------------------------------------------------------


def render(info: TapInfo, root: Path = ROOT) -> dict[Path, str]:
    """What the tap's README and hub file should contain, given the README's prose."""
    path = root / info.name / "README.md"
    return {
        path: readme(info, path.read_text(), str(path.relative_to(root))),
        root / info.name / "meltano-hub.yml": hub_definition(info),
    }


def drift(files: dict[Path, str], root: Path = ROOT) -> list[str]:
    """A unified diff per file whose content differs from what it should be."""
    diffs = []
    for path, want in files.items():
        have = path.read_text() if path.exists() else ""
        if have != want:
            where = str(path.relative_to(root))
            lines = difflib.unified_diff(
                have.splitlines(keepends=True),
                want.splitlines(keepends=True),
                fromfile=f"{where} (as committed)",
                tofile=f"{where} (from the code)",
            )
            diffs.append("".join(lines))
    return diffs


def render_root(infos: list[TapInfo], root: Path = ROOT) -> dict[Path, str]:
    """What the root README should contain: its taps table from every tap."""
    path = root / "README.md"
    return {path: replace_block(path.read_text(), "taps", taps_table(infos), "README.md")}


def check(name: str, root: Path = ROOT) -> list[str]:
    """The drift of one tap's README and hub file: empty when both are up to date."""
    return drift(render(collect(name), root), root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    parser.add_argument("--tap", action="append", choices=taps(), help="only this tap")
    parser.add_argument("--root", type=Path, default=ROOT, help="where the tap folders are")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    stale = []
    try:
        infos = [collect(name) for name in args.tap or taps()]
        files = {path: text for info in infos for path, text in render(info, root).items()}
        if not args.tap:  # the root README's table needs every tap
            files.update(render_root(infos, root))
        for diff in drift(files, root):
            stale.append(diff.split("\n", 1)[0].removeprefix("--- ").split(" (")[0])
            if args.check:
                sys.stdout.write(diff)
        if not args.check:
            for path, text in files.items():
                path.write_text(text)
    except DriftError as exc:
        print(f"readme_tables: {exc}", file=sys.stderr)
        return 2
    if args.check and stale:
        print(
            f"\nOut of date: {', '.join(stale)}. Run: uv run python scripts/readme_tables.py",
            file=sys.stderr,
        )
        return 1
    print(f"{'Updated' if stale else 'Up to date'}: {', '.join(stale) or 'every tap'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
