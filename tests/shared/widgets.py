"""A minimal tap and API used only to test `taps_shared` apart from any vendor.

The API serves `/widgets` in the `{total, limit, skip, data}` envelope with an `updatedAt`
filter, and can misbehave on request (ignore the offset, reject the filter, echo secrets).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from singer_sdk import typing as th

from human_sandbox.core import EmulatorServer, Request, Response, json_response
from taps_shared import (
    BearerTokenAuth,
    HumanRESTStream,
    HumanTap,
    IncrementalFilter,
    OffsetPaging,
    PageNumberPaging,
    settings,
)

TOKEN = "wdg_canary_5e2f9b7c1d"


@dataclass
class WidgetsApi:
    """The app behind the widgets tap; `n` widgets updated one minute apart."""

    n: int = 23
    max_limit: int = 10
    ignore_skip: bool = False
    reject_filter: bool = False
    echo_token: bool = False
    drop_total: bool = False
    missing: bool = False
    #: `updatedAt` in three forms by turns: no milliseconds, milliseconds, +01:00.
    mixed_forms: bool = False
    #: A lying server: the `total` (or `totalPages`) it announces instead of the truth.
    announce: int | None = None
    rows: list[dict] = field(init=False)

    def __post_init__(self) -> None:
        self.rows = [
            {"id": f"w{i:03d}", "name": f"widget {i}", "updatedAt": self._form(i)}
            for i in range(self.n)
        ]

    def _form(self, i: int) -> str:
        canonical = _ts(i)
        if not self.mixed_forms or i % 3 == 1:
            return canonical
        if i % 3 == 0:
            return canonical.replace(".000Z", "Z")
        moment = datetime.fromisoformat(canonical).astimezone(timezone(timedelta(hours=1)))
        return moment.isoformat()

    def __call__(self, request: Request) -> Response:
        sent = request.header("authorization") or ""
        if sent != f"Bearer {TOKEN}":
            message = f"bad token {sent}" if self.echo_token else "bad token"
            return json_response(401, {"name": "NotAuthenticated", "message": message})
        if request.path != "/widgets" or self.missing:
            return json_response(404, {"message": "not found"})
        if "pageIndex" in request.query:
            return self.page_by_index(request)
        limit = int(request.q("$limit") or 10)
        if limit > self.max_limit:
            return json_response(400, {"name": "BadRequest", "message": "limit too large"})
        rows = self.rows[::-1]  # unsorted unless asked
        since = request.q("updatedAt[$gte]")
        if self.reject_filter and (since is not None or "$sort[updatedAt]" in request.query):
            return json_response(400, {"name": "BadRequest", "message": "bad filter"})
        if since is not None:
            rows = [r for r in rows if _instant(r["updatedAt"]) >= _instant(since)]
        if request.q("$sort[updatedAt]") == "1":
            rows = sorted(rows, key=lambda r: _instant(r["updatedAt"]))
        skip = 0 if self.ignore_skip else int(request.q("$skip") or 0)
        body: dict[str, t.Any] = {"limit": limit, "skip": skip, "data": rows[skip : skip + limit]}
        if not self.drop_total:
            body["total"] = len(rows) if self.announce is None else self.announce
        return json_response(200, body)

    def page_by_index(self, request: Request) -> Response:
        """`{data, totalPages}` pages, newest first, `dateFrom` rounded down to the day."""
        size = int(request.q("pageSize") or 10)
        index = int(request.q("pageIndex") or 0)
        day = (request.q("dateFrom") or "0000-00-00")[:10]
        rows = sorted(
            (r for r in self.rows if r["updatedAt"][:10] >= day),
            key=lambda r: r["updatedAt"],
            reverse=True,
        )
        pages = -(-len(rows) // size) if self.announce is None else self.announce
        return json_response(
            200, {"data": rows[index * size : (index + 1) * size], "totalPages": pages}
        )


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ts(i: int) -> str:
    return f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}.000Z"


class WidgetsStream(HumanRESTStream):
    name = "widgets"
    path = "/widgets"
    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = "updatedAt"
    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("name", th.StringType),
        th.Property("updatedAt", th.DateTimeType),
    ).to_dict()
    paging = OffsetPaging(limit="$limit", offset="$skip", limit_key="limit")
    incremental = IncrementalFilter("updatedAt[$gte]", sort={"$sort[updatedAt]": 1})

    @property
    def page_limit(self) -> int:  # type: ignore[override]
        return int(self.config["page_size"])

    @property
    def max_pages(self) -> int:  # type: ignore[override]
        return int(self.config["max_pages"])


class TapWidgets(HumanTap):
    name = "tap-widgets"
    config_jsonschema = th.PropertiesList(
        th.Property("api_token", th.StringType, required=True, secret=True),
        settings.api_url("https://widgets.example.com", "widgets API"),
        settings.start_date("updatedAt"),
        settings.page_size(default=10, maximum=100),
        settings.requests_per_second(0, "tests"),
        th.Property("max_pages", th.IntegerType, default=1000),
        *settings.transport(),
    ).to_dict()

    def build_authenticator(self) -> BearerTokenAuth:
        return BearerTokenAuth(self.config["api_token"])

    def discover_streams(self) -> list[WidgetsStream]:
        return [WidgetsStream(tap=self)]


def widgets_server(api: WidgetsApi) -> EmulatorServer:
    return EmulatorServer(api).start()


class GadgetsStream(WidgetsStream):
    """The widgets again, through page-index paging that answers newest first."""

    name = "gadgets"
    api_order = "descending"
    on_not_found = "skip"
    paging = PageNumberPaging(index="pageIndex", size="pageSize")
    incremental = IncrementalFilter("dateFrom")


class TapGadgets(TapWidgets):
    name = "tap-gadgets"

    def discover_streams(self) -> list[WidgetsStream]:
        return [GadgetsStream(tap=self)]
