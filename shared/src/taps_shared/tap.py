"""`HumanTap`: the Tap base that owns one HTTP session, authenticator, rate limiter and retry
policy per run, checks settings up front, redacts secrets, and turns any failure into one
line on stderr with a non-zero exit.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import signal
import sys
import threading
import typing as t
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

import click
import requests
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.plugin_base import SingerCommand
from singer_sdk.singerlib import Catalog, StateMessage

from taps_shared import redact, settings, writer
from taps_shared.auth import HumanAuth
from taps_shared.dates import parse_datetime
from taps_shared.errors import ConfigError, RetriesExhaustedError, Terminated, one_line
from taps_shared.ratelimit import RateLimiter
from taps_shared.responses import check_response, json_body
from taps_shared.retry import RetryPolicy, with_retries
from taps_shared.urls import check_base_url
from taps_shared.writer import BufferedMsgSpecWriter

#: Signals that stop a run cleanly: an orchestrator cancelling it, Ctrl-C.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop_on_signal(signum: int, frame: object) -> None:
    """Raise `Terminated` wherever the tap is (once the writer has finished the lines it is
    writing); a second signal stops the process at once."""
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_DFL)
    writer.stop(signum)


class OneLineErrorCommand(SingerCommand):
    """The SDK command, except that failures end as one scrubbed line and exit code 1 (2 for
    a usage error, as click has it, but on one line too).

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

    def main(  # type: ignore[override]
        self,
        args: t.Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: t.Any,
    ) -> t.Any:
        redact.install_log_filter()
        previous: dict[int, t.Any] = {}
        if threading.current_thread() is threading.main_thread():
            previous = {signum: signal.signal(signum, _stop_on_signal) for signum in STOP_SIGNALS}
        try:
            if not standalone_mode:  # the caller handles click's exceptions itself
                return super().main(args, prog_name, complete_var, False, **extra)
            try:
                result = super().main(args, prog_name, complete_var, False, **extra)
            except click.ClickException as usage:  # an unknown option, a missing file, ...
                self.logger.error("%s", redact.scrub(" ".join(usage.format_message().split())))
                sys.exit(usage.exit_code)
            sys.exit(result if isinstance(result, int) else 0)  # as click's standalone mode
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


def _read_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{what} file {path} cannot be read ({exc.strerror or type(exc).__name__})"
        raise ConfigError(msg) from None


def _load_json_object(text: str, what: str, name: str) -> dict[str, t.Any]:
    """The JSON object in a config, state or catalog file; a ConfigError naming the file
    (and never quoting it: a config file holds secrets) when it is not one."""
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        msg = f"{what} file {name} is not valid JSON ({exc.msg} at {where})"
        raise ConfigError(msg) from None
    if not isinstance(found, dict):
        msg = f"{what} file {name} must hold a JSON object, not a {type(found).__name__}"
        raise ConfigError(msg)
    return found


