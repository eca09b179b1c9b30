"""What is particular to Humanos: `{data, totalPages}` pages with `pageIndex`/`pageSize`,
day-rounded `dateFrom` filters, and canceled requests as its deletes (signing and the
`API-Version` header live in the tap)."""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

from taps_shared import HumanRESTStream, IncrementalFilter, PageNumberPaging
from taps_shared.dates import normalise_timestamp
from taps_shared.errors import HTTPStatusError, ResponseError
from taps_shared.streams.deletes import TOMBSTONE

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: The largest page the API serves.
PAGE_MAX = 100


class HumanosStream(HumanRESTStream):
    """A Humanos list endpoint."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    records_key: str | None = "data"
    paging = PageNumberPaging(index="pageIndex", size="pageSize")
    # The API rounds dateFrom down to the start of its day; the base stream drops the
    # records of that day that are older than the bookmark.
    incremental = IncrementalFilter("dateFrom")


class RequestsStream(HumanosStream):
    """`GET /request`, where a canceled request is a deleted one (v1 answers 404 for it).
    A request listed with `canceledAt` is emitted whole, with `_sdc_deleted_at` set to that
    time. One canceled after it was emitted is never listed again (the stream reads only
    new requests): the `REQUEST_CANCELED` events of the activity log tell of it, and it gets
    a tombstone. API versions without the activity log (v1) report no cancellations."""

    signals = True

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        kept = super().post_process(row, context)
        if kept is not None and kept.get("canceledAt"):
            kept[TOMBSTONE] = kept["canceledAt"]
        return kept

    def deletion_signals(self, cursor: t.Any) -> tuple[set[tuple], dict] | None:
        """The requests of the `REQUEST_CANCELED` events after `cursor` (`{since, seen}`:
        the newest event read so far, and the ids of the events at that instant)."""
        since = (cursor or {}).get("since")
        seen = set((cursor or {}).get("seen") or ())
        events = self._cancellations(since)
        if events is None:
            return None
        fresh = [e for e in events if since is None or e["at"] > since or e["id"] not in seen]
        newest = max((e["at"] for e in events), default=since)
        at_newest = {e["id"] for e in events if e["at"] == newest}
        if newest == since:
            at_newest |= seen
        keys = {(e["entityId"],) for e in fresh if e.get("entityId")}
        return keys, {"since": newest, "seen": sorted(at_newest)}

    def _cancellations(self, since: str | None) -> list[dict] | None:
        """`GET /activity?type=REQUEST_CANCELED`, newest first, down to `since` (inclusive;
        everything when None); None when the API version has no activity log (404)."""
        query = {"type": "REQUEST_CANCELED", "entityType": "request", "pageSize": PAGE_MAX}
        if since is not None:
            query["dateFrom"] = since[:10]  # the API rounds it down to the day
        events: list[dict] = []
        index = 0
        while True:
            path = f"/activity?{urlencode({**query, 'pageIndex': index})}"
            try:
                body = self.tap.get_json(path, f"{self.name} cancellations")
            except HTTPStatusError as exc:
                if exc.status == 404 and index == 0:
                    return None
                raise
            page = body.get("data") if isinstance(body, dict) else None
            if not isinstance(page, list):
                msg = f"{self.name}: GET /activity returned no 'data' list"
                raise ResponseError(msg)
            for event in page:
                at = normalise_timestamp(str(event.get("createdAt")), "an activity createdAt")
                if since is not None and at < since:
                    return events  # newest first: the rest is older still
                events.append({**event, "at": at})
            index += 1
            total = body.get("totalPages")
            if not page or not isinstance(total, int) or index >= total:
                return events
