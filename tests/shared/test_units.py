"""Pure units of taps_shared: redaction, URL policy, dates, the message writer."""

from __future__ import annotations

import io
import logging
import random
import re
import sys
from datetime import UTC, datetime

import pytest
import requests
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.messages import RecordMessage, SchemaMessage, StateMessage

from human_sandbox.core import EmulatorServer, json_response
from taps_shared import redact
from taps_shared import writer as writer_module
from taps_shared.auth import HumanAuth
from taps_shared.dates import normalise_timestamp, parse_datetime, to_iso_z
from taps_shared.errors import ConfigError
from taps_shared.ratelimit import RateLimiter
from taps_shared.retry import RetryPolicy
from taps_shared.transport import Transport
from taps_shared.urls import check_base_url
from taps_shared.writer import BufferedMsgSpecWriter

CANARY = "canary-Secr3t-value-91c2"


def test_registered_secrets_are_masked_everywhere_in_text():
    redact.register(CANARY)
    assert redact.scrub(f"token={CANARY}&x=1 and '{CANARY}'") == "token=****&x=1 and '****'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ****"),
        (
            "headers {'Authorization': 'Basic dXNlcjpwYXNz'}",
            "headers {'Authorization': 'Basic ****'}",
        ),
        ("sent bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "sent bearer ****"),
        ("/cb?code=1&access_token=abc123&state=2", "/cb?code=1&access_token=****&state=2"),
        ("client_secret=s3cr3t", "client_secret=****"),
        (  # the sentence around the credential keeps its closing brackets
            "503 (Unavailable (you sent authorization: Bearer abc.def))",
            "503 (Unavailable (you sent authorization: Bearer ****))",
        ),
        ("nothing to hide here", "nothing to hide here"),
    ],
)
def test_credential_shapes_are_masked_without_registration(text, expected):
    assert redact.scrub(text) == expected


def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret registered yet (the registry is the process's)."""
    monkeypatch.setattr(redact, "_secrets", set())
    monkeypatch.setattr(redact, "_literals", set())
    monkeypatch.setattr(redact, "_starts", set())
    monkeypatch.setattr(redact, "_lengths", ())
    monkeypatch.setattr(redact, "_loose_secrets", [])
    monkeypatch.setattr(redact, "_pattern", None)


def test_secrets_are_masked_as_one_alternation_of_all_longest_first_would(monkeypatch):
    """Secrets without inner whitespace (the ones found through a table, not a pattern):
    at each position from the left, the longest one there, overlaps included."""
    fresh_secrets(monkeypatch)
    rng = random.Random(5)
    alphabet = "ab%-_c"
    secrets = {"".join(rng.choices(alphabet, k=rng.randint(4, 9))) for _ in range(60)}
    redact.register(*secrets)
    forms = sorted(set().union(*map(redact.encodings, secrets)), key=len, reverse=True)
    one = re.compile("|".join(map(re.escape, forms)))
    for _ in range(300):
        text = "".join(rng.choices([*alphabet, *rng.sample(sorted(secrets), 3)], k=30))
        expected = redact._GENERIC.sub(redact._mask_generic, one.sub(redact.MASK, text))
        assert redact.scrub(text) == expected, text


def test_registering_a_token_costs_the_same_however_many_are_registered(monkeypatch):
    """A tap minting one token per user registers thousands: none recompiles a pattern
    of all of them, and a line is scrubbed by looking at its own characters."""
    fresh_secrets(monkeypatch)
    redact.register("a loose secret")
    pattern = redact._pattern
    tokens = [f"{i:040x}" for i in range(20_000)]
    redact.register(*tokens)
    assert redact._pattern is pattern
    assert redact.scrub(f"token {tokens[12_345]}, not {tokens[7]}x") == "token ****, not ****x"
    assert redact.scrub("a  loose\nsecret") == "****"


def test_log_filter_scrubs_messages_args_and_tracebacks():
    redact.register(CANARY)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redact.RedactingFilter())
    logger = logging.getLogger("redact-test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("sending %s", CANARY)
        try:
            raise ValueError(f"server said {CANARY}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert CANARY not in output
    assert "sending ****" in output
    assert "ValueError: server said ****" in output


@pytest.mark.parametrize(
    "url",
    [
        "https://app.humaans.io/api",
        "http://127.0.0.1:8080/api",
        "http://localhost/api/",
        "http://[::1]:9/x",
    ],
)
def test_allowed_urls(url):
    assert check_base_url(url, "api_url") == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://app.humaans.io/api", "api_url must use https://"),
        ("http://10.0.0.5/api", "api_url must use https://"),
        ("ftp://example.com", "must be an absolute https:// URL"),
        ("app.humaans.io/api", "must be an absolute https:// URL"),
        ("https://example.com/api?token=1", "must not carry a query string"),
    ],
)
def test_refused_urls(url, message):
    with pytest.raises(ConfigError, match=message):
        check_base_url(url, "api_url")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-31", "2024-01-31T00:00:00.000Z"),
        ("2024-01-31T12:30:00", "2024-01-31T12:30:00.000Z"),
        ("2024-01-31T12:30:00Z", "2024-01-31T12:30:00.000Z"),
        ("2024-01-31T14:30:00.123456+02:00", "2024-01-31T12:30:00.123Z"),
    ],
)
def test_dates_and_datetimes_become_aware_utc(value, expected):
    assert to_iso_z(parse_datetime(value)) == expected
    assert parse_datetime(value).tzinfo is not None


