"""What is particular to OpenHuman: `{data, has_more, next_cursor}` pages with `limit` and
`cursor`, and an exclusive `updated_after`-style filter."""

from __future__ import annotations

import typing as t
from datetime import timedelta

from tap_openhuman import schemas
from taps_shared import CursorPaginator, HumanRESTStream
from taps_shared.dates import parse_datetime, to_iso_z
from taps_shared.schemas import schema_loader

load_schema = schema_loader(schemas)
#: The filter value of a first run without start_date: every record is later than this.
EPOCH = "1970-01-01T00:00:00.000Z"


class OpenHumanStream(HumanRESTStream):
    """An OpenHuman list endpoint (the documented agents, or a proposed resource)."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    records_key: str | None = "data"
    replication_key = "updated_at"
    #: The exclusive lower-bound filter on the replication key.
    filter_param = "updated_after"

    def get_new_paginator(self) -> CursorPaginator:
        return CursorPaginator(label=self.name)

    def page_params(self, next_page_token: t.Any) -> dict[str, t.Any]:
        params: dict[str, t.Any] = {"limit": int(self.config.get("page_size", 100))}
        if next_page_token:
            params["cursor"] = next_page_token
        return params

    def incremental_params(self, since: str | None) -> dict[str, t.Any]:
        if since is None:
            # Without the filter the API lists newest first (created_at desc): a first run
            # with no start_date must still ask for the ascending, resumable order.
            return {self.filter_param: EPOCH}
        # The filter is exclusive; one millisecond earlier keeps records that share the
        # bookmark's timestamp (the base stream drops anything older than the bookmark).
        earlier = parse_datetime(since, "bookmark") - timedelta(milliseconds=1)
        return {self.filter_param: to_iso_z(earlier)}
