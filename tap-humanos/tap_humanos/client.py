"""What is particular to Humanos: `{data, totalPages}` pages with `pageIndex`/`pageSize` and
day-rounded `dateFrom` filters (signing and the `API-Version` header live in the tap)."""

from __future__ import annotations

import typing as t

from tap_humanos import schemas
from taps_shared import HumanRESTStream, PageIndexPaginator
from taps_shared.schemas import schema_loader

load_schema = schema_loader(schemas)


class HumanosStream(HumanRESTStream):
    """A Humanos list endpoint."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    records_key: str | None = "data"

    @property
    def page_size(self) -> int:
        return int(self.config.get("page_size", 100))

    def get_new_paginator(self) -> PageIndexPaginator:
        return PageIndexPaginator(self.page_size, label=self.name)

    def page_params(self, next_page_token: t.Any) -> dict[str, t.Any]:
        return {"pageIndex": next_page_token or 0, "pageSize": self.page_size}

    def incremental_params(self, since: str | None) -> dict[str, t.Any]:
        # The API rounds dateFrom down to the start of its day; the base stream drops the
        # records of that day that are older than the bookmark.
        return {"dateFrom": since} if since else {}
