"""The Humanos streams."""

from __future__ import annotations

import typing as t

import requests

from tap_humanos.client import HumanosStream, load_schema

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


class RequestsStream(HumanosStream):
    """`GET /request`: credential requests, newest first; incremental on `createdAt`."""

    name = "requests"
    path = "/request"
    replication_key = "createdAt"
    api_order = "descending"
    schema = load_schema("requests")

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        return {"requestId": record["id"]}


class CredentialsStream(HumanosStream):
    """The credentials of each request, from `GET /request/{requestId}`, with `requestId`:
    decisions and the W3C credential included."""

    name = "credentials"
    path = "/request/{requestId}"
    parent_stream_type = RequestsStream
    state_partitioning_keys: t.ClassVar[list[str]] = []
    records_key = "credentials"
    schema = load_schema("credentials")

    def get_new_paginator(self) -> None:  # type: ignore[override]
        return None  # one detail object per request

    def page_params(self, next_page_token: t.Any) -> dict[str, t.Any]:
        return {}

    def extract_records(self, body: t.Any, response: requests.Response) -> list[dict]:
        request_id = body.get("id") if isinstance(body, dict) else None
        credentials = super().extract_records(body, response)
        return [{**credential, "requestId": request_id} for credential in credentials]


class ResourcesStream(HumanosStream):
    """`GET /resource`: documents, consents, forms and JSON resources (full table)."""

    name = "resources"
    path = "/resource"
    schema = load_schema("resources")


class ResourceGroupsStream(HumanosStream):
    """`GET /resource/group`: groups of resources (full table)."""

    name = "resource_groups"
    path = "/resource/group"
    schema = load_schema("resource_groups")


class ActivityEventsStream(HumanosStream):
    """`GET /activity`: the append-only activity log, newest first; incremental on
    `createdAt`. Dated API versions only: a 404 (v1) skips it with a warning."""

    name = "activity_events"
    path = "/activity"
    replication_key = "createdAt"
    api_order = "descending"
    on_not_found = "skip"
    schema = load_schema("activity_events")


STREAM_TYPES: list[type[HumanosStream]] = [
    RequestsStream,
    CredentialsStream,
    ResourcesStream,
    ResourceGroupsStream,
    ActivityEventsStream,
]
