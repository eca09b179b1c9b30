"""The Singer message writer every tap uses: msgspec, written in large chunks."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib.encoding.simple import Message

CHUNK = 1 << 16  # bytes of RECORD lines collected before one write


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec serialisation, RECORD lines written 64 KiB at a time (not one write, let
    alone one flush, per record).

    Any other message (SCHEMA, STATE, ACTIVATE_VERSION) first writes the records before
    it, then itself, and flushes: a target always sees a STATE after its records, at once,
    so the last STATE a killed tap emitted is complete on the pipe and covers only records
    that were written.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()

    def write_message(self, message: Message) -> None:
        line = self.format_message(message)  # msgspec's reused buffer: copied at once
        if message.type == "RECORD":
            self._pending += line
            if len(self._pending) >= CHUNK:
                self._write_pending()
            return
        self._write_pending()
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()

    def write_record(
        self, stream: str, record: dict, version: int | None, time_extracted: t.Any
    ) -> None:
        """A RECORD message, as `RecordMessage.to_dict()` has it, without the object."""
        message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        message["time_extracted"] = time_extracted
        self._pending += serialize_jsonl(message)
        if len(self._pending) >= CHUNK:
            self._write_pending()

    def flush(self) -> None:
        """Write and flush whatever is pending (at the end of a run, or of a failed one)."""
        self._write_pending()
        sys.stdout.buffer.flush()

    def _write_pending(self) -> None:
        if self._pending:
            sys.stdout.buffer.write(self._pending)
            self._pending.clear()
