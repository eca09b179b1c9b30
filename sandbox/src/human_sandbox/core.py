"""Generic HTTP plumbing shared by every API emulator in this repository.

The emulators exist to test taps against a faithful local API, including the failure modes
a real network has (status errors, resets, truncated bodies, slow replies). This module has
no knowledge of any particular API: an emulator is just an ``app`` callable that maps a
:class:`Request` to a :class:`Response`, served by :class:`EmulatorServer`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import orjson

__all__ = [
    "FAULT_KINDS",
    "EmulatorServer",
    "Fault",
    "FaultSwitch",
    "RateLimit",
    "Request",
    "RequestLog",
    "Response",
    "echo_credentials",
    "json_response",
    "request_credentials",
]

FAULT_KINDS = frozenset({"status", "reset", "delay", "truncate", "cut", "call", "trickle"})


@dataclass
class Request:
    """One parsed HTTP request; headers are keyed by lower-cased name for case-free lookup."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""

    def q(self, name: str, default: str | None = None) -> str | None:
        """First value of query parameter ``name`` (query strings may repeat a key)."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        """Header value by case-insensitive name."""
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """Body decoded as JSON (for emulators that accept writes)."""
        return orjson.loads(self.body) if self.body else None


@dataclass
class Response:
    """What an app returns; the server adds Content-Length and framing headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    """JSON response serialised with orjson (bytes pass through, already serialised)."""
    body = obj if isinstance(obj, bytes) else orjson.dumps(obj)
    hdrs = {"Content-Type": "application/json"}
    if headers:
        hdrs.update(headers)
    return Response(status, body, hdrs)


