"""The command line of every tap: one scrubbed line for any failure, clean stops on
SIGTERM/SIGINT, and input files (config, state, catalog) checked before the SDK reads them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import signal
import sys
import threading
import typing as t
from pathlib import Path

import click
from singer_sdk.plugin_base import SingerCommand
from singer_sdk.singerlib import Catalog

from taps_shared import redact, writer
from taps_shared.errors import ConfigError, Terminated, one_line
from taps_shared.sdk import SDKTap, config_input

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


class CommandLineTap(SDKTap):
    """The Tap's command line: each input file is read once and checked to be what it
    claims before the SDK reads it, and failures end as one line (`OneLineErrorCommand`)."""

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """The SDK's, each file read once (a pipe such as `<(cat config.json)` can only be)
        and known to hold a JSON object: the SDK's own errors name no file ("Expecting
        value: line 1 column 1")."""
        merged: dict[str, t.Any] = {}
        for path in value:
            if path != "ENV":
                merged |= _load_json_object(_read_file(path, "config"), "config", path)
        return config_input(merged, parse_env="ENV" in value)

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
