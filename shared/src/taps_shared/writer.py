"""The Singer message writer every tap uses: msgspec, flushed only when it matters, and
STATE messages no bigger in sum than the records they follow."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib.encoding.simple import Message

from taps_shared.errors import Terminated

_writing = False  # a write to stdout is under way
#: A STATE line up to this size is written as soon as the SDK asks.
SMALL_STATE = 64 * 1024
_stopped: list[int] = []  # a stop signal that came during it


def stop(signum: int) -> None:
    """Stop the run (raise `Terminated`), but never halfway through a write: half a line on
    the pipe is something no target can parse. During a write, the stop waits for its end."""
    if _writing:
        _stopped.append(signum)
        return
    raise Terminated(signum)


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec serialisation without a flush per RECORD, and without a message object per
    record (`write_record`).

    SCHEMA and STATE are flushed at once, so a target always sees state promptly and the
    state a killed tap emitted last is complete on the pipe.

    The SDK writes the whole state every `page_size` records and after each partition.
    Delete ledgers can make it megabytes (`streams.deletes`), and thousands of copies of
    it would dwarf the records: a STATE line bigger than `SMALL_STATE` waits until the
    records written since the last STATE are at least as big (a newer STATE replaces a
    waiting one), so STATE output stays below record output. A waiting STATE is written at
    the end of the run, failed or not (`flush`); only a killed run loses it, and resumes
    from the STATE before, repeating more records but losing none.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._record_bytes = 0  # RECORD bytes written since the last STATE
        self._waiting: bytes | None = None  # a STATE line held back

    def write_message(self, message: Message) -> None:
        if message.type == "STATE":
            self.write_state(message.to_dict())
            return
        self._write(message.to_dict(), flush=message.type != "RECORD")

    def write_state(self, message: dict[str, t.Any], *, now: bool = False) -> None:
        """A STATE message: written at once when small or `now`, else when due."""
        line = encoder.encode(message) + b"\n"
        if now or len(line) <= SMALL_STATE or self._record_bytes >= len(line):
            self._waiting = None
            self._record_bytes = 0
            self._write_line(line, flush=True)
        else:
            self._waiting = line

    def write_record(
        self, stream: str, record: dict, version: int | None, time_extracted: t.Any
    ) -> None:
        """A RECORD message, as `RecordMessage.to_dict()` has it, without the object."""
        message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        message["time_extracted"] = time_extracted
        line = encoder.encode(message) + b"\n"
        self._record_bytes += len(line)
        self._write_line(line)

    def flush(self) -> None:
        """Flush stdout (at the end of a run, or of a failed one), with any STATE that was
        held back."""
        waiting, self._waiting = self._waiting, None
        self._write_line(waiting or b"", flush=True)

    def _write(self, message: dict[str, t.Any], *, flush: bool = False) -> None:
        self._write_line(encoder.encode(message) + b"\n", flush=flush)

    @staticmethod
    def _write_line(line: bytes, *, flush: bool = False) -> None:
        """One whole line (and a flush), which a stop signal cannot cut short."""
        global _writing  # noqa: PLW0603 (one stdout per process)
        _writing = True
        try:
            sys.stdout.buffer.write(line)
            if flush:
                sys.stdout.buffer.flush()
        finally:
            _writing = False
        if _stopped:
            raise Terminated(_stopped.pop())