@dataclass
class RequestLog:
    """Record of one served request, kept so tests can assert on what a client sent.

    ``status`` is the status sent (0 when the connection was reset without a response);
    ``time`` is ``time.monotonic()`` when the request arrived, for measuring request rates.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    time: float


@dataclass
class Fault:
    """An injected failure; see :meth:`FaultSwitch.add` for the meaning of each field."""

    kind: str
    status: int | None = None
    headers: dict[str, str] | None = None
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    delay_s: float = 0.0
    path: str | None = None
    times: int = 1
    after: int = 0
    skipped: int = 0
    fired: int = 0
    pattern: re.Pattern[str] | None = None
    action: Callable[[], object] | None = None

    def matches(self, path: str) -> bool:
        """Whether this fault concerns ``path``: it starts with ``path`` (None: any) and
        matches ``pattern`` in full (None: any)."""
        if self.path is not None and not path.startswith(self.path):
            return False
        return self.pattern is None or self.pattern.fullmatch(path) is not None

    @property
    def exhausted(self) -> bool:
        """True once the fault has been applied ``times`` times (never when times == -1)."""
        return self.times >= 0 and self.fired >= self.times


class FaultSwitch:
    """Thread-safe list of pending faults, consulted before each request is routed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        kind: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        delay_s: float = 0.0,
        path: str | None = None,
        times: int = 1,
        after: int = 0,
        pattern: str | None = None,
        action: Callable[[], object] | None = None,
    ) -> Fault:
        """Arm a fault.

        kind: ``"status"`` replies with ``status``/``headers``/``body`` instead of routing;
        ``"reset"`` aborts the TCP connection (RST, no response); ``"delay"`` sleeps
        ``delay_s`` and then serves normally; ``"truncate"`` sends the full Content-Length but
        only half of the body, then closes; ``"cut"`` sends a well-framed response whose
        body is only the first half of the real one (a 200 with truncated JSON);
        ``"call"`` runs ``action()`` (revoke the tokens, say) and then serves normally;
        ``"trickle"`` sends the head at once, then the body one byte every ``delay_s``.
        ``path`` is a path prefix (None = any path), ``pattern`` a regular expression the
        whole path must match (None = any), ``after`` lets that many matching requests
        through first, ``times`` is how many requests get the fault (-1 = forever).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if kind == "status" and status is None:
            raise ValueError("a 'status' fault needs status=")
        if kind == "call" and action is None:
            raise ValueError("a 'call' fault needs action=")
        if times == 0 or times < -1:
            raise ValueError("times must be positive or -1 (forever)")
        if after < 0 or delay_s < 0:
            raise ValueError("after and delay_s must not be negative")
        fault = Fault(kind, status, headers, body, delay_s, path, times, after)
        fault.pattern = re.compile(pattern) if pattern is not None else None
        fault.action = action
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """Faults still armed (a copy)."""
        with self._lock:
            return list(self._faults)

    def take(self, path: str) -> Fault | None:
        """Fault to apply to a request for ``path``, updating counters; None if none applies.

        Every armed fault matching the path counts the request towards its ``after``; the
        first one past its ``after`` fires, so at most one fault applies per request.
        """
        with self._lock:
            chosen: Fault | None = None
            for fault in self._faults:
                if not fault.matches(path):
                    continue
                if fault.skipped < fault.after:
                    fault.skipped += 1
                elif chosen is None:
                    fault.fired += 1
                    chosen = fault
            if chosen is not None and chosen.exhausted:
                self._faults.remove(chosen)
            return chosen


class RateLimit:
    """Token bucket per key: ``burst`` requests at once, refilled at ``rate_per_s``."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> tuple[bool, float]:
        """Take one token for ``key``: (True, 0.0), or (False, seconds until one is free)."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return True, 0.0
            self._buckets[key] = (tokens, now)
            return False, (1.0 - tokens) / self.rate

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets.clear()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def default_error_body(status: int) -> bytes:
    """Generic error body for faults and app crashes when an emulator gives none."""
    return orjson.dumps({"error": {"code": status, "message": _reason(status)}})


#: Request headers and query/body fields whose values are credentials, by name fragment.
CREDENTIAL_NAMES = re.compile(r"(?i)auth|token|key|secret|sign|password|cookie|session")


def request_credentials(request: Request) -> list[tuple[str, str]]:
    """(name, value) of everything credential-like the request carried: headers, query
    parameters and form or JSON body fields whose names look like credentials."""
    found = [(k, v) for k, v in request.headers.items() if CREDENTIAL_NAMES.search(k)]
    found += [(k, v) for k, vs in request.query.items() if CREDENTIAL_NAMES.search(k) for v in vs]
    fields: dict[str, Any] = {}
    ctype = (request.header("content-type") or "").split(";")[0].strip().lower()
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        if ctype == "application/json" and request.body:
            parsed = orjson.loads(request.body)
            fields = parsed if isinstance(parsed, dict) else {}
        elif ctype == "application/x-www-form-urlencoded":
            fields = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    found += [(k, str(v)) for k, v in fields.items() if CREDENTIAL_NAMES.search(k)]
    return found


def echo_credentials(request: Request, response: Response) -> Response:
    """The response a careless server sends: every credential of the request copied into
    response headers (``X-Echo-<name>``) and, for errors, into the error message itself,
    where a client that logs the API's message would print it."""
    found = request_credentials(request)
    if not found:
        return response
    headers = dict(response.headers)
    for name, value in found:
        headers[f"X-Echo-{name}"] = value.replace("\r", " ").replace("\n", " ")
    body = response.body
    if response.status >= 400:
        text = "; ".join(f"{name}: {value}" for name, value in found)
        body = _echo_into_body(body, f"(you sent {text})")
    return Response(response.status, body, headers)


def _echo_into_body(body: bytes, echo: str) -> bytes:
    """``echo`` appended to the error message of a JSON body, or to any other body."""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return body + b" " + echo.encode()
    target = parsed["error"] if isinstance(parsed.get("error"), dict) else parsed
    keys = [k for k in ("message", "error_description", "detail") if isinstance(target.get(k), str)]
    for key in keys or ["message"]:
        target[key] = f"{target.get(key, '')} {echo}".strip()
    if isinstance(parsed.get("error"), str):
        parsed["error"] = f"{parsed['error']} {echo}"
    return orjson.dumps(parsed)


def _as_bytes(body: bytes | str | dict[str, Any] | list[Any]) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return orjson.dumps(body)


