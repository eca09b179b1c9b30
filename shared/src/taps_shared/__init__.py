"""What every Human-family tap shares: the tap and stream bases, the stream table, paging,
authenticators, the transport, redaction."""

from taps_shared.auth import BasicAuth, BearerTokenAuth, HeaderAuth, HmacSignedAuth, HumanAuth
from taps_shared.errors import ConfigError, PaginationError, TapError
from taps_shared.pages import CursorPaging, OffsetPaging, PageNumberPaging, Paging
from taps_shared.streams import (
    HumanRESTStream,
    IncrementalFilter,
    KeySweep,
    StreamSpec,
    StreamTable,
)
from taps_shared.tap import HumanTap

__all__ = [
    "BasicAuth",
    "BearerTokenAuth",
    "ConfigError",
    "CursorPaging",
    "HeaderAuth",
    "HmacSignedAuth",
    "HumanAuth",
    "HumanRESTStream",
    "HumanTap",
    "IncrementalFilter",
    "KeySweep",
    "OffsetPaging",
    "PageNumberPaging",
    "PaginationError",
    "Paging",
    "StreamSpec",
    "StreamTable",
    "TapError",
]
