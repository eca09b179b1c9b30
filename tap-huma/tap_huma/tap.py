"""tap-huma: users, their details, positions and work schedules, groups, job titles and
holidays.

Everything is full table: the API has no change timestamps. User details are fetched once
per user (`GET /users/{id}`); their children, emergency contacts and identifications come
inside them and become three streams without further requests. The other detail streams
(`position_details`, `work_schedules`, `group_details`, `job_title_details`) cost one
request per parent record; the catalog selection is their switch.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import cached_property, partial

from singer_sdk import typing as th

from tap_huma import schemas
from tap_huma.client import FieldDetailsStream, HolidaysStream, HumaStream, UsersStream
from taps_shared import ConfigError, HumanTap, StreamSpec, StreamTable, settings
from taps_shared.dates import parse_datetime
from taps_shared.oauth import ClientCredentialsAuth

_COUNTRY = re.compile(r"[A-Z]{2}")
USER = {"userId": "id"}
POSITION = {"userId": "userId", "positionId": "id"}
OAUTH_PATH = "/auth/oauth/token"

#: Page limits are the OpenAPI's maxima (positions states none: the users maximum is used).
STREAMS = StreamTable(
    HumaStream,
    schemas,
    [
        StreamSpec("users", "/users", page_limit=50, context=USER, base=UsersStream),
        StreamSpec(
            "user_details",
            "/users/{userId}",
            parent="users",
            context=USER,
            base=FieldDetailsStream,
        ),
        StreamSpec("user_children", parent="user_details", nested="children"),
        StreamSpec("user_emergency_contacts", parent="user_details", nested="emergencyContacts"),
        StreamSpec("user_identifications", parent="user_details", nested="identifications"),
        StreamSpec(
            "positions",
            "/users/{userId}/positions",
            parent="users",
            page_limit=50,
            context=POSITION,
        ),
        StreamSpec(
            "position_details",
            "/users/{userId}/positions/{positionId}",
            parent="positions",
            base=FieldDetailsStream,
        ),
        # A user without a current schedule gets a 404 (assumed): no record for them.
        StreamSpec(
            "work_schedules",
            "/users/{userId}/work-schedule",
            parent="users",
            primary_keys=("userId",),
            one_record=True,
            paging=None,
            on_not_found="empty",
        ),
        StreamSpec("groups", "/groups", page_limit=25, context={"groupId": "id"}),
        StreamSpec(
            "group_details", "/groups/{groupId}", parent="groups", one_record=True, paging=None
        ),
        StreamSpec(
            "job_titles",
            "/job-titles",
            records_key=None,
            paging=None,
            context={"jobTitleId": "id"},
        ),
        StreamSpec(
            "job_title_details",
            "/job-titles/{jobTitleId}",
            parent="job_titles",
            one_record=True,
            paging=None,
        ),
        StreamSpec(
            "holidays",
            "/holidays/{countryCode}",
            primary_keys=("countryCode", "date"),
            records_key=None,
            paging=None,
            base=HolidaysStream,
        ),
    ],
)


class TapHuma(HumanTap):
    """Singer tap for the Huma HR Open API (https://humahr.com)."""

    name = "tap-huma"
    stream_table = STREAMS
    url_settings = ("api_url", "token_url")

    config_jsonschema = th.PropertiesList(
        settings.credential(
            "client_id",
            "Client ID",
            "Client ID of a Huma Open API key (System settings → Open API).",
            secret=False,
        ),
        settings.credential(
            "client_secret",
            "Client secret",
            "Client secret of the same API key (shown once, when it is created).",
        ),
        settings.api_url("https://openapi.humahr.com", "Huma Open API"),
        th.Property(
            "token_url",
            th.StringType,
            title="Token URL",
            description="OAuth2 token endpoint. Default: `<api_url>/auth/oauth/token`.",
        ),
        th.Property(
            "client_auth",
            th.StringType,
            default="form",
            allowed_values=["form", "json", "basic"],
            title="Client authentication",
            description=(
                "How the token request carries the client credentials: `form` "
                "(form-encoded body), `json` (JSON body) or `basic` (HTTP Basic header)."
            ),
        ),
        th.Property(
            "holiday_countries",
            th.ArrayType(th.StringType),
            default=[],
            title="Holiday countries",
            description="ISO 3166-1 alpha-2 codes (e.g. NO, SE) whose public holidays to read.",
        ),
        th.Property(
            "holiday_start_date",
            th.DateType,
            title="Holiday window start",
            description="First day of the holiday window. Default: January 1 of last year.",
        ),
        th.Property(
            "holiday_end_date",
            th.DateType,
            title="Holiday window end",
            description="Last day of the holiday window. Default: December 31 of next year.",
        ),
        th.Property(
            "include_inactive_users",
            th.BooleanType,
            default=True,
            title="Include inactive users",
            description=(
                "Read deactivated users too. false asks the API for active users only "
                "(`isActive=true`)."
            ),
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=True,
            title="Emit ACTIVATE_VERSION",
            description=(
                "Announce each full-table sync with ACTIVATE_VERSION, so targets that "
                "support it can remove rows deleted in Huma."
            ),
        ),
        settings.requests_per_second(5, "Huma documents no limit"),
        *settings.transport(),
        *settings.privacy(),
    ).to_dict()

    def check_settings(self) -> None:
        super().check_settings()
        bad = [c for c in self.config.get("holiday_countries") or [] if not _COUNTRY.fullmatch(c)]
        if bad:
            msg = f"holiday_countries must be ISO 3166-1 alpha-2 codes like NO or SE, got {bad}"
            raise ConfigError(msg)
        start, end = self.holiday_window
        if start > end:
            msg = f"holiday_start_date {start} is after holiday_end_date {end}"
            raise ConfigError(msg)

    @cached_property
    def holiday_window(self) -> tuple[str, str]:
        """(fromDate, toDate): the configured window, or last year's Jan 1 to next Dec 31."""
        year = datetime.now(UTC).year
        start = self.config.get("holiday_start_date") or date(year - 1, 1, 1).isoformat()
        end = self.config.get("holiday_end_date") or date(year + 1, 12, 31).isoformat()
        return (
            parse_datetime(start, "holiday_start_date").date().isoformat(),
            parse_datetime(end, "holiday_end_date").date().isoformat(),
        )

    def build_authenticator(self) -> ClientCredentialsAuth:
        # The token endpoint is token_url, or by default the OpenAPI's path under api_url.
        setting = "token_url" if self.config.get("token_url") else "api_url"
        return ClientCredentialsAuth(
            token_url=self.url_setting(setting) + ("" if setting == "token_url" else OAUTH_PATH),
            client_id=self.config["client_id"],
            client_secret=self.config["client_secret"],
            client_auth=self.config.get("client_auth", "form"),
            send=partial(self.transport.send, setting=setting),
        )

    def preflight(self) -> None:
        """Obtain a token and read `GET /users/me`: bad credentials fail here, once."""
        self.get_json("/users/me")
