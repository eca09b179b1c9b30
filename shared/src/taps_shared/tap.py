"""`HumanTap`: the Tap base of the collection. It owns one transport and authenticator per
run, checks settings, the catalog and the state before any stream starts, builds its
streams from the tap's stream table, and registers every secret for redaction.
"""

from __future__ import annotations

import contextlib
import copy
import time
import typing as t
from datetime import UTC, datetime
from functools import cached_property

from singer_sdk.singerlib import Catalog, Schema
from singer_sdk.streams import Stream

from taps_shared import redact, settings
from taps_shared.auth import HumanAuth
from taps_shared.cli import CommandLineTap
from taps_shared.dates import parse_datetime, to_iso_z
from taps_shared.errors import ConfigError, Terminated
from taps_shared.privacy import Policy, tags, with_tags
from taps_shared.ratelimit import RateLimiter
from taps_shared.responses import json_body
from taps_shared.retry import RetryPolicy
from taps_shared.state_writer import StateWriter
from taps_shared.streams.deletes import Cadence
from taps_shared.streams.versions import FullTableVersion
from taps_shared.transport import Transport
from taps_shared.urls import check_base_url
from taps_shared.writer import BufferedMsgSpecWriter

if t.TYPE_CHECKING:
    from taps_shared.streams.spec import StreamTable


