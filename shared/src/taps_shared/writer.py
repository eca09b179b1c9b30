"""The Singer message writer every tap uses: msgspec, flushed only when it matters."""

from __future__ import annotations

import dataclasses
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib.encoding.simple import Message, SchemaMessage, StateMessage

from taps_shared.errors import Terminated

_writing = False  # a write to stdout is under way
_stopped: list[int] = []  # a stop signal that came during it
#: Lines not yet handed to stdout, and their size: RECORD lines go out in chunks of about
#: `CHUNK` bytes, one write each, whatever buffer stdout has (none with PYTHONUNBUFFERED).
_pending: list[bytes] = []
_pending_bytes = 0
CHUNK = 256 * 1024


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
    state a killed tap emitted last is complete on the pipe. STATE and SCHEMA messages are
    encoded as they are, without the deep copy `to_dict` makes: the state grows with the
    partitions, and the SDK sends a child stream's SCHEMA again for every partition.
    """

    #: Bytes of RECORD messages written so far (`taps_shared.state_writer` budgets STATEs
    #: by them).
    record_bytes = 0

    def write_message(self, message: Message) -> None:
        if isinstance(message, StateMessage):
            self.write_line(self.state_pieces(message.value))
            return
        if isinstance(message, SchemaMessage):  # `to_dict` without its copy of the schema
            fields = ((f.name, getattr(message, f.name)) for f in dataclasses.fields(message))
            self._write({name: value for name, value in fields if value is not None}, flush=True)
            return
        self._write(message.to_dict(), flush=message.type != "RECORD")

    @staticmethod
    def state_pieces(state: t.Mapping[str, t.Any]) -> t.Iterator[bytes]:
        """A STATE message, as `StateMessage.to_dict()` has it, as the pieces of one line:
        a stream's bookmarks at a time, so that a state of many partitions (megabytes) is
        never encoded whole."""
        yield b'{"type":"STATE","value":'
        yield from _pieces(state, depth=2)
        yield b"}\n"

    def write_line(self, pieces: t.Iterable[bytes]) -> None:
        """One message in pieces (a STATE), flushed at once."""
        self._write_bytes(b"", flush=True, pieces=pieces)

    def write_record(
        self, stream: str, record: dict, version: int | None, time_extracted: t.Any
    ) -> None:
        """A RECORD message, as `RecordMessage.to_dict()` has it, without the object."""
        message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        message["time_extracted"] = time_extracted
        line = encoder.encode(message) + b"\n"
        self.record_bytes += len(line)
        self._write_bytes(line)

    def flush(self) -> None:
        """Flush stdout (at the end of a run, or of a failed one)."""
        self._write(None, flush=True)

    @classmethod
    def _write(cls, message: dict[str, t.Any] | None, *, flush: bool = False) -> None:
        cls._write_bytes(b"" if message is None else encoder.encode(message) + b"\n", flush=flush)

    @staticmethod
    def _write_bytes(line: bytes, *, flush: bool = False, pieces: t.Iterable[bytes] = ()) -> None:
        """One whole line, or one given in `pieces` (and a flush), which a stop signal
        cannot cut short. Lines wait in `_pending` until a flush or `CHUNK` bytes: one
        write of many lines costs a fraction of a write (or of a copy into stdout's 8 KB
        buffer) per line."""
        global _writing, _pending_bytes  # noqa: PLW0603 (one stdout per process)
        _writing = True
        try:
            if line:
                _pending.append(line)
                _pending_bytes += len(line)
            if flush or _pending_bytes >= CHUNK:
                out = sys.stdout.buffer
                _write_all(out, b"".join(_pending))
                _pending.clear()
                _pending_bytes = 0
                for piece in pieces:
                    _write_all(out, piece)
                if flush:
                    out.flush()
        finally:
            _writing = False
        if _stopped:
            raise Terminated(_stopped.pop())


def _write_all(out: t.Any, data: bytes) -> None:
    """Write all of `data`: an unbuffered stdout (PYTHONUNBUFFERED) is a raw file, whose
    write to a full pipe that a signal interrupts writes only part and says how much."""
    view = memoryview(data)
    while view:
        view = view[out.write(view) or 0 :]


def _pieces(value: t.Any, depth: int) -> t.Iterator[bytes]:
    """`encoder.encode(value)` in pieces: a dictionary (with string keys) key by key, down
    to `depth` levels."""
    if depth == 0 or type(value) is not dict or not value or not all(map(_is_str, value)):
        yield encoder.encode(value)
        return
    separator = b"{"
    for key, item in value.items():
        yield separator + encoder.encode(key) + b":"
        yield from _pieces(item, depth - 1)
        separator = b","
    yield b"}"


def _is_str(key: object) -> bool:
    return type(key) is str
