"""tap-humanapi: every connected user's wellness and medical data, in one run.

The app's users come from the Application API (App Key); per user, the profile, sources,
medical records and (in `per_user` mode) wellness data come from the Data API with that
user's token. In `batch` mode wellness comes from the App Key batch queries, one paged
call per data type for all users. Same schemas either way.
"""

from __future__ import annotations

from functools import cached_property

from singer_sdk import typing as th

from tap_humanapi import schemas
from tap_humanapi.client import AppUsers, BatchStream, HumanApiStream, UsersStream, UserStream
from taps_shared import BasicAuth, ConfigError, HumanTap, StreamSpec, StreamTable, settings
from taps_shared.errors import HTTPStatusError, UnauthorizedError

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
    "locations": ("/locations", "/users/locations"),
    "food_meals": ("/food/meals", "/users/food/meals"),
    "genetic_traits": ("/genetic/traits", "/users/genetic_traits"),
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


def wellness(name: str, mode: str) -> StreamSpec:
    """A wellness stream: the Data API per user, or a batch query for all users."""
    per_user, batch = WELLNESS[name]
    if mode == "per_user":
        return StreamSpec(name, per_user, parent="users", base=UserStream)
    return StreamSpec(name, batch, base=BatchStream)


def stream_table(mode: str) -> StreamTable:
    """Every stream, the wellness ones in `mode`. Medical records (and the medical
    profile) answer 404 for a user without any: no records, not an error."""
    return StreamTable(
        HumanApiStream,
        schemas,
        [
            StreamSpec(
                "users",
                "/users",
                primary_keys=("humanId",),
                replication_key=None,
                context={"humanId": "humanId"},
                base=UsersStream,
            ),
            StreamSpec(
                "profile",
                "/profile",
                parent="users",
                primary_keys=("humanId",),
                replication_key=None,
                one_record=True,
                paging=None,
                base=UserStream,
            ),
            StreamSpec(
                "sources",
                "/sources",
                parent="users",
                primary_keys=("humanId", "id", "source"),
                replication_key=None,
                paging=None,
                base=UserStream,
            ),
            StreamSpec(
                "medical_profile",
                "/medical/profile",
                parent="users",
                primary_keys=("humanId",),
                replication_key=None,
                one_record=True,
                paging=None,
                on_not_found="empty",
                base=UserStream,
            ),
            *(
                StreamSpec(
                    f"medical_{kind}",
                    f"/medical/{kind}",
                    parent="users",
                    on_not_found="empty",
                    base=UserStream,
                )
                for kind in MEDICAL
            ),
            *(wellness(name, mode) for name in WELLNESS),
        ],
    )


STREAMS = {mode: stream_table(mode) for mode in ("batch", "per_user")}


class TapHumanApi(HumanTap):
    """Singer tap for Human API (https://humanapi.co)."""

    name = "tap-humanapi"
    url_settings = ("api_url", "auth_url")

    config_jsonschema = th.PropertiesList(
        settings.credential(
            "client_id", "Client ID", "The app's Client ID (Human API portal).", secret=False
        ),
        settings.credential(
            "client_secret",
            "Client secret",
            "The app's Client Secret: mints each user's Data API access token.",
        ),
        settings.credential(
            "app_key",
            "App Key",
            "The App Key: HTTP Basic username for the Application API (users, batch).",
        ),
        settings.api_url("https://api.humanapi.co", "Human API (Data and Application APIs)"),
        th.Property(
            "auth_url",
            th.StringType,
            default="https://auth.humanapi.co",
            title="Auth URL",
            description="Auth service; user tokens come from `<auth_url>/v1/connect/token`.",
        ),
        settings.start_date("updatedAt"),
        th.Property(
            "client_user_ids",
            th.ArrayType(th.StringType),
            title="Client user IDs",
            description="Restrict the run to these users (their externalId / client_user_id).",
        ),
        th.Property(
            "wellness_mode",
            th.StringType,
            default="batch",
            allowed_values=["batch", "per_user"],
            title="Wellness mode",
            description=(
                "`batch`: one paged App Key batch query per wellness type for all users (the "
                "vendor's advice); `per_user`: the Data API with each user's token."
            ),
        ),
        th.Property(
            "time_series",
            th.BooleanType,
            default=False,
            title="Time series",
            description=(
                "Ask for the `timeSeries` of activities and sleeps (the API's "
                "`time_series=true`): minute-level samples, much larger records."
            ),
        ),
        settings.page_size(default=500, maximum=500),
        settings.requests_per_second(10, "Human API documents no limit"),
        th.Property(
            "max_parallel_users",
            th.IntegerType(minimum=1, maximum=16),
            default=4,
            title="Max parallel users",
            description=(
                "Users whose Data API records are fetched at once. Records and state are "
                "still emitted user after user, as a serial run emits them."
            ),
        ),
        th.Property(
            "user_shard",
            th.StringType(pattern=r"^\d+/[1-9]\d*$"),
            title="User shard",
            description=(
                "`i/n`: extract only the users whose humanId hashes to shard i of n "
                "(0 <= i < n), so n runs with their own state cover every user exactly once. "
                "Unset: every user."
            ),
            examples=["0/4"],
        ),
        *settings.transport(),
        *settings.privacy(),
    ).to_dict()

    @property
    def stream_table(self) -> StreamTable:  # type: ignore[override]
        return STREAMS[self.config.get("wellness_mode", "batch")]

    def check_settings(self) -> None:
        super().check_settings()
        self.users.in_shard("")  # a shard out of range fails now, naming the setting

    def build_authenticator(self) -> BasicAuth:
        return BasicAuth(self.config["app_key"], "")

    @cached_property
    def users(self) -> AppUsers:
        return AppUsers(
            transport=self.transport,
            token_url=f"{self.url_setting('auth_url')}/v1/connect/token",
            client_id=self.config["client_id"],
            client_secret=self.config["client_secret"],
            wanted=self.config.get("client_user_ids"),
            shard=self.config.get("user_shard"),
        )

    def sync_all(self) -> None:  # type: ignore[misc]
        super().sync_all()
        self.users.check_tokens(self.logger)

    def preflight(self) -> None:
        """One App Key call: a wrong app_key or client_id fails here, in one line."""
        try:
            self.get_json(f"/v1/apps/{self.config['client_id']}/users?limit=1")
        except UnauthorizedError as exc:
            msg = f"Human API rejected the App Key ({exc.status} {exc.api_message}): check app_key"
            raise ConfigError(msg) from None
        except HTTPStatusError as exc:
            if exc.status != 404:
                raise
            msg = f"Human API does not know this app ({exc}): check client_id"
            raise ConfigError(msg) from None