class _Handler(BaseHTTPRequestHandler):
    """Serves one connection; writes each response with a single ``sendall``."""

    protocol_version = "HTTP/1.1"
    server_version = "emulator"
    timeout = 120  # idle keep-alive connections are dropped after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without TCP_NODELAY, Nagle plus the client's delayed ACK adds ~40 ms per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        owner = self.server.owner
        arrived = time.monotonic()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(Response(400, owner.error_body(400), {"Content-Type": "application/json"}))
            return
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = parse_qs(split.query, keep_blank_values=True)
        request = Request(self.command, split.path, query, headers, body)

        fault = owner.faults.take(split.path)
        if fault is not None and fault.kind == "reset":
            owner._log(request, 0, arrived)
            self._reset()
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay_s)
        if fault is not None and fault.kind == "call":
            assert fault.action is not None
            fault.action()
        if owner.latency_ms:
            time.sleep(owner.latency_ms / 1000.0)

        if fault is not None and fault.kind == "status":
            assert fault.status is not None
            fbody = fault.body if fault.body is not None else owner.error_body(fault.status)
            response = Response(fault.status, _as_bytes(fbody), dict(fault.headers or {}))
            response.headers.setdefault("Content-Type", "application/json")
        else:
            response = owner.dispatch(request)
        if owner.echo_credentials:
            response = echo_credentials(request, response)
        owner._log(request, response.status, arrived)
        if fault is not None and fault.kind == "truncate":
            self.close_connection = True
            self._send(response, truncate=True)
            return
        if fault is not None and fault.kind == "trickle":
            self._trickle(response, fault.delay_s)
            return
        if fault is not None and fault.kind == "cut":
            half = response.body[: len(response.body) // 2]
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            response = Response(response.status, half, headers)
        if self.command == "HEAD":
            headers = {**response.headers, "Content-Length": str(len(response.body))}
            response = Response(response.status, b"", headers)
        self._send(response)

    def _send(
        self, response: Response, *, truncate: bool = False, length: int | None = None
    ) -> None:
        body = response.body
        head = [f"HTTP/1.1 {response.status} {_reason(response.status)}"]
        lower = {k.lower() for k in response.headers}
        if "content-type" not in lower and body:
            head.append("Content-Type: application/json")
        head.extend(f"{k}: {v}" for k, v in response.headers.items() if k.lower() != "connection")
        if "content-length" not in lower:
            head.append(f"Content-Length: {len(body) if length is None else length}")
        head.append("Connection: close" if self.close_connection else "Connection: keep-alive")
        payload = body[: len(body) // 2] if truncate else body
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
        try:
            self.connection.sendall(data)
        except OSError:
            self.close_connection = True

    def _trickle(self, response: Response, every_s: float) -> None:
        """The head, then the body byte by byte: a server that is alive but never done."""
        self.close_connection = True
        self._send(Response(response.status, b"", response.headers), length=len(response.body))
        for byte in response.body:
            time.sleep(every_s)
            try:
                self.connection.sendall(bytes([byte]))
            except OSError:
                return

    def _reset(self) -> None:
        """Abort the connection with an RST: SO_LINGER 0, then close the descriptor."""
        self.close_connection = True
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference to the socket; close it too so the fd really closes now.
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            sock.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    owner: EmulatorServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which can stall.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects are normal in fault tests; keep stderr quiet."""


class EmulatorServer:
    """Threaded HTTP/1.1 server running ``app`` on a background thread.

    Records every request in ``requests`` and applies ``faults`` before routing, so tests
    can both assert on client behaviour and provoke failures. ``echo_credentials`` (also
    settable while running) makes it the careless server of a secret-leak canary: see
    :func:`echo_credentials`.
    """

    def __init__(
        self,
        app: Callable[[Request], Response],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: int = 0,
        error_body: Callable[[int], bytes] = default_error_body,
        echo_credentials: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.tls = tls  # serve https with this server context
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.error_body = error_body
        self.echo_credentials = echo_credentials
        self.faults = FaultSwitch()
        self.requests: list[RequestLog] = []
        self.errors: list[BaseException] = []
        self._log_lock = threading.Lock()
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` (``https://`` with ``tls``) of the running server."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Bind and serve in a daemon thread; returns self for chaining."""
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self.port), _Handler)
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        httpd.owner = self
        self.port = httpd.server_port
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"emulator-{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, drop open keep-alive connections and join the serving thread."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._conn_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def dispatch(self, request: Request) -> Response:
        """Run the app; a crash becomes a 500 (kept in ``errors``) instead of a dead socket."""
        try:
            return self.app(request)
        except Exception as exc:  # the emulator must answer whatever the app does
            self.errors.append(exc)
            return Response(500, self.error_body(500), {"Content-Type": "application/json"})

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._log_lock:
            self.requests.clear()

    def _log(self, request: Request, status: int, arrived: float) -> None:
        entry = RequestLog(
            request.method, request.path, request.query, request.headers, status, arrived
        )
        with self._log_lock:
            self.requests.append(entry)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


class Emulator:
    """Lifecycle shared by every API emulator: it owns one `server` and runs it as a
    context manager (`with XEmulator(...) as emulator:`)."""

    server: EmulatorServer

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
