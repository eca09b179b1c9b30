"""What is particular to Humanos: `{data, totalPages}` pages with `pageIndex`/`pageSize` and
day-rounded `dateFrom` filters (signing and the `API-Version` header live in the tap); a
request's detail that completes it and carries its credentials; an evidence route older
API versions lack; webhook registrations and agents that may carry their secrets; canceled
requests as its deletes."""

from __future__ import annotations

import re
import typing as t
from functools import cached_property, partial
from urllib.parse import urlencode

from taps_shared import HumanRESTStream, IncrementalFilter, PageNumberPaging
from taps_shared.dates import normalise_timestamp
from taps_shared.errors import HTTPStatusError, ResponseError
from taps_shared.pages import PageGuard
from taps_shared.parallel import in_order
from taps_shared.streams import prefetch
from taps_shared.streams.deletes import TOMBSTONE

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: Field names of secrets a webhook registration or an agent may carry: never emitted.
_SECRET_NAME = re.compile(r"secret|salt|password|token|api_?key", re.IGNORECASE)

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
    """`GET /request`, each request completed by its detail: the request-level `agent` and
    `issuer` of `GET /request/{requestId}`, the request `credentials` reads (no request
    more). When `credentials` is not extracted but `agent` or `issuer` is, the same detail
    requests are made for them alone; when neither is, none. Details are read
    `max_parallel_requests` requests ahead. v1 answers 404 for a canceled request's
    detail: that request has no agent, issuer or credentials (one warning counts them). An
    agent's secrets (an `apiKey`, the v1 OpenAPI says) are dropped like a webhook's.

    A canceled request is a deleted one. A request listed with `canceledAt` is emitted
    whole, with `_sdc_deleted_at` set to that time. One canceled after it was emitted is
    never listed again (the stream reads only new requests): the `REQUEST_CANCELED` events
    of the activity log tell of it, and it gets a tombstone. API versions without the
    activity log (v1) report no cancellations."""

    missing_details = 0
    signals = True

    @property
    def details(self) -> CredentialsStream:
        """The stream that reads each request's detail."""
        (child,) = self.child_streams
        return t.cast("CredentialsStream", child)

    @cached_property
    def wants_agent_or_issuer(self) -> bool:
        mask = self.mask
        return bool(
            self.selected and (mask[("properties", "agent")] or mask[("properties", "issuer")])
        )

    def partition_records(self, context: Context | None) -> t.Iterable[dict]:
        records = super().partition_records(context)
        workers = self.tap.max_parallel_requests
        if self.details.selected or self.details.has_selected_descendents:
            records = self.with_children_prefetched(records, context, workers)
        elif self.wants_agent_or_issuer:
            records = self._with_details(records, workers)
        yield from records
        if self.missing_details:
            self.logger.warning(
                "Stream %s: %d request(s) answered 404 on GET /request/{requestId} (v1 does "
                "for canceled requests): no agent, issuer or credentials for them",
                self.name,
                self.missing_details,
            )

    def _with_details(self, records: t.Iterable[dict], workers: int) -> t.Iterator[dict]:
        """The records completed by details the `credentials` stream reads but does not
        emit, in worker threads."""

        def fetch(record: dict) -> tuple[dict, prefetch.Fetched]:
            context = {"requestId": record["id"]}
            return record, self.details.fetch_ahead(context, None)

        tasks = (partial(fetch, record) for record in records)
        for record, fetched in in_order(tasks, workers, f"{self.name}-details"):
            if fetched.error is not None:
                raise fetched.error
            self.complete(record, next(iter(fetched.records), None))
            yield record

    def complete(self, record: dict, detail: dict | None) -> None:
        """Add a detail's agent and issuer to its request's record (None: no detail)."""
        if detail is None:
            self.missing_details += 1
            detail = {}
        record["agent"] = without_secrets(detail.get("agent"))
        record["issuer"] = detail.get("issuer")

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


class CredentialsStream(HumanosStream):
    """`GET /request/{requestId}`: the credentials of each request's detail, each with
    `requestId`; the detail's agent and issuer go to the request's record, which the SDK
    writes after its children. The requests of the credentials' own children (details,
    evidence) are made `max_parallel_requests` credentials ahead."""

    def partition_records(self, context: Context | None) -> t.Iterable[dict]:
        assert context is not None  # a child of requests
        bodies = list(super().partition_records(context))  # one detail, or none after a 404
        detail = bodies[0] if bodies else None
        requests = t.cast("RequestsStream", self.tap.streams[self.parent_name])
        requests.complete(requests.current_record, detail)
        credentials = [
            {**credential, "requestId": context["requestId"]}
            for credential in (detail or {}).get("credentials") or []
        ]
        workers = self.tap.max_parallel_requests
        return self.with_children_prefetched(credentials, context, workers)

    @property
    def parent_name(self) -> str:
        return t.cast("str", getattr(self.parent_stream_type, "name", ""))


class EvidenceStream(HumanosStream):
    """`GET /credential/{credentialId}/evidence`, which older API versions (v1) do not
    route: the first NestJS `Cannot GET` 404 skips the stream with one warning and no
    further requests. Another 404 (a credential gone since its request was read) means
    no evidence for that credential."""

    not_offered = False

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        if self.not_offered:
            self.prefetched.pop(prefetch.partition_key(context), None)
            return
        try:
            yield from super().request_records(context)
        except HTTPStatusError as exc:
            if exc.status != 404:
                raise
            if "Cannot GET" in exc.api_message:
                self.not_offered = True
                self.skip_listing(f"this API version does not serve it ({exc})")

    def fetch_ahead(self, context: Context, since: str | None) -> prefetch.Fetched:
        if self.not_offered:
            return prefetch.Fetched(since, [], PageGuard(self.name, self.max_pages))
        return super().fetch_ahead(context, since)


class WebhooksStream(HumanosStream):
    """`GET /webhooks`: every field whose name says secret, salt, password or token (the
    signing secret, the payload encryption secret and salt) is dropped, at any depth,
    before anything is written: none reaches a record, `_extra` or a log."""

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        return t.cast("dict", without_secrets(super().post_process(row, context)))


def without_secrets(value: t.Any) -> t.Any:
    """`value` without the fields named like secrets, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not _SECRET_NAME.search(k)}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value
