"""tap-humaans: every list resource of the Humaans HRIS API."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_humaans.client import HumaansStream
from tap_humaans.streams import STREAM_TYPES
from taps_shared import BearerTokenAuth, ConfigError, HumanTap, settings
from taps_shared.errors import UnauthorizedError


class TapHumaans(HumanTap):
    """Singer tap for Humaans (https://humaans.io)."""

    name = "tap-humaans"

    config_jsonschema = th.PropertiesList(
        settings.credential(
            "api_token",
            "API access token",
            (
                "A Humaans API access token (Owner/Admin: workspace menu → API access "
                "tokens). Needs private:read; compensations:read and documents:read unlock "
                "the compensation and document streams."
            ),
        ),
        settings.api_url("https://app.humaans.io/api", "Humaans API"),
        settings.start_date("updatedAt"),
        settings.page_size(default=250, maximum=250),
        settings.requests_per_second(
            8, "Humaans publishes no limit; about 10/s per token is assumed"
        ),
        th.Property(
            "on_missing_scope",
            th.StringType,
            default="warn",
            allowed_values=["warn", "fail"],
            title="On missing scope",
            description=(
                "What a 403 on a scope-gated stream does: `warn` skips the stream with a "
                "warning naming the scope; `fail` stops the run."
            ),
        ),
        *settings.transport(),
    ).to_dict()

    def build_authenticator(self) -> BearerTokenAuth:
        return BearerTokenAuth(self.config["api_token"])

    def discover_streams(self) -> list[HumaansStream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def preflight(self) -> None:
        """`GET /api/me`: a rejected token fails here, once, not in every stream."""
        try:
            self.get_json("/me")
        except UnauthorizedError:
            msg = "Humaans rejected the API token (401): check api_token"
            raise ConfigError(msg) from None


if __name__ == "__main__":
    TapHumaans.cli()