def _texts(value: t.Any) -> t.Iterator[str]:
    """A config value as the texts an error message could quote: every leaf, as text."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


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

    def _setup_signal_handlers(self) -> None:
        """None here: `OneLineErrorCommand` handles stop signals for command-line runs, and
        a tap built in-process (tests, scripts) leaves the host's handlers alone."""

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK (0.54.x) calls this once, between loading the config (files and
        # environment) and validating it: the point to learn the secrets before any message
        # could quote them, and to cast numbers, which `--config ENV` leaves as strings.
        properties = self.config_jsonschema.get("properties", {})
        config = self._config
        for key, spec in properties.items():
            if spec.get("secret") and key in config:
                # Of any type: a validation error quotes a wrongly typed value (a number, a
                # list of strings) whole.
                redact.register(*_texts(config[key]))
        for key, spec in properties.items():
            if "number" in spec.get("type", ()) and isinstance(config.get(key), str):
                with contextlib.suppress(ValueError):
                    config[key] = float(config[key])
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:  # a typo shows as the real setting missing
            exc.errors.extend(f"unknown setting {name}" for name in self.unknown_settings())
            raise

    def unknown_settings(self) -> list[str]:
        """Settings of the config this tap does not have (names only, never values), each
        with the setting it is likely a typo of."""
        schema = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(schema)  # stream_maps, flattening_enabled, ...
        return settings.unknown_settings(self._config, schema.get("properties", {}))

    def check_settings(self) -> None:
        """Semantic checks the JSON schema cannot express; raise ConfigError."""
        unknown = self.unknown_settings()
        if unknown:  # a typo would otherwise be silently ignored
            self.logger.warning(
                "Ignoring unknown settings (not settings of %s; check the spelling): %s",
                self.name,
                ", ".join(unknown),
            )
        for setting in self.url_settings:
            if self.config.get(setting):
                self.url_setting(setting)
        if self.config.get("start_date"):
            start = parse_datetime(self.config["start_date"], "start_date")
            if start > datetime.now(UTC):
                full = [n for n, s in self.streams.items() if s.selected and not s.replication_key]
                self.logger.warning("%s", settings.future_start_date(str(start.date()), full))

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
        try:
            return call(request)
        except RetriesExhaustedError as exc:
            # A host that refuses, or that DNS does not know, is most often a wrong URL.
            setting = self.url_setting_of(request.url or "")
            if setting and isinstance(exc.last_error, requests.exceptions.ConnectionError):
                msg = f"{exc}; check {setting}"
                raise RetriesExhaustedError(msg, last_error=exc.last_error) from None
            raise

    def url_setting_of(self, url: str) -> str | None:
        """The URL setting `url` falls under (the most specific one), if any."""
        found: tuple[int, str] | None = None
        for setting in self.url_settings:
            if not self.config.get(setting):
                continue
            base = self.url_setting(setting)
            if url.startswith(base) and (found is None or len(base) > found[0]):
                found = (len(base), setting)
        return found[1] if found else None

    def get_json(self, path: str, label: str = "connection check") -> t.Any:
        """GET `<base_url><path>`, authenticated; the decoded JSON body."""
        request = requests.Request("GET", f"{self.base_url}{path}", headers=self.api_headers)
        return json_body(self.send(request.prepare(), label, authenticate=True))

    def preflight(self) -> None:
        """Checks before the first stream syncs (a connection check, usually)."""

    def check_catalog(self) -> None:
        """A catalog selecting a stream this tap does not have is an error: the data asked
        for would never come. An unselected one is only noted, as is selecting nothing."""
        catalog = self.input_catalog
        if catalog is None:
            return
        unknown = {name: entry for name, entry in catalog.items() if name not in self.streams}
        selected = sorted(n for n, e in unknown.items() if e.metadata.resolve_selection()[()])
        if selected:
            msg = (
                f"the catalog selects {', '.join(selected)}, which {self.name} does not have "
                "(run --discover for the streams it has)"
            )
            raise ConfigError(msg)
        if unknown:
            self.logger.warning(
                "The catalog lists streams %s does not have; ignored: %s",
                self.name,
                ", ".join(sorted(unknown)),
            )
        if not any(s.selected or s.has_selected_descendents for s in self.streams.values()):
            self.logger.warning("The catalog selects no stream of %s: nothing to sync", self.name)

    def check_state(self) -> None:
        """Bookmarks of streams this tap does not have are carried along unused (with a
        warning); a bookmark in the future means no records (a warning); one that is not a
        date is an error, before any stream starts.

        A bookmark without its `replication_key` (written by hand) is taken as one on the
        stream's key; one on another key (the key changed) is dropped with a warning. The
        SDK would ignore both for the request, then compare every record with the old value
        and fail on the first older one ("Unsorted data detected").
        """
        bookmarks = self.state.get("bookmarks") or {}
        gone = sorted(set(bookmarks) - set(self.streams))
        if gone:
            self.logger.warning(
                "The state has bookmarks of streams %s does not have; ignored: %s",
                self.name,
                ", ".join(gone),
            )
        now = datetime.now(UTC)
        for name, stream in self.streams.items():
            entry = bookmarks.get(name)
            key = stream.replication_key
            if not entry or not key or not (stream.selected or stream.has_selected_descendents):
                continue
            future = []
            for part in [entry, *(entry.get("partitions") or [])]:
                if part.get("replication_key_value") is None:
                    continue
                if part.setdefault("replication_key", key) != key:
                    self.logger.warning(
                        "Stream %s: the state's bookmark is on %s, not %s; ignored",
                        name,
                        part["replication_key"],
                        key,
                    )
                    del part["replication_key_value"]
                    continue
                value = str(part["replication_key_value"])
                if parse_datetime(value, f"the state's {name} bookmark") > now:
                    future.append(value)
            if future:
                self.logger.warning(
                    "Stream %s: the state's bookmark %s is in the future: no records until then",
                    name,
                    max(future),
                )

    # The SDK marks sync_all final but has no hook that runs once before the first stream;
    # the checks and the preflight must fail there, before any stream starts, with a single
    # error line.
    def sync_all(self) -> None:  # type: ignore[misc]
        try:
            self.check_catalog()
            self.check_state()
            self.preflight()
            super().sync_all()
            self.report_schema_drift()
            # The last message is the STATE, even unchanged: a target that hands back the
            # last STATE it saw (target-jsonl forgets it once a RECORD follows) has one.
            self.message_writer.write_message(StateMessage(value=self.state))
        except Terminated:
            # Stopped by a signal: end stdout with the state as it stands, even if unchanged
            # since the last STATE. It never runs ahead of the records written: the SDK moves
            # a bookmark only after writing its record (so at most that one record, caught
            # in between, comes again on resume); an unsorted stream's progress markers in
            # it are dropped by the next run. The writer puts pending records before it.
            self.message_writer.write_message(StateMessage(value=self.state))
            raise
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

    # -- input files ----------------------------------------------------------------------

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """The SDK's, once each file is known to hold a JSON object: its own errors name no
        file ("Expecting value: line 1 column 1")."""
        for path in value:
            if path != "ENV":
                _load_json_object(_read_file(path, "config"), "config", path)
        return super().cb_config(ctx, param, value)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
    ) -> None:
        """The SDK's, once the state and catalog files are known to be what they claim."""
        if state is not None:
            text = state.read()
            found = _load_json_object(text, "state", state.name)
            bookmarks = found.get("bookmarks", {})
            if not isinstance(bookmarks, dict) or not all(
                isinstance(v, dict) for v in bookmarks.values()
            ):
                msg = f"state file {state.name}: 'bookmarks' must map stream names to objects"
                raise ConfigError(msg)
            state = io.StringIO(text)
        if catalog is not None:
            text = catalog.read()
            found = _load_json_object(text, "catalog", catalog.name)
            if not isinstance(found.get("streams"), list):
                msg = f"catalog file {catalog.name} is not a Singer catalog: no 'streams' list"
                raise ConfigError(msg)
            try:
                Catalog.from_dict(found)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                problem = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
                msg = f"catalog file {catalog.name} is not a Singer catalog ({problem})"
                raise ConfigError(msg) from None
            catalog = io.StringIO(text)
        super().invoke(
            about=about, about_format=about_format, config=config, state=state, catalog=catalog
        )

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
