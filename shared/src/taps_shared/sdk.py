"""Every private name of the Singer SDK (0.54.x) that the engine relies on, in one module.

The SDK has no public hook for these; each is pinned by `tests/shared/test_sdk_internals.py`, so
an SDK upgrade that changes one fails there, by name, instead of quietly changing what
the taps emit. The rest of `taps_shared` uses only the public names defined here.
"""

from __future__ import annotations

import typing as t

from singer_sdk import RESTStream, Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._state import get_state_if_exists, get_writeable_state_dict
from singer_sdk.helpers._typing import (  # the SDK's own tests of a schema, so we agree
    _is_exclusive_boolean_type as is_exclusive_boolean_type,
)
from singer_sdk.helpers._typing import is_object_type, is_uniform_list
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.streams._state import StreamStateManager

from taps_shared.partition_index import PartitionIndex, SharedContexts, Unindexed

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context
    from singer_sdk.pagination import BaseAPIPaginator
    from singer_sdk.singerlib import Catalog

__all__ = [
    "SDKRecords",
    "SDKStream",
    "SDKTap",
    "config_input",
    "is_exclusive_boolean_type",
    "is_object_type",
    "is_uniform_list",
    "set_paginator_token",
]


class SDKRecords(Stream):
    """Any stream: records leave through `write_record`."""

    # The SDK writes each record here, after a selection pass and a conformance pass that
    # each walk the schema per value, and a message object per record.
    def _write_record_message(self, record: dict) -> None:
        self.write_record(record)
        self.state_manager.is_flushed = False

    def write_record(self, record: dict) -> None:
        """Write one RECORD message (with its stream maps)."""
        raise NotImplementedError

    @property
    def stream_version(self) -> int | None:
        """The version this sync's records carry (for ACTIVATE_VERSION), if any."""
        return self._stream_version

    def set_stream_version(self, version: int) -> None:
        """Make the records written from now on carry `version`."""
        self._stream_version = version

    def announce_version(self, version: int) -> None:
        """Write ACTIVATE_VERSION (under each stream map's alias)."""
        self._write_activate_version_message(version)

    def note_state_changed(self) -> None:
        """The stream's state changed other than by a record: the next STATE is due."""
        self.state_manager.is_flushed = False


