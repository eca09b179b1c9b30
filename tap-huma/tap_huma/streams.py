"""The Huma streams. Everything is full table: the API has no change timestamps.

User details are fetched once per user (`GET /users/{id}`); their children, emergency
contacts and identifications become three streams without further requests.
"""

from __future__ import annotations

import typing as t

import requests
from singer_sdk.streams import Stream

from tap_huma.client import FullTableVersion, HumaStream, load_schema

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

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


class UsersStream(HumaStream):
    """`GET /users`: every user (all statuses unless include_inactive_users is false)."""

    name = "users"
    path = "/users"
    page_limit = 50
    schema = load_schema("users")

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        params = super().get_url_params(context, next_page_token)
        if not self.config.get("include_inactive_users", True):
            params["isActive"] = "true"
        return params

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        return {"userId": record["id"]}


class UserDetailsStream(HumaStream):
    """`GET /users/{userId}` for each user, Field wrappers unwrapped to their values."""

    name = "user_details"
    path = "/users/{userId}"
    parent_stream_type = UsersStream
    state_partitioning_keys: t.ClassVar[list[str]] = []
    records_key = None
    schema = load_schema("user_details")

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: The nested lists of the user read last; its nested streams sync right after it.
        self.nested: dict[str, list[dict]] = {}

    def extract_records(self, body: t.Any, response: requests.Response) -> list[dict]:
        return (
            [unwrap_fields(body)]
            if isinstance(body, dict)
            else super().extract_records(body, response)
        )

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        self.nested = {key: record.get(key) or [] for key in NESTED_KEYS}
        return {"userId": record["id"]}


class NestedDetailStream(FullTableVersion, Stream):
    """A list inside each user's details, one record per item, with `userId`."""

    parent_stream_type = UserDetailsStream
    state_partitioning_keys: t.ClassVar[list[str]] = []
    primary_keys: t.ClassVar[list[str]] = ["id"]
    source_key: t.ClassVar[str]

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        assert context is not None  # a child stream always has its parent's context
        details = t.cast("UserDetailsStream", self._tap.streams["user_details"])
        for item in details.nested.get(self.source_key, []):
            yield {**item, "userId": context["userId"]}


class UserChildrenStream(NestedDetailStream):
    name = "user_children"
    source_key = "children"
    schema = load_schema("user_children")


class UserEmergencyContactsStream(NestedDetailStream):
    name = "user_emergency_contacts"
    source_key = "emergencyContacts"
    schema = load_schema("user_emergency_contacts")


class UserIdentificationsStream(NestedDetailStream):
    name = "user_identifications"
    source_key = "identifications"
    schema = load_schema("user_identifications")


NESTED_KEYS = ("children", "emergencyContacts", "identifications")


class PositionsStream(HumaStream):
    """`GET /users/{userId}/positions` for each user, with `userId`."""

    name = "positions"
    path = "/users/{userId}/positions"
    parent_stream_type = UsersStream
    state_partitioning_keys: t.ClassVar[list[str]] = []
    page_limit = 50  # not stated by the spec; the users maximum is assumed
    schema = load_schema("positions")

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        assert context is not None
        return {**row, "userId": context["userId"]}


class GroupsStream(HumaStream):
    """`GET /groups`: teams, locations and companies."""

    name = "groups"
    path = "/groups"
    page_limit = 25
    schema = load_schema("groups")


class JobTitlesStream(HumaStream):
    """`GET /job-titles` (a bare list, not paged)."""

    name = "job_titles"
    path = "/job-titles"
    records_key = None
    schema = load_schema("job_titles")


class HolidaysStream(HumaStream):
    """`GET /holidays/{countryCode}?fromDate&toDate` for each configured country."""

    name = "holidays"
    path = "/holidays/{countryCode}"
    primary_keys: t.ClassVar[list[str]] = ["countryCode", "date"]
    state_partitioning_keys: t.ClassVar[list[str]] = []
    records_key = None
    schema = load_schema("holidays")

    @property
    def partitions(self) -> list[dict]:  # type: ignore[override]
        return [{"countryCode": code} for code in self.config.get("holiday_countries") or []]

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        if not context:  # no holiday_countries configured: nothing to read
            return
        for day in super().get_records(context):
            yield {"countryCode": context["countryCode"], "date": day}

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        window = t.cast("t.Any", self._tap).holiday_window
        return {"fromDate": window[0], "toDate": window[1]}


STREAM_TYPES: list[type[Stream]] = [
    UsersStream,
    UserDetailsStream,
    UserChildrenStream,
    UserEmergencyContactsStream,
    UserIdentificationsStream,
    PositionsStream,
    GroupsStream,
    JobTitlesStream,
    HolidaysStream,
]
