"""The stream side of `taps_shared.streams.deletes`: what each partition remembers of its
keys, and the tombstones for those the source no longer has.

Per partition (a stream without parent has one; a child has one per parent record), after
its records have been read and emitted:

- incremental stream: the known keys (the ledger in the state, plus those emitted now) are
  compared with a key sweep, when one is due; the keys the sweep lacks are tombstoned (a
  sweep that pages by offset is run twice first, and only keys both lack count). What the
  API itself reports deleted (`deletion_signals`) is tombstoned as well;
- full-table stream that keeps a ledger (a parent whose children are partitioned by its
  key, or such a child): the listing is the sweep. Its own deleted rows are left to
  ACTIVATE_VERSION when the stream is versioned, tombstoned otherwise;
- either way, the children's partitions of a key that is gone are tombstoned whole and
  their state dropped (one user's records, when the user is removed).

Only a partition whose listing was read to the end compares anything; one that was cut
short (an error, a stop signal, a skipped endpoint) only adds the keys it emitted to its
ledger. The `delete_sweep` setting `off` turns all of it off.
"""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime
from functools import cached_property

from taps_shared.sdk import SDKStream
from taps_shared.streams.deletes import (
    LEDGER,
    TOMBSTONE,
    Cadence,
    Key,
    KeySweep,
    decode_ledger,
    encode_ledger,
    now_iso,
    sorted_keys,
    tombstone,
)
from taps_shared.streams.versions import FullTableVersion

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class TombstoningStream(FullTableVersion, SDKStream):
    """A stream whose deleted records reach the target (see the module docstring)."""

    #: How an incremental stream lists its keys (None: it is never swept; an append-only
    #: log, say). Full-table streams ignore it.
    sweep: KeySweep | None = KeySweep()
    #: The API reports deleted records itself (`deletion_signals`).
    signals: bool = False

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._emitted: set[Key] = set()  # keys of the partition's records, this run
        self._emitted_deleted: set[Key] = set()  # those emitted already marked deleted
        self._listed: set[Key] = set()  # keys the full-table listing returned, filtered or not
        #: The partition's sweep, made ahead with its records (in a worker thread), if any.
        self.swept_ahead: set[Key] | None = None

    # -- what this stream tracks ------------------------------------------------------

    @cached_property
    def cadence(self) -> Cadence:
        return Cadence.parse(self.config.get("delete_sweep"))

    @property
    def partitioned_by_parent(self) -> bool:
        """A child stream whose state has one entry per parent record."""
        keys = self.state_partitioning_keys
        return self.parent_stream_type is not None and (keys is None or len(keys) > 0)

    @cached_property
    def cascades(self) -> bool:
        """Whether children keep state per key of this stream, to be dropped with it."""
        context_keys = getattr(self, "child_context_keys", {})
        return bool(context_keys) and any(
            isinstance(child, TombstoningStream) and child.partitioned_by_parent
            for child in self.child_streams
        )

    @cached_property
    def tracks_keys(self) -> bool:
        """Whether this run keeps a ledger of the stream's keys (see the module doc)."""
        if self.cadence.off or not self.primary_keys:
            return False
        if self.partitioned_by_parent or self.cascades:
            return True
        return self.replication_key is not None and self.sweep is not None

    def key_of(self, record: t.Mapping[str, t.Any]) -> Key:
        return tuple(record.get(name) for name in self.primary_keys)

    # -- hooks for the stream ---------------------------------------------------------

    def swept_keys(self, context: Context | None) -> set[Key] | None:
        """Every key the partition's resource has now; None if the listing could not be
        read whole (a skipped endpoint)."""
        raise NotImplementedError

    @property
    def listing_complete(self) -> bool:
        """Whether the partition's listing just read was read to the end."""
        raise NotImplementedError

    @property
    def listing_is_whole(self) -> bool:
        """Whether that listing holds every key of the resource (read from the start and
        not filtered by the API): it is then the sweep, at no cost."""
        raise NotImplementedError

    @property
    def sweep_is_keyset(self) -> bool:
        """Whether the sweep pages by key (a key cannot be missed)."""
        return self.sweep is not None and self.sweep.after is not None

    def sweep_keeps(self, record: dict) -> bool:
        """Whether a record of the sweep belongs in the ledger (a run over a subset of the
        source keeps its own part)."""
        return True

    def deletion_signals(self, cursor: t.Any) -> tuple[set[Key], t.Any] | None:
        """Keys the API reports deleted since `cursor` (where the last run stopped reading
        them; None on the first run, which counts only the keys it emitted itself), and the
        cursor to store; None when the API has no such report (and `signals` is False)."""
        return None

    def partition_records(self, context: Context | None) -> t.Iterable[dict]:
        """The partition's records (a stream that fetches its children ahead wraps them)."""
        return self.request_records(context)

    # -- one partition ----------------------------------------------------------------

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        self._emitted = set()
        self._emitted_deleted = set()
        self._listed = set()
        yield from self.partition_records(context)
        self.end_listing(context)

    def record_processed(self, record: dict) -> None:
        if self.tracks_keys or self.signals:
            key = self.key_of(record)
            self._emitted.add(key)
            if record.get(TOMBSTONE):
                self._emitted_deleted.add(key)

    def note_listed(self, record: dict, context: Context | None) -> None:
        """A record of the listing, as the API returned it (the parent's keys it may lack
        are the context's), before any filter of this side."""
        if self.tracks_keys:
            self._listed.add(self.key_of({**(context or {}), **record}))

    def end_listing(self, context: Context | None) -> None:
        """Compare, tombstone and store the ledger, once the partition's records are out."""
        complete = self.listing_complete
        if not complete:
            self.note_incomplete_listing()
        if self.cadence.off or not (self.tracks_keys or self.signals):
            return
        state = self.get_context_state(context)
        entry = state.get(LEDGER) or {}
        previous = decode_ledger(entry, self.name)
        known = (previous or set()) | self._emitted
        kept = {k: entry[k] for k in ("swept_at", "signals") if k in entry}
        if not complete:
            self._store(state, known, kept)
            return
        when = now_iso()
        if self.replication_key:
            try:
                gone, current = self._sweep(context, known, entry, when, kept)
            except BaseException:
                self._store(state, known, kept)  # what was emitted stays known
                raise
            gone |= self._signalled(entry, kept)
            current -= gone
            self.write_tombstones(gone, context, when)
        else:
            gone = (previous or set()) - self._listed
            current = self._emitted
            if not self.versioned:
                self.write_tombstones(gone, context, when)
        self.cascade(gone, when)
        self._store(state, current, kept)

    def sweep_due(self, context: Context | None) -> bool:
        """Whether the partition is swept this run (read without creating its state)."""
        if not self.tracks_keys or not self.replication_key or self.sweep is None:
            return False
        state = self.partition_state_if_exists(context) or {}
        entry = state.get(LEDGER)
        return self.cadence.due(entry if isinstance(entry, dict) else None, datetime.now(UTC))

    def _sweep(
        self, context: Context | None, known: set[Key], entry: dict, when: str, kept: dict
    ) -> tuple[set[Key], set[Key]]:
        """(the keys gone, the keys there are now) after a sweep, if one is due (noted in
        `kept`); nothing gone otherwise. A listing that was whole is the sweep."""
        if self.sweep is not None and self.listing_is_whole:
            current = self._listed | self._emitted
            kept["swept_at"] = when
            return known - current, current
        if self.sweep is None or not self.cadence.due(entry, datetime.now(UTC)):
            return set(), known
        swept = self.swept_ahead if self.swept_ahead is not None else self.swept_keys(context)
        if swept is None:
            return set(), known
        gone = known - swept
        if gone and not self.sweep_is_keyset:
            again = self.swept_keys(context)  # misses of an offset listing, confirmed
            if again is None:
                return set(), known | swept
            gone &= known - again
            swept |= again
        kept["swept_at"] = when
        return gone, swept

    def _signalled(self, entry: dict, kept: dict) -> set[Key]:
        """Keys the API reports deleted, not emitted as records in this run (their cursor
        noted in `kept`)."""
        if not self.signals:
            return set()
        found = self.deletion_signals(entry.get("signals"))
        if found is None:
            return set()
        keys, kept["signals"] = found
        if "signals" not in entry:
            keys &= self._emitted  # no cursor yet: which reports are new is not known
        return keys - self._emitted_deleted

    def _store(self, state: dict, keys: set[Key], kept: dict) -> None:
        """Write the partition's ledger: `keys`, and what else it keeps (`kept`)."""
        if self.cadence.every_run:
            kept.pop("swept_at", None)
        entry = {**(encode_ledger(keys) if self.tracks_keys else {}), **kept}
        if state.get(LEDGER) != entry:
            state[LEDGER] = entry
            self.note_state_changed()

    # -- tombstones ------------------------------------------------------------------

    def write_tombstones(self, keys: set[Key], context: Context | None, when: str) -> None:
        """A tombstone for each key (if the stream is selected)."""
        if not keys or not self.selected:
            return
        properties = list(self.schema.get("properties", {}))
        for key in sorted_keys(keys):
            self.write_record(tombstone(properties, self.primary_keys, key, context, when))
        self.note_state_changed()
        where = f" ({', '.join(f'{k}={v}' for k, v in context.items())})" if context else ""
        self.logger.info("Stream %s%s: %d deleted record(s) marked", self.name, where, len(keys))

    def cascade(self, keys: set[Key], when: str) -> None:
        """The children's partitions of parent keys that are gone: tombstoned, dropped."""
        if not keys or not self.cascades:
            return
        names = dict(zip(self.primary_keys, range(len(self.primary_keys)), strict=True))
        context_keys = t.cast("t.Mapping[str, str]", getattr(self, "child_context_keys", {}))
        if not set(context_keys.values()) <= set(names):
            return  # the children's context is not made of this stream's key
        for key in sorted_keys(keys):
            context = {child: key[names[field]] for child, field in context_keys.items()}
            for child in self.child_streams:
                if isinstance(child, TombstoningStream) and child.partitioned_by_parent:
                    child.forget_partition(context, when)

    def forget_partition(self, context: Context, when: str) -> None:
        """The parent of this partition is gone: tombstone what the partition had, and
        drop its state (and its children's)."""
        state = self.partition_state_if_exists(context)
        if state is None:
            return
        entry = state.get(LEDGER)
        keys = decode_ledger(entry or {}, self.name) or set()
        self.write_tombstones(keys, context, when)
        self.cascade(keys, when)
        partitions = self.tap_state.get("bookmarks", {}).get(self.name, {}).get("partitions", [])
        partitions[:] = [p for p in partitions if p.get("context") != dict(context)]
        self.note_state_changed()
