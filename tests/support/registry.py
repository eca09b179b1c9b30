"""Every tap the suite tests, described once: `TAPS`. Each parametrised test derives from it,
so adding a tap or an auth mode is one entry here (tests/README.md says what else a new tap
brings: its emulator and its own tests).

A tap's emulator and config are made for a *use*, one of `USES`: a suite with needs of its
own (the fault matrix wants a small dataset, the kill-and-resume chains enough records to
stop at twenty points). A use fixes the seed and the settings every tap gets; each tap gives
per use its dataset size and, where it needs them, settings of its own (`Dataset`).
"""

from __future__ import annotations

import functools
import importlib
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from human_sandbox import huma, humaans, humanapi, humanos, openhuman
from human_sandbox.openhuman_backend import BACKEND_TOKEN
from tap_huma.tap import TapHuma
from tap_humaans.tap import TapHumaans
from tap_humanapi import tap as humanapi_tap
from tap_humanapi.tap import TapHumanApi
from tap_humanos.tap import TapHumanos
from tap_openhuman.tap import TapOpenHuman
from taps_shared.tap import HumanTap

NO_RATE_LIMIT = {"requests_per_second": 0}


@dataclass(frozen=True)
class Use:
    """What a use gives every tap: the dataset's seed and settings (those the tap has)."""

    seed: int
    settings: dict[str, t.Any]


USES = {
    # the tap's own suites, tests/taps/<tap>/
    "tap": Use(7, {**NO_RATE_LIMIT, "max_retries": 3}),
    # the engine compared along two paths on every tap, tests/shared/
    "engine": Use(7, {**NO_RATE_LIMIT, "max_retries": 3}),
    # tests/reliability/: the fault matrix, then the canary CLI run through every fault
    "faults": Use(7, {**NO_RATE_LIMIT, "max_retries": 5}),
    "canary": Use(7, {**NO_RATE_LIMIT, "max_retries": 5}),
    # bad input: a failure must show on the first attempt
    "inputs": Use(5, {**NO_RATE_LIMIT, "max_retries": 0}),
    # kill and resume: small pages, so many STATEs and page boundaries in a small dataset
    "resume": Use(3, {**NO_RATE_LIMIT, "max_retries": 1, "page_size": 5}),
    # the Singer SDK's standard tap tests, tests/taps/test_sdk_standard.py
    "sdk": Use(3, NO_RATE_LIMIT),
}


@dataclass(frozen=True)
class Dataset:
    """One tap's emulator and settings for one use."""

    size: int
    settings: dict[str, t.Any] = field(default_factory=dict)
    #: Further emulator options.
    options: dict[str, t.Any] = field(default_factory=dict)
    #: The auth mode, when not the tap's first one.
    auth: str | None = None


@dataclass(frozen=True)
class Auth:
    """One way to authenticate: the credentials, and the token endpoint it calls, if any."""

    settings: dict[str, t.Any]
    #: Credentials the emulator issues afresh for each config (a refresh token).
    issued: t.Callable[[t.Any], dict[str, t.Any]] = lambda emulator: {}
    token_path: str | None = None


@dataclass(frozen=True)
class BadInput:
    """What the bad-input suite (tests/reliability/test_inputs.py) tries on a tap."""

    #: One stream to select (incremental where the tap has one) and the path its requests
    #: start with (no connection check starts with it), with the key of its records list.
    stream: str
    path: str
    records_key: str | None
    #: Two settings and a value of the wrong type for each.
    wrong_types: tuple[tuple[str, t.Any], tuple[str, t.Any]]
    #: (parent, child), for taps with child streams.
    family: tuple[str, str] | None = None


