"""How an API pages: a paging spec per style, which owns its parameter names, and the
paginators it makes, which cannot loop forever.

A tap declares its paging once, as data (`OffsetPaging(limit="$limit", offset="$skip")`);
the stream asks it for each page's query parameters and for a fresh paginator. Every
paginator fails loudly, instead of spinning, when the API repeats a token; the stream's
PageGuard does the same for a repeated page or a run past the page cap.

An announced total (`total`, `totalPages`, `X-Total-Count`) is a hint, never trusted: it
lets the next pages be fetched in parallel, a few ahead of the one being read, so memory
does not depend on it; but paging ends only on a short or empty page, so a total lower than
the truth truncates nothing (it is warned about), and one higher than the truth costs at
most the pages in flight when the end is read.
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass
from functools import partial

import orjson
import requests
from singer_sdk.pagination import BaseAPIPaginator

from taps_shared.errors import PaginationError
from taps_shared.parallel import in_order
from taps_shared.responses import json_body
from taps_shared.sdk import set_paginator_token

DEFAULT_MAX_PAGES = 100_000
_logger = logging.getLogger(__name__)
#: One page as fetched: the request sent and the response to it.
Page = tuple[requests.PreparedRequest, requests.Response]
Fetch = t.Callable[[t.Any], Page]


class PageGuard:
    """Checks each page before its records are emitted: a repeated page or a run past the
    page cap is an error, so a server that ignores paging cannot make a sync spin."""

    def __init__(self, label: str, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self.label = label
        self.max_pages = max_pages
        self.pages = 0
        self._seen: set[int] = set()

    def check(self, records: list[t.Any]) -> None:
        self.pages += 1
        if self.pages > self.max_pages:
            msg = f"{self.label}: stopped at the page cap ({self.max_pages} pages)"
            raise PaginationError(msg)
        if not records:
            return
        signature = hash((len(records), orjson.dumps(records[0]), orjson.dumps(records[-1])))
        if signature in self._seen:
            msg = (
                f"{self.label}: the API returned page {self.pages} again; it is ignoring the "
                "paging parameters, stopping instead of looping"
            )
            raise PaginationError(msg)
        self._seen.add(signature)


class GuardedPaginator(BaseAPIPaginator[t.Any]):
    """A paginator that refuses any token it has already used (A→B→A, not only A→A)."""

    def __init__(self, start_value: t.Any, *, label: str) -> None:
        super().__init__(start_value)
        self.label = label
        self._tokens: set[t.Any] = {start_value}

    def advance(self, response: requests.Response) -> None:
        super().advance(response)
        if self.finished:
            return
        if self.current_value in self._tokens:
            msg = f"{self.label}: the paging token {self.current_value!r} came back again"
            raise PaginationError(msg)
        self._tokens.add(self.current_value)

    def plan(self, response: requests.Response) -> t.Sequence[t.Any]:
        """The tokens of the pages left, from the current one, when `response` (the page
        just read) announces how many there are (a lazy `range`, however large the
        announcement); otherwise none, and paging stays serial."""
        return ()

    def resume(self, token: t.Any, response: requests.Response) -> None:
        """Carry on after the planned page `token` was fetched out of band: `response` is
        its. Pages beyond the plan (the listing grew meanwhile) are still read."""
        self._tokens.add(token)
        set_paginator_token(self, token)
        self.advance(response)

    def past_total(self, announced: int, unit: str) -> None:
        """A full page came past what the API announced: reading goes on, said once."""
        if not getattr(self, "_warned", False):
            self._warned = True
            _logger.warning(
                "%s: the API announced %d %s but sends more; reading on to the last page",
                self.label,
                announced,
                unit,
            )


class TotalOffsetPaginator(GuardedPaginator):
    """Offset paging that may know the total: from a `{total, limit, skip, data}`-style
    envelope, or from a header (`X-Total-Count`) over a bare JSON array.

    The next offset is the current one plus the records received, so a server that clamps
    the page size loses nothing. Stops on a short page and on an empty page; the total only
    plans parallel fetches (a full page at the total costs one more request, which finds
    the end or the records a low total hid).
    """

    def __init__(
        self,
        page_size: int,
        *,
        label: str,
        records_key: str | None = "data",
        total_key: str | None = "total",
        limit_key: str | None = "limit",
        total_header: str | None = None,
        overlap: bool = False,
    ) -> None:
        super().__init__(0, label=label)
        self.page_size = page_size
        self.records_key = records_key
        self.total_key = total_key
        self.limit_key = limit_key
        self.total_header = total_header
        #: Each page starts at the previous page's last record (`OffsetPaging.overlap`).
        self.overlap = overlap and page_size > 1

    def records_of(self, response: requests.Response) -> list[t.Any]:
        """The records on a page."""
        body = json_body(response)
        if self.records_key is None:
            return body if isinstance(body, list) else []
        return (body.get(self.records_key) or []) if isinstance(body, dict) else []

    def total(self, response: requests.Response) -> int | None:
        """The number of records the API says the whole listing has, if it says."""
        if self.total_header is not None:
            value = response.headers.get(self.total_header, "")
            return int(value) if value.isascii() and value.strip().isdigit() else None
        body = json_body(response)
        total = body.get(self.total_key) if isinstance(body, dict) and self.total_key else None
        return total if isinstance(total, int) else None

    def has_more(self, response: requests.Response) -> bool:
        received = len(self.records_of(response))
        body = json_body(response)
        limit = body.get(self.limit_key) if self.limit_key and isinstance(body, dict) else None
        full = received > 0 and received >= (
            limit if isinstance(limit, int) and limit > 0 else self.page_size
        )
        total = self.total(response)
        if full and total is not None and int(self.current_value) + received > total:
            self.past_total(total, "records")
        return full

    def get_next(self, response: requests.Response) -> int:
        return int(self.current_value) + len(self.records_of(response)) - self.overlap

    def plan(self, response: requests.Response) -> t.Sequence[t.Any]:
        total = self.total(response)
        step = len(self.records_of(response)) - self.overlap  # new records per page
        if total is None or step <= 0:
            return ()
        return range(int(self.current_value), total - self.overlap, step)


class PageIndexPaginator(GuardedPaginator):
    """Page-number paging (`pageIndex` from 0) over a `{data, totalPages}`-style envelope.

    Stops on a short page and on an empty page; `totalPages` only plans parallel fetches.
    """

    def __init__(
        self,
        page_size: int,
        *,
        label: str,
        records_key: str = "data",
        total_pages_key: str = "totalPages",
        start: int = 0,
    ) -> None:
        super().__init__(start, label=label)
        self.page_size = page_size
        self.records_key = records_key
        self.total_pages_key = total_pages_key
        self.start = start

    def has_more(self, response: requests.Response) -> bool:
        body = json_body(response)
        records = (body.get(self.records_key) or []) if isinstance(body, dict) else []
        if not records or len(records) < self.page_size:
            return False
        total_pages = body.get(self.total_pages_key)
        if isinstance(total_pages, int) and int(self.current_value) - self.start >= total_pages:
            self.past_total(total_pages, "pages")
        return True

    def get_next(self, response: requests.Response) -> int:
        return int(self.current_value) + 1

    def plan(self, response: requests.Response) -> t.Sequence[t.Any]:
        body = json_body(response)
        total_pages = body.get(self.total_pages_key) if isinstance(body, dict) else None
        if not isinstance(total_pages, int):
            return ()
        return range(int(self.current_value), self.start + total_pages)


class CursorPaginator(GuardedPaginator):
    """Opaque-cursor paging over a `{data, has_more, next_cursor}`-style envelope.

    Stops when `has_more` is false, the cursor is missing, or the page is empty; a cursor
    seen before is an error (GuardedPaginator).
    """

    def __init__(
        self,
        *,
        label: str,
        records_key: str = "data",
        cursor_key: str = "next_cursor",
        has_more_key: str | None = "has_more",
    ) -> None:
        super().__init__(None, label=label)
        self.records_key = records_key
        self.cursor_key = cursor_key
        self.has_more_key = has_more_key

    def has_more(self, response: requests.Response) -> bool:
        body = json_body(response)
        if not isinstance(body, dict) or not body.get(self.records_key):
            return False
        if self.has_more_key is not None and body.get(self.has_more_key) is False:
            return False
        return bool(body.get(self.cursor_key))

    def get_next(self, response: requests.Response) -> str | None:
        cursor = json_body(response).get(self.cursor_key)
        return str(cursor) if cursor else None


class KeysetPaginator(GuardedPaginator):
    """Keyset paging, for key sweeps: each page asks for the keys after the last one of the
    page before (`id[$gt]=<last>`), sorted by key, so rows inserted or deleted meanwhile
    shift nothing. Stops on an empty page, when `total` (what is left after the key) says
    this page was the last, or, without a total, on a page shorter than the one asked for
    (or than the `limit` the server echoes)."""

    def __init__(
        self,
        key: str,
        page_size: int,
        *,
        label: str,
        records_key: str | None,
        total_key: str | None,
        limit_key: str | None,
    ) -> None:
        super().__init__(None, label=label)
        self.key = key
        self.page_size = page_size
        self.records_key = records_key
        self.total_key = total_key
        self.limit_key = limit_key

    def _page(self, response: requests.Response) -> tuple[dict | list, list[t.Any]]:
        body = json_body(response)
        if self.records_key is None:
            return body, body if isinstance(body, list) else []
        records = body.get(self.records_key) if isinstance(body, dict) else None
        return body, records if isinstance(records, list) else []

    def has_more(self, response: requests.Response) -> bool:
        body, records = self._page(response)
        if not records:
            return False
        fields = body if isinstance(body, dict) else {}
        total = fields.get(self.total_key) if self.total_key else None
        if isinstance(total, int):
            return total > len(records)
        limit = fields.get(self.limit_key) if self.limit_key else None
        return len(records) >= (limit if isinstance(limit, int) and limit > 0 else self.page_size)

    def get_next(self, response: requests.Response) -> t.Any:
        last = self._page(response)[1][-1]
        value = last.get(self.key) if isinstance(last, dict) else None
        if value is None:
            msg = f"{self.label}: a record of the key listing has no {self.key}"
            raise PaginationError(msg)
        return value


# -- paging specs: what a tap declares ---------------------------------------------------


class Paging:
    """How one API pages: the query parameters of a page, and a paginator for a listing."""

    def params(self, token: t.Any, size: int) -> dict[str, t.Any]:
        """The query parameters asking for the page `token` (None: the first) of `size`."""
        raise NotImplementedError

    def paginator(self, size: int, records_key: str | None, label: str) -> GuardedPaginator:
        """A fresh paginator for one listing whose records are at `records_key`."""
        raise NotImplementedError

    def keyset(self, key: str, size: int, records_key: str | None, label: str) -> GuardedPaginator:
        """A paginator for a listing paged by `key` (`KeySweep.after`): every page is this
        paging's first, narrowed to the keys after the last one seen."""
        msg = f"{label}: {type(self).__name__} cannot page a key sweep by key"
        raise TypeError(msg)


