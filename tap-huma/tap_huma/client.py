"""What is particular to Huma: `{total, items}` pages with `limit`/`offset` and per-endpoint
maxima, no change timestamps (every stream is full table, announced with ACTIVATE_VERSION),
user details wrapped in Field objects, and public holidays per country and date window."""

from __future__ import annotations

import typing as t

from taps_shared import HumanRESTStream, OffsetPaging, Paging

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

#: Keys of a Huma "Field" wrapper: `{"value": X, "editable": ..., ...}` carries X.
FIELD_KEYS = frozenset(
    {"value", "editable", "completeness", "integrations", "requestedValue", "showBirthday"}
)


def unwrap_fields(details: dict[str, t.Any]) -> dict[str, t.Any]:
    """Replace each Field wrapper of a UserDetails object by its value."""
    return {
        key: value.get("value")
        if isinstance(value, dict) and "editable" in value and value.keys() <= FIELD_KEYS
        else value
        for key, value in details.items()
    }


class HumaStream(HumanRESTStream):
    """A Huma Open API endpoint; a child's state is its parent's (no per-user bookmarks)."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    state_partitioning_keys: t.ClassVar[list[str]] = []
    records_key: str | None = "items"
    paging: Paging | None = OffsetPaging(limit="limit", offset="offset")


class UsersStream(HumaStream):
    """`GET /users`: every user (all statuses unless include_inactive_users is false)."""

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        params = super().get_url_params(context, next_page_token)
        if not self.config.get("include_inactive_users", True):
            params["isActive"] = "true"
        return params


class FieldDetailsStream(HumaStream):
    """A detail endpoint whose attributes come in Field wrappers (`GET /users/{userId}`,
    `GET /users/{userId}/positions/{id}`): one record per request, each wrapper replaced by
    its value."""

    one_record = True
    paging = None

    def extract_records(self, body: t.Any, response: requests.Response) -> list[dict]:
        return [unwrap_fields(record) for record in super().extract_records(body, response)]


class HolidaysStream(HumaStream):
    """`GET /holidays/{countryCode}?fromDate&toDate` for each configured country: a bare
    list of dates, each becoming `{countryCode, date}`."""

    @property
    def partitions(self) -> list[dict]:  # type: ignore[override]
        return [{"countryCode": code} for code in self.config.get("holiday_countries") or []]

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        if not context:  # no holiday_countries configured: nothing to read
            return
        for day in super().get_records(context):
            yield {"countryCode": context["countryCode"], "date": day}

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        window = t.cast("t.Any", self.tap).holiday_window
        return {"fromDate": window[0], "toDate": window[1]}