@dataclass(frozen=True)
class Deletes:
    """How the delete suites (tests/reliability/test_deletes.py) delete records in the
    tap's emulator, and tell the requests that look for deletes."""

    #: Deletes some records; the tombstones due for them, by stream (primary key tuples).
    #: `emitted` is what the first run emitted, by stream, to read keys from.
    delete: t.Callable[[t.Any, dict[str, list[dict]]], dict[str, set[tuple]]]
    #: Whether a request is one of those that find deletes (a key sweep, a report).
    finds: t.Callable[[t.Any], bool]
    #: How many such requests a run stopped part-way lets through first.
    through: int = 1


@dataclass(frozen=True)
class TapSpec:
    """One tap: its class, its emulator, its auth modes and its datasets per use."""

    tap_class: type[HumanTap]
    emulator_class: type
    #: The settings that point the tap at an emulator.
    urls: t.Callable[[t.Any], dict[str, str]]
    #: Auth modes by name; the first is the one a use takes unless its dataset says.
    auth: dict[str, Auth]
    datasets: dict[str, Dataset]
    #: One secret setting, the one suites look for by name (the bad-input cases give it
    #: a wrong type; the Meltano log scan must know its value).
    secret: str
    bad_input: BadInput
    #: Makes every access token the emulator issued expire now (taps that mint tokens).
    expire: t.Callable[[t.Any], None] | None = None
    #: The paths whose requests carry a minted (revocable) access token, as a regex.
    token_api: str | None = None
    #: The token endpoint spends the refresh token it is given (strict rotation): a token
    #: response lost after the server produced it cannot be replayed.
    rotates_refresh_token: bool = False
    #: How to delete records in its emulator (taps whose deletes need more than a full
    #: listing and ACTIVATE_VERSION).
    deletes: Deletes | None = None

    @property
    def script(self) -> str:
        """The console script, `tap-<name>`."""
        return self.tap_class.name

    @property
    def name(self) -> str:
        return self.script.removeprefix("tap-")

    @functools.cached_property
    def streams(self) -> tuple[str, ...]:
        """The tap's streams, as the tap itself declares them, sorted."""
        return tuple(sorted(self.tap(config={}).streams))

    @functools.cached_property
    def incremental(self) -> bool:
        """Whether any stream of the tap has a replication key."""
        return any(s.replication_key for s in self.tap(config={}).streams.values())

    @property
    def schema_dir(self) -> Path:
        package = importlib.import_module(self.tap_class.__module__.rpartition(".")[0])
        return Path(t.cast(str, package.__file__)).parent / "schemas"

    @property
    def required(self) -> tuple[str, ...]:
        """The settings the tap's config schema requires."""
        return tuple(self.tap_class.config_jsonschema.get("required", ()))

    @property
    def secret_settings(self) -> set[str]:
        properties = self.tap_class.config_jsonschema["properties"]
        return {name for name, spec in properties.items() if spec.get("secret")}

    def mode(self, use: str) -> str:
        """The name of the auth mode `use` runs the tap in."""
        return self.datasets[use].auth or next(iter(self.auth))

    def emulator(self, use: str = "tap", **options: t.Any) -> t.Any:
        """A fresh (unstarted) emulator with the use's dataset; `options` override."""
        dataset = self.datasets[use]
        return self.emulator_class(
            **{"seed": USES[use].seed, "size": dataset.size, **dataset.options, **options}
        )

    def config(
        self, emulator: t.Any, use: str = "tap", *, auth: str | None = None, **extra: t.Any
    ) -> dict[str, t.Any]:
        """The config that points the tap at `emulator` for `use`, in auth mode `auth` (by
        default the use's), with `extra` settings on top."""
        known = self.tap_class.config_jsonschema["properties"]
        mode = self.auth[auth or self.mode(use)]
        return {
            **{k: v for k, v in USES[use].settings.items() if k in known},
            **self.urls(emulator),
            **mode.settings,
            **mode.issued(emulator),
            **self.datasets[use].settings,
            **extra,
        }

    def token_path(self, use: str, auth: str | None = None) -> str | None:
        """The token endpoint the tap calls in this auth mode (by default the use's)."""
        return self.auth[auth or self.mode(use)].token_path

    def uses_minted_token(self, path: str) -> bool:
        """Whether a request to `path` is authenticated with a minted access token."""
        return self.token_api is not None and re.fullmatch(self.token_api, path) is not None

    def tap(self, config: dict) -> HumanTap:
        return self.tap_class(config=config, validate_config=False)


