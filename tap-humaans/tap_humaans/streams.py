"""The Humaans streams: one per list endpoint, declared in one table.

A stream is incremental on `updatedAt` exactly when its schema has that field; the path is
the kebab-case of the stream name. Scope-gated resources name the scope a 403 means.
"""

from __future__ import annotations

from tap_humaans import schemas
from tap_humaans.client import HumaansStream
from taps_shared.schemas import schema_loader

# stream name → the token scope it needs beyond private:read (None: private:read suffices)
RESOURCES: dict[str, str | None] = {
    "people": None,
    "companies": None,
    "locations": None,
    "job_roles": None,
    "compensations": "compensations:read",
    "compensation_types": "compensations:read",
    "time_away": None,
    "time_away_types": None,
    "time_away_allocations": None,
    "time_away_policies": None,
    "time_away_adjustments": None,
    "bank_accounts": None,
    "emergency_contacts": None,
    "equipment": None,
    "custom_fields": None,
    "custom_values": None,
    "documents": "documents:read",
    "document_types": "documents:read",
    "identity_documents": "documents:read",
    "timesheet_entries": None,
    "timesheet_submissions": None,
    "working_patterns": None,
    "public_holidays": None,
    "public_holiday_calendars": None,
}


load_schema = schema_loader(schemas)


def stream_type(name: str, scope: str | None) -> type[HumaansStream]:
    """The stream class for one resource."""
    schema = load_schema(name)
    incremental = "updatedAt" in schema.get("properties", {})
    return type(
        "".join(part.title() for part in name.split("_")) + "Stream",
        (HumaansStream,),
        {
            "__doc__": f"`GET /api/{name.replace('_', '-')}`.",
            "name": name,
            "path": "/" + name.replace("_", "-"),
            "schema": schema,
            "replication_key": "updatedAt" if incremental else None,
            "required_scope": scope,
        },
    )


STREAM_TYPES: list[type[HumaansStream]] = [stream_type(n, s) for n, s in RESOURCES.items()]
