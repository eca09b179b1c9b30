"""`Transport`: the one path every HTTP request of a run takes.

Connection checks, token requests and every page of every stream go through `send`: one
session (keep-alive, a connection pool sized for parallel pages), one rate limiter, one
retry policy, the authenticator applied afresh to each attempt, and each response checked
before anyone reads it. The rules that keep a hostile or broken server from doing harm are
written here, once:

- Credentials stay with their origin. Redirects are followed only for a GET and only to the
  same origin (scheme, host and port), re-authenticated; any other 3xx (a token endpoint's,
  a cross-origin or https→http one) is an error naming the URL setting, and nothing is sent
  to the `Location`.
- Every read is bounded: `request_timeout` bounds the whole response, not each socket read
  (a server trickling a byte at a time cannot hold a request open past it by more than one
  read), and a body larger than `max_response_mb` once decompressed is an error naming the
  endpoint, found before the rest is inflated.
- TLS trusts what the machine is told to trust: `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE` or
  `SSL_CERT_FILE` (a private certificate authority), and a certificate that cannot be
  verified is reported as such, at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import typing as t
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from taps_shared.errors import RetriesExhaustedError, TapError
from taps_shared.responses import check_response
from taps_shared.retry import RetryPolicy, with_retries

if t.TYPE_CHECKING:
    from taps_shared.auth import HumanAuth
    from taps_shared.ratelimit import RateLimiter

#: Headers every request carries unless the caller sets its own.
DEFAULT_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}
#: Same-origin redirects followed for one request.
MAX_REDIRECTS = 5
#: Decompressed bytes read at a time.
CHUNK = 256 * 1024


class RedirectRefused(TapError):
    """A redirect the rule does not follow: its credentials would leave their origin."""


class ResponseTooLarge(TapError):
    """A response body over `max_response_mb` once decompressed."""


class ResponseTooSlow(requests.exceptions.ReadTimeout):
    """The whole response took longer than `request_timeout` (a retryable timeout)."""


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _certificate_error(call: str, url: str, exc: BaseException) -> TapError:
    """A TLS failure as what it is (no retry: it fails the same way every time)."""
    _scheme, host, port = origin(url)
    reason = "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else "TLS"
    msg = (
        f"{call}: the TLS connection to {host}:{port} failed ({reason}); if the API's "
        "certificate comes from a private certificate authority, point REQUESTS_CA_BUNDLE "
        "or SSL_CERT_FILE at that authority's bundle"
    )
    return TapError(msg)


def _read1(response: requests.Response) -> bytes:
    """One socket read of the body, decompressed, failing as `iter_content` would."""
    try:
        return t.cast("bytes", response.raw.read1(CHUNK, decode_content=True))
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc, request=response.request) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc, request=response.request) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc, request=response.request) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc, request=response.request) from exc


class Transport:
    """Sends prepared requests with retries, rate limiting and per-attempt auth."""

    def __init__(
        self,
        *,
        timeout: float,
        policy: RetryPolicy,
        limiter: RateLimiter,
        user_agent: str,
        logger: logging.Logger,
        max_response_bytes: int = 256 * 1024 * 1024,
        setting_of: t.Callable[[str], str | None] = lambda _url: None,
    ) -> None:
        self.timeout = timeout
        self.policy = policy
        self.limiter = limiter
        self.user_agent = user_agent
        self.logger = logger
        self.max_response_bytes = max_response_bytes
        self._setting_of = setting_of  # the URL setting a URL falls under, for hints
        self.session = requests.Session()
        # Parallel pages (and users) share it: keep enough connections alive for them all.
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=64)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._environments: dict[tuple[str, str, int | None], dict[str, t.Any]] = {}
        self._lock = threading.Lock()

    def prepare(
        self,
        method: str,
        url: str,
        *,
        params: t.Any = None,
        headers: t.Mapping[str, str] | None = None,
        **body: t.Any,
    ) -> requests.PreparedRequest:
        """A request as it will be sent, before authentication (`body`: json= or data=)."""
        merged = {"User-Agent": self.user_agent, **DEFAULT_HEADERS, **(headers or {})}
        return requests.Request(method, url, params=params, headers=merged, **body).prepare()

    def send(
        self,
        request: requests.PreparedRequest,
        label: str,
        *,
        auth: HumanAuth | None = None,
        setting: str | None = None,
    ) -> requests.Response:
        """A 2xx response to `request`, named `<label>: <METHOD> <path>` in every message.

        `auth` authenticates every attempt (and every redirect followed) and may refresh
        itself once after a 401; authenticators' own token requests are sent without one.
        `setting` is the URL setting that errors tell the user to check (by default the
        one the URL falls under).
        """
        call_name = f"{label}: {request.method} {urlsplit(request.url or '').path}"
        setting = setting or self._setting_of(request.url or "")

        def attempt(prepared: requests.PreparedRequest) -> requests.Response:
            response = self._exchange(prepared, call_name, auth, setting)
            check_response(response, label)
            return response

        call = with_retries(
            attempt,
            policy=self.policy,
            limiter=self.limiter,
            auth=auth,
            label=lambda _request: call_name,
            logger=self.logger,
        )
        try:
            return call(request)
        except RetriesExhaustedError as exc:
            # A host that refuses, or that DNS does not know, is most often a wrong URL.
            if setting and isinstance(exc.last_error, requests.exceptions.ConnectionError):
                msg = f"{exc}; check {setting}"
                raise RetriesExhaustedError(msg, last_error=exc.last_error) from None
            raise

    # -- one attempt --------------------------------------------------------------------

    def _exchange(
        self,
        request: requests.PreparedRequest,
        call: str,
        auth: HumanAuth | None,
        setting: str | None,
    ) -> requests.Response:
        """One attempt: authenticate, send, follow what the redirect rule allows, and read
        the whole body within the time and size bounds."""
        deadline = time.monotonic() + self.timeout
        for _hop in range(MAX_REDIRECTS + 1):
            if auth is not None:
                auth(request)
            try:
                response = self.session.send(
                    request,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                    **self._environment(request.url or ""),
                )
            except requests.exceptions.SSLError as exc:
                raise _certificate_error(call, request.url or "", exc) from None
            if not response.is_redirect:
                self._read_body(response, call, deadline)
                return response
            request = self._redirected(request, response, call, setting)
        msg = f"{call} was redirected more than {MAX_REDIRECTS} times"
        raise RedirectRefused(msg)

    def _redirected(
        self,
        request: requests.PreparedRequest,
        response: requests.Response,
        call: str,
        setting: str | None,
    ) -> requests.PreparedRequest:
        """The request to follow a redirect with, or RedirectRefused."""
        response.close()
        target = urljoin(request.url or "", response.headers.get("Location", ""))
        scheme, host, port = origin(target)
        if request.method == "GET" and origin(target) == origin(request.url or ""):
            followed = request.copy()
            followed.prepare_url(target, None)
            followed.headers.pop("Authorization", None)  # set afresh by the authenticator
            return followed
        where = f"{scheme}://{host}" + (f":{port}" if port else "")
        why = "a request that is not a GET" if request.method != "GET" else "another origin"
        msg = (
            f"{call} returned {response.status_code} redirecting to {where}; not followed: "
            f"redirects of {why} would carry credentials away"
        )
        raise RedirectRefused(f"{msg}; check {setting}" if setting else msg)

    def _read_body(self, response: requests.Response, call: str, deadline: float) -> None:
        """Read the whole (decompressed) body into the response, within the bounds."""
        chunks = []
        size = 0
        try:
            # One socket read at a time (read1), so the deadline is checked between reads
            # however slowly bytes come; decompressed at most CHUNK bytes at a time.
            while chunk := _read1(response):
                size += len(chunk)
                if size > self.max_response_bytes:
                    megabytes = self.max_response_bytes // (1024 * 1024)
                    msg = (
                        f"{call} returned more than {megabytes} MB once decompressed; "
                        "raise max_response_mb if the API really sends that much"
                    )
                    raise ResponseTooLarge(msg)
                if time.monotonic() > deadline:
                    msg = f"the whole response took longer than {self.timeout:g}s"
                    raise ResponseTooSlow(msg, request=response.request, response=response)
                chunks.append(chunk)
        except BaseException:
            response.close()
            raise
        response._content = b"".join(chunks)  # what `response.content` returns
        response._content_consumed = True  # type: ignore[attr-defined]

    def _environment(self, url: str) -> dict[str, t.Any]:
        """Proxies and the CA bundle for `url`'s origin, from the environment, resolved once
        per origin (as `requests.get` would, which `Session.send` does not)."""
        key = origin(url)
        with self._lock:
            found = self._environments.get(key)
            if found is None:
                settings = self.session.merge_environment_settings(url, {}, None, None, None)
                verify = settings["verify"]  # REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else True
                if verify is True and os.environ.get("SSL_CERT_FILE"):
                    verify = os.environ["SSL_CERT_FILE"]
                found = {"proxies": settings["proxies"], "verify": verify}
                self._environments[key] = found
        return found