def _one_url(emulator: t.Any) -> dict[str, str]:
    return {"api_url": emulator.url}


def _api_and_auth_urls(emulator: t.Any) -> dict[str, str]:
    return {"api_url": emulator.api_url, "auth_url": emulator.auth_url}


def _openhuman_urls(emulator: t.Any) -> dict[str, str]:
    return {**_api_and_auth_urls(emulator), "backend_url": emulator.backend_url}


#: The holidays tap-huma reads in its own tests (tests/taps/huma/expected.py derives them).
HUMA_HOLIDAYS = {
    "holiday_countries": ["NO", "SE"],
    "holiday_start_date": "2024-01-01",
    "holiday_end_date": "2025-12-31",
}
_HUMA_ONE_YEAR = {
    "holiday_countries": ["NO"],
    "holiday_start_date": "2025-01-01",
    "holiday_end_date": "2025-12-31",
}
_HUMA_CREDENTIALS = {"client_id": huma.CLIENT_ID, "client_secret": huma.CLIENT_SECRET}
_HUMANAPI_CREDENTIALS = {
    "client_id": humanapi.CLIENT_ID,
    "client_secret": humanapi.CLIENT_SECRET,
    "app_key": humanapi.APP_KEY,
}
#: OpenHuman's hosted backend (contract B): its bearer token.
_BACKEND = {"backend_token": BACKEND_TOKEN}
#: Every user with a connected source: every stream has records.
_ALL_CONNECTED = {"no_source_users": 0}


def _ids(*records: dict) -> set[tuple]:
    return {(r["id"],) for r in records}


def _humaans_deletes(emulator: t.Any, _emitted: dict) -> dict[str, set[tuple]]:
    """3 people, 2 job roles and a location deleted; every custom value of one person (a
    `people_custom` tombstone) and one of another's (their row written again), each value
    a `custom_values` tombstone."""
    deleted = {
        stream: _ids(*emulator.delete_records(path, n))
        for stream, path, n in (
            ("people", "people", 3),
            ("job_roles", "job-roles", 2),
            ("locations", "locations", 1),
        )
    }
    values: dict[str, list[str]] = {}
    for value in emulator.data["custom-values"]:
        values.setdefault(value["personId"], []).append(value["id"])
    emptied = min(values)
    partly = min(p for p, ids in values.items() if p != emptied and len(ids) > 1)
    gone = [*values[emptied], values[partly][0]]
    emulator.delete_custom_values(gone)
    return {**deleted, "custom_values": {(i,) for i in gone}, "people_custom": {(emptied,)}}


def _humanos_deletes(emulator: t.Any, _emitted: dict) -> dict[str, set[tuple]]:
    """2 requests canceled (the resources deleted are ACTIVATE_VERSION's)."""
    return {"requests": {(i,) for i in emulator.cancel_requests(2)}}


def _openhuman_deletes(emulator: t.Any, emitted: dict) -> dict[str, set[tuple]]:
    """2 agents and a conversation deleted: the conversation's messages go with it."""
    agents = emulator.delete_records("agents", 2)
    (conversation,) = emulator.delete_records("conversations", 1)
    messages = {
        (m["id"],) for m in emitted.get("messages", []) if m["conversation_id"] == conversation
    }
    return {
        "agents": {(i,) for i in agents},
        "conversations": {(conversation,)},
        "messages": messages,
    }


#: Each Human API stream's primary key (the same in both wellness modes).
_HUMANAPI_KEYS = {
    stream.name: list(stream.primary_keys or ())
    for stream in humanapi_tap.STREAMS["per_user"].types
}


