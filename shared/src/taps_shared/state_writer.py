"""STATE messages whose cost does not grow faster than the records.

The SDK asks for a STATE after every `STATE_MSG_FREQUENCY` records and at the end of every
partition, and each one carries the whole state: every partition of every stream. Its
writer also compares the state with a deep copy of the last one it wrote, and deep-copies
it again. With one partition per user and stream, both the size of a STATE and the number
of STATEs grow with the users, so the run's cost grew with their square.

Here a STATE is encoded a stream at a time (the message writer's encoder, no copies, never
the whole line in memory) and compared with the last one by a digest of its bytes. While
the state is small (`SMALL_STATE` partition entries or fewer) every STATE the SDK asks for
goes out, as the SDK's writer would send it. Past that, a STATE goes out only once at least
as many records were written since the last one as the state has partition entries: the
bytes of state written stay within those of the records, and a run killed in between reads
again at most that many records when it resumes (nothing is lost: what was written last is
a valid state, and a stopped run still ends with the full state, see `HumanTap.sync_all`).
"""

from __future__ import annotations

import hashlib
import typing as t

if t.TYPE_CHECKING:
    from taps_shared.writer import BufferedMsgSpecWriter

#: States with at most this many partition entries are written whenever the SDK asks.
SMALL_STATE = 1_000


def partition_entries(state: t.Mapping[str, t.Any]) -> int:
    """How many partition states the tap's state holds, over every stream."""
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, dict):
        return 0
    return sum(
        len(entry.get("partitions") or ())
        for entry in bookmarks.values()
        if isinstance(entry, dict)
    )


class StateWriter:
    """Writes a STATE when it differs from the last one written, within a budget of
    records (see the module's docstring)."""

    def __init__(self, writer: BufferedMsgSpecWriter, small_state: int | None = None) -> None:
        self.writer = writer
        self.small_state = SMALL_STATE if small_state is None else small_state
        self._last: bytes | None = None  # digest of the last STATE written
        self._records_at_last = 0
        #: STATE messages the SDK asked for and left out because of the budget.
        self.deferred = 0

    def write_state(self, state: dict[str, t.Any]) -> None:
        entries = partition_entries(state)
        since = self.writer.records_written - self._records_at_last
        if entries > self.small_state and since < entries:
            self.deferred += 1
            return
        # Encoded twice, a piece at a time (to compare, then to write), rather than held
        # whole: at 10,000 users the line is tens of megabytes.
        hasher = hashlib.blake2b(digest_size=16)
        for piece in self.writer.state_pieces(state):
            hasher.update(piece)
        digest = hasher.digest()
        if digest == self._last:
            return
        self.writer.write_line(self.writer.state_pieces(state))
        self._last = digest
        self._records_at_last = self.writer.records_written
