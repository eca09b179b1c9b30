"""Record buffers whose memory does not grow with the records: past `MEMORY_RECORDS` they
spill to unnamed temporary files (unlinked at creation, gone when closed or when the
process dies), so a partition of any size costs the same memory.

Two places need a whole partition before its first record can go out: a listing the API
returns in no useful order (sorted oldest first so the bookmark can advance), and a
partition fetched ahead by a worker thread. Both go through here.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
import typing as t

#: Records held in memory per buffer before the rest spill to disk.
MEMORY_RECORDS = 10_000


class Spool:
    """Records in arrival order: the first `limit` in memory, the rest in a temporary file.
    Read back once, in order."""

    def __init__(self, records: t.Iterable[dict] = (), limit: int | None = None) -> None:
        self.limit = MEMORY_RECORDS if limit is None else limit
        self.head: list[dict] = []
        self.spilled = 0
        self._file: t.IO[bytes] | None = None
        for record in records:
            self.append(record)

    def append(self, record: dict) -> None:
        if len(self.head) < self.limit:
            self.head.append(record)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed when read back)
        pickle.dump(record, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.spilled += 1

    def __len__(self) -> int:
        return len(self.head) + self.spilled

    def __iter__(self) -> t.Iterator[dict]:
        head, self.head = self.head, []
        yield from head
        if self._file is None:
            return
        with self._file as file:
            self._file = None
            file.seek(0)
            for _ in range(self.spilled):
                yield pickle.load(file)  # noqa: S301 (our own file, written just now)


def sorted_records(
    records: t.Iterable[dict], key: t.Callable[[dict], t.Any], limit: int | None = None
) -> t.Iterator[dict]:
    """`records` sorted by `key`, stably, holding at most `limit` of them in memory: each
    full batch is sorted and spilled, and the sorted runs are merged as they are read."""
    limit = MEMORY_RECORDS if limit is None else limit
    runs: list[Spool] = []
    batch: list[dict] = []
    for record in records:
        batch.append(record)
        if len(batch) >= limit:
            batch.sort(key=key)
            runs.append(Spool(batch, limit=0))
            batch = []
    batch.sort(key=key)
    if not runs:
        yield from batch
        return
    # heapq.merge prefers earlier iterables on ties: arrival order, as list.sort keeps it
    yield from heapq.merge(*runs, batch, key=key)
