"""STATE messages whose bytes never outweigh the records'.

The SDK asks for a STATE after every `STATE_MSG_FREQUENCY` records and at the end of every
partition, and each one carries the whole state: every partition of every stream, and the
delete ledgers (`streams.deletes`). Its writer also compares the state with a deep copy of
the last one it wrote, and deep-copies it again. With one partition per user and stream,
both the size of a STATE and the number of STATEs grow with the users, so the run's cost
grew with their square; and a ledger of 100,000 keys makes every STATE megabytes.

Here a STATE is encoded a stream at a time (the message writer's encoder, no copies, never
the whole line in memory) and compared with the last one by a digest of its bytes. A STATE
of `SMALL_STATE` bytes or fewer goes out whenever the SDK asks (and it changed), as the
SDK's writer would send it. A larger one goes out only once at least as many bytes of
records were written since the last one: the bytes of state written stay within those of
the records, and a run killed in between reads again at most that many records when it
resumes (nothing is lost: what was written last is a valid state). A run that ends, or is
stopped, writes its full state last whatever its size (`HumanTap.write_final_state`).
"""

from __future__ import annotations

import hashlib
import typing as t

if t.TYPE_CHECKING:
    from taps_shared.writer import BufferedMsgSpecWriter

#: A STATE line of at most this many bytes is written whenever the SDK asks.
SMALL_STATE = 64 * 1024


class StateWriter:
    """Writes a STATE when it differs from the last one written, within a budget of
    record bytes (see the module's docstring)."""

    def __init__(self, writer: BufferedMsgSpecWriter, small_state: int | None = None) -> None:
        self.writer = writer
        self.small_state = SMALL_STATE if small_state is None else small_state
        self._last: bytes | None = None  # digest of the last STATE written
        self._size = 0  # bytes of the last STATE encoded, written or not
        self._record_bytes_at_last = 0
        #: STATE messages the SDK asked for and left out because of the budget.
        self.deferred = 0

    def write_state(self, state: dict[str, t.Any], *, now: bool = False) -> None:
        """A STATE, when due; `now`: at once, even unchanged (the run's last)."""
        since = self.writer.record_bytes - self._record_bytes_at_last
        if not now and self._size > self.small_state and since < self._size:
            self.deferred += 1  # still too big for the records since: not even encoded
            return
        digest, size = self._measure(state)
        if not now:
            if digest == self._last:
                return
            if size > self.small_state and since < size:
                self._size = size
                self.deferred += 1
                return
        self.writer.write_line(self.writer.state_pieces(state))
        self._last, self._size = digest, size
        self._record_bytes_at_last = self.writer.record_bytes

    def _measure(self, state: dict[str, t.Any]) -> tuple[bytes, int]:
        """The digest and size of the STATE line, encoded a piece at a time rather than
        held whole (at 10,000 users the line is tens of megabytes)."""
        hasher = hashlib.blake2b(digest_size=16)
        size = 0
        for piece in self.writer.state_pieces(state):
            hasher.update(piece)
            size += len(piece)
        return hasher.digest(), size
