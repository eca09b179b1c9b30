"""tap-openhuman: agents (documented) and the proposed conversations, messages, memories,
runs and usage, with an `sk_` API key or OAuth2 refresh tokens."""

from __future__ import annotations

from functools import partial

from singer_sdk import typing as th

from tap_openhuman import schemas
from tap_openhuman.client import OpenHumanStream, UsageStream, after
from taps_shared import (
    BearerTokenAuth,
    ConfigError,
    HumanAuth,
    HumanTap,
    StreamSpec,
    StreamTable,
    settings,
)
from taps_shared.errors import UnauthorizedError
from taps_shared.oauth import RefreshTokenAuth, TokenCache

OAUTH_SETTINGS = ("client_id", "client_secret", "refresh_token")

#: `agents` is documented by the vendor; the others follow the proposed contract in the
#: project's spec, and each is skipped with one warning when the account's API answers 404.
#: Messages are read per conversation, with one bookmark per conversation. Deleted records
#: are found by a key sweep of each listing, except messages (append-only: they go with
#: their conversation) and usage (daily totals, never deleted).
STREAMS = StreamTable(
    OpenHumanStream,
    schemas,
    [
        StreamSpec("agents", "/agents"),
        StreamSpec(
            "conversations",
            "/conversations",
            on_not_found="skip",
            context={"conversation_id": "id"},
        ),
        StreamSpec(
            "messages",
            "/conversations/{conversation_id}/messages",
            parent="conversations",
            replication_key="created_at",
            incremental=after("created_after"),
            on_not_found="empty",
            sweep=None,
        ),
        StreamSpec("memories", "/memories", on_not_found="skip"),
        StreamSpec("runs", "/runs", on_not_found="skip"),
        StreamSpec(
            "usage",
            "/usage",
            primary_keys=("date", "model"),
            replication_key="date",
            on_not_found="skip",
            sweep=None,
            base=UsageStream,
        ),
    ],
)


class TapOpenHuman(HumanTap):
    """Singer tap for OpenHuman (https://tinyhumans.ai)."""

    name = "tap-openhuman"
    stream_table = STREAMS
    url_settings = ("api_url", "auth_url")

    config_jsonschema = th.PropertiesList(
        settings.credential(
            "api_key",
            "API key",
            "An `sk_...` API key (Console → Settings → API Keys). Or use OAuth.",
            required=False,
        ),
        settings.credential(
            "client_id",
            "OAuth client ID",
            "OAuth application client ID (with client_secret and refresh_token).",
            required=False,
        ),
        settings.credential(
            "client_secret",
            "OAuth client secret",
            "OAuth application client secret.",
            required=False,
        ),
        settings.credential(
            "refresh_token",
            "OAuth refresh token",
            (
                "A refresh token from `tap-openhuman-authorize`. May be left out when "
                "token_cache_path already holds one."
            ),
            required=False,
        ),
        th.Property(
            "token_cache_path",
            th.StringType,
            title="Token cache path",
            description=(
                "File where rotated refresh tokens are kept (mode 0600) and read from on the "
                "next run, in preference to refresh_token. Strongly advised with OAuth."
            ),
        ),
        settings.api_url("https://api.tinyhumans.ai/v1", "OpenHuman API (with /v1)"),
        th.Property(
            "auth_url",
            th.StringType,
            default="https://auth.tinyhumans.ai",
            title="Auth URL",
            description="OAuth server; tokens come from `<auth_url>/oauth/token`.",
        ),
        settings.start_date("updated_at (created_at for messages, date for usage)"),
        settings.page_size(default=100, maximum=100),
        settings.requests_per_second(
            0.9, "the Free plan allows 60 per minute; raise it for Pro or Team"
        ),
        settings.activate_version(),
        settings.delete_sweep(),
        *settings.transport(),
    ).to_dict()

    def check_settings(self) -> None:
        super().check_settings()
        self.auth_mode()

    def auth_mode(self) -> str:
        """`api_key` or `oauth`, when exactly one of the two is complete."""
        config = self.config
        oauth_given = [k for k in OAUTH_SETTINGS if config.get(k)]
        if config.get("api_key"):
            if oauth_given:
                msg = (
                    "set either api_key or client_id + client_secret + refresh_token, not "
                    f"both (found api_key and {', '.join(oauth_given)})"
                )
                raise ConfigError(msg)
            return "api_key"
        cached = config.get("token_cache_path") and TokenCache(config["token_cache_path"]).read()
        missing = [k for k in OAUTH_SETTINGS if not config.get(k)]
        if cached and missing == ["refresh_token"]:
            missing = []
        if not oauth_given:
            msg = "set api_key, or client_id + client_secret + refresh_token for OAuth"
            raise ConfigError(msg)
        if missing:
            needed = "client_id, client_secret and refresh_token"
            msg = f"OAuth needs {needed}; missing {', '.join(missing)}"
            raise ConfigError(msg)
        return "oauth"

    def build_authenticator(self) -> HumanAuth:
        if self.auth_mode() == "api_key":
            return BearerTokenAuth(self.config["api_key"])
        return RefreshTokenAuth(
            token_url=f"{self.url_setting('auth_url')}/oauth/token",
            client_id=self.config["client_id"],
            client_secret=self.config["client_secret"],
            refresh_token=self.config.get("refresh_token") or "",
            cache_path=self.config.get("token_cache_path"),
            send=partial(self.transport.send, setting="auth_url"),
        )

    def preflight(self) -> None:
        """`GET /v1/agents?limit=1`: rejected credentials fail here, in one line."""
        try:
            self.get_json("/agents?limit=1")
        except UnauthorizedError as exc:
            setting = "api_key" if self.auth_mode() == "api_key" else "the OAuth credentials"
            msg = f"OpenHuman rejected the credentials (401 {exc.api_message}): check {setting}"
            raise ConfigError(msg) from None
