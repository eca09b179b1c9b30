"""tap-humanapi: every connected user's wellness and medical data, in one run."""

from __future__ import annotations

import hashlib
import typing as t
from functools import cached_property

import requests
from singer_sdk import typing as th

from tap_humanapi.client import HumanApiStream
from tap_humanapi.streams import stream_types
from taps_shared import BasicAuth, ConfigError, HumanTap, settings
from taps_shared.errors import HTTPStatusError, UnauthorizedError
from taps_shared.oauth import SubjectRefusedError, SubjectTokens
from taps_shared.responses import json_body


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
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        #: humanId → externalId (client_user_id) of the users read in this run.
        self.external_ids: dict[str, str] = {}
        super().__init__(*args, **kwargs)

    def check_settings(self) -> None:
        super().check_settings()
        self.in_shard("")  # a shard out of range fails now, naming the setting

    def in_shard(self, human_id: str | None) -> bool:
        """Whether this run's `user_shard` covers the user (stable across runs and hosts)."""
        shard = self.config.get("user_shard")
        if not shard:
            return True
        index, count = (int(part) for part in shard.split("/"))
        if index >= count:
            msg = f"user_shard {shard!r}: the shard index must be below the shard count"
            raise ConfigError(msg)
        digest = hashlib.sha256(str(human_id).encode()).digest()
        return int.from_bytes(digest[:8], "big") % count == index

    def build_authenticator(self) -> BasicAuth:
        return BasicAuth(self.config["app_key"], "")

    @cached_property
    def user_tokens(self) -> SubjectTokens:
        return SubjectTokens(self._mint_user_token)

    def _mint_user_token(self, external_id: str) -> dict[str, t.Any]:
        """`POST <auth_url>/v1/connect/token` with `type: access` for one user."""
        body = {
            "client_id": self.config["client_id"],
            "client_secret": self.config["client_secret"],
            "client_user_id": external_id,
            "type": "access",
        }
        url = f"{self.url_setting('auth_url')}/v1/connect/token"
        request = requests.Request("POST", url, json=body)
        try:
            return json_body(self.send(request.prepare(), "Human API token request"))
        except UnauthorizedError as exc:
            msg = f"{exc}: check client_id and client_secret"
            raise ConfigError(msg) from None
        except HTTPStatusError as exc:
            reason = f"{exc.status} {exc.api_message}".strip()
            raise SubjectRefusedError(external_id, reason, first=True) from None

    def discover_streams(self) -> list[HumanApiStream]:
        mode = self.config.get("wellness_mode", "batch")
        return [stream_type(tap=self) for stream_type in stream_types(mode)]

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
