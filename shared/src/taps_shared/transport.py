"""`Transport`: the one path every HTTP request of a run takes.

Connection checks, token requests and every page of every stream go through `send`: one
session (keep-alive, a connection pool sized for parallel pages), one rate limiter, one
retry policy, the authenticator applied afresh to each attempt, and each response checked
before anyone reads it. A rule about requests is written here, once.
"""

from __future__ import annotations

import logging
import typing as t
from urllib.parse import urlsplit

import requests

from taps_shared.errors import RetriesExhaustedError
from taps_shared.responses import check_response
from taps_shared.retry import RetryPolicy, with_retries

if t.TYPE_CHECKING:
    from taps_shared.auth import HumanAuth
    from taps_shared.ratelimit import RateLimiter

#: Headers every request carries unless the caller sets its own.
DEFAULT_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}


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
        setting_of: t.Callable[[str], str | None] = lambda _url: None,
    ) -> None:
        self.timeout = timeout
        self.policy = policy
        self.limiter = limiter
        self.user_agent = user_agent
        self.logger = logger
        self._setting_of = setting_of  # the URL setting a URL falls under, for hints
        self.session = requests.Session()
        # Parallel pages (and users) share it: keep enough connections alive for them all.
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=64)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

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
    ) -> requests.Response:
        """A 2xx response to `request`, named `<label>: <METHOD> <path>` in every message.

        `auth` authenticates every attempt and may refresh itself once after a 401;
        authenticators' own token requests are sent without one.
        """
        path = urlsplit(request.url or "").path

        def attempt(prepared: requests.PreparedRequest) -> requests.Response:
            if auth is not None:
                auth(prepared)
            response = self.session.send(prepared, timeout=self.timeout)
            check_response(response, label)
            return response

        call = with_retries(
            attempt,
            policy=self.policy,
            limiter=self.limiter,
            auth=auth,
            label=lambda _request: f"{label}: {request.method} {path}",
            logger=self.logger,
        )
        try:
            return call(request)
        except RetriesExhaustedError as exc:
            # A host that refuses, or that DNS does not know, is most often a wrong URL.
            setting = self._setting_of(request.url or "")
            if setting and isinstance(exc.last_error, requests.exceptions.ConnectionError):
                msg = f"{exc}; check {setting}"
                raise RetriesExhaustedError(msg, last_error=exc.last_error) from None
            raise
