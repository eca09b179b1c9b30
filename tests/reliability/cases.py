"""What the fault and secret suites share: where each stream's requests go (so a fault can
hit every stream), the faults, each tap's clean run, and the canary runs.

The taps, their emulators and configs come from tests/support/registry.py (uses `faults`
and `canary`); datasets are small on purpose: the suite runs in `make test` within the CI
budget.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
import tempfile
import time
import typing as t
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from singer_sdk import RESTStream

from human_sandbox.core import (
    CREDENTIAL_NAMES,
    EmulatorServer,
    Fault,
    Request,
    RequestLog,
    Response,
    request_credentials,
)
from tests.support.helpers import CliRun, SyncResult, run_cli, sync
from tests.support.registry import TAPS, TapSpec


def path_regex(url_base: str, path: str) -> str:
    """A regular expression matching in full the request paths of `url_base + path`, each
    `{parameter}` standing for one path segment."""
    literal = re.split(r"\{[^}]+\}", urlsplit(url_base).path.rstrip("/") + path)
    return "[^/]+".join(re.escape(part) for part in literal)


@dataclass(frozen=True)
class Endpoint:
    """Requests a fault can target: one stream's endpoint, or another endpoint the sync
    calls (the token endpoint, a connection check)."""

    name: str
    pattern: str
    #: How many requests of the clean sync matched (the fault fires on the middle one).
    clean_requests: int
    #: Index in the clean sync's request log of the first request that matched.
    first: int

    def matches(self, path: str) -> bool:
        return re.fullmatch(self.pattern, path) is not None


def endpoints(spec: TapSpec, config: dict, requests: list[RequestLog]) -> list[Endpoint]:
    """Every stream's endpoint, then every other path the clean sync `requests` called.

    A stream without requests of its own (it reads its parent's response) has none; its
    records still come through its parent's endpoint, where the faults hit.
    """
    tap = spec.tap(config)
    patterns: dict[str, str] = {}
    for name, stream in tap.streams.items():
        if isinstance(stream, RESTStream):
            pattern = path_regex(stream.url_base, stream.path)
            # Streams reading one endpoint (people_custom pivots custom_values'): one
            # endpoint, named by both, whose faults hit both.
            shared = next((n for n, p in patterns.items() if p == pattern), None)
            if shared is None:
                patterns[name] = pattern
            else:
                patterns = {(f"{n}, {name}" if n == shared else n): p for n, p in patterns.items()}
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for index, request in enumerate(requests):
        owner = next((n for n, p in patterns.items() if re.fullmatch(p, request.path)), None)
        if owner is None:
            owner = request.path
            patterns[owner] = re.escape(request.path)
        counts[owner] += 1
        first.setdefault(owner, index)
    return [Endpoint(n, p, counts[n], first.get(n, len(requests))) for n, p in patterns.items()]


# -- the faults ---------------------------------------------------------------------------

PROXY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
PORTAL_PAGE = b"<!DOCTYPE html><html><body><h1>Please sign in to continue</h1></body></html>"
HTML = {"Content-Type": "text/html"}


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: its `FaultSwitch.add` arguments, made afresh for each arming
    from the request timeout in force (a read timeout must outlast it)."""

    kind: str
    options: t.Callable[[float], dict[str, t.Any]] = lambda _timeout: {}
    #: The server handles the request before the fault loses its response.
    after_dispatch: bool = False
    #: Token expiry: the fault makes the tap's access tokens expire.
    expires: bool = False


def _status(status: int, **headers: str) -> t.Callable[[float], dict[str, t.Any]]:
    return lambda _timeout: {"status": status, "headers": headers}


def _due_now(_timeout: float) -> dict[str, t.Any]:
    # An HTTP date already due: parsed as a date, it waits nothing (tests with real waits
    # arm their own).
    return {"status": 429, "headers": {"Retry-After": formatdate(time.time(), usegmt=True)}}


FAULTS: dict[str, FaultKind] = {
    "429 Retry-After seconds": FaultKind("status", _status(429, **{"Retry-After": "0"})),
    "429 Retry-After HTTP-date": FaultKind("status", _due_now),
    "500": FaultKind("status", _status(500)),
    "502": FaultKind("status", _status(502)),
    "503": FaultKind("status", _status(503)),
    "504": FaultKind("status", _status(504)),
    "connection reset": FaultKind("reset"),
    "read timeout": FaultKind(
        "delay", lambda timeout: {"delay_s": timeout + 0.2}, after_dispatch=True
    ),
    "body cut off (connection closed)": FaultKind("truncate", after_dispatch=True),
    "200 with truncated JSON": FaultKind("cut", after_dispatch=True),
    "HTML 502 page from a proxy": FaultKind(
        "status", lambda _t: {"status": 502, "headers": HTML, "body": PROXY_PAGE}
    ),
    "HTML 200 page from a proxy": FaultKind(
        "status", lambda _t: {"status": 200, "headers": HTML, "body": PORTAL_PAGE}
    ),
    "access token expiring mid-sync": FaultKind("call", expires=True),
}


def fault_applies(spec: TapSpec, fault: FaultKind, endpoint: Endpoint) -> bool:
    """Whether `fault` is armed on `endpoint` in the matrix."""
    on_token_endpoint = endpoint.name == spec.token_path("faults")
    if fault.expires:
        # only a request that carries a minted token can meet an expired one
        return not on_token_endpoint and spec.uses_minted_token(example_path(endpoint))
    # Strict rotation spends the refresh token when the server answers: an answer lost
    # after that cannot be replayed by any client (a limitation of such APIs, not a bug).
    return not (fault.after_dispatch and on_token_endpoint and spec.rotates_refresh_token)


def example_path(endpoint: Endpoint) -> str:
    """A concrete path the endpoint's pattern matches (parameters filled with `x`)."""
    return endpoint.pattern.replace("[^/]+", "x").replace("\\", "")


# -- clean runs ---------------------------------------------------------------------------


@dataclass
class Clean:
    """A tap's clean sync and the endpoints it called."""

    result: SyncResult
    endpoints: list[Endpoint]
    #: The path of every request, in order.
    paths: list[str]

    @property
    def stream_endpoints(self) -> list[Endpoint]:
        """The endpoints that belong to a stream (the others are named by their path)."""
        return [e for e in self.endpoints if not e.name.startswith("/")]

    def endpoint_of(self, path: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.matches(path)), None)


