"""tap-openhuman: the `/v1` API the vendor's authentication page documents (contract A:
agents, and the proposed conversations, messages, memories, runs and usage, with an `sk_`
API key or OAuth2 refresh tokens) and the hosted TinyHumans backend the vendor's SDK is
generated from (contract B: account, teams, billing, sessions, tasks, memory, webhooks,
models, with a backend token or the API key)."""

from __future__ import annotations

from functools import cached_property, partial

from singer_sdk import typing as th

from tap_openhuman import schemas
from tap_openhuman.backend import (
    BackendStream,
    EnvelopeOffsetPaging,
    MemoryDocumentsStream,
    backend,
    unwrapped,
)
from tap_openhuman.client import OpenHumanStream, UsageStream, after
from taps_shared import (
    BearerTokenAuth,
    ConfigError,
    HeaderAuth,
    HumanAuth,
    HumanTap,
    StreamSpec,
    StreamTable,
    settings,
)
from taps_shared.errors import UnauthorizedError
from taps_shared.oauth import RefreshTokenAuth, TokenCache
from taps_shared.responses import json_body

OAUTH_SETTINGS = ("client_id", "client_secret", "refresh_token")

#: Contract (A), the `/v1` API: `agents` is documented by the vendor; the others follow the
#: proposed contract in the project's spec, and each is skipped with one warning when the
#: account's API answers 404. Messages are read per conversation, with one bookmark per
#: conversation.
V1_STREAMS = [
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
    ),
    StreamSpec("memories", "/memories", on_not_found="skip"),
    StreamSpec("runs", "/runs", on_not_found="skip"),
    StreamSpec(
        "usage",
        "/usage",
        primary_keys=("date", "model"),
        replication_key="date",
        on_not_found="skip",
        base=UsageStream,
    ),
]

#: Contract (B), the hosted backend the vendor's SDK is generated from (`backend_url`). A
#: route the credential cannot read (401, 403, 404) skips its stream with one warning. The
#: objects without an id of their own (spend caps, team usage, balance, plan) have no key.
NO_KEY: tuple[str, ...] = ()
BACKEND_STREAMS = [
    # account
    backend("me", "/auth/me"),
    backend("integrations", "/auth/integrations", records_key="integrations"),
    backend("api_keys", "/api-keys", secret_fields=("key", "apiKey", "secret", "token")),
    backend("budgets", "/budgets"),
    backend("spend_caps", "/spend-caps", primary_keys=NO_KEY),
    # teams
    backend("teams", "/teams", context={"teamId": "id"}),
    backend(
        "team_members",
        "/teams/{teamId}/members",
        parent="teams",
        primary_keys=("teamId", "userId"),
    ),
    backend("team_invites", "/teams/{teamId}/invites", parent="teams"),
    backend("team_usage", "/teams/me/usage", primary_keys=NO_KEY),
    # billing
    backend("credit_balance", "/payments/credits/balance", primary_keys=NO_KEY),
    backend("credit_transactions", "/payments/credits/transactions", paging=EnvelopeOffsetPaging()),
    backend("current_plan", "/payments/stripe/currentPlan", primary_keys=NO_KEY),
    # agents' work
    backend(
        "sessions",
        "/medulla/v1/sessions",
        primary_keys=("sessionId",),
        replication_key="lastActiveAt",
        context={"sessionId": "sessionId"},
        unix_seconds=("lastActiveAt",),
    ),
    backend(
        "session_messages",
        "/medulla/v1/sessions/{sessionId}/messages",
        parent="sessions",
        primary_keys=("sessionId", "seq"),
        replication_key="ts",
        unix_seconds=("ts",),
    ),
    backend(
        "session_events",
        "/medulla/v1/sessions/{sessionId}/events",
        parent="sessions",
        primary_keys=("sessionId", "seq"),
        replication_key="at",
        unix_seconds=("at",),
    ),
    backend("tasks", "/medulla/v1/tasks", records_key="tasks", replication_key="updatedAt"),
    backend("workflows", "/medulla/v1/workflows", records_key="workflows"),
    backend(
        "roster",
        "/medulla/v1/roster",
        records_key="workers",
        primary_keys=("registryId",),
        unix_seconds=("budgets[].cooldownUntil",),
    ),
    backend(
        "orchestration_sessions",
        "/orchestration/v1/sessions",
        primary_keys=("sessionId",),
        context={"sessionId": "sessionId"},
    ),
    backend(
        "orchestration_session_messages",
        "/orchestration/v1/sessions/{sessionId}/messages",
        parent="orchestration_sessions",
        primary_keys=("sessionId", "seq"),
        replication_key="ts",
        unix_seconds=("ts",),
    ),
    # memory (Neocortex)
    backend(
        "memory_documents",
        "/memory/documents",
        records_key="documents",
        primary_keys=("document_id",),
        replication_key="updated_at",
        paging=EnvelopeOffsetPaging(),
        base=MemoryDocumentsStream,
    ),
    # the rest
    backend(
        "webhooks",
        "/webhooks/core",
        secret_fields=("signingSecret", "secret", "webhookSecret"),
    ),
    backend("models", "/openai/v1/models", records_key="data", unix_seconds=("created",)),
]

STREAMS = StreamTable(OpenHumanStream, schemas, [*V1_STREAMS, *BACKEND_STREAMS])


