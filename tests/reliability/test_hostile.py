"""Issue 14, hostile and broken servers: the cases of items 3 (rate-limit headers), 10-12
(the OpenHuman token cache), 14 (secrets in other encodings), part of 15 (odd header
bytes, a credential with a trailing newline), and issue 22's refused connection.

Each case runs inside `trials.hostile(item, case)`: `make reliability` lists it as a
row of the "hostile servers" section of tests/RELIABILITY.md.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
import types
import typing as t
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus

import pytest
import requests

from human_sandbox import huma, openhuman
from human_sandbox.core import EmulatorServer, Request, Response, json_response
from tap_humaans.tap import TapHumaans
from tap_humanapi.tap import TapHumanApi
from tap_humanos.tap import TapHumanos
from tap_openhuman.tap import TapOpenHuman
from taps_shared import ratelimit, redact
from taps_shared.errors import ConfigError, RetriesExhaustedError
from taps_shared.oauth import ClientCredentialsAuth, RefreshTokenAuth, TokenCache
from taps_shared.ratelimit import MAX_WAIT, RateLimiter, parse_wait
from taps_shared.retry import RetryPolicy, with_retries
from tests.reliability import trials
from tests.reliability.cases import secret_forms
from tests.support.helpers import run_cli, select_only, sync
from tests.support.registry import TAPS
from tests.support.secret_scan import leaks, unmasked_credentials

NOW = 1_700_000_000.0
YEAR_2999 = "32503680000"  # 2999-12-31 as epoch seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sorted_records(run: t.Any) -> list[str]:
    """The records of a CLI run, in a comparable order."""
    return sorted(
        json.dumps([m["stream"], m["record"]], sort_keys=True)
        for m in run.messages
        if m["type"] == "RECORD"
    )


class OnResponses:
    """Wraps an emulator's app: the first `times` responses to paths matching `pattern`
    carry `headers` as well (a real page, with the headers of a hostile server)."""

    def __init__(self, server: EmulatorServer, pattern: str, headers: dict, times: int) -> None:
        self.inner, self.pattern, self.headers, self.left = server.app, pattern, headers, times
        server.app = self

    def __call__(self, request: Request) -> Response:
        response = self.inner(request)
        if self.left and re.fullmatch(self.pattern, request.path):
            self.left -= 1
            response.headers.update(self.headers)
        return response


# -- item 3: rate-limit headers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds", "absurd"),
    [
        ("120", 120, None),  # delta seconds
        (" 0.5 ", 0.5, None),
        (str(int(NOW) + 12), 12, None),  # epoch seconds
        (str(int(NOW + 12) * 1000), 12, None),  # epoch milliseconds
        ("Tue, 14 Nov 2023 22:13:50 GMT", 30, None),  # an HTTP date, 30 s ahead
        (str(int(NOW) - 50), 0, None),  # an instant past: no wait
        ("3600", MAX_WAIT, 3600),
        ("999999", MAX_WAIT, 999999),
        (YEAR_2999, MAX_WAIT, float(YEAR_2999) - NOW),
        ("1e300", MAX_WAIT, 1e297 - NOW),
        ("inf", MAX_WAIT, float("inf")),
        ("nan", None, None),
        ("-5", None, None),
        ("\xb2", None, None),  # a non-ASCII byte (superscript two: a digit to str.isdigit)
        ("1_000", None, None),
        ("soon", None, None),
    ],
)
def test_one_parser_reads_every_form_of_wait_and_bounds_it(value, seconds, absurd):
    wait = parse_wait("X-RateLimit-Reset", value, NOW)
    assert (wait.seconds, wait.absurd) == (seconds, absurd)
    assert wait.cause == f"X-RateLimit-Reset: {value.strip()!a}"


class FakeClock:
    """`time` for taps_shared.ratelimit: sleeps are recorded and pass at once."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def time(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(
        ratelimit,
        "time",
        types.SimpleNamespace(
            **{name: getattr(fake, name) for name in ("monotonic", "time", "sleep")}
        ),
    )
    return fake


HUMAANS = TAPS["humaans"]