@dataclass(frozen=True)
class OffsetPaging(Paging):
    """Offset paging: `?<limit>=N&<offset>=K`, the total in the body or a header.

    Offsets count records, so a record created, deleted or moved (an edit, in a listing
    ordered by update time) before the next offset while a sync pages would shift the rest
    by one and skip a record at a page boundary. With `overlap`, each page starts at the
    previous page's last record, which the stream checks and drops (`ListingShifted` when
    it is not there): one record per page buys the proof that nothing was skipped.
    """

    limit: str = "limit"
    offset: str = "offset"
    #: Body key of the listing's total, and header carrying it instead (bare-list bodies).
    total_key: str | None = "total"
    total_header: str | None = None
    #: Body key echoing the page size the server used (it may clamp what was asked).
    limit_key: str | None = None
    overlap: bool = True

    def params(self, token: t.Any, size: int) -> dict[str, t.Any]:
        return {self.limit: size, self.offset: token or 0}

    def paginator(self, size: int, records_key: str | None, label: str) -> TotalOffsetPaginator:
        return TotalOffsetPaginator(
            size,
            label=label,
            records_key=records_key,
            total_key=self.total_key,
            limit_key=self.limit_key,
            total_header=self.total_header,
            overlap=self.overlap,
        )

    def keyset(self, key: str, size: int, records_key: str | None, label: str) -> KeysetPaginator:
        return KeysetPaginator(
            key,
            size,
            label=label,
            records_key=records_key,
            total_key=self.total_key,
            limit_key=self.limit_key,
        )


