"""`HumanRESTStream`: the one stream class every tap builds on.

It sends through the tap's transport (one session, rate limiter and retry policy per run),
maps every failure to a clear error, decodes each page once, fetches the pages of a listing
in parallel when it knows how many there are, and implements incremental sync the same way
everywhere: a server-side filter fixed at the start of the sync, ascending order so an
interrupted sync resumes, a client-side filter as a safety net, and a full-scan fallback
when the API rejects the filter. What differs between APIs is data on the class: its
`paging`, its `incremental` filter, where its records are (`records_key`), how it lists
only its keys (`sweep`, for `streams.tombstones`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import typing as t
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import quote, urlsplit

import orjson
from singer_sdk.pagination import SinglePagePaginator
from singer_sdk.streams.rest import PageContext

from taps_shared.auth import HumanAuth
from taps_shared.dates import normalise_timestamp
from taps_shared.errors import (
    ConfigError,
    ForbiddenError,
    HTTPStatusError,
    ListingShifted,
    PaginationError,
    ResponseError,
)
from taps_shared.pages import DEFAULT_MAX_PAGES, Page, PageGuard, Paging, page_responses
from taps_shared.responses import json_body
from taps_shared.sdk import SDKStream
from taps_shared.spill import Spool, sorted_records
from taps_shared.streams import prefetch
from taps_shared.streams.conformed import ConformedStream
from taps_shared.streams.filters import IncrementalFilter
from taps_shared.streams.tombstones import TombstoningStream

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.pagination import BaseAPIPaginator

    from taps_shared.tap import HumanTap


class _Partition(threading.local):
    """What the sync of one partition knows, per thread: the main thread syncing one
    partition and a worker fetching the next one each see their own."""

    def __init__(self, label: str, max_pages: int) -> None:
        self.since: str | None = None  # the bookmark the server-side filter starts at
        self.guard = PageGuard(label, max_pages)
        self.extracted_at = datetime.now(UTC)  # when the current page was fetched
        self.subject = ""  # whose data it is, where each user has their own credentials
        self.unkeyed = 0  # records without a replication key value in this partition
        self.skipped = False  # the partition's endpoint was skipped (404 "skip", 403 warn)
        self.complete = False  # the partition's listing was read to the end
        self.sweeping: t.Literal["keys", "plain"] | None = None  # listing keys (a sweep)


class HumanRESTStream(TombstoningStream, ConformedStream, SDKStream):
    """Base stream: resilient HTTP, records where the API puts them, resumable sync."""

    #: Key of the record list in the response body; None when the body is the list.
    records_key: str | None = "data"
    #: The body is one object, this stream's one record per request (a detail endpoint).
    one_record: bool = False
    #: How the API pages; None for endpoints that return everything at once.
    paging: Paging | None = None
    #: The endpoint's largest page; the `page_size` setting asks for less.
    page_limit: int = 100
    #: The server-side filter on the replication key (None: filter client-side only).
    incremental: IncrementalFilter | None = None
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
    #: Child context given to child streams: child key → field of this stream's record.
    child_context_keys: t.ClassVar[t.Mapping[str, str]] = {}

    tap: HumanTap

    def __init__(self, tap: HumanTap, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(tap, *args, **kwargs)
        self._part = _Partition(self.name, self.max_pages)
        self.prefetched: dict[str, prefetch.Fetched] = {}
        self._server_filter = True
        self.current_record: dict = {}  # the parent record whose children are syncing
        self.STATE_MSG_FREQUENCY = int(self.config.get("page_size") or 1000)
        self.logger.addFilter(_without_generic_failure_line)

    @property
    def url_base(self) -> str:
        return self.tap.base_url

    @property
    def authenticator(self) -> HumanAuth:
        return self.tap.authenticator

    @property
    def http_headers(self) -> dict:
        return {**super().http_headers, **self.tap.api_headers}

    @property
    def page_size(self) -> int:
        """What each page asks for: the `page_size` setting, within the endpoint's limit."""
        return min(int(self.config.get("page_size") or self.page_limit), self.page_limit)

    @property
    def is_sorted(self) -> bool:  # type: ignore[override]
        """Sorted (so resumable) while the server filters and orders by the bookmark."""
        return self.replication_key is not None and self._server_filter

    # -- requests -----------------------------------------------------------------------

    def get_url(self, context: Context | None) -> str:
        """The endpoint's URL, each `{key}` replaced by the context's value as one quoted
        path segment: ids come from the server, and a `/`, `?`, `#` or `..` in one must not
        change which resource is asked for."""
        url = self.url_base + (self.path or "")
        for key, value in (context or {}).items():
            segment = quote(str(value), safe="")
            if segment in {"", ".", ".."}:  # a URL parser would drop or resolve it
                msg = f"{self.name}: the API gave {key} {str(value)!r}, which names no resource"
                raise ResponseError(msg)
            url = url.replace(f"{{{key}}}", segment)
        return url

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        if self._part.sweeping:
            return self.sweep_params(next_page_token)
        params = self.paging.params(next_page_token, self.page_size) if self.paging else {}
        if self.replication_key and self._server_filter:
            params.update(self.incremental_params(self._part.since))
        return params

    def incremental_params(self, since: str | None) -> dict[str, t.Any]:
        """Query parameters ordering by the replication key and filtering on the bookmark
        (`since`, when there is one)."""
        return self.incremental.params(since) if self.incremental else {}

    def get_new_paginator(self) -> BaseAPIPaginator | None:
        if self.paging is None:
            return None
        if self._part.sweeping == "keys" and self.sweep_is_keyset:
            key = (self.sweep and self.sweep.key) or self.primary_keys[0]
            return self.paging.keyset(key, self.page_size, self.records_key, self.name)
        return self.paging.paginator(self.page_size, self.records_key, self.name)

    def parse_response(self, response: requests.Response) -> list[dict]:
        records = self.extract_records(json_body(response), response)
        self._part.guard.check(records)
        self._part.extracted_at = datetime.now(UTC)
        return records

    def extract_records(self, body: t.Any, response: requests.Response) -> list[dict]:
        """The records of one page: `body[records_key]`, the body itself, or (`one_record`)
        the body as the one record."""
        if self.one_record and isinstance(body, dict):
            return [body]
        records = body if self.records_key is None else _get(body, self.records_key)
        if not isinstance(records, list):
            where = urlsplit(response.url).path
            key = f"a '{self.records_key}' list" if self.records_key else "a JSON list"
            if self.one_record:
                key = "a JSON object"
            msg = f"{self.name}: GET {where} returned {response.status_code} without {key}"
            raise ResponseError(msg)
        return records

    def get_child_context(self, record: dict, context: Context | None) -> dict | None:
        self.current_record = record
        if not self.child_context_keys:
            return t.cast("dict | None", super().get_child_context(record, context))
        return {key: record[field] for key, field in self.child_context_keys.items()}

    # -- records ------------------------------------------------------------------------

    @property
    def time_extracted(self) -> datetime:
        """When the page of the record being written was fetched."""
        return self._part.extracted_at

    @cached_property
    def _parent_keys(self) -> tuple[str, ...]:
        """The parent's keys a child stream's records carry (those its schema declares)."""
        if self.parent_stream_type is None:
            return ()
        declared = self.schema.get("properties", {})
        return tuple(key for key in self.tap_parent_keys() if key in declared)

    def tap_parent_keys(self) -> t.Iterable[str]:
        """The keys of the child context the parent gives this stream."""
        parent = self.parent_stream_type
        return getattr(parent, "child_context_keys", {}).keys()

    # -- incremental --------------------------------------------------------------------

    def starting_bookmark(self, context: Context | None) -> str | None:
        """The bookmark (or start_date) to resume from, in the canonical format."""
        if not self.replication_key:
            return None
        value = self.get_starting_replication_key_value(context)
        if value is None:
            return None
        return normalise_timestamp(str(value), f"the {self.name} bookmark")

    def bookmark_value(self, row: dict) -> str | None:
        """The record's replication key value in the canonical format (UTC, milliseconds,
        Z): as strings, canonical values compare as the instants they are."""
        value = row.get(self.replication_key)  # type: ignore[arg-type]
        if not isinstance(value, str):
            return None
        if len(value) == 24 and value[10] == "T" and value[19] == "." and value[23] == "Z":
            return value  # already canonical: the common, cheap case
        return normalise_timestamp(value, f"{self.name}.{self.replication_key}")

    def state_record(self, record: dict, context: Context | None) -> dict | None:
        """The bookmark moves on the canonical value, never on the string as sent. A record
        without a replication key value is emitted but cannot bookmark, and a server-side
        filter on the bookmark would skip it next time: from the first such record on, its
        partition keeps no bookmark, and the next run reads it in full."""
        if not self.replication_key:
            return record
        value = self.bookmark_value(record)
        if value is None or self._part.unkeyed:
            self._part.unkeyed += value is None
            self.flush_bookmark()  # then dropped with the rest of the bookmark
            state = self.get_context_state(context)
            state.pop("replication_key_value", None)
            state.pop("progress_markers", None)
            return None
        return {self.replication_key: value}

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Drop records older than the bookmark (the server's filter may be coarse); a
        child's records carry their parent's key."""
        since = self._part.since
        if since is not None:
            value = self.bookmark_value(row)
            if value is not None and value < since:
                return None
        if context:
            for key in self._parent_keys:
                row.setdefault(key, context[key])
        return row

    # -- the sync -----------------------------------------------------------------------

    def begin_partition(self, context: Context | None) -> None:
        """Set what this thread needs to know to fetch the partition (`self._part`)."""

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        self.begin_partition(context)
        self._part.since = self.starting_bookmark(context)
        self._part.unkeyed = 0
        self._part.skipped = self._part.complete = False
        self.swept_ahead = None
        records: t.Iterable[dict] = self._prefetched_or_requested(context)
        if self.replication_key and self.api_order != "ascending":
            records = self._oldest_first(records)
        count = 0
        for record in records:
            count += 1
            self.note_listed(record, context)
            yield record
        self._part.complete = not self._part.skipped
        self.logger.info(
            "Stream %s: %d records in %d pages", self.name, count, self._part.guard.pages
        )
        if self._part.unkeyed:
            self.logger.warning(
                "Stream %s: %d record(s) without %s: no bookmark kept, so the next run reads "
                "the stream in full",
                self.name,
                self._part.unkeyed,
                self.replication_key,
            )

    def _oldest_first(self, records: t.Iterable[dict]) -> t.Iterator[dict]:
        """What the API returns, oldest first (up to the bookmark when it sends newest
        first), sorted in bounded memory: a large partition spills to disk."""
        return sorted_records(
            self._newer_than_bookmark(records), key=lambda r: self.bookmark_value(r) or ""
        )

    def _newer_than_bookmark(self, records: t.Iterable[dict]) -> t.Iterator[dict]:
        since = self._part.since
        for record in records:
            value = self.bookmark_value(record)
            if self.api_order == "descending" and since and value and value < since:
                return  # everything after this is older still: stop paging
            yield record

    def request_all(self, context: Context | None) -> t.Iterator[dict]:
        """Every record of the partition, recovering from first-page errors that allow it,
        and reading the listing again when it shifts between two pages."""
        yielded = False
        read = _ReadSoFar(self)
        while True:
            self._part.guard = PageGuard(self.name, self.max_pages)
            try:
                for page in self.paged_lists(context):
                    records = read.page(page)
                    yielded = yielded or bool(records)
                    yield from records
                return
            except ListingShifted as exc:
                read.restart(exc)
            except HTTPStatusError as exc:
                if yielded or not self._recover(exc):
                    raise
                if not self._server_filter:
                    continue  # the retry without the server-side filter
                return

    def _prefetched_or_requested(self, context: Context | None) -> t.Iterable[dict]:
        """The partition's records: fetched ahead if they were, for the same bookmark."""
        fetched = self.prefetched.pop(prefetch.partition_key(context), None)
        if fetched is None or fetched.since != self._part.since:
            return self.request_all(context)
        if isinstance(fetched.error, ListingShifted):
            self.logger.warning("%s: reading it again from the start", fetched.error)
            return self.request_all(context)
        if isinstance(fetched.error, HTTPStatusError):
            return self.request_all(context)  # again, in order, where _recover can act
        if fetched.error is not None:
            raise fetched.error
        self._part.guard = fetched.guard
        self.swept_ahead = fetched.swept
        return fetched.records

    def starting_bookmark_hint(self, context: Context) -> str | None:
        """Where the partition's sync will start (its bookmark, or start_date if later),
        read without creating its state entry. A wrong guess costs a refetch, no more."""
        if not self.replication_key:
            return None
        state = self.partition_state_if_exists(context) or {}
        bookmark = state.get("replication_key_value")
        if state.get("replication_key") != self.replication_key:
            bookmark = None
        values = [v for v in (bookmark, self.config.get("start_date")) if v]
        return max((normalise_timestamp(str(v), "a bookmark") for v in values), default=None)

    def fetch_ahead(self, context: Context, since: str | None) -> prefetch.Fetched:
        """Every record of one partition, in a worker thread; errors are kept for later."""
        self.begin_partition(context)
        self._part.since = since
        self._part.guard = guard = PageGuard(self.name, self.max_pages)
        try:
            fetched = prefetch.Fetched(since, Spool(self.paged_records(context)), guard)
        except HTTPStatusError as exc:
            if exc.status == 404 and self.on_not_found == "empty":
                return prefetch.Fetched(since, [], guard)  # no data for this partition
            return prefetch.Fetched(since, [], guard, exc)
        except Exception as exc:  # raised, or recovered from, when the partition syncs
            return prefetch.Fetched(since, [], guard, exc)
        if self.sweep_due(context) and not self._lists_everything(since):
            # Here, not in the main thread later: the run's requests stay in the workers.
            # An error is met again in order, by the sweep the partition then runs itself.
            with contextlib.suppress(Exception):
                fetched.swept = self.swept_keys(context)
        return fetched

    def with_children_prefetched(
        self, records: t.Iterable[dict], context: Context | None, workers: int
    ) -> t.Iterator[dict]:
        """This (parent) stream's records, while worker threads fetch the child partitions
        of the next `workers` of them (see `taps_shared.streams.prefetch`)."""
        return prefetch.with_children_prefetched(self, records, context, workers)

    def paged_records(self, context: Context | None) -> t.Iterator[dict]:
        """Every page's records, in page order (`paged_lists`)."""
        for page in self.paged_lists(context):
            yield from page

    def paged_lists(self, context: Context | None) -> t.Iterator[list[dict]]:
        """Each page's records, in page order; when the first page tells how many pages
        follow, the rest are fetched `max_parallel_requests` at a time."""
        paginator = self.get_new_paginator() or SinglePagePaginator()
        label = self.name

        def fetch(token: t.Any) -> Page:
            request = self.prepare_page(context, token)
            return request, self.tap.transport.send(request, label, auth=self.authenticator)

        workers = self.tap.max_parallel_requests
        if self.api_order == "descending" and self._part.since:
            workers = 1  # newest first, reading stops at the bookmark: no pages ahead
        overlap = getattr(paginator, "overlap", False)
        last = None  # the key of the previous page's last record, which this page repeats
        with self.get_http_request_counter() as counter:
            counter.with_context(context)
            for request, response in page_responses(paginator, fetch, workers, self._forked):
                counter.increment()
                self.update_sync_costs(request, response, context)
                records = self.parse_response(response)
                if last is not None:
                    if not records or self.listing_key(records[0]) != last:
                        where = urlsplit(request.url or "").path
                        msg = (
                            f"{self.name}: GET {where} changed between two pages (a record "
                            "created, deleted or moved)"
                        )
                        raise ListingShifted(msg)
                    records = records[1:]
                if not records:
                    return
                if overlap:
                    last = self.listing_key(records[-1])
                yield records

    def listing_key(self, record: dict) -> t.Any:
        """What tells a record from the others in a listing: its primary key as sent."""
        if not self.primary_keys:
            return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        return tuple(record.get(key) for key in self.primary_keys)

    def _forked(self, fetch: t.Callable[[], Page]) -> t.Callable[[], Page]:
        """`fetch`, to run in a worker thread as part of the partition being synced now."""
        state = vars(self._part).copy()

        def run() -> Page:
            vars(self._part).update(state)
            return fetch()

        return run

    def prepare_page(self, context: Context | None, token: t.Any) -> requests.PreparedRequest:
        """The request for one page, from the public hook `get_http_request`."""
        http = self.get_http_request(
            page=PageContext(stream_context=context, next_page_token=token)
        )
        body = {"json": http.data} if self.payload_as_json else {"data": http.data}
        return self.tap.transport.prepare(
            http.method, http.url, params=http.encode_params(), headers=http.headers, **body
        )

    # -- the key sweep (streams.tombstones) ---------------------------------------------

    @property
    def listing_complete(self) -> bool:
        return bool(self._part.complete)

    @property
    def listing_is_whole(self) -> bool:
        return self.listing_complete and self._lists_everything(self._part.since)

    def _lists_everything(self, since: str | None) -> bool:
        """Whether a listing from `since` returns every record of the resource: from the
        start, or filtered only on this side of the API (then it is a key sweep too)."""
        if since is None:
            return True
        filtered = self.replication_key and self._server_filter
        if filtered and self.incremental_params(since) != self.incremental_params(None):
            return False
        return self.api_order != "descending"  # newest first, reading stops at `since`

    def sweep_params(self, token: t.Any) -> dict[str, t.Any]:
        """A page of the key sweep: the sweep's own parameters (and the last key seen, when
        it pages by key), or the stream's listing from the start."""
        keyset = self._part.sweeping == "keys" and self.sweep_is_keyset
        page = None if keyset else token
        params = self.paging.params(page, self.page_size) if self.paging else {}
        if self._part.sweeping == "keys" and self.sweep is not None:
            params.update(self.sweep.params or {})
            if keyset and token is not None:
                params[t.cast("str", self.sweep.after)] = token
        elif self._server_filter:
            params.update(self.incremental_params(None))
        return params

    def swept_keys(self, context: Context | None) -> set[tuple] | None:
        """Every key of the partition's resource, listed to the end (keys only where the
        sweep says how); None when the endpoint had to be skipped."""
        part = self._part
        since, part.since = part.since, None
        mode: t.Literal["keys", "plain"] = "keys" if self.sweep and self.sweep.params else "plain"
        shifts = 0
        try:
            while True:
                part.sweeping = mode
                part.guard = PageGuard(f"{self.name} key sweep", self.max_pages)
                keys: set[tuple] = set()
                try:
                    for record in self.paged_records(context):
                        if self.sweep_keeps(record):
                            keys.add(self.key_of(record))
                    return keys
                except ListingShifted as exc:
                    shifts += 1
                    if shifts <= _ReadSoFar.MAX_SHIFTS:
                        continue  # listed again from the start: a sweep counts only whole
                    self.logger.warning(
                        "Stream %s: no deletes looked for this run (%s)", self.name, exc
                    )
                    return None
                except HTTPStatusError as exc:
                    if part.guard.pages:
                        raise  # part-way: a sweep counts only whole
                    if exc.status == 404 and self.on_not_found == "empty":
                        return set()
                    if exc.status == 400 and mode == "keys":
                        self.logger.warning(
                            "Stream %s: the API rejected the key-only listing (%s); the sweep "
                            "reads the full listing",
                            self.name,
                            exc.api_message or "400",
                        )
                        mode = "plain"
                        continue
                    filtered = self._server_filter
                    if not self._recover(exc):
                        raise
                    if filtered and not self._server_filter:
                        continue  # again, without the incremental parameters
                    return None
        finally:
            part.since = since
            part.sweeping = None

    def skip_listing(self, reason: str, context: Context | None = None) -> None:
        """Go on without this listing (of the partition `context`), with one warning: a
        skipped listing is not the whole resource, so it marks nothing deleted (no
        tombstone, no ACTIVATE_VERSION)."""
        self._part.skipped = True
        where = "".join(f" for {key} {value}" for key, value in (context or {}).items())
        self.logger.warning("Skipping stream %s%s: %s", self.name, where, reason)

    def _recover(self, exc: HTTPStatusError) -> bool:
        """Handle a first-page error that need not end the run; False re-raises it."""
        if exc.status == 404 and self.on_not_found == "empty":
            return True
        if exc.status == 404 and self.on_not_found == "skip":
            self.skip_listing(f"this account's API does not offer it ({exc})")
            return True
        sent_filter = self.replication_key and self.incremental_params(self._part.since)
        if exc.status == 400 and sent_filter and self._server_filter:
            # Only a request that carried a filter can have been refused for it.
            self.logger.warning(
                "Stream %s: the API rejected the incremental filter (%s); falling back to a "
                "full scan filtered client-side",
                self.name,
                exc.api_message or "400",
            )
            self._server_filter = False
            # This unsorted scan must keep progress markers and bookmark the maximum.
            self.forget_sort_order()
            return True
        if isinstance(exc, ForbiddenError) and self.required_scope:
            reason = f"the credentials lack scope {self.required_scope} ({exc})"
            if self.config.get("on_missing_scope", "fail") == "warn":
                self.skip_listing(f"{reason}. Set on_missing_scope=fail to make this an error")
                return True
            msg = f"Stream {self.name}: {reason}; grant the scope or set on_missing_scope=warn"
            raise ConfigError(msg) from None
        return False


def _without_generic_failure_line(record: logging.LogRecord) -> bool:
    """Drop the SDK's "An unhandled error occurred while syncing" line: the run ends with
    one line that names the stream and says what failed, and a second is noise."""
    return not str(record.msg).startswith("An unhandled error occurred while syncing")


def _get(body: t.Any, key: str) -> t.Any:
    return body.get(key) if isinstance(body, dict) else None


class _ReadSoFar:
    """What a partition's reading has yielded, so that a listing that shifted between two
    pages (`ListingShifted`) is read again without losing or repeating a record.

    A listing in bookmark order (ascending) goes on from the newest bookmark yielded, the
    records already yielded at that instant skipped; any other is read again from its
    start (its records are buffered and sorted, or written as a full table, so a record
    read twice is harmless). A listing that shifts `MAX_SHIFTS` times in a row without
    progress stops the run in one line; what was written stays valid.
    """

    MAX_SHIFTS = 3

    def __init__(self, stream: HumanRESTStream) -> None:
        self.stream = stream
        self.ordered = bool(stream.replication_key) and stream.api_order == "ascending"
        self.newest: str | None = None
        self.at_newest: set[t.Any] = set()  # the keys yielded at the newest bookmark
        self.shifts = 0
        self.skipping = False

    def page(self, records: list[dict]) -> list[dict]:
        """A page's records less those yielded before the listing was read again. What is
        yielded is noted record by record while skipping, else from the page's end: the
        listing is in bookmark order, so its newest instant is there."""
        if not self.ordered:
            return records
        if self.skipping:
            return [record for record in records if not self.again(record)]
        newest = None
        for record in reversed(records):
            stamp = self.stream.bookmark_value(record)
            if stamp is None:
                continue
            if newest is None:
                newest = stamp
                if self.newest is not None and newest < self.newest:
                    break
                if self.newest is None or newest > self.newest:
                    self.newest, self.at_newest = newest, set()
            if stamp != newest:
                break
            self.at_newest.add(self.stream.listing_key(record))
        return records

    def again(self, record: dict) -> bool:
        """Whether `record` was yielded before the listing was read again (skip it)."""
        value = self.stream.bookmark_value(record)
        key = self.stream.listing_key(record)
        if self.skipping and value == self.newest and key in self.at_newest:
            return True
        if value is not None and (self.newest is None or value > self.newest):
            self.newest, self.at_newest = value, set()
            self.skipping = False
        if value == self.newest:
            self.at_newest.add(key)
        return False

    def restart(self, shifted: ListingShifted) -> None:
        """Prepare to read the listing again, or stop when it will not hold still."""
        stream = self.stream
        part = stream._part
        progressed = self.ordered and self.newest is not None and self.newest != part.since
        self.shifts = 0 if progressed else self.shifts + 1
        if self.shifts > self.MAX_SHIFTS:
            msg = (
                f"{shifted}, {self.shifts} times in a row while the tap read it: records "
                "already written and their state stay valid; run the tap again"
            )
            raise PaginationError(msg) from None
        if progressed:
            part.since = self.newest
        self.skipping = self.ordered
        start = f"{stream.replication_key} {part.since}" if self.skipping else "the start"
        stream.logger.warning("%s: reading it again from %s", shifted, start)
