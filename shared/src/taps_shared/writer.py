"""The Singer message writer every tap uses: msgspec, flushed only when it matters."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib.encoding.simple import Message

from taps_shared.errors import Terminated

_writing = False  # a write to stdout is under way
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
    """

    def write_message(self, message: Message) -> None:
        self._write(message.to_dict(), flush=message.type != "RECORD")

    def write_record(
        self, stream: str, record: dict, version: int | None, time_extracted: t.Any
    ) -> None:
        """A RECORD message, as `RecordMessage.to_dict()` has it, without the object."""
        message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        message["time_extracted"] = time_extracted
        self._write(message)

    def flush(self) -> None:
        """Flush stdout (at the end of a run, or of a failed one)."""
        self._write(None, flush=True)

    @staticmethod
    def _write(message: dict[str, t.Any] | None, *, flush: bool = False) -> None:
        """One whole line (and a flush), which a stop signal cannot cut short."""
        global _writing  # noqa: PLW0603 (one stdout per process)
        line = b"" if message is None else encoder.encode(message) + b"\n"
        _writing = True
        try:
            sys.stdout.buffer.write(line)
            if flush:
                sys.stdout.buffer.flush()
        finally:
            _writing = False
        if _stopped:
            raise Terminated(_stopped.pop())
