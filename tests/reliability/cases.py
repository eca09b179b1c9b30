"""The five taps as the reliability suite drives them: a small emulator, the config that
points a tap at it, and where each stream's requests go (so a fault can hit every stream).

Datasets are small on purpose: the suite runs in `make test` within the CI budget.
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

from human_sandbox import huma, humaans, humanapi, humanos, openhuman
from human_sandbox.core import (
    CREDENTIAL_NAMES,
    Emulator,
    EmulatorServer,
    Fault,
    Request,
    RequestLog,
    Response,
    request_credentials,
)
from tap_huma.tap import TapHuma
from tap_humaans.tap import TapHumaans
from tap_humanapi.tap import TapHumanApi
from tap_humanos.tap import TapHumanos
from tap_openhuman.tap import TapOpenHuman
from taps_shared.tap import HumanTap
from tests.support.helpers import CliRun, SyncResult, run_cli, sync

#: Every setting the suite's configs share: no client-side rate limit, a retry budget.
COMMON = {"requests_per_second": 0, "max_retries": 5}


@dataclass(frozen=True)
class TapCase:
    """One tap under test; `make_emulator(**options)` builds a fresh emulator."""

    name: str
    tap_class: type[HumanTap]
    executable: str
    make_emulator: t.Callable[..., Emulator]
    make_config: t.Callable[[t.Any], dict]
    #: Path of the token endpoint, for the taps that mint tokens.
    token_path: str | None = None
    #: Make every access token the emulator issued expire now (token-based taps only).
    expire: t.Callable[[t.Any], None] | None = None
    #: The paths whose requests carry a minted (revocable) access token, as a regex.
    token_api: str | None = None
    #: The token endpoint spends the refresh token it is given (strict rotation): a token
    #: response lost after the server produced it cannot be replayed.
    rotates_refresh_token: bool = False
    #: Dataset size of the canary run: enough requests for every fault and then a burst.
    canary_size: int | None = None

    def uses_minted_token(self, path: str) -> bool:
        """Whether a request to `path` is authenticated with a minted access token."""
        return self.token_api is not None and re.fullmatch(self.token_api, path) is not None

    def emulator(self, **options: t.Any) -> t.Any:
        return self.make_emulator(**options)

    def config(self, emulator: t.Any, **extra: t.Any) -> dict:
        return {**COMMON, **self.make_config(emulator), **extra}

    def tap(self, config: dict) -> HumanTap:
        return self.tap_class(config=config, validate_config=False)


def _humaans_config(emulator: humaans.HumaansEmulator) -> dict:
    return {"api_token": humaans.FULL_TOKEN, "api_url": emulator.url, "page_size": 4}


def _huma_config(emulator: huma.HumaEmulator) -> dict:
    return {
        "client_id": huma.CLIENT_ID,
        "client_secret": huma.CLIENT_SECRET,
        "api_url": emulator.url,
        "holiday_countries": ["NO"],
        "holiday_start_date": "2025-01-01",
        "holiday_end_date": "2025-12-31",
    }


def _humanos_config(emulator: humanos.HumanosEmulator) -> dict:
    return {
        "api_key": humanos.API_KEY,
        "signature_secret": humanos.SIGNATURE_SECRET,
        "api_url": emulator.url,
        "page_size": 5,
    }


def _openhuman_config(emulator: openhuman.OpenHumanEmulator) -> dict:
    return {
        "client_id": openhuman.CLIENT_ID,
        "client_secret": openhuman.CLIENT_SECRET,
        "refresh_token": emulator.issue_refresh_token(),
        "api_url": emulator.api_url,
        "auth_url": emulator.auth_url,
        "start_date": "2024-01-01",
        "page_size": 20,
    }


def _humanapi_config(emulator: humanapi.HumanApiEmulator) -> dict:
    return {
        "client_id": humanapi.CLIENT_ID,
        "client_secret": humanapi.CLIENT_SECRET,
        "app_key": humanapi.APP_KEY,
        "api_url": emulator.api_url,
        "auth_url": emulator.auth_url,
    }


CASES: dict[str, TapCase] = {
    case.name: case
    for case in (
        TapCase(
            "humaans",
            TapHumaans,
            "tap-humaans",
            lambda **o: humaans.HumaansEmulator(**{"seed": 7, "size": 5, **o}),
            _humaans_config,
        ),
        TapCase(
            "huma",
            TapHuma,
            "tap-huma",
            lambda **o: huma.HumaEmulator(**{"seed": 7, "size": 4, **o}),
            _huma_config,
            canary_size=12,
            token_path="/auth/oauth/token",
            expire=lambda e: e.expire_all_tokens(),
            token_api=r"(?!/auth/).*",
        ),
        TapCase(
            "humanos",
            TapHumanos,
            "tap-humanos",
            lambda **o: humanos.HumanosEmulator(**{"seed": 7, "size": 5, **o}),
            _humanos_config,
            canary_size=20,
        ),
        TapCase(
            "openhuman",
            TapOpenHuman,
            "tap-openhuman",
            lambda **o: openhuman.OpenHumanEmulator(**{"seed": 7, "size": 3, **o}),
            _openhuman_config,
            token_path="/oauth/token",
            expire=lambda e: e.expire_access_tokens(),
            token_api=r"/v1/.*",
            rotates_refresh_token=True,
        ),
        TapCase(
            "humanapi",
            TapHumanApi,
            "tap-humanapi",
            lambda **o: humanapi.HumanApiEmulator(
                **{"seed": 7, "size": 2, "no_source_users": 0, **o}
            ),
            _humanapi_config,
            token_path="/v1/connect/token",
            expire=lambda e: e.expire_tokens(),
            token_api=r"/v1/human(/.*)?",
        ),
    )
}


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


def endpoints(case: TapCase, config: dict, requests: list[RequestLog]) -> list[Endpoint]:
    """Every stream's endpoint, then every other path the clean sync `requests` called.

    A stream without requests of its own (it reads its parent's response) has none; its
    records still come through its parent's endpoint, where the faults hit.
    """
    tap = case.tap(config)
    patterns = {
        name: path_regex(stream.url_base, stream.path)
        for name, stream in tap.streams.items()
        if isinstance(stream, RESTStream)
    }
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


def requestless_streams(case: TapCase, config: dict) -> list[str]:
    """Streams that make no request of their own (they read their parent's response)."""
    return [n for n, s in case.tap(config).streams.items() if not isinstance(s, RESTStream)]


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


def fault_applies(case: TapCase, fault: FaultKind, endpoint: Endpoint) -> bool:
    """Whether `fault` is armed on `endpoint` in the matrix."""
    on_token_endpoint = endpoint.name == case.token_path
    if fault.expires:
        # only a request that carries a minted token can meet an expired one
        return not on_token_endpoint and case.uses_minted_token(example_path(endpoint))
    # Strict rotation spends the refresh token when the server answers: an answer lost
    # after that cannot be replayed by any client (a limitation of such APIs, not a bug).
    return not (fault.after_dispatch and on_token_endpoint and case.rotates_refresh_token)


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


_clean: dict[tuple[str, int | None], Clean] = {}


def clean_run(case: TapCase, size: int | None = None) -> Clean:
    """The clean sync of `case` (once per dataset size: the emulators are deterministic)."""
    key = (case.name, size)
    if key not in _clean:
        options = {} if size is None else {"size": size}
        with case.emulator(**options) as emulator:
            config = case.config(emulator)
            result = sync(case.tap_class, config)
            found = endpoints(case, config, emulator.server.requests)
            paths = [r.path for r in emulator.server.requests]
        assert all(result.records.values()), "every stream has records in the clean run"
        _clean[key] = Clean(result, found, paths)
    return _clean[key]


def record_set(records: dict[str, list[dict]]) -> dict[str, set[str]]:
    """Each stream's records as a set of canonical JSON texts."""
    return {s: {json.dumps(r, sort_keys=True) for r in rows} for s, rows in records.items()}


# -- the canary: one faulty CLI run per tap, at DEBUG, against a careless server ----------

CANARY_RETRIES = 3  # four attempts; the final burst exhausts them
CANARY_TIMEOUT = 1  # request_timeout's minimum: the read-timeout fault costs one second


def serial(case: TapCase) -> dict[str, int]:
    """The settings that make a run send one request at a time."""
    known = case.tap_class.config_jsonschema["properties"]
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
    case: TapCase
    size: int | None
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


def configured_secrets(case: TapCase, config: dict) -> dict[str, str]:
    """Config values of the settings the tap marks secret."""
    properties = case.tap_class.config_jsonschema.get("properties", {})
    return {
        config[k]: f"setting {k}"
        for k, spec in properties.items()
        if spec.get("secret") and isinstance(config.get(k), str)
    }


@dataclass(frozen=True)
class CanaryVariant:
    label: str
    case: TapCase
    #: Which auth mode, when the tap has another than its usual one ("" = the usual).
    mode: str = ""
    #: Turns the case's config into this variant's (another auth mode, say).
    adapt: t.Callable[[dict], dict] = lambda config: config
    tokens: bool = True


def _api_key_mode(config: dict) -> dict:
    oauth = ("client_id", "client_secret", "refresh_token")
    return {**{k: v for k, v in config.items() if k not in oauth}, "api_key": openhuman.API_KEY}


CANARY_VARIANTS = [
    *(CanaryVariant(name, case) for name, case in CASES.items()),
    CanaryVariant("openhuman", CASES["openhuman"], "API key", _api_key_mode, tokens=False),
    # client id and secret as HTTP Basic credentials: their base64 pair is a secret too
    CanaryVariant(
        "huma", CASES["huma"], "client_auth=basic", lambda c: {**c, "client_auth": "basic"}
    ),
]


def arm_canary(variant: CanaryVariant, emulator: t.Any) -> tuple[dict[str, Fault], Fault]:
    """Every fault kind once (spaced out), then a 503 burst longer than the retry budget."""
    case, faults = variant.case, emulator.server.faults
    armed: dict[str, Fault] = {}
    not_token = f"(?!{re.escape(case.token_path)}$).*" if case.token_path else None
    if case.token_path and variant.tokens:  # the token request fails once, echoing secrets
        armed["503 on the token endpoint"] = faults.add(
            "status", status=503, headers={"Retry-After": "0"}, pattern=re.escape(case.token_path)
        )
    if variant.tokens and case.expire is not None and case.token_api:
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
            size = variant.case.canary_size
            emulator = stack.enter_context(
                variant.case.emulator(**({} if size is None else {"size": size}))
            )
            emulator.server.echo_credentials = True
            recorder = CredentialRecorder(emulator.server, variant.case.token_path)
            # One request at a time: the faults are spaced out along the request sequence.
            config = variant.adapt(
                variant.case.config(
                    emulator,
                    max_retries=CANARY_RETRIES,
                    request_timeout=CANARY_TIMEOUT,
                    **serial(variant.case),
                )
            )
            armed, burst = arm_canary(variant, emulator)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            prepared.append((variant, size, emulator, recorder, config, armed, burst, folder))

        def launch(item: tuple) -> CliRun:
            variant, _size, _emulator, _recorder, config, _armed, _burst, folder = item
            return run_cli(
                variant.case.executable, folder, config=config, env={"LOGLEVEL": "DEBUG"}
            )

        with ThreadPoolExecutor(max_workers=len(prepared)) as pool:
            runs = list(pool.map(launch, prepared))
        results = []
        for (variant, size, emulator, recorder, config, armed, burst, _), run in zip(
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
                    size,
                    run,
                    config,
                    secrets,
                    {name: fault.fired for name, fault in armed.items()},
                    burst,
                    list(emulator.server.requests),
                )
            )
    return tuple(results)