def _texts(value: t.Any) -> t.Iterator[str]:
    """A config value as the texts an error message could quote: every leaf, as text."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


class HumanTap(CommandLineTap):
    """Base Tap of the collection; a tap gives its settings, `stream_table` and
    `build_authenticator`."""

    message_writer_class = BufferedMsgSpecWriter
    #: Settings holding base URLs, each checked against the URL policy.
    url_settings: tuple[str, ...] = ("api_url",)
    #: The tap's streams, one spec each.
    stream_table: StreamTable
    #: Whether this run reads only part of the source (some users, say): then what a
    #: full-table listing lacks may still exist, and no ACTIVATE_VERSION is sent.
    partial_listing: bool = False

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        redact.install_log_filter()
        super().__init__(*args, validate_config=validate_config, **kwargs)
        if validate_config:
            self.check_settings()

    def prepare_config(self, config: dict[str, t.Any]) -> None:
        """Learn the secrets before any message could quote them, and cast numbers, which
        `--config ENV` leaves as strings."""
        properties = self.config_jsonschema.get("properties", {})
        for key, spec in properties.items():
            if spec.get("secret") and key in config:
                # Of any type: a validation error quotes a wrongly typed value (a number, a
                # list of strings) whole.
                redact.register(*_texts(config[key]))
        for key, spec in properties.items():
            if "number" in spec.get("type", ()) and isinstance(config.get(key), str):
                with contextlib.suppress(ValueError):
                    config[key] = float(config[key])

    def config_errors(self) -> list[str]:
        """A setting the config has and the tap does not is most likely a typo of the
        required one validation found missing: say which."""
        return [f"unknown setting {name}" for name in self.unknown_settings()]

    def unknown_settings(self) -> list[str]:
        """Settings of the config this tap does not have (names only, never values), each
        with the setting it is likely a typo of."""
        schema = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(schema)  # stream_maps, flattening_enabled, ...
        return settings.unknown_settings(self.config, schema.get("properties", {}))

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
        Cadence.parse(self.config.get("delete_sweep"))
        if self.config.get("start_date"):
            start = parse_datetime(self.config["start_date"], "start_date")
            if start > datetime.now(UTC):
                full = [n for n, s in self.streams.items() if s.selected and not s.replication_key]
                self.logger.warning("%s", settings.future_start_date(str(start.date()), full))
        Policy.from_config(self.config).check()

    def catalog_as_written(self) -> Catalog:
        """The catalog as the records leave the tap: sensitive fields hashed (strings) or
        dropped, as the privacy settings say."""
        policy = Policy.from_config(self.config)
        if policy.keeps_all:
            return self.catalog
        written = copy.deepcopy(self.catalog)
        for entry in written.streams:
            stream = self.streams.get(entry.tap_stream_id)
            if stream is not None:
                schema = with_tags(entry.schema.to_dict(), tags(stream.schema))
                entry.schema = Schema.from_dict(policy.schema(schema))
        return written

    # -- one of each per run ------------------------------------------------------------

    @cached_property
    def base_url(self) -> str:
        return self.url_setting("api_url")

    @cached_property
    def table_version(self) -> int:
        """The version of this run's full-table listings, one for every stream: seconds
        since the epoch, as the SDK's own, rising run after run."""
        return int(time.time())

    def url_setting(self, name: str) -> str:
        """A URL setting, checked against the URL policy, without a trailing slash."""
        return check_base_url(self.config[name], name)

    @cached_property
    def authenticator(self) -> HumanAuth:
        return self.build_authenticator()

    def build_authenticator(self) -> HumanAuth:
        raise NotImplementedError

    @cached_property
    def transport(self) -> Transport:
        """The one path of every request of the run."""
        return Transport(
            timeout=self.request_timeout,
            policy=RetryPolicy(max_tries=int(self.config.get("max_retries", 5)) + 1),
            limiter=RateLimiter(float(self.config.get("requests_per_second") or 0)),
            user_agent=f"{self.name}/{self.plugin_version}",
            logger=self.logger,
            max_response_bytes=int(self.config.get("max_response_mb") or 256) * 1024 * 1024,
            setting_of=self.url_setting_of,
        )

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

    def build_state_writer(self) -> StateWriter:
        return StateWriter(t.cast("BufferedMsgSpecWriter", self.message_writer))

    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in self.stream_table.types]

    # -- requests outside streams (connection checks, token requests) -------------------

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
        request = self.transport.prepare("GET", f"{self.base_url}{path}", headers=self.api_headers)
        return json_body(self.transport.send(request, label, auth=self.authenticator))

    def preflight(self) -> None:
        """Checks before the first stream syncs (a connection check, usually)."""

    def preflight_once(self) -> None:
        """The preflight, once a run: before the first stream syncs, or before discovery
        first asks the API (`taps_shared.streams.discovered`), whichever comes first."""
        if not getattr(self, "_preflown", False):
            self.preflight()
            self._preflown = True

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
        and fail on the first older one ("Unsorted data detected"). Every bookmark is
        rewritten in the canonical form (UTC, milliseconds, Z), the form all comparisons use,
        so a bookmark written as `...T00:00:00Z` or `+05:00` compares as the instant it is.
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
            partitions = entry.get("partitions") or []
            if not isinstance(partitions, list) or not all(isinstance(p, dict) for p in partitions):
                msg = f"the state's {name} bookmark: 'partitions' must be a list of objects"
                raise ConfigError(msg)
            for part in [entry, *partitions]:
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
                instant = parse_datetime(value, f"the state's {name} bookmark")
                part["replication_key_value"] = to_iso_z(instant)
                if instant > now:
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
            self.preflight_once()
            super().sync_all()
            # Every stream was read whole: the full-table ones announce their versions.
            for stream in self.streams.values():
                if isinstance(stream, FullTableVersion):
                    stream.finish_versioned_sync()
            self.report_schema_drift()
            # The last message is the STATE, even unchanged: a target that hands back the
            # last STATE it saw (target-jsonl forgets it once a RECORD follows) has one.
            self.write_final_state()
        except Terminated:
            # Stopped by a signal: end stdout with the state as it stands, even if unchanged
            # since the last STATE. It never runs ahead of the records written: the SDK moves
            # a bookmark only after writing its record (so at most that one record, caught
            # in between, comes again on resume); an unsorted stream's progress markers in
            # it are dropped by the next run. The writer puts pending records before it.
            self.write_final_state()
            raise
        finally:
            flush = getattr(self.message_writer, "flush", None)
            if flush is not None:
                flush()  # the records after the last STATE, even when the run failed

    def write_final_state(self) -> None:
        """The run's last STATE, written now whatever its size (see `state_writer`)."""
        self.flush_bookmarks()
        self.state_writer.write_state(self.state, now=True)

    def report_schema_drift(self) -> None:
        """One warning per stream whose records did not fit its schema."""
        for stream in self.streams.values():
            drift = getattr(stream, "schema_drift", None)
            if drift:
                self.logger.warning("%s", drift.summary())