class TapOpenHuman(HumanTap):
    """Singer tap for OpenHuman (https://tinyhumans.ai): contracts (A) and (B)."""

    name = "tap-openhuman"
    stream_table = STREAMS
    url_settings = ("api_url", "auth_url", "backend_url")

    config_jsonschema = th.PropertiesList(
        settings.credential(
            "api_key",
            "API key",
            (
                "An `sk_...` API key (Console → Settings → API Keys): Bearer on the /v1 API, "
                "and `x-api-key` on the hosted backend's machine routes when backend_token "
                "is unset. Or use OAuth."
            ),
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
        settings.credential(
            "backend_token",
            "Backend token",
            (
                "A TinyHumans user token (JWT or issued token), sent as Bearer to the hosted "
                "backend: every backend stream can read with it."
            ),
            required=False,
        ),
        settings.api_url("https://api.tinyhumans.ai/v1", "OpenHuman API (with /v1)"),
        th.Property(
            "auth_url",
            th.StringType,
            default="https://auth.tinyhumans.ai",
            title="Auth URL",
            description="OAuth server; tokens come from `<auth_url>/oauth/token`.",
        ),
        th.Property(
            "backend_url",
            th.StringType,
            default="https://api.tinyhumans.ai",
            title="Backend URL",
            description=(
                "Base URL of the hosted TinyHumans backend (/auth, /teams, /medulla, "
                "/memory, ...). Must be https://, except for loopback hosts (local "
                "emulators and tests)."
            ),
        ),
        th.Property(
            "memory_namespaces",
            th.ArrayType(th.StringType),
            title="Memory namespaces",
            description=(
                "Namespaces whose memory_documents to read, each with its own bookmark. "
                "Unset reads every namespace the API lists, in one listing."
            ),
            examples=[["default", "work"]],
        ),
        settings.start_date(
            "updated_at (created_at for messages, date for usage; for the backend's "
            "incremental streams their lastActiveAt, ts, at, updatedAt or updated_at)"
        ),
        settings.page_size(default=100, maximum=100),
        settings.requests_per_second(
            0.9, "the Free plan allows 60 per minute; raise it for Pro or Team"
        ),
        *settings.transport(),
        *settings.privacy(),
    ).to_dict()

    def check_settings(self) -> None:
        super().check_settings()
        self.auth_mode()

    def auth_mode(self) -> str | None:
        """`api_key` or `oauth` for the /v1 API, when exactly one of the two is complete;
        None when only backend_token is set (the /v1 streams are then skipped)."""
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
            if config.get("backend_token"):
                return None
            msg = (
                "set api_key, or client_id + client_secret + refresh_token for OAuth, or "
                "backend_token for the hosted backend alone"
            )
            raise ConfigError(msg)
        if missing:
            needed = "client_id, client_secret and refresh_token"
            msg = f"OAuth needs {needed}; missing {', '.join(missing)}"
            raise ConfigError(msg)
        return "oauth"

    @cached_property
    def v1_mode(self) -> str | None:
        """The /v1 API's auth mode for this run (`auth_mode`, read once)."""
        return self.auth_mode()

    def build_authenticator(self) -> HumanAuth:
        mode = self.v1_mode
        if mode is None:
            raise ConfigError("the /v1 API needs api_key or the OAuth settings")
        if mode == "api_key":
            return BearerTokenAuth(self.config["api_key"])
        return RefreshTokenAuth(
            token_url=f"{self.url_setting('auth_url')}/oauth/token",
            client_id=self.config["client_id"],
            client_secret=self.config["client_secret"],
            refresh_token=self.config.get("refresh_token") or "",
            cache_path=self.config.get("token_cache_path"),
            send=partial(self.transport.send, setting="auth_url"),
        )

    @cached_property
    def backend_url(self) -> str:
        return self.url_setting("backend_url")

    @cached_property
    def backend_authenticator(self) -> HumanAuth | None:
        """Bearer `backend_token`; else `api_key` as `x-api-key` (which the backend takes
        on some machine routes only); None without either."""
        if self.config.get("backend_token"):
            return BearerTokenAuth(self.config["backend_token"])
        if self.config.get("api_key"):
            return HeaderAuth("x-api-key", self.config["api_key"])
        return None

    def selected(self, contract: type) -> bool:
        """Whether a stream of `contract` (its stream base class) will sync."""
        return any(
            isinstance(stream, contract) and (stream.selected or stream.has_selected_descendents)
            for stream in self.streams.values()
        )

    def preflight(self) -> None:
        """Rejected credentials fail here, in one line: `GET /v1/agents?limit=1` with the
        /v1 API's, `GET /auth/me` with backend_token (for the streams selected)."""
        if self.v1_mode is not None and self.selected(OpenHumanStream):
            try:
                self.get_json("/agents?limit=1")
            except UnauthorizedError as exc:
                setting = "api_key" if self.v1_mode == "api_key" else "the OAuth credentials"
                msg = f"OpenHuman rejected the credentials (401 {exc.api_message}): check {setting}"
                raise ConfigError(msg) from None
        if self.config.get("backend_token") and self.selected(BackendStream):
            self.check_backend_token()

    def check_backend_token(self) -> None:
        label = "connection check"
        request = self.transport.prepare("GET", f"{self.backend_url}/auth/me")
        try:
            response = self.transport.send(request, label, auth=self.backend_authenticator)
        except UnauthorizedError as exc:
            msg = (
                f"OpenHuman's hosted backend rejected backend_token (401 {exc.api_message}): "
                "check backend_token"
            )
            raise ConfigError(msg) from None
        unwrapped(json_body(response), response, label)
