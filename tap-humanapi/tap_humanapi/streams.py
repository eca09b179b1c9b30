"""The Human API streams: the app's users, and per user the profile, sources, medical
records and (in `per_user` mode) wellness data; in `batch` mode wellness comes from the
App Key batch queries, one paged call per data type for all users. Same schemas either way.
"""

from __future__ import annotations

import typing as t

import requests

from tap_humanapi.client import AppStream, BatchStream, HumanApiStream, UserStream, load_schema

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

#: wellness stream → (Data API path per user, Application API batch path for all users)
WELLNESS: dict[str, tuple[str, str]] = {
    "activities": ("/activities", "/users/activities"),
    "activity_summaries": ("/activities/summaries", "/users/activities/summaries"),
    "sleeps": ("/sleeps", "/users/sleeps"),
    "sleep_summaries": ("/sleeps/summaries", "/users/sleeps/summaries"),
    "heart_rate": ("/heart_rate/readings", "/users/heart_rates"),
    "heart_rate_summaries": ("/heart_rate/summaries", "/users/heart_rate/summaries"),
    "blood_pressure": ("/blood_pressure/readings", "/users/blood_pressures"),
    "blood_glucose": ("/blood_glucose/readings", "/users/blood_glucoses"),
    "blood_oxygen": ("/blood_oxygen/readings", "/users/blood_oxygens"),
    "bmi": ("/bmi/readings", "/users/bmis"),
    "body_fat": ("/body_fat/readings", "/users/body_fats"),
    "height": ("/height/readings", "/users/heights"),
    "weight": ("/weight/readings", "/users/weights"),
}
MEDICAL = (
    "allergies",
    "encounters",
    "medications",
    "test_results",
    "vitals",
    "narratives",
    "organizations",
    "social_history",
    "reports",
)


class UsersStream(AppStream):
    """`GET /v1/apps/{clientId}/users`: every user of the app (or those in
    `client_user_ids`). Full table: every user's data is read on every run, and the user
    record itself does not change when that data does."""

    name = "users"
    path = "/users"
    primary_keys: t.ClassVar[list[str]] = ["humanId"]
    replication_key = None
    schema = load_schema("users")

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        workers = int(self.config.get("max_parallel_users") or 4)
        return self.with_children_prefetched(super().get_records(context), context, workers)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        wanted = self.config.get("client_user_ids")
        if wanted and row.get("externalId") not in wanted:
            return None
        if not self.humanapi.in_shard(row.get("humanId")):
            return None
        self.humanapi.external_ids[row["humanId"]] = row["externalId"]
        return row

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        return {"humanId": record["humanId"]}


class ProfileStream(UserStream):
    """`GET /v1/human/profile`: one object per user."""

    name = "profile"
    path = "/profile"
    parent_stream_type = UsersStream
    primary_keys: t.ClassVar[list[str]] = ["humanId"]
    replication_key = None
    paged = False
    schema = load_schema("profile")

    def extract_records(self, body: t.Any, response: requests.Response) -> list[dict]:
        return [body] if isinstance(body, dict) else super().extract_records(body, response)


class SourcesStream(UserStream):
    """`GET /v1/human/sources`: the user's connected sources (full table)."""

    name = "sources"
    path = "/sources"
    parent_stream_type = UsersStream
    primary_keys: t.ClassVar[list[str]] = ["humanId", "id", "source"]
    replication_key = None
    paged = False
    schema = load_schema("sources")


def medical_stream(kind: str) -> type[UserStream]:
    """`GET /v1/human/medical/<kind>`; a 404 means this user has none."""
    return type(
        f"Medical{kind.title().replace('_', '')}Stream",
        (UserStream,),
        {
            "__doc__": f"`GET /v1/human/medical/{kind}` per user (404: no data).",
            "name": f"medical_{kind}",
            "path": f"/medical/{kind}",
            "parent_stream_type": UsersStream,
            "on_not_found": "empty",
            "schema": load_schema(f"medical_{kind}"),
        },
    )


def wellness_stream(name: str, mode: str) -> type[HumanApiStream]:
    """A wellness stream: a batch query for all users, or the Data API per user."""
    per_user, batch = WELLNESS[name]
    if mode == "per_user":
        base: type[HumanApiStream] = UserStream
        extra: dict[str, t.Any] = {"path": per_user, "parent_stream_type": UsersStream}
    else:
        base, extra = BatchStream, {"path": batch}
    return type(
        "".join(part.title() for part in name.split("_")) + "Stream",
        (base,),
        {
            "__doc__": f"`{extra['path']}` ({mode.replace('_', ' ')} wellness mode).",
            "name": name,
            "schema": load_schema(name),
            **extra,
        },
    )


def stream_types(wellness_mode: str) -> list[type[HumanApiStream]]:
    """Every stream, wellness ones in the configured mode."""
    return [
        UsersStream,
        ProfileStream,
        SourcesStream,
        *(medical_stream(kind) for kind in MEDICAL),
        *(wellness_stream(name, wellness_mode) for name in WELLNESS),
    ]