_clean: dict[tuple[str, str], Clean] = {}


def clean_run(spec: TapSpec, use: str = "faults") -> Clean:
    """The clean sync of `spec` for `use` (once: the emulators are deterministic)."""
    key = (spec.name, use)
    if key not in _clean:
        with spec.emulator(use) as emulator:
            config = spec.config(emulator, use)
            result = sync(spec.tap_class, config)
            made = list(emulator.server.requests)  # the sync's: `endpoints`' tap may discover
            found = endpoints(spec, config, made)
            paths = [r.path for r in made]
        assert all(result.records.values()), "every stream has records in the clean run"
        _clean[key] = Clean(result, found, paths)
    return _clean[key]


def record_set(records: dict[str, list[dict]]) -> dict[str, set[str]]:
    """Each stream's records as a set of canonical JSON texts."""
    return {s: {json.dumps(r, sort_keys=True) for r in rows} for s, rows in records.items()}


# -- the canary: one faulty CLI run per tap, at DEBUG, against a careless server ----------

CANARY_RETRIES = 3  # four attempts; the final burst exhausts them
CANARY_TIMEOUT = 1  # request_timeout's minimum: the read-timeout fault costs one second


def serial(spec: TapSpec) -> dict[str, int]:
    """The settings that make a run send one request at a time."""
    known = spec.tap_class.config_jsonschema["properties"]
    return {k: 1 for k in ("max_parallel_requests", "max_parallel_users") if k in known}


#: Each fault kind fires on every other request (the one between is its retry's), so no
#: request meets two; the burst starts after the last of them.
CANARY_SPACING = 2
CANARY_SEQUENCE = [name for name, fault in FAULTS.items() if not fault.expires]
BURST_AFTER = CANARY_SPACING * len(CANARY_SEQUENCE) + 8
#: Response fields that carry credentials the emulator minted.
_MINTED = re.compile(r"(?i)token|secret|key|signature|password")
MIN_SECRET = 8


@dataclass
class CanaryRun:
    """One faulty CLI run: what it printed, what the tap was given and sent, what fired."""

    label: str
    mode: str
    case: TapSpec
    #: The token endpoint of the run's auth mode, if it has one.
    token_path: str | None
    run: CliRun
    config: dict
    secrets: dict[str, str]  # value -> where it came from
    fired: dict[str, int]
    burst: Fault
    requests: list[RequestLog]

    @property
    def burst_path(self) -> str:
        """Path of the request the burst ended the run on."""
        return self.requests[-1].path


class CredentialRecorder:
    """Wraps an emulator's app: remembers every credential requests carried (headers,
    query, body fields) and every one the token endpoint handed out."""

    def __init__(self, server: EmulatorServer, token_path: str | None) -> None:
        self.inner = server.app
        self.token_path = token_path
        self.found: dict[str, str] = {}
        server.app = self

    def __call__(self, request: Request) -> Response:
        for name, value in request_credentials(request):
            self.found.setdefault(value, f"request {name}")
        response = self.inner(request)
        if request.path != self.token_path:
            return response
        try:
            body = orjson.loads(response.body) if response.body else None
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            for name, value in body.items():
                if isinstance(value, str) and _MINTED.search(name):
                    self.found.setdefault(value, f"response {name}")
        return response


def secret_forms(value: str, origin: str) -> dict[str, str]:
    """A credential and the parts of it that are secret on their own: the token of
    `Bearer x`, the base64 pair of `Basic x` and the secret half of that pair."""
    forms = {value: origin}
    scheme, _, rest = value.partition(" ")
    rest = rest.strip()
    if scheme.lower() in ("bearer", "basic", "token") and rest:
        forms[rest] = f"{origin} ({scheme} credential)"
    if scheme.lower() == "basic" and rest:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            pair = base64.b64decode(rest, validate=True).decode()
            user, _, password = pair.partition(":")
            forms[pair] = f"{origin} (decoded Basic pair)"
            forms[password or user] = f"{origin} (Basic {'password' if password else 'user'})"
    return {v: o for v, o in forms.items() if len(v) >= MIN_SECRET}