@pytest.mark.parametrize("value", ["2024-13-01", "yesterday", "31/01/2024", ""])
def test_malformed_dates_name_the_setting(value):
    with pytest.raises(ConfigError, match=r"^start_date '.*' is not an ISO-8601 date"):
        parse_datetime(value)


def test_normalised_timestamps_sort_as_strings():
    values = ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5+00:00", "2023-12-31T23:00:00-02:00"]
    normalised = [normalise_timestamp(v, "x") for v in values]
    assert normalised == [
        "2024-01-01T00:00:00.000Z",
        "2024-01-01T00:00:00.500Z",
        "2024-01-01T01:00:00.000Z",
    ]


def test_buffered_writer_writes_what_msgspec_writes_and_flushes_only_state(monkeypatch):
    class Out:
        def __init__(self) -> None:
            self.buffer = io.BytesIO()
            self.flushes = 0
            self.buffer.flush = self.flush  # type: ignore[method-assign]

        def flush(self) -> None:
            self.flushes += 1

    messages = [
        RecordMessage(
            stream="s", record={"id": "a", "n": 1}, time_extracted=datetime(2024, 1, 1, tzinfo=UTC)
        ),
        RecordMessage(
            stream="s", record={"id": "b", "n": 2}, time_extracted=datetime(2024, 1, 1, tzinfo=UTC)
        ),
        StateMessage(value={"bookmarks": {}}),
        # STATE and SCHEMA are encoded without the copy `to_dict` makes: the same bytes
        SchemaMessage(stream="s", schema={"properties": {"id": {"type": ["string", "null"]}}}),
        SchemaMessage(stream="s", schema={"type": "object"}, key_properties=("id",)),
        StateMessage(value={"bookmarks": {"s": {"partitions": [{"context": {"a": None}}]}}}),
    ]
    out = Out()
    monkeypatch.setattr(sys, "stdout", out)
    writer = BufferedMsgSpecWriter()
    for message in messages:
        writer.write_message(message)
    expected = b"".join(bytes(MsgSpecWriter().format_message(m)) for m in messages)
    assert out.buffer.getvalue() == expected
    assert out.flushes == 4


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"bookmarks": {}},
        {"bookmarks": {"s": {"partitions": [{"context": {"id": 1}}]}, "t": {"a": [1]}}},
        {"bookmarks": {"s": {}}, "currently_syncing": None, "x": {"1": {2: 3}}},
    ],
)
def test_a_state_in_pieces_is_the_line_msgspec_writes(state):
    """A STATE is encoded a stream's bookmarks at a time: the same bytes as at once."""
    pieces = list(BufferedMsgSpecWriter.state_pieces(state))
    assert b"".join(pieces) == bytes(MsgSpecWriter().format_message(StateMessage(value=state)))
    if state.get("bookmarks"):
        assert len(pieces) > 4


