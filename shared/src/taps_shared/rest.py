"""`HumanRESTStream`: the one RESTStream every tap builds on.

It takes its HTTP session, authenticator, rate limiter and retry policy from the tap (one of
each per run), maps every failure to a clear error, decodes each page once, and implements
incremental sync the same way everywhere: a server-side filter fixed at the start of the
sync, ascending order so an interrupted sync resumes, a client-side filter as a safety net,
and a full-scan fallback when the API rejects the filter.
"""

from __future__ import annotations

import logging
import typing as t
from urllib.parse import urlsplit

import requests
from singer_sdk import RESTStream
from singer_sdk.helpers.conform import TypeConformanceLevel

from taps_shared.auth import HumanAuth
from taps_shared.dates import normalise_timestamp
from taps_shared.errors import ConfigError, ForbiddenError, HTTPStatusError, ResponseError
from taps_shared.pagination import DEFAULT_MAX_PAGES, PageGuard
from taps_shared.responses import check_response, json_body
from taps_shared.retry import with_retries

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from taps_shared.tap import HumanTap


class HumanRESTStream(RESTStream[t.Any]):
    """Base stream: resilient HTTP, envelope unwrapping, resumable incremental sync."""

    # Records come from JSON, so the SDK's per-value conformance pass changes nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
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
        self._since: str | None = None
        self._server_filter = True
        self._guard = PageGuard(self.name, self.max_pages)
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
        self._guard.check(records)
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
            params.update(self.incremental_params(self._since))
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
        if self._since is not None and len(value) == len(self._since) and value.endswith("Z"):
            return value  # already canonical: the common, cheap case
        return normalise_timestamp(value, f"{self.name}.{self.replication_key}")

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Drop records older than the bookmark (the server's filter may be coarse)."""
        if self._since is not None:
            value = self.bookmark_value(row)
            if value is not None and value < self._since:
                return None
        return row

    # -- the sync -----------------------------------------------------------------------

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        self._since = self.starting_bookmark(context)
        records: t.Iterable[dict] = self._request_all(context)
        if self.replication_key and self.api_order != "ascending":
            records = self._oldest_first(records)
        count = 0
        for record in records:
            count += 1
            yield record
        self.logger.info("Stream %s: %d records in %d pages", self.name, count, self._guard.pages)

    def _oldest_first(self, records: t.Iterable[dict]) -> list[dict]:
        """Buffer what the API returns, up to the bookmark when it sends newest first."""
        kept = []
        for record in records:
            value = self.bookmark_value(record)
            if self.api_order == "descending" and self._since and value and value < self._since:
                break  # everything after this is older still: stop paging
            kept.append(record)
        kept.sort(key=lambda record: self.bookmark_value(record) or "")
        return kept

    def _request_all(self, context: Context | None) -> t.Iterator[dict]:
        """Every record of the partition, recovering from first-page errors that allow it."""
        yielded = False
        while True:
            self._guard = PageGuard(self.name, self.max_pages)
            try:
                for record in super().request_records(context):
                    yielded = True
                    yield record
                return
            except HTTPStatusError as exc:
                if yielded or not self._recover(exc):
                    raise
                if not self._server_filter:
                    continue  # the retry without the server-side filter
                return

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


def _without_generic_failure_line(record: logging.LogRecord) -> bool:
    """Drop the SDK's "An unhandled error occurred while syncing" line: the run ends with
    one line that names the stream and says what failed, and a second is noise."""
    return not str(record.msg).startswith("An unhandled error occurred while syncing")


def _get(body: t.Any, key: str) -> t.Any:
    return body.get(key) if isinstance(body, dict) else None
