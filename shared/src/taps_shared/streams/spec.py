"""A stream declared as one line of a table, and the builder that makes the SDK stream
classes from the table.

    STREAMS = StreamTable(HumaansStream, schemas, [
        StreamSpec("people", "/people"),
        StreamSpec("compensations", "/compensations", scope="compensations:read"),
    ])

What every stream of a tap shares (paging, the incremental filter, where records are, the
usual primary key) is set on the tap's stream base class; a spec says only how one stream
differs. A field left unset keeps the base class's value.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, fields
from functools import cached_property
from types import ModuleType

from singer_sdk.schema.source import StreamSchema
from singer_sdk.streams import Stream

from taps_shared.pages import Paging
from taps_shared.schemas import SchemaFiles
from taps_shared.streams.deletes import KeySweep
from taps_shared.streams.filters import IncrementalFilter
from taps_shared.streams.nested import NestedListStream


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: A field left to the base class.
UNSET: t.Any = _Unset()


@dataclass(frozen=True)
class StreamSpec:
    """One stream: its name and endpoint, and where it differs from the tap's base."""

    name: str
    #: The endpoint under the API's base URL; `{key}` is filled from the parent's context.
    path: str | None = None
    primary_keys: tuple[str, ...] = UNSET
    replication_key: str | None = UNSET
    #: Key of the record list in the body; None when the body is the list.
    records_key: str | None = UNSET
    #: The body is one object: this stream's one record per request (a detail endpoint).
    one_record: bool = UNSET
    #: The parent stream (by name, declared earlier in the table): one request per parent
    #: record, whose context fills the path; the records carry the parent's keys.
    parent: str | None = None
    #: The context this stream gives its children: child key → field of its records.
    context: t.Mapping[str, str] = UNSET
    #: The context keys that get their own state (bookmark) per parent; () for none.
    state_partitioning_keys: tuple[str, ...] = UNSET
    #: The token scope a 403 means is missing.
    scope: str | None = UNSET
    #: What a 404 on the first page means: "skip" the stream, or "empty" partition.
    on_not_found: t.Literal["skip", "empty"] | None = UNSET
    #: How the API orders an incremental listing: ascending, descending or unordered.
    api_order: t.Literal["ascending", "descending", "unordered"] = UNSET
    #: How the endpoint pages (None: not paged) and its largest page.
    paging: Paging | None = UNSET
    page_limit: int = UNSET
    #: The server-side incremental filter, where it differs from the base's.
    incremental: IncrementalFilter | None = UNSET
    #: How the stream lists only its keys, to find deleted records (None: never swept).
    sweep: KeySweep | None = UNSET
    #: A list inside each parent record, one record per item, instead of a request.
    nested: str | None = None
    #: The schema file (default: the stream name).
    schema: str | None = None
    #: The class to build on, for a stream with particulars beyond these fields.
    base: type[Stream] | None = None

    def attributes(self) -> dict[str, t.Any]:
        """The class attributes this spec sets."""
        renamed = {"context": "child_context_keys", "scope": "required_scope"}
        skipped = {"name", "parent", "schema", "base", "nested"}
        out: dict[str, t.Any] = {"name": self.name}
        for spec_field in fields(self):
            value = getattr(self, spec_field.name)
            if spec_field.name in skipped or value is UNSET:
                continue
            if isinstance(value, tuple):
                value = list(value)  # the SDK's own type for keys
            out[renamed.get(spec_field.name, spec_field.name)] = value
        if self.nested is not None:
            out["source_key"] = self.nested
        return out


class StreamTable:
    """A tap's streams: its stream base class, its schema files and one spec per stream."""

    def __init__(
        self, base: type[Stream], schemas: ModuleType, specs: t.Sequence[StreamSpec]
    ) -> None:
        self.base = base
        self.schemas = SchemaFiles(schemas)
        self.specs = list(specs)

    @cached_property
    def types(self) -> list[type[Stream]]:
        """The stream classes, in table order (parents before their children)."""
        built: dict[str, type[Stream]] = {}
        for spec in self.specs:
            built[spec.name] = self.build(spec, built)
        return list(built.values())

    def build(self, spec: StreamSpec, built: t.Mapping[str, type[Stream]]) -> type[Stream]:
        """The class of one stream; `built` holds the classes declared before it."""
        attributes = spec.attributes()
        base = spec.base or (NestedListStream if spec.nested else self.base)
        # A base may find columns at discovery (`taps_shared.streams.discovered`).
        descriptor = getattr(base, "schema_descriptor", StreamSchema)
        attributes["schema"] = descriptor(self.schemas, key=spec.schema or spec.name)
        if spec.parent is not None:
            if spec.parent not in built:
                msg = f"stream {spec.name}: parent {spec.parent} must be declared before it"
                raise ValueError(msg)
            attributes["parent_stream_type"] = built[spec.parent]
        what = f"`GET {spec.path}`" if spec.path else f"each parent's `{spec.nested}` list"
        attributes["__doc__"] = f"{spec.name}: {what}."
        return type(_class_name(spec.name), (base,), attributes)


def _class_name(name: str) -> str:
    return "".join(part.title() for part in name.split("_")) + "Stream"