def humaans_people(on_200: dict | None = None, **fault: t.Any) -> dict[str, list[dict]]:
    """The people of a small Humaans emulator, synced in process; the first response to
    /api/people carries the headers `on_200`, or the first request there meets `fault`."""
    with HUMAANS.emulator("faults") as emulator:
        if on_200:
            OnResponses(emulator.server, "/api/people", on_200, times=1)
        if fault:
            emulator.server.faults.add(path="/api/people", **fault)
        config = HUMAANS.config(emulator, "faults")
        catalog = select_only(TapHumaans, config, {"people"})
        return sync(TapHumaans, config, catalog=catalog).records


@pytest.fixture(scope="module")
def people() -> dict[str, list[dict]]:
    return humaans_people()


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        ("999999", ("11 days", MAX_WAIT, "WARNING", "asks to wait 11.6 days: waiting 600s")),
        ("3600", ("an hour", MAX_WAIT, "WARNING", "asks to wait 1.0 h: waiting 600s")),
        (YEAR_2999, ("epoch of 2999", MAX_WAIT, "WARNING", "asks to wait forever: waiting")),
        ("inf", ("inf", MAX_WAIT, "WARNING", "asks to wait forever: waiting 600s")),
        ("1e300", ("1e300", MAX_WAIT, "WARNING", "asks to wait forever: waiting 600s")),
        ("ms+20", ("epoch milliseconds 20 s ahead", 20, "INFO", "requests wait 20s until")),
        ("nan", ("nan", 0, "WARNING", "Ignoring the rate-limit header")),
        ("-5", ("negative", 0, "WARNING", "Ignoring the rate-limit header")),
        ("\xb2", ("a non-ASCII byte", 0, "WARNING", "Ignoring the rate-limit header")),
    ],
)
def test_a_used_up_rate_limit_window_waits_within_the_bound_and_says_why(
    reset, expected, clock, people, caplog
):
    """A 200 with X-RateLimit-Remaining: 0: the next request waits until the reset, never
    longer than MAX_WAIT, logged with its cause; a value that is no time is ignored."""
    case, waited, level, says = expected
    if reset == "ms+20":
        reset = str(int((time.time() + 20) * 1000))
    with trials.hostile("3", f"200 with X-RateLimit-Remaining 0, reset {case}"):
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        with caplog.at_level(logging.INFO):
            assert humaans_people(headers) == people
        assert all(0 <= s <= MAX_WAIT for s in clock.slept), clock.slept
        assert max(clock.slept, default=0) == pytest.approx(waited, abs=1.5)
        lines = [r for r in caplog.records if "rate-limit" in r.getMessage()]
        assert [r.levelname for r in lines] == [level], [r.getMessage() for r in lines]
        assert says in lines[0].getMessage()
        assert f"X-RateLimit-Reset: {reset!a}" in lines[0].getMessage()


def first_retry(caplog: pytest.LogCaptureFixture) -> str:
    retries = [r.getMessage() for r in caplog.records if "retry 1 of" in r.getMessage()]
    assert len(retries) == 1, retries
    return retries[0]


def test_a_429_with_a_reset_in_epoch_milliseconds_waits_that_long(people, caplog):
    reset = str(int((time.time() + 2) * 1000))
    with trials.hostile("3", "429 with X-RateLimit-Reset in epoch milliseconds"):
        with caplog.at_level(logging.WARNING):
            got = humaans_people(kind="status", status=429, headers={"X-RateLimit-Reset": reset})
        assert got == people
        retry = first_retry(caplog)
        assert retry.endswith(f"s as the server asked (X-RateLimit-Reset: '{reset}')")
        assert 0.5 < float(retry.split(" in ")[-1].split("s ")[0]) <= 2.0


def test_a_retry_after_with_a_non_ascii_byte_is_ignored_with_a_warning(people, caplog):
    with trials.hostile("15", "429 with a non-ASCII byte in Retry-After"):
        with caplog.at_level(logging.WARNING):
            got = humaans_people(kind="status", status=429, headers={"Retry-After": "\xb2"})
        assert got == people
        assert first_retry(caplog).endswith("s (ignoring Retry-After: '\\xb2': not a time)")


