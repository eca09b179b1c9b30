"""`people_custom`: each person's custom field values as one row with a typed column per
custom field, instead of the entity-attribute-value rows of `custom_values`.

Discovery reads `GET /custom-fields` and makes one column per field: its name's snake_case
slug (suffixed with the field id where an older field or a fixed column has it), typed
from the field's type, described with the field's name, id and type (the description is
how a run given a catalog knows which field a column holds).

A sync reads `GET /custom-values` and assembles each person's row from all their values.
Incremental: the values changed since the bookmark (`updatedAt[$gte]`, oldest first) name
the persons whose row changed; their rows are assembled from all their values (one
`personId[$in]` listing per batch of persons) and emitted oldest change first. A row's
`updatedAt` is the newest of its values; its bookmark is the newest of the values the
first listing saw, so a value that changes while the rows are assembled is read again next
run, never skipped. A first run (no bookmark) reads every value once and needs no second
listing. Values of fields the catalog has no column for, and values that do not fit their
column's type, are kept as sent in `_extra`, under the field id.

Deletes: a value deleted in Humaans leaves no trace in the listings, so the stream's delete
ledger (`taps_shared.streams.tombstones`) holds values, not rows: each value's person and id.
Its key sweep lists the ids and persons of every value, paged by value id; a person who
lost a value since is written again, whole (that value's column null), and a person left
with no value at all gets a tombstone (`personId`, `_sdc_deleted_at`). A first run's whole
listing is its own sweep.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

from tap_humaans.client import HumaansStream
from taps_shared import custom_fields
from taps_shared.errors import ResponseError
from taps_shared.streams.deletes import Key, KeySweep, tombstone
from taps_shared.streams.discovered import DiscoveredColumns

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context

#: Humaans field type -> column kind (`taps_shared.custom_fields.KINDS`). The spec knows
#: text, number, date and select; the public client (ex_humaans) types values as a string
#: or a list of strings, the list being a multi-select's. Types are compared lowercase
#: without separators ("multi-select", "multiSelect" and "multiselect" are one); an
#: unknown type is a string column.
FIELD_KINDS = {
    "text": "string",
    "longtext": "string",
    "textarea": "string",
    "select": "string",
    "singleselect": "string",
    "dropdown": "string",
    "link": "string",
    "url": "string",
    "email": "string",
    "phone": "string",
    "number": "number",
    "decimal": "number",
    "currency": "number",
    "integer": "integer",
    "date": "date",
    "boolean": "boolean",
    "checkbox": "boolean",
    "multiselect": "strings",
    "multipleselect": "strings",
}
#: Persons per `personId[$in]` listing: about 1.3 KB of query string.
PERSONS_PER_LOOKUP = 50


def field_kind(field_type: t.Any) -> str:
    """The column kind of a Humaans field type."""
    plain = "".join(c for c in str(field_type or "").lower() if c.isalnum())
    return FIELD_KINDS.get(plain, "string")


class PeopleCustomStream(DiscoveredColumns, HumaansStream):
    """One row per person with custom values: `personId`, `updatedAt`, a column per field."""

    #: The values' ids and persons, paged by value id (the ledger's keys are values).
    sweep = KeySweep(
        params={"$select[]": ["id", "personId"], "$sort[id]": 1}, after="id[$gt]", key="id"
    )

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._lookup: list[str] | None = None  # the persons whose values are being listed
        self._bookmarks: dict[str, str | None] = {}  # person -> the bookmark of their row

    # -- discovery ----------------------------------------------------------------------

    def discover_columns(self, given: dict | None, fixed: set[str]) -> dict[str, dict]:
        if given is not None:
            return self._columns_from_catalog(given, fixed)
        fields = sorted(self._custom_fields(), key=lambda f: (f.get("createdAt") or "", f["id"]))
        names = custom_fields.column_names(
            [(f["id"], str(f.get("name") or "")) for f in fields], fixed
        )
        return {
            names[f["id"]]: self._column(
                str(f.get("name") or ""), f["id"], str(f.get("type") or "")
            )
            for f in fields
        }

    def _columns_from_catalog(self, given: dict, fixed: set[str]) -> dict[str, dict]:
        """The catalog's custom columns, retagged (the catalog keeps no tags)."""
        columns = {}
        for column, schema in (given.get("properties") or {}).items():
            field = custom_fields.parse_description(schema)
            if column not in fixed and field is not None:
                columns[column] = self._column(*field, kind=custom_fields.kind_of(schema))
        return columns

    def _column(self, name: str, field_id: str, field_type: str, kind: str | None = None) -> dict:
        kind = kind or field_kind(field_type)
        what = "the person's value" + (" (the options chosen)" if kind == "strings" else "")
        return custom_fields.column_schema(
            kind,
            custom_fields.describe(name, field_id, field_type, what),
            custom_fields.sensitivity_of(self.config, name),
        )

    def _custom_fields(self) -> Iterator[dict]:
        """Every custom field (`GET /custom-fields`, page by page)."""
        skip = 0
        while True:
            query = urlencode({"$limit": self.page_size, "$skip": skip})
            body = self.tap.get_json(f"/custom-fields?{query}", f"{self.name} discovery")
            page = body.get("data") if isinstance(body, dict) else None
            if not isinstance(page, list):
                msg = f"{self.name}: GET /custom-fields returned no 'data' list"
                raise ResponseError(msg)
            yield from (f for f in page if isinstance(f, dict) and f.get("id"))
            skip += len(page)
            if not page or skip >= int(body.get("total") or 0):
                return

    @property
    def field_columns(self) -> dict[str, tuple[str, str]]:
        """Field id -> (column, kind), from the schema the sync writes."""
        out = {}
        for column, schema in self.effective_schema.get("properties", {}).items():
            field = custom_fields.parse_description(schema)
            if field is not None:
                out[field[1]] = (column, custom_fields.kind_of(schema))
        return out

    # -- the sync -----------------------------------------------------------------------

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        if self._lookup is None:
            return super().get_url_params(context, next_page_token)
        params = self.paging.params(next_page_token, self.page_size) if self.paging else {}
        if self._server_filter:  # the same order as the first listing, stable across pages
            params.update(self.incremental_params(None))
        params["personId[$in][]"] = self._lookup
        return params

    def request_records(self, context: Context | None) -> Iterable[dict]:
        self._part.since = since = self.starting_bookmark(context)
        self._part.unkeyed = 0
        self._part.skipped = self._part.complete = False
        changed: dict[str, str | None] = {}  # person -> newest change the listing saw
        values: dict[str, dict[str, dict]] = {}  # person -> value id -> value (first run)
        for value in self.request_all(context):
            self.note_listed(value, context)
            person, stamp = value.get("personId"), self.bookmark_value(value)
            if not isinstance(person, str) or (since and stamp is not None and stamp < since):
                continue
            changed[person] = max(changed.get(person) or "", stamp or "") or None
            if since is None:
                values.setdefault(person, {})[str(value.get("id"))] = value
        order = sorted(changed, key=lambda p: (changed[p] or "", p))
        self._bookmarks = changed
        columns = self.field_columns
        count = 0
        for start in range(0, len(order), PERSONS_PER_LOOKUP):
            batch = order[start : start + PERSONS_PER_LOOKUP]
            if since is not None:
                values = self._values_of(batch, context)
            for person in batch:
                if values.get(person):
                    count += 1
                    self._note_emitted(person, values[person])
                    yield self._row(person, values[person].values(), columns)
        self._part.complete = not self._part.skipped
        self.logger.info("Stream %s: %d rows from %d changed persons", self.name, count, len(order))

    def _values_of(self, persons: list[str], context: Context | None) -> dict[str, dict[str, dict]]:
        """Every value of `persons` (a listing filtered on them)."""
        self._lookup = persons
        try:
            found: dict[str, dict[str, dict]] = {}
            for value in self.request_all(context):
                person = value.get("personId")
                if person in persons:
                    found.setdefault(person, {})[str(value.get("id"))] = value
            return found
        finally:
            self._lookup = None

    def _row(
        self, person: str, values: Iterable[dict], columns: dict[str, tuple[str, str]]
    ) -> dict:
        """A person's row: a column per field in the schema (null without a value), the
        values that fit no column under their field id (they reach `_extra`)."""
        row: dict[str, t.Any] = {"personId": person, "updatedAt": None}
        row.update(dict.fromkeys(column for column, _ in columns.values()))
        stamps = []
        for value in sorted(values, key=lambda v: (v.get("updatedAt") or "", str(v.get("id")))):
            stamps.append(self.bookmark_value(value) or "")
            field_id = str(value.get("customFieldId"))
            column, kind = columns.get(field_id, (None, "string"))
            converted, fits = custom_fields.convert(kind, value.get("value"))
            if column is not None and fits:
                row[column] = converted
            else:
                row[field_id] = value.get("value")
        row["updatedAt"] = max(stamps) or None
        return row

    # -- deletes: the ledger's keys are values (person, value id) ------------------------

    def key_of(self, record: t.Mapping[str, t.Any]) -> Key:
        """A value's key in the ledger: its person and its id."""
        return (record.get("personId"), record.get("id"))

    def record_processed(self, record: dict) -> None:
        """Rows are not the ledger's keys: their values are noted as they are assembled."""

    def _note_emitted(self, person: str, values: dict[str, dict]) -> None:
        if self.tracks_keys:
            self._emitted.update((person, value_id) for value_id in values)

    def write_tombstones(self, keys: set[Key], context: Context | None, when: str) -> None:
        """The values gone (`keys`): their persons' rows written again, whole, or, for a
        person left without any value, a tombstone. A person whose row this run wrote
        without the value is left alone."""
        if not keys or not self.selected:
            return
        written = {person for person, _ in self._emitted}
        persons = sorted(
            p
            for p in {p for p, v in keys if (p, v) in self._emitted or p not in written}
            if isinstance(p, str)
        )
        if not persons:
            return
        columns, properties = self.field_columns, list(self.schema.get("properties", {}))
        rows = 0
        for start in range(0, len(persons), PERSONS_PER_LOOKUP):
            batch = persons[start : start + PERSONS_PER_LOOKUP]
            values = self._values_of(batch, context)
            for person in batch:
                if values.get(person):
                    rows += 1
                    self.write_record(self._row(person, values[person].values(), columns))
                else:
                    self.write_record(
                        tombstone(properties, self.primary_keys, (person,), context, when)
                    )
        self.note_state_changed()
        self.logger.info(
            "Stream %s: %d row(s) written again for values deleted, %d person(s) left without "
            "values marked deleted",
            self.name,
            rows,
            len(persons) - rows,
        )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Every row assembled is emitted: its person changed since the bookmark, even
        when the value that changed is gone and the row's newest value is older."""
        return row

    def state_record(self, record: dict, context: Context | None) -> dict | None:
        """The row's bookmark: the newest change the first listing saw of its person."""
        bookmark = self._bookmarks.get(record.get("personId"))  # type: ignore[arg-type]
        return super().state_record({self.replication_key: bookmark}, context)
