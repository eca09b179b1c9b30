"""What is particular to OpenHuman: `{data, has_more, next_cursor}` pages with `limit` and
`cursor`, and exclusive `updated_after`-style filters (without one the API lists newest
first, so a first run without start_date still sends the epoch)."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta

from taps_shared import CursorPaging, HumanRESTStream, IncrementalFilter

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: The filter value of a first run without start_date: every record is later than this.
EPOCH = "1970-01-01T00:00:00.000Z"
#: Days of usage read on a first run without start_date.
USAGE_DEFAULT_DAYS = 365


def after(param: str) -> IncrementalFilter:
    """An exclusive lower bound on the replication key, named `param`."""
    return IncrementalFilter(param, inclusive=False, initial=EPOCH)


class OpenHumanStream(HumanRESTStream):
    """An OpenHuman list endpoint (the documented agents, or a proposed resource)."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = "updated_at"
    records_key: str | None = "data"
    paging = CursorPaging(limit="limit", cursor="cursor")
    incremental = after("updated_after")

    def request_all(self, context: Context | None) -> t.Iterator[dict]:
        """Every record; none, with one warning, when the run has no credential for the
        /v1 API (only the hosted backend's backend_token)."""
        if self.tap.v1_mode is None:  # type: ignore[attr-defined]
            self.logger.warning(
                "Skipping stream %s: no credential for the /v1 API (set api_key, or the "
                "OAuth settings)",
                self.name,
            )
            return
        yield from super().request_all(context)


class UsageStream(OpenHumanStream):
    """`GET /v1/usage?start_date&end_date` (proposed): one row per day and model."""

    def incremental_params(self, since: str | None) -> dict[str, t.Any]:
        # Inclusive dates: the bookmark's day is read again, as its counts may have grown.
        today = datetime.now(UTC).date()
        start = since[:10] if since else (today - timedelta(days=USAGE_DEFAULT_DAYS)).isoformat()
        return {"start_date": start, "end_date": today.isoformat()}
