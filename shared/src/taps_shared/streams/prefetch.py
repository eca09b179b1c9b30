"""Child partitions fetched ahead: while the SDK syncs one parent record's children, worker
threads already fetch those of the next parent records.

The SDK then syncs each child partition as usual, in order, from what was fetched, so
output and state are exactly those of a serial run; only the waiting overlaps. A worker's
guess of where a partition starts (its bookmark) is checked before its records are used;
a wrong guess, or an error `_recover` could handle, costs a refetch in order, no more.
"""

from __future__ import annotations

import copy
import json
import typing as t
from dataclasses import dataclass

from taps_shared.pages import PageGuard
from taps_shared.parallel import in_order

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams import Stream


@dataclass
class Fetched:
    """One partition fetched ahead: its records, or the error fetching it raised."""

    since: str | None
    records: t.Iterable[dict]  # a `Spool`: memory bounded however large the partition
    guard: PageGuard
    error: Exception | None = None


@t.runtime_checkable
class Prefetching(t.Protocol):
    """A child stream whose partitions can be fetched ahead."""

    selected: bool
    #: Partitions fetched ahead, by `partition_key` of their context.
    prefetched: dict[str, Fetched]

    @property
    def has_selected_descendents(self) -> bool:
        """Synced for its children's sake even when it is not selected itself."""

    def starting_bookmark_hint(self, context: Context) -> str | None:
        """Where the partition's sync will start, read without creating its state."""

    def fetch_ahead(self, context: Context, since: str | None) -> Fetched:
        """Every record of one partition, in a worker thread; errors kept for later."""


def with_children_prefetched(
    parent: Stream, records: t.Iterable[dict], context: Context | None, workers: int
) -> t.Iterator[dict]:
    """The parent's records, while `workers` threads fetch the child partitions of the
    next ones."""
    prefetching = [c for c in parent.child_streams if isinstance(c, Prefetching)]
    # A child that is not selected itself still syncs when a stream under it is.
    children = [c for c in prefetching if c.selected or c.has_selected_descendents]
    if workers < 2 or not children:
        yield from records
        return
    tasks = (_task(parent, record, context, children) for record in records)
    for record, fetched in in_order(tasks, workers, f"{parent.name}-children"):
        for child, child_context, result in fetched:
            child.prefetched[partition_key(child_context)] = result
        yield record


def _task(
    parent: Stream,
    record: dict,
    context: Context | None,
    children: t.Sequence[Prefetching],
) -> t.Callable[[], tuple[dict, list]]:
    """Plan, in the main thread, what a worker fetches for one parent record."""
    processed = parent.post_process(copy.deepcopy(record), context)
    child_context = None if processed is None else parent.get_child_context(processed, context)
    plans = []
    if child_context is not None:
        for child in children:
            plans.append((child, child_context, child.starting_bookmark_hint(child_context)))

    def fetch() -> tuple[dict, list]:
        return record, [(c, ctx, c.fetch_ahead(ctx, since)) for c, ctx, since in plans]

    return fetch


def partition_key(context: Context | None) -> str:
    """A partition's context as a dictionary key."""
    return json.dumps(context, sort_keys=True, default=str)