def configured_secrets(spec: TapSpec, config: dict) -> dict[str, str]:
    """Config values of the settings the tap marks secret."""
    return {
        config[k]: f"setting {k}" for k in spec.secret_settings if isinstance(config.get(k), str)
    }


@dataclass(frozen=True)
class CanaryVariant:
    """One canary run: a tap in one of its auth modes."""

    case: TapSpec
    auth: str
    #: The auth mode, for labels: "" for the one the canary use runs the tap in.
    mode: str = ""

    @property
    def label(self) -> str:
        return self.case.name

    @property
    def token_path(self) -> str | None:
        return self.case.token_path("canary", self.auth)


#: Every tap in the auth mode of its canary dataset, then in each of its other modes.
CANARY_VARIANTS = [
    *(CanaryVariant(spec, spec.mode("canary")) for spec in TAPS.values()),
    *(
        CanaryVariant(spec, auth, auth)
        for spec in TAPS.values()
        for auth in spec.auth
        if auth != spec.mode("canary")
    ),
]


def arm_canary(variant: CanaryVariant, emulator: t.Any) -> tuple[dict[str, Fault], Fault]:
    """Every fault kind once (spaced out), then a 503 burst longer than the retry budget."""
    case, token_path, faults = variant.case, variant.token_path, emulator.server.faults
    armed: dict[str, Fault] = {}
    not_token = f"(?!{re.escape(token_path)}$).*" if token_path else None
    if token_path:  # the token request fails once, echoing secrets
        armed["503 on the token endpoint"] = faults.add(
            "status", status=503, headers={"Retry-After": "0"}, pattern=re.escape(token_path)
        )
    if token_path and case.expire is not None and case.token_api:
        armed["access token expiring mid-sync"] = faults.add(
            "call", action=lambda: case.expire(emulator), pattern=case.token_api, after=3
        )
    for index, name in enumerate(CANARY_SEQUENCE):
        fault = FAULTS[name]
        options = fault.options(CANARY_TIMEOUT)
        if fault.kind == "status":  # waits are not what this run is about
            options["headers"] = {"Retry-After": "0", **options.get("headers", {})}
        armed[name] = faults.add(
            fault.kind,
            pattern=not_token,
            after=CANARY_SPACING * index + 1,
            **options,
        )
    burst = faults.add(
        "status",
        status=503,
        headers={"Retry-After": "0"},
        pattern=not_token,
        after=BURST_AFTER,
        times=-1,
    )
    return armed, burst


@functools.cache
def canary_runs() -> tuple[CanaryRun, ...]:
    """Every canary variant's CLI run, all at once (they mostly wait on retries), with
    LOGLEVEL=DEBUG against emulators that echo credentials into error bodies and headers.
    Computed once per test session: the fault and secret suites both read it."""
    with contextlib.ExitStack() as stack:
        prepared = []
        for variant in CANARY_VARIANTS:
            emulator = stack.enter_context(variant.case.emulator("canary"))
            emulator.server.echo_credentials = True
            recorder = CredentialRecorder(emulator.server, variant.token_path)
            # One request at a time: the faults are spaced out along the request sequence.
            config = variant.case.config(
                emulator,
                "canary",
                auth=variant.auth,
                max_retries=CANARY_RETRIES,
                request_timeout=CANARY_TIMEOUT,
                **serial(variant.case),
            )
            armed, burst = arm_canary(variant, emulator)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            prepared.append((variant, emulator, recorder, config, armed, burst, folder))

        def launch(item: tuple) -> CliRun:
            variant, _emulator, _recorder, config, _armed, _burst, folder = item
            return run_cli(variant.case.script, folder, config=config, env={"LOGLEVEL": "DEBUG"})

        with ThreadPoolExecutor(max_workers=len(prepared)) as pool:
            runs = list(pool.map(launch, prepared))
        results = []
        for (variant, emulator, recorder, config, armed, burst, _), run in zip(
            prepared, runs, strict=True
        ):
            # value -> where it first came from: the setting, else the token response
            secrets = configured_secrets(variant.case, config)
            found = [secret_forms(value, origin) for value, origin in recorder.found.items()]
            found += [  # faulted requests never reach the app: the log has them all
                secret_forms(value, f"request {name}")
                for request in emulator.server.requests
                for name, value in request.headers.items()
                if CREDENTIAL_NAMES.search(name)
            ]
            for forms in found:
                for value, origin in forms.items():
                    secrets.setdefault(value, origin)
            results.append(
                CanaryRun(
                    variant.label,
                    variant.mode,
                    variant.case,
                    variant.token_path,
                    run,
                    config,
                    secrets,
                    {name: fault.fired for name, fault in armed.items()},
                    burst,
                    list(emulator.server.requests),
                )
            )
    return tuple(results)
