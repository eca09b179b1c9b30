"""What is particular to Humaans: the Feathers envelope `{total, limit, skip, data}`, paged
with `$limit`/`$skip` (at most 250), the `updatedAt[$gte]` filter sorted with
`$sort[updatedAt]=1`, and the key sweep that finds deleted records: Feathers' standard
`$select[]=id`, `$sort[id]=1` and `id[$gt]=<last id>`, ids only, paged by id."""

from __future__ import annotations

import typing as t

from taps_shared import HumanRESTStream, IncrementalFilter, KeySweep, OffsetPaging


class HumaansStream(HumanRESTStream):
    """A Humaans list endpoint: `GET /api/<resource>`, incremental on `updatedAt`."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = "updatedAt"
    records_key = "data"
    paging = OffsetPaging(limit="$limit", offset="$skip", limit_key="limit")
    page_limit = 250
    incremental = IncrementalFilter("updatedAt[$gte]", sort={"$sort[updatedAt]": 1})
    sweep = KeySweep(params={"$select[]": "id", "$sort[id]": 1}, after="id[$gt]")
