"""A stream's partition states found by their context in O(1), not by a scan.

The SDK keeps a partitioned stream's state as a list, `bookmarks[stream]["partitions"]`, of
`{"context": {...}, ...}` entries, and finds a partition's entry by comparing its context
with every entry's: once per record, when the bookmark moves. A child stream of a parent
with thousands of records (the users of an app) has thousands of partitions, so that scan
made the cost per record grow with the number of parents.

`PartitionIndex` maps each context to its position in the SDK's own list: the state keeps
exactly the entries, in the order, the SDK would write. It follows the list rather than
owning it: entries appended by anyone are indexed at the next lookup, and a list replaced,
shortened or rearranged is indexed again. Two cases it leaves to the SDK's scan
(`Unindexed`): a context with a value that cannot be a dictionary key, and a context listed
twice (the SDK's scan reports that state as invalid).

`SharedContexts` lets the partitions of every stream of one parent record share one
context object: the state of thousands of users holds each user's context once, not once
per stream.
"""

from __future__ import annotations

import typing as t


class Unindexed(Exception):
    """The index cannot answer for this context: ask the SDK's scan."""


def context_key(context: t.Mapping[str, t.Any]) -> t.Hashable:
    """A context as a dictionary key: equal keys for contexts the SDK finds equal (`==` on
    the two dictionaries). The usual context, one key, costs a pair, not a set."""
    try:
        if len(context) == 1:
            (pair,) = context.items()
            hash(pair)
            return pair
        return frozenset(context.items())
    except TypeError:  # a list or an object among the values
        raise Unindexed from None


class PartitionIndex:
    """Where each context's entry is in one stream's list of partition states. `contexts`
    (shared by the tap's streams) keeps one key object per context for all their indexes."""

    def __init__(self, contexts: SharedContexts | None = None) -> None:
        self._contexts = contexts if contexts is not None else SharedContexts()
        self._partitions: list[dict] | None = None  # the list indexed
        self._indexed = 0  # how many of its entries (from the start) are indexed
        self._positions: dict[t.Hashable, int] = {}
        self._duplicates: set[t.Hashable] = set()

    def find(self, partitions: list[dict], context: t.Mapping[str, t.Any]) -> dict | None:
        """The entry of `context` in `partitions`, or None if it has none; `Unindexed` when
        the SDK's scan must decide."""
        key = context_key(context)
        for attempt in range(2):
            if partitions is not self._partitions or len(partitions) < self._indexed:
                self._reset(partitions)
            elif len(partitions) > self._indexed:
                self._index_new(partitions)
            if key in self._duplicates:
                raise Unindexed
            position = self._positions.get(key)
            if position is None:
                return None
            entry = partitions[position]
            if isinstance(entry, dict) and entry.get("context") == context:
                return entry
            if attempt == 0:
                self._partitions = None  # changed in place: index it again, once
        raise Unindexed

    def _reset(self, partitions: list[dict]) -> None:
        self._partitions = partitions
        self._indexed = 0
        self._positions = {}
        self._duplicates = set()
        self._index_new(partitions)

    def _index_new(self, partitions: list[dict]) -> None:
        for position in range(self._indexed, len(partitions)):
            entry = partitions[position]
            context = entry.get("context") if isinstance(entry, dict) else None
            if not isinstance(context, dict):
                continue  # matches no context (the SDK's scan would fail on it)
            try:
                key = self._contexts.key(context)
            except Unindexed:
                continue  # found only by the SDK's scan, as the index never answers for it
            if key in self._positions:
                self._duplicates.add(key)
            else:
                self._positions[key] = position
        self._indexed = len(partitions)


class SharedContexts:
    """One context dictionary per partition, for every stream's state entries (never
    changed once made: neither the SDK nor taps_shared changes a context in place), and one
    key of it for every stream's index: with thousands of users, each user's partitions of
    every stream cost one context and one key, not one per stream."""

    def __init__(self) -> None:
        self._contexts: dict[t.Hashable, tuple[t.Hashable, dict]] = {}

    def get(self, context: t.Mapping[str, t.Any]) -> dict:
        """An equal context: the one made for an equal context before, or a copy."""
        return self._shared(context)[1]

    def key(self, context: t.Mapping[str, t.Any]) -> t.Hashable:
        """`context_key(context)`, the same object for equal contexts."""
        return self._shared(context)[0]

    def _shared(self, context: t.Mapping[str, t.Any]) -> tuple[t.Hashable, dict]:
        key = context_key(context)
        found = self._contexts.get(key)
        if found is None:
            found = self._contexts[key] = (key, dict(context))
        return found