@pytest.mark.parametrize(
    ("value", "says"),
    [("999999", "11.6 days"), ("inf", "forever"), ("1e300", "forever")],
)
def test_a_server_asking_for_an_absurd_wait_ends_the_run_in_one_line_naming_the_header(value, says):
    with trials.hostile("3", f"429 with Retry-After {value}"):
        with pytest.raises(RetriesExhaustedError) as caught:
            humaans_people(kind="status", status=429, headers={"Retry-After": value}, times=-1)
        assert str(caught.value) == (
            "people: GET /api/people returned 429 Too Many Requests (TooManyRequests: Too many "
            "requests); "
            f"gave up: the server asked to wait {says} (Retry-After: {value!a}), more than "
            "the 600s the tap waits"
        )


def test_the_limiter_holds_at_most_max_wait_and_never_crashes(clock):
    limiter = RateLimiter(0)
    for reset in ("inf", "1e300", YEAR_2999, str(int(time.time() * 1000) + 10**15)):
        limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
        assert limiter.acquire() == pytest.approx(MAX_WAIT, abs=0.1)
    limiter.observe({"X-RateLimit-Remaining": "nan", "X-RateLimit-Reset": "30"})
    assert limiter.acquire() == 0


# -- item 15: an odd X-Total-Count, a credential with a trailing newline -------------------


def test_x_total_count_with_a_non_ascii_byte_is_ignored_and_nothing_is_lost():
    case = TAPS["humanapi"]
    with case.emulator("faults") as emulator:
        config = case.config(emulator, "faults")
        clean = sync(TapHumanApi, config).records
    with (
        trials.hostile("15", "X-Total-Count with a non-ASCII byte"),
        case.emulator("faults") as emulator,
    ):
        OnResponses(emulator.server, r"/v1/human/.*", {"X-Total-Count": "1\xb2"}, times=-1)
        assert sync(TapHumanApi, case.config(emulator, "faults")).records == clean


def test_credentials_with_a_trailing_newline_are_stripped_with_a_warning(caplog):
    case = TAPS["humanos"]
    with case.emulator("faults") as emulator:
        config = case.config(emulator, "faults")
        catalog = select_only(TapHumanos, config, {"resources"})
        clean = sync(TapHumanos, config, catalog=catalog).records
        with trials.hostile("15", "api_key and signature_secret ending in a newline"):
            pasted = {k: f"{config[k]}\n" for k in ("api_key", "signature_secret")}
            with caplog.at_level(logging.WARNING):
                got = sync(TapHumanos, {**config, **pasted}, catalog=catalog).records
            assert got == clean
            warnings = [r.getMessage() for r in caplog.records if "whitespace" in r.getMessage()]
            assert warnings == [
                f"{k} has whitespace around it (a trailing newline?): using it without"
                for k in ("api_key", "signature_secret")
            ]


# -- issue 22: a refused connection fails fast ---------------------------------------------


def _failed(reason: BaseException) -> requests.exceptions.RequestException:
    error = (
        requests.exceptions.ConnectTimeout(reason)
        if isinstance(reason, TimeoutError)
        else requests.exceptions.ConnectionError(reason)
    )
    error.request = requests.Request("GET", "http://api.example.com/v1/x").prepare()
    return error


@pytest.mark.parametrize(
    ("reason", "retried"),
    [
        (ConnectionRefusedError(111, "Connection refused"), False),
        (socket.gaierror(-2, "Name or service not known"), True),
        (TimeoutError("timed out"), True),
    ],
)
def test_only_a_refused_connection_is_not_retried(reason, retried):
    slept: list[float] = []

    def attempt() -> requests.Response:
        raise _failed(reason)

    call = with_retries(
        attempt,
        policy=RetryPolicy(max_tries=3),
        label=lambda: "test: GET /v1/x",
        logger=logging.getLogger("test"),
        sleep=slept.append,
    )
    with pytest.raises(RetriesExhaustedError) as caught:
        call()
    assert len(slept) == (2 if retried else 0)
    if not retried:
        assert str(caught.value) == (
            "test: GET /v1/x: connection refused (api.example.com); not retried"
        )