class IndexedStateManager(StreamStateManager):
    """The SDK's state manager, finding a partition's state through a `PartitionIndex`
    instead of scanning every partition of the stream (once per record, in the SDK)."""

    def __init__(self, *, contexts: SharedContexts, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self.index = PartitionIndex(contexts)
        self.contexts = contexts

    # Every state read and write of the manager (per record: `increment_state`) finds the
    # partition's entry here.
    def get_context_state(self, context: Context | None) -> dict:
        partition = self.get_state_partition_context(context)
        if not partition:
            return self.stream_state
        partitions = self.stream_state.setdefault("partitions", [])
        try:
            found = self.index.find(partitions, partition)
        except Unindexed:
            return get_writeable_state_dict(
                self.tap_state, self.stream_name, state_partition_context=partition
            )
        if found is None:  # a new entry, as `_create_in_partitions_list` makes it
            found = {"context": self.contexts.get(partition)}
            partitions.append(found)
        return found

    def existing_context_state(self, context: Context | None) -> dict | None:
        """`context`'s state (taken as is, not narrowed to the partitioning keys) if there
        is one, without creating it."""
        stream_state = (self.tap_state.get("bookmarks") or {}).get(self.stream_name)
        if not context or stream_state is None or "partitions" not in stream_state:
            return get_state_if_exists(self.tap_state, self.stream_name, context)
        try:
            return self.index.find(stream_state["partitions"], context)
        except Unindexed:
            return get_state_if_exists(self.tap_state, self.stream_name, context)


class SDKStream(SDKRecords, RESTStream[t.Any]):
    """A REST stream: partition bookkeeping runs only where there is some, bookmarks move
    on what `state_record` gives, a partition's state is found in O(1) and can be read
    without creating it."""

    # The SDK builds its StreamStateManager here, once (again after `forget_sort_order`).
    @property
    def state_manager(self) -> IndexedStateManager:  # type: ignore[override]
        if self._state_manager is None:
            self._state_manager = IndexedStateManager(
                tap_name=self.tap_name,
                stream_name=self.name,
                tap_state=self._tap_state,
                state_partitioning_keys=self.state_partitioning_keys,
                is_sorted=self.is_sorted,
                check_sorted=self.check_sorted,
                contexts=t.cast("SDKTap", self._tap).partition_contexts,
            )
        return t.cast("IndexedStateManager", self._state_manager)

    # The SDK adds the partition's keys to each record here and syncs child streams.
    def _process_record(
        self,
        record: dict,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        self.record_processed(record)
        if partition_context or self.child_streams:
            super()._process_record(record, child_context, partition_context)

    #: A sorted partition's newest bookmark record, not yet in its state (`flush_bookmark`).
    _held_bookmark: tuple[dict, Context | None] | None = None

    # The SDK moves the bookmark here, once per record, comparing values as strings. In a
    # sorted listing only the newest value counts, and the state is read only when a STATE
    # is written or the partition ends: the newest is held until then (a sixth of the
    # tap's CPU per record otherwise), and a value older than it goes through the SDK at
    # once, which rejects it as before.
    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        record = self.state_record(latest_record, context)
        if record is None:
            return
        held = self._held_bookmark
        if held is not None:
            key = t.cast("str", self.replication_key)
            if held[1] is context and record[key] >= held[0][key]:
                self._held_bookmark = (record, context)
                return
            self.flush_bookmark()
        if self.is_sorted:
            self._held_bookmark = (record, context)
        else:
            super()._increment_stream_state(record, context=context)

    def flush_bookmark(self) -> None:
        """Move the bookmark to the record held back by `_increment_stream_state`."""
        held = self._held_bookmark
        if held is not None:
            super()._increment_stream_state(held[0], context=held[1])
            # Let go only once moved: a stop signal raises wherever the run is, and one
            # that came during the move leaves it to the final STATE to make again.
            self._held_bookmark = None

    # The SDK writes a STATE here (the whole tap's, so every stream's held bookmark moves
    # first), and finalizes a partition's state in `_finalize_state`.
    def _write_state_message(self) -> None:
        t.cast("SDKTap", self._tap).flush_bookmarks()
        super()._write_state_message()

    def _finalize_state(self, state: dict | None = None) -> None:
        self.flush_bookmark()
        super()._finalize_state(state)

    def record_processed(self, record: dict) -> None:
        """A record passed `post_process` (selected or not: a parent read for its
        children passes too)."""

    def state_record(self, record: dict, context: Context | None) -> dict | None:
        """What the bookmark is taken from (its replication key in the form that compares
        as it should, say); None leaves the state as it is."""
        return record

    def partition_state_if_exists(self, context: Context | None) -> dict | None:
        """A partition's state, read without creating an entry for it."""
        return self.state_manager.existing_context_state(context)

    def forget_sort_order(self) -> None:
        """Rebuild the state manager, which caches `is_sorted` when built."""
        self._state_manager = None


class SDKTap(Tap):
    """The tap side: the config before validation, no signal handlers of the SDK's, and
    STATE messages written by `build_state_writer`'s writer."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        #: The partitions' contexts, one object each for all streams' state entries.
        self.partition_contexts = SharedContexts()
        super().__init__(*args, **kwargs)
        # The SDK's StateWriter, here, is what every STATE of the run goes through (the
        # streams' and sync_all's).
        self._state_writer = self.build_state_writer()

    def build_state_writer(self) -> t.Any:
        """What writes the run's STATE messages: an object with `write_state(state)`."""
        return self._state_writer

    @property
    def state_writer(self) -> t.Any:
        """The run's STATE writer (`build_state_writer`'s)."""
        return self._state_writer

    def flush_bookmarks(self) -> None:
        """Move every stream's bookmark held back (`SDKStream.flush_bookmark`): before any
        STATE is written, so that it is the one the SDK would write."""
        for stream in self.streams.values():
            if isinstance(stream, SDKStream):
                stream.flush_bookmark()

    # The SDK calls this once, between loading the config (files and environment) and
    # validating it.
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        self.prepare_config(self._config)
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            exc.errors.extend(self.config_errors())
            raise

    def prepare_config(self, config: dict[str, t.Any]) -> None:
        """Look at (and fix up, in place) the loaded config before it is validated."""

    def config_errors(self) -> list[str]:
        """What to add to the errors of a config that failed validation."""
        return []

    def _setup_signal_handlers(self) -> None:
        """None: the command line handles stop signals, and a tap built in-process (tests,
        scripts) leaves the host's handlers alone."""

    # The SDK builds the stream maps, which write the SCHEMA messages, from the catalog here.
    def setup_mapper(self) -> None:
        super(Tap, self).setup_mapper()  # the plugin's mapper, without Tap's registration
        self.mapper.register_raw_streams_from_catalog(self.catalog_as_written())

    def catalog_as_written(self) -> Catalog:
        """The catalog whose schemas the SCHEMA messages announce."""
        return self.catalog


def set_paginator_token(paginator: BaseAPIPaginator, value: t.Any) -> None:
    """Set the token a paginator holds (its `current_value`)."""
    paginator._value = value


def config_input(config: dict[str, t.Any], *, parse_env: bool) -> t.Any:
    """What the SDK's `--config` callback returns: the merged config files, and whether
    `--config ENV` asked for the environment too (the files are read once, by us)."""
    return _ConfigInput(config=config, parse_env=parse_env)
