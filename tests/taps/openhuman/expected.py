"""What tap-openhuman must emit from its emulator's hosted backend (contract B): the records
as served, each child's with its parent's key, Unix seconds as ISO-8601 date-times and the
secrets left out. Written apart from the tap's own code, so a test compares two readings
of the contract."""

from __future__ import annotations

import copy
import json
import typing as t
from datetime import UTC, datetime

from human_sandbox.openhuman import OpenHumanEmulator
from tap_openhuman.tap import BACKEND_STREAMS

#: The streams of contract (B), in the tap's order.
BACKEND = tuple(spec.name for spec in BACKEND_STREAMS)
#: The streams the API key reads as `x-api-key` (the emulator's machine routes).
MACHINE = (
    "sessions",
    "session_messages",
    "session_events",
    "tasks",
    "workflows",
    "roster",
    "orchestration_sessions",
    "orchestration_session_messages",
    "memory_documents",
    "models",
)
#: Fields sent as Unix seconds, by stream (`list[].field` inside a list).
UNIX = {
    "sessions": ("lastActiveAt",),
    "session_messages": ("ts",),
    "session_events": ("at",),
    "orchestration_session_messages": ("ts",),
    "models": ("created",),
    "roster": ("budgets[].cooldownUntil",),
}
#: Secrets the emulator sends and the tap must never emit, by stream.
SECRETS = {"api_keys": "key", "webhooks": "signingSecret"}


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def emitted(stream: str, record: dict[str, t.Any]) -> dict[str, t.Any]:
    """One served record as the tap emits it."""
    out = copy.deepcopy(record)
    for path in UNIX.get(stream, ()):
        field, _, inner = path.partition("[].")
        holders = out.get(field) or [] if inner else [out]
        name = inner or field
        for holder in holders:
            if isinstance(holder.get(name), int):
                holder[name] = iso(holder[name])
    out.pop(SECRETS.get(stream, ""), None)
    return {**out, "_extra": None}


def backend_records(emulator: OpenHumanEmulator) -> dict[str, list[dict[str, t.Any]]]:
    """Every (B) stream's records as the tap must emit them."""
    return {s: [emitted(s, r) for r in rows] for s, rows in emulator.backend.data.items()}


def secrets_served(emulator: OpenHumanEmulator) -> list[str]:
    """The secret values the emulator's backend sends along with the metadata."""
    return [r[field] for s, field in SECRETS.items() for r in emulator.backend.data[s]]


def canonical(rows: t.Iterable[dict]) -> list[str]:
    """Records as sorted canonical JSON texts: equal lists, whatever the order."""
    return sorted(json.dumps(r, sort_keys=True) for r in rows)