def test_an_unreachable_api_url_fails_at_once_naming_the_setting(tmp_path):
    port = free_port()
    config = {"api_token": "hmns_test_full_7f3a9c", "api_url": f"http://127.0.0.1:{port}/api"}
    with trials.hostile("issue 22", "api_url refusing connections (closed port)"):
        started = time.monotonic()
        run = run_cli("tap-humaans", tmp_path, config=config)
        elapsed = time.monotonic() - started
        assert run.returncode == 1
        assert run.error_lines == [run.error_lines[0]] and run.error_lines[0].endswith(
            f"connection check: GET /api/me: connection refused (127.0.0.1:{port}); "
            "not retried; check api_url"
        )
        assert "Traceback" not in run.stderr
        assert elapsed < 10, elapsed  # the default retry budget took 20 s and more


# -- items 10, 11, 12: the OpenHuman token cache -------------------------------------------

OPENHUMAN = TAPS["openhuman"]


def spend(emulator: t.Any, refresh_token: str) -> int:
    """The status of a refresh with `refresh_token` (strict rotation: it is spent)."""
    fields = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": openhuman.CLIENT_ID,
        "client_secret": openhuman.CLIENT_SECRET,
    }
    return requests.post(emulator.token_url, data=fields, timeout=5).status_code


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_an_unwritable_cache_fails_before_the_refresh_token_is_spent(tmp_path):
    """/proc takes no new files, for root too: the read-only folder a test can have."""
    cache = "/proc/self/hostile-token.json"
    with OPENHUMAN.emulator("faults") as emulator:
        config = OPENHUMAN.config(emulator, "faults", token_cache_path=cache)
        with trials.hostile("10", "token_cache_path in a folder that takes no files"):
            run = run_cli("tap-openhuman", tmp_path, config=config)
            assert run.returncode == 1
            assert len(run.error_lines) == 1
            assert run.error_lines[0].endswith(
                f"token_cache_path {cache} cannot be used (No such file or directory); no "
                "token was spent: point token_cache_path at a file in a writable folder"
            )
            assert emulator.token_requests == []
            writable = {**config, "token_cache_path": str(tmp_path / "token.json")}
            assert sync(TapOpenHuman, writable).records  # the configured token still works


def test_a_link_or_file_planted_at_the_temporary_path_is_never_used(tmp_path, monkeypatch):
    cache = tmp_path / "token.json"
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    old_name = tmp_path / f".token.json.{os.getpid()}.tmp"  # the name main wrote through
    with trials.hostile("11", "a symlink planted at the cache's temporary path"):
        old_name.symlink_to(victim)
        TokenCache(str(cache)).write("rt-one")
        assert victim.read_text() == "untouched"
        assert json.loads(cache.read_text()) == {"refresh_token": "rt-one"}
        assert not cache.is_symlink() and stat.S_IMODE(cache.stat().st_mode) == 0o600
        # the temporary name is fresh each time, and a link waiting there is refused
        monkeypatch.setattr("secrets.token_hex", lambda _n: "guessed")
        (tmp_path / ".token.json.guessed.tmp").symlink_to(victim)
        with pytest.raises(ConfigError, match=r"could not be written \(File exists\)"):
            TokenCache(str(cache)).write("rt-two")
        assert victim.read_text() == "untouched"
        assert json.loads(cache.read_text()) == {"refresh_token": "rt-one"}
    with trials.hostile("11", "a world-readable file planted at the temporary path"):
        old_name.unlink()
        old_name.write_text("{}")
        old_name.chmod(0o644)
        monkeypatch.undo()
        TokenCache(str(cache)).write("rt-three")
        assert stat.S_IMODE(cache.stat().st_mode) == 0o600
        assert json.loads(cache.read_text()) == {"refresh_token": "rt-three"}


