"""`HumanTap`: the Tap base that owns one HTTP session, authenticator, rate limiter and retry
policy per run, checks settings up front, redacts secrets, and turns any failure into one
line on stderr with a non-zero exit.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import typing as t
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import urlsplit

import click
import requests
from singer_sdk import Tap
from singer_sdk.plugin_base import SingerCommand
from singer_sdk.singerlib import StateMessage

from taps_shared import redact
from taps_shared.auth import HumanAuth
from taps_shared.dates import parse_datetime
from taps_shared.errors import Terminated, one_line
from taps_shared.ratelimit import RateLimiter
from taps_shared.responses import check_response, json_body
from taps_shared.retry import RetryPolicy, with_retries
from taps_shared.urls import check_base_url
from taps_shared.writer import BufferedMsgSpecWriter

#: Signals that stop a run cleanly: an orchestrator cancelling it, Ctrl-C.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop_on_signal(signum: int, frame: object) -> None:
    """Raise `Terminated` wherever the tap is; a second signal stops the process at once."""
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_DFL)
    raise Terminated(signum)


class OneLineErrorCommand(SingerCommand):
    """The SDK command, except that failures end as one scrubbed line and exit code 1.

    A stop signal (SIGTERM, SIGINT) ends the run cleanly, which for a Singer tap means:
    it stops promptly, even mid-request or in a back-off wait (the signal raises
    `Terminated` where the tap is); the last STATE on stdout is valid and covers every
    record written before it (`HumanTap.sync_all` writes it on the way out); stdout ends
    with a complete message (buffered ones are flushed, none is cut); one WARNING line says
    how the run stopped, no traceback; and the exit code is 128 + the signal number (143
    for SIGTERM, 130 for SIGINT). Not 0: the sync is incomplete and no scheduler should
    take it for a finished one (a Kubernetes Job, say, retries a non-zero exit, and the
    retry resumes from that STATE). This replaces the SDK's handler, which exits 0 and
    writes the STATE from inside the signal handler, where it can re-enter a stdout write
    that the signal interrupted.
    """

    def invoke(self, ctx: click.Context) -> t.Any:
        logging.captureWarnings(capture=True)
        return click.Command.invoke(self, ctx)  # skip the SDK's multi-line error logging

    def main(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        redact.install_log_filter()
        previous: dict[int, t.Any] = {}
        if threading.current_thread() is threading.main_thread():
            previous = {signum: signal.signal(signum, _stop_on_signal) for signum in STOP_SIGNALS}
        try:
            return super().main(*args, **kwargs)
        except Terminated as stop:
            with contextlib.suppress(OSError):  # a reader that went away cannot be helped
                sys.stdout.flush()
            self.logger.warning(
                "Stopped by %s before the sync finished; the last STATE message covers every "
                "record written: run again with it to resume",
                stop.signal_name,
            )
            sys.exit(stop.exit_code)
        except Exception as exc:  # the single place where failures become the final line
            self.logger.error("%s", one_line(exc))
            sys.exit(1)
        finally:  # the run is over: a signal now finds the handlers it found before
            for signum, handler in previous.items():
                signal.signal(signum, handler)


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

    def _setup_signal_handlers(self) -> None:
        """None here: `OneLineErrorCommand` handles stop signals for command-line runs, and
        a tap built in-process (tests, scripts) leaves the host's handlers alone."""

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
        return requests.Session()

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
        except Terminated:
            # Stopped by a signal: end stdout with the state as it stands, even if unchanged
            # since the last STATE. It never runs ahead of the records written: the SDK moves
            # a bookmark only after writing its record (so at most that one record, caught
            # in between, comes again on resume); an unsorted stream's progress markers in
            # it are dropped by the next run.
            self.message_writer.write_message(StateMessage(value=self.state))
            raise

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
