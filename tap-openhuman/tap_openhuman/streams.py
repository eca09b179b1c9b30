"""The OpenHuman streams: `agents` is documented by the vendor; the others follow the
proposed contract in the project's spec, and each is skipped with one warning when the
account's API answers 404."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta

from tap_openhuman.client import OpenHumanStream, load_schema

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

#: Days of usage read on a first run without start_date.
USAGE_DEFAULT_DAYS = 365


class AgentsStream(OpenHumanStream):
    """`GET /v1/agents` (documented)."""

    name = "agents"
    path = "/agents"
    schema = load_schema("agents")


class ConversationsStream(OpenHumanStream):
    """`GET /v1/conversations` (proposed)."""

    name = "conversations"
    path = "/conversations"
    on_not_found = "skip"
    schema = load_schema("conversations")

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        return {"conversation_id": record["id"]}


class MessagesStream(OpenHumanStream):
    """`GET /v1/conversations/{conversation_id}/messages` (proposed), per conversation,
    incremental on `created_at` with one bookmark per conversation."""

    name = "messages"
    path = "/conversations/{conversation_id}/messages"
    parent_stream_type = ConversationsStream
    replication_key = "created_at"
    filter_param = "created_after"
    on_not_found = "empty"
    schema = load_schema("messages")


class MemoriesStream(OpenHumanStream):
    """`GET /v1/memories` (proposed)."""

    name = "memories"
    path = "/memories"
    on_not_found = "skip"
    schema = load_schema("memories")


class RunsStream(OpenHumanStream):
    """`GET /v1/runs` (proposed)."""

    name = "runs"
    path = "/runs"
    on_not_found = "skip"
    schema = load_schema("runs")


class UsageStream(OpenHumanStream):
    """`GET /v1/usage?start_date&end_date` (proposed): one row per day and model."""

    name = "usage"
    path = "/usage"
    primary_keys: t.ClassVar[list[str]] = ["date", "model"]
    replication_key = "date"
    on_not_found = "skip"
    schema = load_schema("usage")

    def incremental_params(self, since: str | None) -> dict[str, t.Any]:
        # Inclusive dates: the bookmark's day is read again, as its counts may have grown.
        today = datetime.now(UTC).date()
        start = since[:10] if since else (today - timedelta(days=USAGE_DEFAULT_DAYS)).isoformat()
        return {"start_date": start, "end_date": today.isoformat()}


STREAM_TYPES: list[type[OpenHumanStream]] = [
    AgentsStream,
    ConversationsStream,
    MessagesStream,
    MemoriesStream,
    RunsStream,
    UsageStream,
]
