"""`user_details`' custom fields as typed columns: `custom__<key>` for each key of the
UserDetails `custom` object (the raw object stays).

The spec names no endpoint listing the organisation's custom fields: each UserDetails
carries them in `custom`, as CustomFieldObjects `{label, value, type, section, ...}`.
Discovery therefore samples the data: the details of the first `SAMPLED_USERS` users of
`GET /users`, every key found becoming a column, typed from its declared `type` (assumed:
custom fields are organisation-wide, so every user's `custom` has every key, null valued
where unset). A run given a catalog makes the columns its schema lists, no request.
"""

from __future__ import annotations

import typing as t
from functools import cached_property

from tap_huma.client import FieldDetailsStream
from taps_shared import custom_fields
from taps_shared.streams.discovered import DiscoveredColumns

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

PREFIX = "custom__"
#: Users whose details discovery reads: one request each, after one `GET /users` page.
SAMPLED_USERS = 5
#: CustomFieldObject `type` (the OpenAPI's enum) -> column kind. `number` and `decimal`
#: are both in the enum, so `number` is taken as whole numbers (an assumption); an
#: unknown type is a string column.
FIELD_KINDS = {
    "text": "string",
    "textarea": "string",
    "url": "string",
    "enum": "string",
    "number": "integer",
    "decimal": "number",
    "boolean": "boolean",
    "localdate": "date",
}


class UserDetailsStream(DiscoveredColumns, FieldDetailsStream):
    """`GET /users/{userId}`, with a typed column per custom field."""

    def discover_columns(self, given: dict | None, fixed: set[str]) -> dict[str, dict]:
        if given is not None:
            columns = {}
            for column, schema in (given.get("properties") or {}).items():
                field = custom_fields.parse_description(schema)
                if column.startswith(PREFIX) and column not in fixed and field is not None:
                    columns[column] = self._column(*field, kind=custom_fields.kind_of(schema))
            return columns
        found: dict[str, dict] = {}
        for custom in self._sampled_custom():
            for key, field in custom.items():
                if isinstance(field, dict) and key not in found:
                    found[key] = field
        return {
            PREFIX + key: self._column(
                str(found[key].get("label") or key), key, str(found[key].get("type") or "")
            )
            for key in sorted(found)
        }

    def _column(self, label: str, key: str, field_type: str, kind: str | None = None) -> dict:
        kind = kind or FIELD_KINDS.get(field_type.lower(), "string")
        return custom_fields.column_schema(
            kind,
            custom_fields.describe(label, key, field_type, f"the value of custom.{key}"),
            custom_fields.sensitivity_of(self.config, label, key),
        )

    def _sampled_custom(self) -> t.Iterator[dict]:
        """The `custom` objects of the first users' details."""
        label = f"{self.name} discovery"
        page = self.tap.get_json(f"/users?limit={SAMPLED_USERS}&offset=0", label)
        users = page.get("items") if isinstance(page, dict) else None
        for user in (users or [])[:SAMPLED_USERS]:
            if isinstance(user, dict) and isinstance(user.get("id"), str):
                details = self.tap.get_json(f"/users/{user['id']}", label)
                custom = details.get("custom") if isinstance(details, dict) else None
                if isinstance(custom, dict):
                    yield custom

    @cached_property
    def custom_columns(self) -> dict[str, tuple[str, str]]:
        """Column -> (custom key, kind), from the schema the sync writes."""
        out = {}
        for column, schema in self.effective_schema.get("properties", {}).items():
            if column.startswith(PREFIX) and custom_fields.parse_description(schema):
                out[column] = (column[len(PREFIX) :], custom_fields.kind_of(schema))
        return out

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Each custom column from `custom.<key>.value`, typed; a value that does not fit
        its type is null there (it stays, as sent, in `custom`)."""
        out = super().post_process(row, context)
        if out is None:
            return None
        custom = out.get("custom")
        custom = custom if isinstance(custom, dict) else {}
        for column, (key, kind) in self.custom_columns.items():
            field = custom.get(key)
            value = field.get("value") if isinstance(field, dict) else None
            out[column] = custom_fields.convert(kind, value)[0]
        return out
