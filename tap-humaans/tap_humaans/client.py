"""What is particular to Humaans: the Feathers envelope, `$limit`/`$skip` paging and the
`updatedAt[$gte]` filter with `$sort[updatedAt]=1`."""

from __future__ import annotations

import typing as t

from taps_shared import HumanRESTStream, TotalOffsetPaginator


class HumaansStream(HumanRESTStream):
    """A Humaans list endpoint: `GET /api/<resource>` → `{total, limit, skip, data}`."""

    records_key = "data"
    primary_keys: t.ClassVar[list[str]] = ["id"]

    @property
    def page_size(self) -> int:
        return int(self.config.get("page_size", 250))

    def get_new_paginator(self) -> TotalOffsetPaginator:
        return TotalOffsetPaginator(self.page_size, label=self.name, records_key="data")

    def page_params(self, next_page_token: t.Any) -> dict[str, t.Any]:
        return {"$limit": self.page_size, "$skip": next_page_token or 0}

    def incremental_params(self, since: str | None) -> dict[str, t.Any]:
        params: dict[str, t.Any] = {"$sort[updatedAt]": 1}
        if since is not None:
            params["updatedAt[$gte]"] = since
        return params