def _humanapi_deletes(emulator: t.Any, emitted: dict) -> dict[str, set[tuple]]:
    """The first user with data removed from the app: every row of theirs that a run
    emitted is tombstoned (the `users` row itself goes with ACTIVATE_VERSION)."""
    human = next(u["humanId"] for u in emulator.users if u["humanId"] not in emulator.no_sources)
    emulator.remove_user(human)
    expected: dict[str, set[tuple]] = {}
    for stream, rows in emitted.items():
        if stream == "users":
            continue
        primary_keys = _HUMANAPI_KEYS[stream]
        keys = {
            tuple(r[k] for k in primary_keys)
            for r in rows
            if r.get("humanId") == human and not r.get("_sdc_deleted_at")
        }
        if keys:
            expected[stream] = keys
    return expected


_TAPS = [
    TapSpec(
        TapHumaans,
        humaans.HumaansEmulator,
        _one_url,
        {"API token": Auth({"api_token": humaans.FULL_TOKEN})},
        datasets={
            "tap": Dataset(40),
            "engine": Dataset(30),
            "faults": Dataset(5, {"page_size": 4}),
            "canary": Dataset(5, {"page_size": 4}),
            "inputs": Dataset(8),
            "resume": Dataset(12),
            "sdk": Dataset(25, {"start_date": "2023-01-01"}),
        },
        secret="api_token",
        deletes=Deletes(_humaans_deletes, lambda request: "$select[]" in request.query),
        bad_input=BadInput(
            stream="people",
            path="/api/people",
            records_key="data",
            wrong_types=(("page_size", "many"), ("max_retries", "3x")),
        ),
    ),
    TapSpec(
        TapHuma,
        huma.HumaEmulator,
        _one_url,
        {
            # client id and secret in the token request's form (the default)
            "client_auth=form": Auth(_HUMA_CREDENTIALS, token_path="/auth/oauth/token"),
            # as HTTP Basic credentials: their base64 pair is a secret too
            "client_auth=basic": Auth(
                {**_HUMA_CREDENTIALS, "client_auth": "basic"}, token_path="/auth/oauth/token"
            ),
        },
        datasets={
            "tap": Dataset(30, HUMA_HOLIDAYS),
            "engine": Dataset(12, HUMA_HOLIDAYS),
            "faults": Dataset(4, _HUMA_ONE_YEAR),
            "canary": Dataset(12, _HUMA_ONE_YEAR),
            "inputs": Dataset(4),
            "resume": Dataset(
                6,
                {
                    "holiday_countries": ["NO"],
                    "holiday_start_date": "2024-01-01",
                    "holiday_end_date": "2024-12-31",
                },
            ),
            "sdk": Dataset(12, {"holiday_countries": ["NO"]}),
        },
        secret="client_secret",
        bad_input=BadInput(
            stream="groups",
            path="/groups",
            records_key="items",
            wrong_types=(("include_inactive_users", "yes"), ("holiday_countries", "NO")),
            family=("users", "positions"),
        ),
        expire=lambda emulator: emulator.expire_all_tokens(),
        token_api=r"(?!/auth/).*",
    ),
    TapSpec(
        TapHumanos,
        humanos.HumanosEmulator,
        _one_url,
        {
            "API key": Auth(
                {"api_key": humanos.API_KEY, "signature_secret": humanos.SIGNATURE_SECRET}
            )
        },
        datasets={
            "tap": Dataset(40, {"page_size": 10}),
            "engine": Dataset(25, {"page_size": 10}),
            "faults": Dataset(5, {"page_size": 5}),
            "canary": Dataset(20, {"page_size": 5}),
            "inputs": Dataset(8),
            "resume": Dataset(20),
            "sdk": Dataset(15, {"start_date": "2024-01-01"}),
        },
        secret="signature_secret",
        deletes=Deletes(
            _humanos_deletes,
            lambda request: request.query.get("type") == ["REQUEST_CANCELED"],
            through=0,  # one page of reports
        ),
        bad_input=BadInput(
            stream="requests",
            path="/request",
            records_key="data",
            wrong_types=(("page_size", "many"), ("request_timeout", "slow")),
            family=("requests", "credentials"),
        ),
    ),
    TapSpec(
        TapOpenHuman,
        openhuman.OpenHumanEmulator,
        _openhuman_urls,
        {
            "API key": Auth({"api_key": openhuman.API_KEY}),
            "OAuth": Auth(
                {"client_id": openhuman.CLIENT_ID, "client_secret": openhuman.CLIENT_SECRET},
                issued=lambda emulator: {"refresh_token": emulator.issue_refresh_token()},
                token_path="/oauth/token",
            ),
        },
        # Every use but `inputs` reads the hosted backend (B) with its bearer token as well;
        # tests/taps/openhuman/test_tap.py covers the API key on its machine routes.
        datasets={
            "tap": Dataset(12, {"start_date": "2024-01-01", **_BACKEND}),
            "engine": Dataset(12, {"start_date": "2024-01-01", **_BACKEND}),
            "faults": Dataset(
                3, {"start_date": "2024-01-01", "page_size": 20, **_BACKEND}, auth="OAuth"
            ),
            "canary": Dataset(
                3, {"start_date": "2024-01-01", "page_size": 20, **_BACKEND}, auth="OAuth"
            ),
            "inputs": Dataset(4),
            "resume": Dataset(5, _BACKEND),
            "sdk": Dataset(6, {"start_date": "2024-01-01", **_BACKEND}),
        },
        secret="api_key",
        deletes=Deletes(
            _openhuman_deletes,
            lambda request: request.query.get("updated_after") == ["1970-01-01T00:00:00.000Z"],
        ),
        bad_input=BadInput(
            stream="memories",
            path="/v1/memories",
            records_key="data",
            wrong_types=(("page_size", "many"), ("max_retries", "3x")),
            family=("conversations", "messages"),
        ),
        expire=lambda emulator: emulator.expire_access_tokens(),
        token_api=r"/v1/.*",
        rotates_refresh_token=True,
    ),
    TapSpec(
        TapHumanApi,
        humanapi.HumanApiEmulator,
        _api_and_auth_urls,
        {"client credentials": Auth(_HUMANAPI_CREDENTIALS, token_path="/v1/connect/token")},
        datasets={
            "tap": Dataset(6),
            "engine": Dataset(6),
            # One user at a time: the expiry fault ends every user's token at once, and two
            # such faults in the life of one request (users in parallel, each with a key
            # sweep after its listing) would outrun its single refresh, which no real token
            # schedule does. tests/shared/test_parallel.py covers parallel users.
            "faults": Dataset(2, {"max_parallel_users": 1}, options=_ALL_CONNECTED),
            # No key sweeps: they double the batch requests, which come first, and the
            # token request must come before the canary's closing burst (the other taps'
            # canaries sweep, through the same transport).
            "canary": Dataset(2, {"delete_sweep": "off"}, options=_ALL_CONNECTED),
            "inputs": Dataset(3),
            "resume": Dataset(3),
            "sdk": Dataset(3, options=_ALL_CONNECTED),
        },
        secret="app_key",
        deletes=Deletes(
            _humanapi_deletes,
            lambda request: "/users/" in request.path and "updated_since" not in request.query,
        ),
        bad_input=BadInput(
            stream="weight",
            path=f"/v1/apps/{humanapi.CLIENT_ID}/users/weights",
            records_key=None,
            wrong_types=(("page_size", "many"), ("client_user_ids", "abc")),
            family=("users", "profile"),
        ),
        expire=lambda emulator: emulator.expire_tokens(),
        token_api=r"/v1/human(/.*)?",
    ),
]

#: Every tap by name (`humaans`, ...), in the order the reports list them.
TAPS: dict[str, TapSpec] = {spec.name: spec for spec in _TAPS}
