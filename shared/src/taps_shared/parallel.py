"""Work done a few at a time in threads, its results handed back in order.

Used to fetch the pages of a listing, or the partitions of the next parent records,
ahead of the thread that writes Singer messages: what is emitted, and its order, is
exactly what a serial run emits; only the waiting overlaps.
"""

from __future__ import annotations

import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice

T = t.TypeVar("T")


def in_order(tasks: t.Iterable[t.Callable[[], T]], workers: int, name: str) -> t.Iterator[T]:
    """Run `tasks` `workers` at a time and yield their results in task order.

    At most `workers` tasks run or wait ahead of the consumer, so memory stays bounded.
    A task's exception is raised when its turn comes; closing the iterator early (or an
    exception) cancels the tasks not yet started.
    """
    tasks = iter(tasks)
    if workers <= 1:
        for task in tasks:
            yield task()
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    pending: deque[Future[T]] = deque(pool.submit(task) for task in islice(tasks, workers))
    try:
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(task) for task in islice(tasks, 1))
            yield result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
