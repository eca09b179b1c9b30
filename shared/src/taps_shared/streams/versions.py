"""ACTIVATE_VERSION for full-table streams, once their whole listing has been read, so a
target can drop (or mark, with `_sdc_deleted_at`) the rows the listing no longer has.

The SDK announces the version before the first record: a target that acts on it at once
marks every row deleted until the records come again, and a run that fails half-way leaves
the rows it did not reach marked deleted although the source still has them. Here the
records carry the version from the start and ACTIVATE_VERSION comes once, at the end of a
run that read every partition of the stream (`HumanTap.sync_all`): a failed run, a skipped
partition (a user whose token was refused, an endpoint the account lacks) or a listing that
is only part of the source (a child of an incremental parent, a run over a subset of users)
announces nothing, so nothing is marked deleted that the source still has.
"""

from __future__ import annotations

import typing as t
from functools import cached_property

from taps_shared.sdk import SDKRecords

if t.TYPE_CHECKING:
    from singer_sdk import Tap

    from taps_shared.tap import HumanTap


class FullTableVersion(SDKRecords):
    """A stream that announces its version at the end of a complete full-table sync (with
    the tap's `emit_activate_version_messages` setting)."""

    tap: Tap  # set by ConformedStream
    _version_started = False
    _listing_incomplete = False

    @cached_property
    def versioned(self) -> bool:
        """Whether this run's listing of the stream is the whole resource, so that what it
        lacks is deleted: full table, under full-table parents, over every record the source
        has, with the setting on."""
        if not self.config.get("emit_activate_version_messages"):
            return False
        if getattr(self.tap, "partial_listing", False):
            return False
        stream: t.Any = self
        while stream is not None:
            if stream.replication_method != "FULL_TABLE":
                return False
            parent = stream.parent_stream_type
            stream = self.tap.streams.get(parent.name) if parent is not None else None
        return True

    @property
    def emit_activate_version_messages(self) -> bool:  # type: ignore[override]
        """False: the SDK would announce before the records. The SDK asks this as each sync
        of the stream begins, which is where its records start carrying this run's
        version."""
        if not self._version_started and self.selected and self.versioned:
            self._version_started = True
            self.set_stream_version(t.cast("HumanTap", self.tap).table_version)
        return False

    def note_incomplete_listing(self) -> None:
        """A partition could not be read (skipped): the listing is not the whole source."""
        self._listing_incomplete = True

    def finish_versioned_sync(self) -> None:
        """ACTIVATE_VERSION, if this run read the whole listing."""
        version = self.stream_version
        if not self._version_started or version is None:
            return
        if self._listing_incomplete:
            self.logger.warning(
                "Stream %s: no ACTIVATE_VERSION, as part of its listing could not be read "
                "(see above); rows the source deleted are marked on the next complete run",
                self.name,
            )
            return
        self.announce_version(version)
