"""What is particular to Humanos: `{data, totalPages}` pages with `pageIndex`/`pageSize` and
day-rounded `dateFrom` filters (signing and the `API-Version` header live in the tap); a
request's detail that completes it and carries its credentials; an evidence route older
API versions lack; webhook registrations that may carry their secrets."""

from __future__ import annotations

import re
import typing as t
from functools import cached_property, partial

from taps_shared import HumanRESTStream, IncrementalFilter, PageNumberPaging
from taps_shared.errors import HTTPStatusError
from taps_shared.pages import PageGuard
from taps_shared.parallel import in_order
from taps_shared.streams import prefetch

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: Field names of secrets a webhook registration may carry: never emitted.
_SECRET_NAME = re.compile(r"secret|salt|password|token", re.IGNORECASE)


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
    detail: that request has no agent, issuer or credentials (one warning counts them)."""

    missing_details = 0

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

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        records = super().get_records(context)
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
        record["agent"] = detail.get("agent")
        record["issuer"] = detail.get("issuer")


class CredentialsStream(HumanosStream):
    """`GET /request/{requestId}`: the credentials of each request's detail, each with
    `requestId`; the detail's agent and issuer go to the request's record, which the SDK
    writes after its children. The requests of the credentials' own children (details,
    evidence) are made `max_parallel_requests` credentials ahead."""

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        assert context is not None  # a child of requests
        bodies = list(super().get_records(context))  # one detail, or none after a 404
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
                self.logger.warning(
                    "Skipping stream %s: this API version does not serve it (%s)", self.name, exc
                )

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
