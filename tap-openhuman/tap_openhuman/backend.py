"""What is particular to the hosted TinyHumans backend, contract (B) of the project's spec:
its own base URL and credential, the `{success, data}` envelope (a `success: false` is a
failure whatever the status, as the vendor's SDK treats it), records one level down in
`data` for some lists, `limit`/`offset` on the paged ones, Unix-second timestamps, secrets
that must not be passed on, and routes a credential may not be allowed to read.

The backend offers no filter on its lists: an incremental stream reads the whole list,
in the order it comes, sorts it and emits what changed since its bookmark.
"""

from __future__ import annotations

import contextlib
import typing as t
from dataclasses import dataclass
from datetime import UTC, datetime

from taps_shared import HumanRESTStream, OffsetPaging, StreamSpec
from taps_shared.dates import to_iso_z
from taps_shared.errors import HTTPStatusError, ResponseError
from taps_shared.pages import TotalOffsetPaginator
from taps_shared.responses import api_error_message, describe_call, json_body

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from taps_shared.auth import HumanAuth

#: What a status on a stream's first page means: the credential cannot read the route.
UNREADABLE = {
    401: "the credential is not accepted on this route",
    403: "the credential may not read it",
    404: "this account's backend does not offer it",
}


def unwrapped(body: t.Any, response: requests.Response, label: str) -> t.Any:
    """The payload of a `{success, data}` envelope. A body without `success` is the
    payload itself (OpenAI-compatible routes), as the vendor's SDK reads it."""
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        return body
    if body["success"]:
        return body["data"] if "data" in body else {k: v for k, v in body.items() if k != "success"}
    reason = api_error_message(response) or "no error message"
    call = describe_call(response, label)
    msg = f"{call} returned {response.status_code} with success: false ({reason})"
    raise ResponseError(msg)


def records_in(payload: t.Any, key: str | None) -> list[t.Any] | None:
    """The records of a payload: the list itself, the list at `key` of an object (absent
    means none, as the SDK defaults it), or an object as its one record; None when the
    payload is none of these."""
    if isinstance(payload, list):
        return payload
    if payload is None:
        return []
    if not isinstance(payload, dict):
        return None
    if key is None:
        return [payload]
    found = payload.get(key, [])
    return found if isinstance(found, list) else None


def unix_seconds_to_iso(record: dict[str, t.Any], path: str) -> None:
    """The number at `path` (`a.b`, `list[].c`) of `record`, in place, as an ISO-8601
    date-time; anything else, and a number no date can be made of, stays as it is."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = record.get(head[:-2])
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                unix_seconds_to_iso(item, rest)
        return
    value = record.get(head)
    if rest:
        if isinstance(value, dict):
            unix_seconds_to_iso(value, rest)
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A number out of any calendar stays as it is, for the schema-drift report.
        with contextlib.suppress(OverflowError, OSError, ValueError):
            record[head] = to_iso_z(datetime.fromtimestamp(value, UTC))


class EnvelopeOffsetPaginator(TotalOffsetPaginator):
    """Offset paging whose page size is counted inside the envelope; the backend sends
    no total, so the listing ends on a short or an empty page."""

    def records_of(self, response: requests.Response) -> list[t.Any]:
        body = json_body(response)
        payload = body.get("data") if isinstance(body, dict) else None
        return records_in(payload, self.records_key) or []


@dataclass(frozen=True)
class EnvelopeOffsetPaging(OffsetPaging):
    """`?limit=N&offset=K` (the backend's ad hoc paging) over `{success, data}`."""

    total_key: str | None = None

    def paginator(self, size: int, records_key: str | None, label: str) -> TotalOffsetPaginator:
        return EnvelopeOffsetPaginator(
            size, label=label, records_key=records_key, total_key=None, limit_key=None
        )


class BackendStream(HumanRESTStream):
    """A route of the hosted backend (B)."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key: str | None = None
    #: Key of the record list inside `data`; None when `data` is the list (or the record).
    records_key: str | None = None
    paging = None
    incremental = None
    #: No filter, no documented order: read everything, sort, emit what is new.
    api_order: t.Literal["ascending", "descending", "unordered"] = "unordered"
    #: Fields sent as Unix seconds (`a.b`, `list[].c`), emitted as ISO-8601 date-times.
    unix_seconds: t.ClassVar[tuple[str, ...]] = ()
    #: Fields never emitted, not even in `_extra`: secrets the API may send along.
    secret_fields: t.ClassVar[tuple[str, ...]] = ()

    @property
    def url_base(self) -> str:
        return t.cast("str", self.tap.backend_url)  # type: ignore[attr-defined]

    @property
    def authenticator(self) -> HumanAuth:
        auth = self.tap.backend_authenticator  # type: ignore[attr-defined]
        return t.cast("HumanAuth", auth)

    def extract_records(self, body: t.Any, response: requests.Response) -> list[dict]:
        records = records_in(unwrapped(body, response, self.name), self.records_key)
        if records is None or not all(isinstance(record, dict) for record in records):
            what = f"a '{self.records_key}' list" if self.records_key else "a list or an object"
            msg = f"{describe_call(response, self.name)} returned data without {what}"
            raise ResponseError(msg)
        for record in records:
            for path in self.unix_seconds:
                unix_seconds_to_iso(record, path)
            for name in self.secret_fields:
                record.pop(name, None)
        return records

    def request_all(self, context: Context | None) -> t.Iterator[dict]:
        """Every record, or none with one warning when the credential cannot read the
        route (401, 403 or 404 on the first page): the run goes on without it."""
        if self.tap.backend_authenticator is None:  # type: ignore[attr-defined]
            self.logger.warning(
                "Skipping stream %s: no credential for the hosted backend (set backend_token, "
                "or api_key for its machine routes)",
                self.name,
            )
            return
        yielded = False
        try:
            for record in super().request_all(context):
                yielded = True
                yield record
        except HTTPStatusError as exc:
            if yielded or exc.status not in UNREADABLE:
                raise
            where = "".join(f" for {key} {value}" for key, value in (context or {}).items())
            self.logger.warning(
                "Skipping stream %s%s: %s (%s)", self.name, where, UNREADABLE[exc.status], exc
            )


class MemoryDocumentsStream(BackendStream):
    """`GET /memory/documents`: every namespace in one listing, or one listing (and one
    bookmark) per namespace of the `memory_namespaces` setting."""

    @property
    def partitions(self) -> list[dict] | None:
        namespaces = self.config.get("memory_namespaces") or []
        return [{"namespace": name} for name in dict.fromkeys(namespaces)] or None

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        params = super().get_url_params(context, next_page_token)
        if context and "namespace" in context:
            params["namespace"] = context["namespace"]
        return params


def backend(
    name: str,
    path: str,
    *,
    unix_seconds: tuple[str, ...] = (),
    secret_fields: tuple[str, ...] = (),
    **fields: t.Any,
) -> StreamSpec:
    """The spec of a stream of the hosted backend: built on `BackendStream` (or `base`),
    with the fields it converts from Unix seconds and the secrets it drops."""
    base: type[BackendStream] = fields.pop("base", BackendStream)
    if unix_seconds or secret_fields:
        particulars = {"unix_seconds": unix_seconds, "secret_fields": secret_fields}
        base = type(f"{base.__name__}Of{name.title().replace('_', '')}", (base,), particulars)
    return StreamSpec(name, path, base=base, **fields)
