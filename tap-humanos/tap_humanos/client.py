"""What is particular to Humanos: `{data, totalPages}` pages with `pageIndex`/`pageSize` and
day-rounded `dateFrom` filters (signing and the `API-Version` header live in the tap)."""

from __future__ import annotations

import typing as t

from taps_shared import HumanRESTStream, IncrementalFilter, PageNumberPaging


class HumanosStream(HumanRESTStream):
    """A Humanos list endpoint."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    records_key: str | None = "data"
    paging = PageNumberPaging(index="pageIndex", size="pageSize")
    # The API rounds dateFrom down to the start of its day; the base stream drops the
    # records of that day that are older than the bookmark.
    incremental = IncrementalFilter("dateFrom")
