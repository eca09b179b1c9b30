"""Records that arrive inside each parent record: one per item of a list field, with the
parent's keys, and no request of their own (Huma's children, emergency contacts and
identifications come only inside a user's details)."""

from __future__ import annotations

import typing as t

from taps_shared.streams.conformed import ConformedStream
from taps_shared.streams.versions import FullTableVersion

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class NestedListStream(FullTableVersion, ConformedStream):
    """The items of `<parent record>[source_key]`, each with the parent's context keys."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    state_partitioning_keys: t.ClassVar[list[str]] = []
    source_key: t.ClassVar[str]

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        parent_name = t.cast("str", getattr(self.parent_stream_type, "name", ""))
        parent = t.cast("t.Any", self.tap.streams[parent_name])
        for item in parent.current_record.get(self.source_key) or []:
            yield {**item, **(context or {})}
