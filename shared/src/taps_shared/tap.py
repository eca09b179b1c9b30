"""`HumanTap`: the Tap base that owns one HTTP session, authenticator, rate limiter and retry
policy per run, checks settings up front, redacts secrets, and turns any failure into one
line on stderr with a non-zero exit.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import typing as t
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import urlsplit

import click
import requests
from singer_sdk import Tap
from singer_sdk.plugin_base import SingerCommand

from taps_shared import redact
from taps_shared.auth import HumanAuth
from taps_shared.dates import parse_datetime
from taps_shared.errors import one_line
from taps_shared.ratelimit import RateLimiter
from taps_shared.responses import check_response, json_body
from taps_shared.retry import RetryPolicy, with_retries
from taps_shared.urls import check_base_url
from taps_shared.writer import BufferedMsgSpecWriter


class OneLineErrorCommand(SingerCommand):
    """The SDK command, except that failures end as one scrubbed line and exit code 1."""

    def invoke(self, ctx: click.Context) -> t.Any:
        logging.captureWarnings(capture=True)
        return click.Command.invoke(self, ctx)  # skip the SDK's multi-line error logging

    def main(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        redact.install_log_filter()
        try:
            return super().main(*args, **kwargs)
        except Exception as exc:  # the single place where failures become the final line
            self.logger.error("%s", one_line(exc))
            sys.exit(1)


class PerAttemptAuthSession(requests.Session):
    """A session that never authenticates a request while preparing it.

    The authenticator runs on every attempt, inside the retry loop (the SDK's `_request`,
    `HumanTap.send`), where a token request that fails is retried and, when it gives up,
    named with the call it was for. The SDK also sets `session.auth`, which would
    authenticate once more at preparation, outside any retry loop: a token minted there
    (a new user's first, a renewal near expiry) could fail without naming its stream,
    and every request would be signed twice. Assigning `auth` is therefore ignored.
    """

    @property  # type: ignore[override]
    def auth(self) -> None:
        return None

    @auth.setter
    def auth(self, _value: object) -> None:
        pass


class HumanTap(Tap):
    """Base Tap of the collection; subclasses provide `build_authenticator`."""

    message_writer_class = BufferedMsgSpecWriter
    #: Settings holding base URLs, each checked against the URL policy.
    url_settings: tuple[str, ...] = ("api_url",)

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        redact.install_log_filter()
        super().__init__(*args, validate_config=validate_config, **kwargs)
        if validate_config:
            self.check_settings()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK (0.54.x) calls this once, between loading the config (files and
        # environment) and validating it: the point to learn the secrets before any message
        # could quote them, and to cast numbers, which `--config ENV` leaves as strings.
        properties = self.config_jsonschema.get("properties", {})
        config = self._config
        redact.register(*(config.get(k) for k, spec in properties.items() if spec.get("secret")))
        for key, spec in properties.items():
            if "number" in spec.get("type", ()) and isinstance(config.get(key), str):
                with contextlib.suppress(ValueError):
                    config[key] = float(config[key])
        return super()._validate_config(raise_errors=raise_errors)

    def check_settings(self) -> None:
        """Semantic checks the JSON schema cannot express; raise ConfigError."""
        for setting in self.url_settings:
            if self.config.get(setting):
                self.url_setting(setting)
        if self.config.get("start_date"):
            start = parse_datetime(self.config["start_date"], "start_date")
            if start > datetime.now(UTC):
                self.logger.warning("start_date %s is in the future: no records", start.date())

    # -- one of each per run ------------------------------------------------------------

    @cached_property
    def base_url(self) -> str:
        return self.url_setting("api_url")

    def url_setting(self, name: str) -> str:
        """A URL setting, checked against the URL policy, without a trailing slash."""
        return check_base_url(self.config[name], name)

    @cached_property
    def authenticator(self) -> HumanAuth:
        return self.build_authenticator()

    def build_authenticator(self) -> HumanAuth:
        raise NotImplementedError

    @cached_property
    def requests_session(self) -> requests.Session:
        session = PerAttemptAuthSession()
        # Parallel pages (and users) share it: keep enough connections alive for them all.
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=64)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(float(self.config.get("requests_per_second") or 0))

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_tries=int(self.config.get("max_retries", 5)) + 1)

    @property
    def api_headers(self) -> dict[str, str]:
        """Headers every API request carries (a version pin, say); none by default."""
        return {}

    @property
    def max_parallel_requests(self) -> int:
        return int(self.config.get("max_parallel_requests") or 4)

    @property
    def request_timeout(self) -> float:
        return float(self.config.get("request_timeout") or 60)

    @cached_property
    def user_agent(self) -> str:
        return f"{self.name}/{self.plugin_version}"

    # -- requests outside streams (connection checks, token requests) -------------------

    def send(
        self, request: requests.PreparedRequest, label: str, *, authenticate: bool = False
    ) -> requests.Response:
        """Send with the run's session, limiter, retries and error mapping; a 2xx response.

        `authenticate` applies the run's authenticator to every attempt (and lets a 401
        refresh it once); authenticators themselves send without it.
        """
        auth = self.authenticator if authenticate else None
        request.headers.setdefault("User-Agent", self.user_agent)

        def attempt(prepared: requests.PreparedRequest) -> requests.Response:
            if auth is not None:
                auth(prepared)
            response = self.requests_session.send(prepared, timeout=self.request_timeout)
            check_response(response, label)
            return response

        path = urlsplit(request.url or "").path
        call = with_retries(
            attempt,
            policy=self.retry_policy,
            limiter=self.rate_limiter,
            auth=auth,
            label=lambda _request: f"{label}: {request.method} {path}",
            logger=self.logger,
        )
        return call(request)

    def get_json(self, path: str, label: str = "connection check") -> t.Any:
        """GET `<base_url><path>`, authenticated; the decoded JSON body."""
        request = requests.Request("GET", f"{self.base_url}{path}", headers=self.api_headers)
        return json_body(self.send(request.prepare(), label, authenticate=True))

    def preflight(self) -> None:
        """Checks before the first stream syncs (a connection check, usually)."""

    # The SDK marks sync_all final but has no hook that runs once before the first stream;
    # the preflight must fail there, before any stream starts, with a single error line.
    def sync_all(self) -> None:  # type: ignore[misc]
        try:
            self.preflight()
            super().sync_all()
            self.report_schema_drift()
        finally:
            flush = getattr(self.message_writer, "flush", None)
            if flush is not None:
                flush()  # the records after the last STATE, even when the run failed

    def report_schema_drift(self) -> None:
        """One warning per stream whose records did not fit its schema."""
        for stream in self.streams.values():
            drift = getattr(stream, "schema_drift", None)
            if drift:
                self.logger.warning("%s", drift.summary())

    @classmethod
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        return OneLineErrorCommand(
            name=command.name,
            callback=command.callback,
            params=command.params,
            help=command.help,
            context_settings=command.context_settings,
            logger=cls.logger,
        )