def test_a_cache_others_can_read_is_tightened_with_a_warning(tmp_path, caplog):
    cache = tmp_path / "token.json"
    cache.write_text('{"refresh_token": "rt-cached"}')
    cache.chmod(0o644)
    with trials.hostile("11", "an existing cache with mode 0644"):
        with caplog.at_level(logging.WARNING):
            assert TokenCache(str(cache)).read() == "rt-cached"
        assert stat.S_IMODE(cache.stat().st_mode) == 0o600
        assert [r.getMessage() for r in caplog.records] == [
            f"token_cache_path {cache} was open to others (mode 0644): now 0600"
        ]


def test_a_cache_path_that_is_a_symlink_is_refused(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text('{"refresh_token": "rt-target"}')
    link = tmp_path / "token.json"
    link.symlink_to(target)
    with trials.hostile("11", "token_cache_path itself a symlink"):
        message = (
            f"token_cache_path {link} is a symbolic link; the token is never written "
            "through one: set token_cache_path to the file itself"
        )
        with pytest.raises(ConfigError) as caught:
            TokenCache(str(link)).read()
        assert str(caught.value) == message
        with pytest.raises(ConfigError) as caught:
            TokenCache(str(link)).check_writable()
        assert str(caught.value) == message
        assert target.read_text() == '{"refresh_token": "rt-target"}'


def test_a_refresh_re_reads_the_cache_another_run_rotated(tmp_path):
    with OPENHUMAN.emulator("faults") as emulator:
        config = OPENHUMAN.config(emulator, "faults", token_cache_path=str(tmp_path / "token.json"))
        tap = TapOpenHuman(config=config, validate_config=False)

        def auth() -> RefreshTokenAuth:
            return RefreshTokenAuth(
                token_url=emulator.token_url,
                client_id=config["client_id"],
                client_secret=config["client_secret"],
                refresh_token=config["refresh_token"],
                cache_path=config["token_cache_path"],
                send=tap.transport.send,
            )

        with trials.hostile("12", "a refresh after another run rotated the cached token"):
            first, second = auth(), auth()  # both read the same (configured) token at start
            for run in (first, second):
                run(requests.Request("GET", f"{emulator.api_url}/agents").prepare())
            assert [r["ok"] for r in emulator.token_requests] == [True, True]
            assert second.refresh_token == TokenCache(config["token_cache_path"]).read()


class TokenBarrier:
    """Wraps an emulator's app: the first token request waits for a second one (at most
    `timeout` seconds), so two runs that would spend the same refresh token both send it
    before either is answered."""

    def __init__(self, server: EmulatorServer, path: str, timeout: float) -> None:
        self.inner, self.path, self.timeout = server.app, path, timeout
        self.arrived = 0
        self.lock = threading.Lock()
        self.second = threading.Event()
        server.app = self

    def __call__(self, request: Request) -> Response:
        if request.path == self.path:
            with self.lock:
                self.arrived += 1
                first = self.arrived == 1
            if first:
                self.second.wait(self.timeout)
            else:
                self.second.set()
        return self.inner(request)


def test_two_runs_sharing_a_cache_both_succeed_and_spend_each_token_once(tmp_path):
    with OPENHUMAN.emulator("faults") as emulator:
        cache = tmp_path / "cache" / "token.json"
        config = OPENHUMAN.config(emulator, "faults", token_cache_path=str(cache))
        TokenBarrier(emulator.server, "/oauth/token", timeout=3)
        with trials.hostile("12", "two concurrent runs sharing one token cache"):
            folders = [tmp_path / "a", tmp_path / "b"]
            for folder in folders:
                folder.mkdir()
            with ThreadPoolExecutor(2) as pool:
                runs = list(pool.map(lambda f: run_cli("tap-openhuman", f, config=config), folders))
            assert [r.returncode for r in runs] == [0, 0], [r.error_lines for r in runs]
            assert sorted_records(runs[0]) and sorted_records(runs[0]) == sorted_records(runs[1])
            assert [r["ok"] for r in emulator.token_requests] == [True, True]
            cached = TokenCache(str(cache)).read()
            assert cached is not None and spend(emulator, cached) == 200


# -- item 14: secrets in every encoding ----------------------------------------------------

#: A secret whose encodings all differ: space, '+', '/', '=', '&', '"', a double space
#: and, as configured, a trailing newline.
ODD_SECRET = 'hs+sec/ret=&"q"  x7\n'
ENCODINGS: dict[str, t.Callable[[str], str]] = {
    "as is": lambda v: v,
    "URL-encoded": lambda v: quote(v, safe=""),
    "URL-encoded in a path": quote,
    "form-encoded": quote_plus,
    "JSON-escaped": lambda v: json.dumps(v)[1:-1],
}


def test_a_secret_is_masked_in_every_encoding_and_whitespace():
    with trials.hostile("14", "a secret URL/form-encoded, JSON-escaped, re-spaced"):
        redact.register(ODD_SECRET)
        texts = [encode(ODD_SECRET) for encode in ENCODINGS.values()]
        texts += [" ".join(ODD_SECRET.split()), ODD_SECRET.strip()]
        for text in texts:
            scrubbed = redact.scrub(f"sent <{text}>")
            assert scrubbed.startswith("sent <****"), scrubbed
            assert leaks(scrubbed, {ODD_SECRET: "the secret"}) == [], text


def test_the_base64_client_pair_is_masked_whatever_the_client_auth():
    with trials.hostile("14", "the base64 client_id:client_secret pair"):
        ClientCredentialsAuth(
            token_url="https://auth.example.com/token",
            client_id="client-b64",
            client_secret="b64-secret-4f1e",
            send=lambda *_: requests.Response(),
        )
        pair = base64.b64encode(b"client-b64:b64-secret-4f1e").decode()
        assert redact.scrub(f"Authorization header was {pair}") == "Authorization header was ****"


def test_a_logger_with_its_own_handler_is_masked_too():
    """A SINGER_SDK_LOG_CONFIG may give urllib3 a handler of its own, which filters on the
    root logger's handlers never see; the SDK's metric records keep their arguments."""
    with trials.hostile("14", "urllib3 logging to a handler of its own"):
        redact.register(ODD_SECRET)
        redact.install_log_filter()
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logger = logging.getLogger("urllib3.connectionpool")
        logger.addHandler(handler)
        logger.propagate, level = False, logger.level
        logger.setLevel(logging.DEBUG)
        try:
            logger.debug('"GET /v1/x?key=%s HTTP/1.1" 200', quote_plus(ODD_SECRET))
            logger.debug("METRIC: %s", ["counter"])
        finally:
            logger.removeHandler(handler)
            logger.propagate = True
            logger.setLevel(level)
        assert [r.getMessage() for r in records] == [
            '"GET /v1/x?key=**** HTTP/1.1" 200',
            "METRIC: ['counter']",
        ]
        assert records[1].args == (["counter"],)


class EchoEveryEncoding:
    """Wraps an emulator's app into a careless server: the first token requests, and every
    third request after, fail with a 503 (Retry-After: 0) whose message repeats a
    credential of the request in one encoding after another."""

    def __init__(self, server: EmulatorServer, token_path: str) -> None:
        self.inner, self.token_path = server.app, token_path
        self.echoes = 0
        self.requests = 0
        self.lock = threading.Lock()
        server.app = self

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.requests += 1
            echo = self.echoes
        token = request.path == self.token_path
        if token and echo < len(ENCODINGS) + 1:
            fields = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            secret = fields.get("client_secret", "")
            if echo == len(ENCODINGS):
                pair = f"{fields.get('client_id')}:{secret}"
                sent = f"client pair: {base64.b64encode(pair.encode()).decode()}"
            else:
                sent = f"client_secret: {list(ENCODINGS.values())[echo](secret)}"
        elif not token and self.requests % 3 == 0:
            value = request.header("authorization") or ""
            sent = f"authorization: {list(ENCODINGS.values())[echo % len(ENCODINGS)](value)}"
        else:
            return self.inner(request)
        with self.lock:
            self.echoes += 1
        body = {"error": {"code": 503, "message": f"unavailable (you sent {sent})"}}
        return json_response(503, body, {"Retry-After": "0"})


LOG_CONFIG = """
version: 1
disable_existing_loggers: false
formatters:
  own: {format: "OWN %(name)s | %(levelname)s | %(message)s"}
handlers:
  own: {class: logging.StreamHandler, stream: ext://sys.stderr, formatter: own}
loggers:
  urllib3: {level: DEBUG, handlers: [own], propagate: false}
  tap-huma: {level: DEBUG, handlers: [own], propagate: false}
"""


def test_a_debug_run_with_its_own_log_config_prints_no_encoding_of_an_odd_secret(
    tmp_path, monkeypatch
):
    """The secret canary with a secret that every encoding changes, configured with a
    trailing newline, against a server echoing it URL-encoded, form-encoded, JSON-escaped
    and as the base64 client pair; the tap's and urllib3's loggers write through handlers
    of their own (SINGER_SDK_LOG_CONFIG), at DEBUG."""
    case = TAPS["huma"]
    monkeypatch.setattr(huma, "CLIENT_SECRET", ODD_SECRET.strip())
    with case.emulator("faults") as emulator:
        config = case.config(emulator, "faults", client_secret=ODD_SECRET, max_retries=7)
        clean = sync(case.tap_class, {**config, "client_secret": ODD_SECRET.strip()}).records
        EchoEveryEncoding(emulator.server, case.token_path("faults") or "")
        (tmp_path / "logging.yml").write_text(LOG_CONFIG)
        env = {"LOGLEVEL": "DEBUG", "SINGER_SDK_LOG_CONFIG": str(tmp_path / "logging.yml")}
        with trials.hostile("14", "DEBUG run, own log handlers, an odd secret echoed"):
            run = run_cli(case.script, tmp_path, config=config, env=env)
            assert run.returncode == 0, run.stderr[-2000:]
            assert sorted_records(run) == sorted(
                json.dumps([s, r], sort_keys=True) for s, rs in clean.items() for r in rs
            )
            assert "OWN urllib3.connectionpool | DEBUG" in run.stderr
            assert run.stderr.count("you sent client_secret: ****") == len(ENCODINGS)
            assert "you sent client pair: ****" in run.stderr
            assert "you sent authorization: Bearer ****" in run.stderr
            assert (
                "client_secret has whitespace around it (a trailing newline?): using it without"
                in run.stderr
            )
            secrets = {ODD_SECRET: "setting client_secret"}
            pair = f"{config['client_id']}:{ODD_SECRET.strip()}"
            secrets[base64.b64encode(pair.encode()).decode()] = "base64 client pair"
            for request in emulator.server.requests:
                value = request.headers.get("authorization")
                if value:
                    secrets.update(secret_forms(value, "request authorization"))
            assert leaks(run.stdout + run.stderr, secrets) == []
            assert unmasked_credentials(run.stderr) == []


# -- the report ----------------------------------------------------------------------------


def test_the_report_has_one_row_per_hostile_case_that_ran():
    from scripts.reliability_report import render

    def case(item: str, name: str) -> dict:
        test = "tests/test_x.py::test_" + name.replace(" ", "_")
        return {"category": trials.HOSTILE, "item": item, "name": name, "test": test}

    logged = [
        {"tap": "humaans", "category": "faults", "name": "503", "passed": True, "count": 2},
        {**case("issue 22", "refused"), "passed": True},
        {**case("14", "odd secret"), "passed": False},
        {**case("3", "absurd reset"), "passed": True},
    ]
    report = render(logged)
    section = report.split("## Hostile servers\n")[1].split("**Total")[0]
    assert [line for line in section.splitlines() if line.startswith("|")] == [
        "| item | case | test | outcome |",
        "|---|---|---|---|",
        "| 3 | absurd reset | `tests/test_x.py::test_absurd_reset` | held |",
        "| 14 | odd secret | `tests/test_x.py::test_odd_secret` | **did not hold** |",
        "| issue 22 | refused | `tests/test_x.py::test_refused` | held |",
    ]
    assert "| faults injected / survived | 2 / 2 |" in report
    assert "**Total: 5 tried, 4 held.**" in report
    assert report.endswith("## Did not hold\n\n- hostile servers: item 14: odd secret\n")
    assert "Hostile" not in render(logged[:1])


# -- item 13: Human API users without a token ------------------------------------------------

HUMANAPI = TAPS["humanapi"]


def humanapi_cli(tmp_path: t.Any, emulator: t.Any, **settings: t.Any) -> t.Any:
    config = HUMANAPI.config(emulator, "tap", wellness_mode="per_user", **settings)
    return run_cli("tap-humanapi", tmp_path, config=config)


def test_no_user_token_from_a_wrong_auth_url_fails_naming_it(tmp_path):
    with HUMANAPI.emulator("tap") as emulator:
        wrong = f"{emulator.auth_url}/wrong"
        with trials.hostile("13", "auth_url answering 404 to every token request"):
            run = humanapi_cli(tmp_path, emulator, auth_url=wrong)
            assert run.returncode == 1
            assert run.error_lines[-1].endswith(
                f"Human API issued no access token for any of the {emulator.size} user(s) "
                f"asked ({emulator.size} with 404 Not Found) at {wrong}/v1/connect/token: check "
                "auth_url, client_id and client_secret; the users' Data API streams were not "
                "read"
            ), run.error_lines
            assert "Traceback" not in run.stderr
            # what was read before (the users) and its state stand: the last line is a STATE
            assert json.loads(run.stdout.splitlines()[-1])["type"] == "STATE"


def test_some_users_without_a_token_are_counted_in_one_line_at_the_end(tmp_path):
    with HUMANAPI.emulator("tap") as emulator:
        assert emulator.no_sources  # the dataset has users without a connected source
        with trials.hostile("13", "some users refused a token (no connected source)"):
            run = humanapi_cli(tmp_path, emulator)
            assert run.returncode == 0
            n, size = len(emulator.no_sources), emulator.size
            summary = [line for line in run.stderr.splitlines() if f"of {size} user(s)" in line]
            assert len(summary) == 1
            assert summary[0].endswith(
                f"Human API issued no access token for {n} of {size} user(s) ({n} with 404 "
                "Not Found: No connected sources for this user): their Data API streams were "
                "skipped"
            ), summary


def test_a_token_body_that_is_a_list_fails_in_one_line_naming_the_endpoint(tmp_path):
    with HUMANAPI.emulator("tap") as emulator:
        inner = emulator.server.app

        def listing(request: Request) -> Response:
            if request.path.endswith("/v1/connect/token"):
                return json_response(200, [{"access_token": "in-a-list"}])
            return inner(request)

        emulator.server.app = listing
        with trials.hostile("15", "a Human API token body that is a JSON list"):
            run = humanapi_cli(tmp_path, emulator)
            assert run.returncode == 1
            assert run.error_lines[-1].endswith(
                f"the Human API token response from {emulator.auth_url}/v1/connect/token is "
                "not a JSON object"
            ), run.error_lines
            assert "Traceback" not in run.stderr


# -- item 15: odd input --------------------------------------------------------------------


def test_a_config_read_from_a_pipe_is_read_once(tmp_path):
    with TAPS["humaans"].emulator("tap") as emulator:
        config = json.dumps(TAPS["humaans"].config(emulator, "tap"))
        tap = str(Path(sys.executable).parent / "tap-humaans")
        with trials.hostile("15", "--config <(cat config.json), a pipe read once"):
            done = subprocess.run(
                ["bash", "-c", f'{tap} --config <(printf %s "$CONFIG") --discover'],
                env={**os.environ, "CONFIG": config},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert "people" in {s["tap_stream_id"] for s in json.loads(done.stdout)["streams"]}


@pytest.mark.parametrize("port", ["abc", "99999", "-1"])
def test_a_url_with_a_bad_port_fails_in_one_line_naming_the_setting(tmp_path, port):
    config = {"api_token": "x", "api_url": f"https://127.0.0.1:{port}/api"}
    with trials.hostile("15", f"api_url with the port {port!r}"):
        run = run_cli("tap-humaans", tmp_path, config=config)
        assert run.returncode == 1
        assert run.error_lines[-1].endswith(
            f"api_url has no valid port: 'https://127.0.0.1:{port}/api'"
        ), run.error_lines
        assert "Traceback" not in run.stderr