def test_a_raw_stdout_that_takes_part_of_a_write_gets_the_rest(monkeypatch):
    """Unbuffered (PYTHONUNBUFFERED), stdout is a raw file: a signal that interrupts a
    write to a full pipe leaves it partly done, and the writer writes the rest."""

    class Partial:
        def __init__(self) -> None:
            self.buffer = self
            self.data = bytearray()

        def write(self, data: memoryview) -> int:
            taken = max(1, len(data) // 3)
            self.data += data[:taken]
            return taken

        def flush(self) -> None:
            pass

    out = Partial()
    monkeypatch.setattr(sys, "stdout", out)
    writer = BufferedMsgSpecWriter()
    messages = [
        SchemaMessage(stream="s", schema={"properties": {"id": {"type": ["string", "null"]}}}),
        RecordMessage(
            stream="s", record={"id": "a"}, time_extracted=datetime(2024, 1, 1, tzinfo=UTC)
        ),
        StateMessage(value={"bookmarks": {"s": {"partitions": [{"context": {"a": 1}}]}}}),
    ]
    for message in messages:
        writer.write_message(message)
    writer.flush()
    assert bytes(out.data) == b"".join(bytes(MsgSpecWriter().format_message(m)) for m in messages)


def test_records_reach_stdout_in_chunks_and_every_line_before_a_state(monkeypatch):
    """Many RECORD lines make one write, even to an unbuffered stdout (PYTHONUNBUFFERED);
    a STATE, and the end of the run, hand over every line before them, in order."""

    class Raw:
        def __init__(self) -> None:
            self.buffer = self
            self.writes: list[bytes] = []

        def write(self, data: bytes) -> int:
            self.writes.append(bytes(data))
            return len(data)

        def flush(self) -> None:
            self.writes.append(b"<flush>")

    out = Raw()
    monkeypatch.setattr(sys, "stdout", out)
    writer = BufferedMsgSpecWriter()
    at = datetime(2024, 1, 1, tzinfo=UTC)
    records = [
        RecordMessage(stream="s", record={"id": i, "x": "y" * 100}, time_extracted=at)
        for i in range(3_000)
    ]
    for message in records:
        writer.write_message(message)
    writer.write_message(StateMessage(value={"bookmarks": {}}))
    writer.write_message(records[0])
    writer.flush()
    lines = [bytes(MsgSpecWriter().format_message(m)) for m in records]
    state = bytes(MsgSpecWriter().format_message(StateMessage(value={"bookmarks": {}})))
    data = [w for w in out.writes if w != b"<flush>"]
    assert b"".join(data) == b"".join([*lines, state, lines[0]])
    with_records = [w for w in data if b'"type":"RECORD"' in w]
    assert len(with_records) <= len(b"".join(lines)) // writer_module.CHUNK + 2
    before_flush = out.writes[: out.writes.index(b"<flush>")]
    assert b"".join(before_flush) == b"".join([*lines, state])
    assert out.writes[-3:] == [b"<flush>", lines[0], b"<flush>"]


def test_the_authenticator_runs_on_every_attempt_and_never_at_preparation():
    """Issue 8: authenticators run once per attempt, inside the retry loop, so a token
    minted for a request fails inside it, naming its call, and a retry is signed afresh.
    Nothing authenticates a request while it is prepared."""
    calls: list[requests.PreparedRequest] = []

    class Counting(HumanAuth):
        def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
            calls.append(request)
            request.headers["Authorization"] = f"Bearer {len(calls)}"
            return request

    server = EmulatorServer(lambda request: json_response(200, {"ok": True})).start()
    server.faults.add("status", status=503, times=1)
    transport = Transport(
        timeout=5,
        policy=RetryPolicy(max_tries=3, base_delay=0.01),
        limiter=RateLimiter(0),
        user_agent="tap-test/1",
        logger=logging.getLogger("test"),
    )
    try:
        request = transport.prepare("GET", f"{server.base_url}/x")
        assert calls == [] and "Authorization" not in request.headers
        assert transport.send(request, "test", auth=Counting()).json() == {"ok": True}
    finally:
        server.stop()
    assert len(calls) == 2
    assert [entry.headers.get("authorization") for entry in server.requests] == [
        "Bearer 1",
        "Bearer 2",
    ]