@dataclass(frozen=True)
class PageNumberPaging(Paging):
    """Page-number paging: `?<index>=I&<size>=N` from `start`, `{data, totalPages}`."""

    index: str = "page"
    size: str = "size"
    total_pages_key: str = "totalPages"
    start: int = 0

    def params(self, token: t.Any, size: int) -> dict[str, t.Any]:
        return {self.index: self.start if token is None else token, self.size: size}

    def paginator(self, size: int, records_key: str | None, label: str) -> PageIndexPaginator:
        return PageIndexPaginator(
            size,
            label=label,
            records_key=records_key or "data",
            total_pages_key=self.total_pages_key,
            start=self.start,
        )


@dataclass(frozen=True)
class CursorPaging(Paging):
    """Opaque-cursor paging: `?<limit>=N&<cursor>=C`, `{data, has_more, next_cursor}`."""

    limit: str = "limit"
    cursor: str = "cursor"
    cursor_key: str = "next_cursor"
    has_more_key: str | None = "has_more"

    def params(self, token: t.Any, size: int) -> dict[str, t.Any]:
        return {self.limit: size, **({self.cursor: token} if token else {})}

    def paginator(self, size: int, records_key: str | None, label: str) -> CursorPaginator:
        return CursorPaginator(
            label=label,
            records_key=records_key or "data",
            cursor_key=self.cursor_key,
            has_more_key=self.has_more_key,
        )


