"""What is particular to Humaans: the Feathers envelope `{total, limit, skip, data}`, paged
with `$limit`/`$skip` (at most 250), and the `updatedAt[$gte]` filter sorted with
`$sort[updatedAt]=1`."""

from __future__ import annotations

import typing as t

from taps_shared import HumanRESTStream, IncrementalFilter, OffsetPaging


class HumaansStream(HumanRESTStream):
    """A Humaans list endpoint: `GET /api/<resource>`, incremental on `updatedAt`."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = "updatedAt"
    records_key = "data"
    paging = OffsetPaging(limit="$limit", offset="$skip", limit_key="limit")
    page_limit = 250
    incremental = IncrementalFilter("updatedAt[$gte]", sort={"$sort[updatedAt]": 1})
