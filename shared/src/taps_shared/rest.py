"""`HumanRESTStream`: the one RESTStream every tap builds on.

It takes its HTTP session, authenticator, rate limiter and retry policy from the tap (one of
each per run), maps every failure to a clear error, decodes each page once, and implements
incremental sync the same way everywhere: a server-side filter fixed at the start of the
sync, ascending order so an interrupted sync resumes, a client-side filter as a safety net,
and a full-scan fallback when the API rejects the filter.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import typing as t
from dataclasses import dataclass
from functools import cached_property, partial
from urllib.parse import urlsplit

import requests
from singer_sdk import RESTStream
from singer_sdk.helpers._state import get_state_if_exists
from singer_sdk.helpers._util import utc_now
from singer_sdk.pagination import SinglePagePaginator
from singer_sdk.streams.rest import PageContext

from taps_shared.auth import HumanAuth
from taps_shared.conform import SchemaDrift, compile_conformer
from taps_shared.dates import normalise_timestamp
from taps_shared.errors import ConfigError, ForbiddenError, HTTPStatusError, ResponseError
from taps_shared.pagination import DEFAULT_MAX_PAGES, GuardedPaginator, PageGuard
from taps_shared.parallel import in_order
from taps_shared.responses import check_response, json_body
from taps_shared.retry import with_retries

if t.TYPE_CHECKING:
    from datetime import datetime

    from singer_sdk.helpers.types import Context
    from singer_sdk.pagination import BaseAPIPaginator

    from taps_shared.tap import HumanTap
    from taps_shared.writer import BufferedMsgSpecWriter

Fetch = t.Callable[[t.Any], tuple[requests.PreparedRequest, requests.Response]]


class _Partition(threading.local):
    """What the sync of one partition knows, per thread: the main thread syncing one
    partition and a worker fetching the next one each see their own."""

    def __init__(self, label: str, max_pages: int) -> None:
        self.since: str | None = None  # the bookmark the server-side filter starts at
        self.guard = PageGuard(label, max_pages)
        self.extracted_at: datetime = utc_now()  # when the current page was fetched
        self.subject = ""  # whose data it is, where each user has their own credentials


class HumanRESTStream(RESTStream[t.Any]):
    """Base stream: resilient HTTP, envelope unwrapping, resumable incremental sync."""

    #: Key of the record list in the response body; None when the body is the list.
    records_key: str | None = "data"
    #: The permission a 403 means is missing; with it, `on_missing_scope` decides.
    required_scope: str | None = None
    #: Pages one partition may take before the run stops with an error.
    max_pages: int = DEFAULT_MAX_PAGES
    #: How the API orders an incremental stream: "ascending" by the replication key (as
    #: asked), "descending" (newest first: read until past the bookmark), or "unordered".
    #: Anything but ascending is buffered and emitted oldest first, so state only moves on.
    api_order: t.Literal["ascending", "descending", "unordered"] = "ascending"
    #: What a 404 on the first page means: None (an error), "skip" (the account's API does
    #: not offer this endpoint: one warning) or "empty" (no data for this partition).
    on_not_found: t.Literal["skip", "empty"] | None = None

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._part = _Partition(self.name, self.max_pages)
        self._prefetched: dict[str, _Fetched] = {}
        self._server_filter = True
        self.STATE_MSG_FREQUENCY = int(self.config.get("page_size") or 1000)
        self.logger.addFilter(_without_generic_failure_line)

    @property
    def tap(self) -> HumanTap:
        return t.cast("HumanTap", self._tap)

    @property
    def url_base(self) -> str:
        return self.tap.base_url

    @property
    def authenticator(self) -> requests.auth.AuthBase:
        return self.tap.authenticator

    @property
    def human_auth(self) -> HumanAuth | None:
        """The authenticator, when it can recover from a 401 (every one of ours can)."""
        auth = self.authenticator
        return auth if isinstance(auth, HumanAuth) else None

    @property
    def requests_session(self) -> requests.Session:
        return self.tap.requests_session

    @property
    def http_headers(self) -> dict:
        return {**super().http_headers, **self.tap.api_headers}

    @property
    def timeout(self) -> float:  # type: ignore[override]
        return self.tap.request_timeout

    @property
    def user_agent(self) -> str:  # type: ignore[override]
        return self.tap.user_agent

    @property
    def is_sorted(self) -> bool:  # type: ignore[override]
        """Sorted (so resumable) while the server filters and orders by the bookmark."""
        return self.replication_key is not None and self._server_filter

    # -- HTTP ---------------------------------------------------------------------------

    def request_decorator(self, func: t.Callable) -> t.Callable:
        return with_retries(
            func,
            policy=self.tap.retry_policy,
            limiter=self.tap.rate_limiter,
            auth=self.human_auth,  # the stream's own: per-user streams have their own
            label=self._label_call,
            logger=self.logger,
        )

    def _label_call(self, request: requests.PreparedRequest, *_: t.Any) -> str:
        return f"{self.name}: {request.method} {urlsplit(request.url or '').path}"

    def validate_response(self, response: requests.Response) -> None:
        check_response(response, self.name)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        records = self.extract_records(json_body(response), response)
        self._part.guard.check(records)
        self._part.extracted_at = utc_now()
        return records

    def extract_records(self, body: t.Any, response: requests.Response) -> list[dict]:
        """The records of one page: `body[records_key]`, or the body itself."""
        records = body if self.records_key is None else _get(body, self.records_key)
        if not isinstance(records, list):
            where = urlsplit(response.url).path
            key = f"a '{self.records_key}' list" if self.records_key else "a JSON list"
            msg = f"{self.name}: GET {where} returned {response.status_code} without {key}"
            raise ResponseError(msg)
        return records

    # -- records ------------------------------------------------------------------------

    @cached_property
    def _conformer(self) -> tuple[t.Callable[[dict], dict], SchemaDrift]:
        return compile_conformer(
            self.name,
            self.effective_schema,
            mask=self.mask,
            primary_keys=self.primary_keys or (),
            on_drift=self.config.get("on_schema_drift", "warn"),
        )

    @property
    def schema_drift(self) -> SchemaDrift:
        """What this stream's records said that its schema did not (so far)."""
        return self._conformer[1]

    # The SDK (0.54.x) writes each record here, after a selection pass and a conformance
    # pass that each walk the schema per value, and a message object per record: one
    # compiled conformer (taps_shared.conform) and the writer's `write_record` do the same.
    # Records carry the time their page was fetched. tests/test_sdk_internals.py pins this
    # override and the next one.
    def _write_record_message(self, record: dict) -> None:
        record = self._conformer[0](record)
        writer = t.cast("BufferedMsgSpecWriter", self._tap.message_writer)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                writer.write_record(
                    stream_map.stream_alias, mapped, self._stream_version, self._part.extracted_at
                )
        self.state_manager.is_flushed = False

    def _process_record(
        self,
        record: dict,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # The SDK adds the partition's keys to the record and syncs child streams; a
        # stream with neither has nothing to do here, per record.
        if partition_context or self.child_streams:
            super()._process_record(record, child_context, partition_context)

    # -- incremental --------------------------------------------------------------------

    def incremental_params(self, since: str | None) -> dict[str, t.Any]:
        """Query parameters sorting ascending by the replication key, and filtering on the
        bookmark when there is one (`since`)."""
        return {}

    def page_params(self, next_page_token: t.Any) -> dict[str, t.Any]:
        """Query parameters selecting a page."""
        return {}

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        params = self.page_params(next_page_token)
        if self.replication_key and self._server_filter:
            params.update(self.incremental_params(self._part.since))
        return params

    def starting_bookmark(self, context: Context | None) -> str | None:
        """The bookmark (or start_date) to resume from, in the canonical format."""
        if not self.replication_key:
            return None
        value = self.get_starting_replication_key_value(context)
        if value is None:
            return None
        return normalise_timestamp(str(value), f"the {self.name} bookmark")

    def bookmark_value(self, row: dict) -> str | None:
        """The record's replication key value in the canonical format."""
        value = row.get(self.replication_key)  # type: ignore[arg-type]
        if not isinstance(value, str):
            return None
        since = self._part.since
        if since is not None and len(value) == len(since) and value.endswith("Z"):
            return value  # already canonical: the common, cheap case
        return normalise_timestamp(value, f"{self.name}.{self.replication_key}")

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Drop records older than the bookmark (the server's filter may be coarse)."""
        since = self._part.since
        if since is not None:
            value = self.bookmark_value(row)
            if value is not None and value < since:
                return None
        return row

    # -- the sync -----------------------------------------------------------------------

    def begin_partition(self, context: Context | None) -> None:
        """Set what this thread needs to know to fetch the partition (`self._part`)."""

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        self.begin_partition(context)
        self._part.since = self.starting_bookmark(context)
        records: t.Iterable[dict] = self._prefetched_or_requested(context)
        if self.replication_key and self.api_order != "ascending":
            records = self._oldest_first(records)
        count = 0
        for record in records:
            count += 1
            yield record
        self.logger.info(
            "Stream %s: %d records in %d pages", self.name, count, self._part.guard.pages
        )

    def _oldest_first(self, records: t.Iterable[dict]) -> list[dict]:
        """Buffer what the API returns, up to the bookmark when it sends newest first."""
        kept = []
        since = self._part.since
        for record in records:
            value = self.bookmark_value(record)
            if self.api_order == "descending" and since and value and value < since:
                break  # everything after this is older still: stop paging
            kept.append(record)
        kept.sort(key=lambda record: self.bookmark_value(record) or "")
        return kept

    def _request_all(self, context: Context | None) -> t.Iterator[dict]:
        """Every record of the partition, recovering from first-page errors that allow it."""
        yielded = False
        while True:
            self._part.guard = PageGuard(self.name, self.max_pages)
            try:
                for record in self._paged_records(context):
                    yielded = True
                    yield record
                return
            except HTTPStatusError as exc:
                if yielded or not self._recover(exc):
                    raise
                if not self._server_filter:
                    continue  # the retry without the server-side filter
                return

    # -- partitions fetched ahead (children of the next parent records) ------------------

    def with_children_prefetched(
        self, records: t.Iterable[dict], context: Context | None, workers: int
    ) -> t.Iterator[dict]:
        """This (parent) stream's records, while worker threads fetch the child partitions
        of the next `workers` of them. The SDK then syncs each child partition as usual,
        in order, from what was fetched: output and state are those of a serial run."""
        children = [child for child in self.child_streams if isinstance(child, HumanRESTStream)]
        children = [child for child in children if child.selected]
        if workers < 2 or not children:
            yield from records
            return
        tasks = (self._prefetch_task(record, context, children) for record in records)
        for record, fetched in in_order(tasks, workers, f"{self.name}-children"):
            for child, child_context, result in fetched:
                child._prefetched[_key(child_context)] = result
            yield record

    def _prefetch_task(
        self, record: dict, context: Context | None, children: list[HumanRESTStream]
    ) -> t.Callable[[], tuple[dict, list]]:
        """Plan, in the main thread, what a worker fetches for one parent record."""
        processed = self.post_process(copy.deepcopy(record), context)
        child_context = None if processed is None else self.get_child_context(processed, context)
        plans = []
        if child_context is not None:
            for child in children:
                plans.append((child, child_context, child._starting_bookmark_hint(child_context)))

        def fetch() -> tuple[dict, list]:
            return record, [(c, ctx, c._fetch_partition(ctx, since)) for c, ctx, since in plans]

        return fetch

    def _starting_bookmark_hint(self, context: Context) -> str | None:
        """Where the partition's sync will start (its bookmark, or start_date if later),
        read without creating its state entry. A wrong guess costs a refetch, no more."""
        if not self.replication_key:
            return None
        state = get_state_if_exists(self.tap_state, self.name, context) or {}
        bookmark = state.get("replication_key_value")
        if state.get("replication_key") != self.replication_key:
            bookmark = None
        values = [v for v in (bookmark, self.config.get("start_date")) if v]
        return max((normalise_timestamp(str(v), "a bookmark") for v in values), default=None)

    def _fetch_partition(self, context: Context, since: str | None) -> _Fetched:
        """Every record of one partition, in a worker thread; errors are kept for later."""
        self.begin_partition(context)
        self._part.since = since
        self._part.guard = guard = PageGuard(self.name, self.max_pages)
        try:
            return _Fetched(since, list(self._paged_records(context)), guard)
        except HTTPStatusError as exc:
            if exc.status == 404 and self.on_not_found == "empty":
                return _Fetched(since, [], guard)  # no data for this partition
            return _Fetched(since, [], guard, exc)
        except Exception as exc:  # raised, or recovered from, when the partition syncs
            return _Fetched(since, [], guard, exc)

    def _prefetched_or_requested(self, context: Context | None) -> t.Iterable[dict]:
        fetched = self._prefetched.pop(_key(context), None)
        if fetched is None or fetched.since != self._part.since:
            return self._request_all(context)
        if isinstance(fetched.error, HTTPStatusError):
            return self._request_all(context)  # again, in order, where _recover can act
        if fetched.error is not None:
            raise fetched.error
        self._part.guard = fetched.guard
        return fetched.records

    def _paged_records(self, context: Context | None) -> t.Iterator[dict]:
        """The SDK's page loop, except that when the first page tells how many follow, the
        rest are fetched `max_parallel_requests` at a time, still emitted in page order."""
        paginator = self.get_new_paginator() or SinglePagePaginator()
        send = self.request_decorator(self._request)

        def fetch(token: t.Any) -> tuple[requests.PreparedRequest, requests.Response]:
            request = self._prepare_page(context, token)
            return request, send(request, context)

        with self.get_http_request_counter() as counter:
            counter.with_context(context)
            for request, response in self._responses(paginator, fetch):
                counter.increment()
                self.update_sync_costs(request, response, context)
                records = self.parse_response(response)
                if not records:
                    return
                yield from records

    def _responses(
        self, paginator: BaseAPIPaginator, fetch: Fetch
    ) -> t.Iterator[tuple[requests.PreparedRequest, requests.Response]]:
        workers = self.tap.max_parallel_requests
        if self.api_order == "descending" and self._part.since:
            workers = 1  # newest first, reading stops at the bookmark: no pages ahead
        while not paginator.finished:
            request, response = fetch(paginator.current_value)
            yield request, response
            paginator.advance(response)
            if paginator.finished or workers < 2 or not isinstance(paginator, GuardedPaginator):
                continue
            planned = paginator.plan(response)
            if len(planned) < 2:
                continue
            partition = vars(self._part).copy()  # the workers fetch for this partition
            tasks = (partial(self._fetch_in, partition, fetch, token) for token in planned)
            for request, response in in_order(tasks, workers, f"{self.name}-pages"):
                yield request, response
            paginator.resume(planned, response)

    def _fetch_in(
        self, partition: dict[str, t.Any], fetch: Fetch, token: t.Any
    ) -> tuple[requests.PreparedRequest, requests.Response]:
        """`fetch(token)` in a worker thread, as part of the given partition."""
        vars(self._part).update(partition)
        return fetch(token)

    def _prepare_page(self, context: Context | None, token: t.Any) -> requests.PreparedRequest:
        """The request for one page (the SDK's `_prepare_request`, for any token)."""
        page = PageContext(stream_context=context, next_page_token=token)
        http = self.get_http_request(page=page)
        body = {"json": http.data} if self.payload_as_json else {"data": http.data}
        return self.build_prepared_request(
            method=http.method,
            url=http.url,
            params=http.encode_params(),
            headers=http.headers,
            **body,
        )

    def _recover(self, exc: HTTPStatusError) -> bool:
        """Handle a first-page error that need not end the run; False re-raises it."""
        if exc.status == 404 and self.on_not_found == "empty":
            return True
        if exc.status == 404 and self.on_not_found == "skip":
            self.logger.warning(
                "Skipping stream %s: this account's API does not offer it (%s)", self.name, exc
            )
            return True
        if exc.status == 400 and self.replication_key and self._server_filter:
            self.logger.warning(
                "Stream %s: the API rejected the incremental filter (%s); falling back to a "
                "full scan filtered client-side",
                self.name,
                exc.api_message or "400",
            )
            self._server_filter = False
            # The SDK's state manager caches is_sorted when built (0.54.x): rebuild it so
            # this unsorted scan keeps progress markers and bookmarks the maximum.
            self._state_manager = None
            return True
        if isinstance(exc, ForbiddenError) and self.required_scope:
            reason = f"the credentials lack scope {self.required_scope} ({exc})"
            if self.config.get("on_missing_scope", "fail") == "warn":
                self.logger.warning(
                    "Skipping stream %s: %s. Set on_missing_scope=fail to make this an error",
                    self.name,
                    reason,
                )
                return True
            msg = f"Stream {self.name}: {reason}; grant the scope or set on_missing_scope=warn"
            raise ConfigError(msg) from None
        return False


@dataclass
class _Fetched:
    """One partition fetched ahead: its records, or the error fetching it raised."""

    since: str | None
    records: list[dict]
    guard: PageGuard
    error: Exception | None = None


def _key(context: Context | None) -> str:
    return json.dumps(context, sort_keys=True, default=str)


def _without_generic_failure_line(record: logging.LogRecord) -> bool:
    """Drop the SDK's "An unhandled error occurred while syncing" line: the run ends with
    one line that names the stream and says what failed, and a second is noise."""
    return not str(record.msg).startswith("An unhandled error occurred while syncing")


def _get(body: t.Any, key: str) -> t.Any:
    return body.get(key) if isinstance(body, dict) else None