def page_responses(
    paginator: BaseAPIPaginator,
    fetch: Fetch,
    workers: int,
    fork: t.Callable[[t.Callable[[], Page]], t.Callable[[], Page]],
) -> t.Iterator[Page]:
    """`fetch(token)` for every page, in page order. When a page tells how many follow
    (`GuardedPaginator.plan`), they are fetched `workers` at a time, each through `fork`
    (which makes it fit to run in a worker thread): the next page is asked for as soon as
    one is read, so the workers never wait for each other; paging goes on page by page as
    each says, a short page ends it, and pages beyond the plan are read one by one."""
    while not paginator.finished:
        request, response = fetch(paginator.current_value)
        yield request, response
        paginator.advance(response)
        if workers > 1 and not paginator.finished and isinstance(paginator, GuardedPaginator):
            planned = paginator.plan(response)
            if len(planned) >= 2:
                yield from _planned_pages(paginator, planned, fetch, workers, fork)


def _planned_pages(
    paginator: GuardedPaginator,
    planned: t.Sequence[t.Any],
    fetch: Fetch,
    workers: int,
    fork: t.Callable[[t.Callable[[], Page]], t.Callable[[], Page]],
) -> t.Iterator[Page]:
    """The planned pages, at most `workers` ahead of the one being read. A page that ends
    the listing stops the plan: a total higher than the truth costs the pages in flight
    then (at most `workers`), however many it announced."""
    tasks = (fork(partial(fetch, token)) for token in planned)
    for token, (request, response) in zip(
        planned, in_order(tasks, workers, f"{paginator.label}-pages"), strict=False
    ):
        yield request, response
        paginator.resume(token, response)
        if paginator.finished:
            return
