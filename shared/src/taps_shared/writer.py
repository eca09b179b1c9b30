"""The Singer message writer every tap uses: msgspec, flushed only when it matters."""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.encoding.simple import Message


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec serialisation without a flush per RECORD (one syscall per record saved).

    SCHEMA and STATE are flushed at once, so a target always sees state promptly and the
    state a killed tap emitted last is complete on the pipe.
    """

    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if message.type != "RECORD":
            sys.stdout.buffer.flush()
