"""Records conformed by one compiled function per stream and written without the SDK's
per-value passes: declared fields typed, undeclared ones in `_extra`, sensitive ones kept,
hashed or dropped (`taps_shared.privacy`), drift reported."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime
from functools import cached_property

from singer_sdk.mapper import SameRecordTransform

from taps_shared.conform import SchemaDrift, stream_conformer
from taps_shared.privacy import tag_metadata
from taps_shared.sdk import SDKRecords

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.singerlib.catalog import MetadataMapping

    from taps_shared.writer import BufferedMsgSpecWriter


class ConformedStream(SDKRecords):
    """A stream whose records go through `taps_shared.conform` and the tap's writer."""

    def __init__(self, tap: Tap, *args: t.Any, **kwargs: t.Any) -> None:
        self.tap = tap
        super().__init__(tap, *args, **kwargs)

    @cached_property
    def _conformer(self) -> tuple[t.Callable[[dict], dict], SchemaDrift]:
        return stream_conformer(self)

    @property
    def schema_drift(self) -> SchemaDrift:
        """What this stream's records said that its schema did not (so far)."""
        return self._conformer[1]

    @property
    def metadata(self) -> MetadataMapping:
        """The SDK's, each sensitive field's entry carrying its `x-sensitivity` tag."""
        return tag_metadata(super().metadata, self.schema)

    @property
    def time_extracted(self) -> datetime:
        """When the record being written was fetched."""
        return datetime.now(UTC)

    @cached_property
    def _maps(self) -> list[tuple[str, t.Callable[[dict], dict | None] | None]]:
        """Each stream map's alias and transform: None for the SDK's map of a stream no
        map is configured for (the record as it is, without two calls per record)."""
        return [
            (
                stream_map.stream_alias,
                None
                if type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled
                else stream_map.transform,
            )
            for stream_map in self.stream_maps
        ]

    def write_record(self, record: dict) -> None:
        """Conform the record and write it through each stream map."""
        record = self._conformer[0](record)
        writer = t.cast("BufferedMsgSpecWriter", self.tap.message_writer)
        for alias, transform in self._maps:
            mapped = record if transform is None else transform(record)
            if mapped is not None:
                writer.write_record(alias, mapped, self.stream_version, self.time_extracted)
