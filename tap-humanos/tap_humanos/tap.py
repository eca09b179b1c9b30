"""tap-humanos: requests and their credentials, resources, groups, the activity log and
webhook registrations."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_humanos import schemas
from tap_humanos.client import (
    CredentialsStream,
    EvidenceStream,
    HumanosStream,
    RequestsStream,
    WebhooksStream,
)
from taps_shared import ConfigError, HmacSignedAuth, HumanTap, StreamSpec, StreamTable, settings
from taps_shared.errors import UnauthorizedError

#: Requests and the activity log come newest first and are incremental on `createdAt`;
#: the rest is full table. Each request's detail (`GET /request/{requestId}`) adds its
#: agent and issuer to the request and gives its credentials (decisions and W3C credential
#: included); each credential is then read on its own (`GET /credential/{credentialId}`:
#: tags, revocation) with its evidence. The activity log and the evidence exist in dated
#: API versions only: a 404 (v1) skips them with a warning, as it does webhooks.
STREAMS = StreamTable(
    HumanosStream,
    schemas,
    [
        StreamSpec(
            "requests",
            "/request",
            replication_key="createdAt",
            api_order="descending",
            context={"requestId": "id"},
            base=RequestsStream,
        ),
        StreamSpec(
            "credentials",
            "/request/{requestId}",
            parent="requests",
            one_record=True,
            paging=None,
            context={"requestId": "requestId", "credentialId": "id"},
            state_partitioning_keys=(),
            on_not_found="empty",
            base=CredentialsStream,
        ),
        StreamSpec(
            "credential_details",
            "/credential/{credentialId}",
            parent="credentials",
            primary_keys=("credentialId",),
            one_record=True,
            paging=None,
            state_partitioning_keys=(),
            on_not_found="empty",
        ),
        StreamSpec(
            "credential_evidence",
            "/credential/{credentialId}/evidence",
            parent="credentials",
            records_key=None,
            paging=None,
            state_partitioning_keys=(),
            base=EvidenceStream,
        ),
        StreamSpec("resources", "/resource"),
        StreamSpec("resource_groups", "/resource/group"),
        StreamSpec(
            "activity_events",
            "/activity",
            replication_key="createdAt",
            api_order="descending",
            on_not_found="skip",
        ),
        StreamSpec(
            "webhooks",
            "/webhooks",
            records_key=None,
            paging=None,
            on_not_found="skip",
            base=WebhooksStream,
        ),
    ],
)

#: The API's 401 message → what the user should check.
_REJECTIONS = {
    "Invalid signature": (
        "Humanos rejected the request signature",
        "check signature_secret (and that it belongs to the same key and environment as api_key)",
    ),
    "Invalid timestamp": ("Humanos rejected the request timestamp", "check this machine's clock"),
}
_KEY_REJECTION = ("Humanos rejected the API key", "check api_key (keys can expire)")


class TapHumanos(HumanTap):
    """Singer tap for Humanos (https://humanos.id)."""

    name = "tap-humanos"
    stream_table = STREAMS

    config_jsonschema = th.PropertiesList(
        settings.credential("api_key", "API key", "Humanos API key (dashboard → API keys)."),
        settings.credential(
            "signature_secret",
            "Signature secret",
            "The key's Signature Secret: every request is HMAC-SHA256 signed with it.",
        ),
        settings.api_url(
            "https://api.humanos.id",
            "Humanos API; end it with /v1 for the v1 paths",
        ),
        th.Property(
            "api_version",
            th.StringType,
            title="API version",
            description=(
                "Sent as the `API-Version` header (YYYY-MM-DD, e.g. 2026-05-17). Unset: the "
                "version pinned for your organization."
            ),
        ),
        settings.start_date("createdAt of requests and activity events"),
        settings.page_size(default=100, maximum=100, minimum=5),
        settings.requests_per_second(2, "Humanos documents no read limit; writes are 1/s"),
        *settings.transport(),
        *settings.privacy(),
    ).to_dict()

    @property
    def api_headers(self) -> dict[str, str]:
        version = self.config.get("api_version")
        return {"API-Version": version} if version else {}

    def build_authenticator(self) -> HmacSignedAuth:
        return HmacSignedAuth(self.config["api_key"], self.config["signature_secret"])

    def preflight(self) -> None:
        """One signed `GET /resource`: a bad key or signature fails here, in one line."""
        try:
            self.get_json("/resource?pageIndex=0&pageSize=5")
        except UnauthorizedError as exc:
            what, hint = _REJECTIONS.get(exc.api_message.split(": ")[-1], _KEY_REJECTION)
            msg = f"{what} (401 {exc.api_message or 'Unauthorized'}): {hint}"
            raise ConfigError(msg) from None
