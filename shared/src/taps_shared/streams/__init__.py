"""Streams: the base class every tap's streams build on, and the table that declares them."""

from taps_shared.streams.base import HumanRESTStream
from taps_shared.streams.deletes import KeySweep
from taps_shared.streams.filters import IncrementalFilter
from taps_shared.streams.nested import NestedListStream
from taps_shared.streams.spec import StreamSpec, StreamTable
from taps_shared.streams.versions import FullTableVersion

__all__ = [
    "FullTableVersion",
    "HumanRESTStream",
    "IncrementalFilter",
    "KeySweep",
    "NestedListStream",
    "StreamSpec",
    "StreamTable",
]
