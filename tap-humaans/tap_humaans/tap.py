"""tap-humaans: every list resource of the Humaans HRIS API, one line each."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_humaans import schemas
from tap_humaans.client import HumaansStream
from tap_humaans.people_custom import PeopleCustomStream
from taps_shared import (
    BearerTokenAuth,
    ConfigError,
    HumanTap,
    StreamSpec,
    StreamTable,
    custom_fields,
    settings,
)
from taps_shared.errors import UnauthorizedError

COMPENSATIONS = "compensations:read"
DOCUMENTS = "documents:read"

#: Every stream is incremental on `updatedAt`, unless it says otherwise; `scope` names the
#: token scope beyond private:read that its resource needs. The 32 core resources of the
#: spec, related ones together, and the custom values pivoted (`people_custom`).
STREAMS = StreamTable(
    HumaansStream,
    schemas,
    [
        StreamSpec("people", "/people"),
        StreamSpec("companies", "/companies"),
        StreamSpec("spaces", "/spaces"),
        StreamSpec("locations", "/locations"),
        StreamSpec("job_roles", "/job-roles"),
        StreamSpec("compensations", "/compensations", scope=COMPENSATIONS),
        StreamSpec("compensation_types", "/compensation-types", scope=COMPENSATIONS),
        StreamSpec("time_away", "/time-away"),
        StreamSpec("time_away_types", "/time-away-types"),
        StreamSpec("time_away_allocations", "/time-away-allocations"),
        StreamSpec("time_away_policies", "/time-away-policies"),
        StreamSpec("time_away_adjustments", "/time-away-adjustments"),
        # Leave balances: computed by the API and changing as days pass, without a known
        # updatedAt, so read in full every run (every person's periods, every year).
        StreamSpec(
            "time_away_periods", "/time-away-periods", replication_key=None, incremental=None
        ),
        StreamSpec("bank_accounts", "/bank-accounts"),
        StreamSpec("emergency_contacts", "/emergency-contacts"),
        StreamSpec("equipment", "/equipment"),
        StreamSpec("equipment_types", "/equipment-types"),
        StreamSpec("equipment_names", "/equipment-names"),
        StreamSpec("custom_fields", "/custom-fields"),
        StreamSpec("custom_values", "/custom-values"),
        # The values pivoted: a row per person, a column per custom field (found at
        # discovery), re-emitted whole when any of the person's values changes or goes.
        StreamSpec(
            "people_custom", "/custom-values", primary_keys=("personId",), base=PeopleCustomStream
        ),
        StreamSpec("documents", "/documents", scope=DOCUMENTS),
        StreamSpec("document_types", "/document-types", scope=DOCUMENTS),
        StreamSpec("document_folders", "/document-folders", scope=DOCUMENTS),
        StreamSpec("identity_documents", "/identity-documents", scope=DOCUMENTS),
        StreamSpec("identity_document_types", "/identity-document-types", scope=DOCUMENTS),
        StreamSpec("timesheet_entries", "/timesheet-entries"),
        StreamSpec("timesheet_submissions", "/timesheet-submissions"),
        StreamSpec("working_patterns", "/working-patterns"),
        StreamSpec("working_pattern_allocations", "/working-pattern-allocations"),
        StreamSpec("public_holidays", "/public-holidays"),
        StreamSpec("public_holiday_calendars", "/public-holiday-calendars"),
        StreamSpec("public_holiday_calendar_days", "/public-holiday-calendar-days"),
    ],
)


class TapHumaans(HumanTap):
    """Singer tap for Humaans (https://humaans.io)."""

    name = "tap-humaans"
    stream_table = STREAMS

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
        settings.activate_version(),
        settings.delete_sweep(),
        *settings.transport(),
        *settings.privacy(),
        custom_fields.setting(),
    ).to_dict()

    def check_settings(self) -> None:
        super().check_settings()
        custom_fields.sensitivities(self.config)

    def build_authenticator(self) -> BearerTokenAuth:
        return BearerTokenAuth(self.config["api_token"])

    def preflight(self) -> None:
        """`GET /api/me`: a rejected token fails here, once, not in every stream."""
        self.get_json("/me")

    def get_json(self, path: str, label: str = "connection check") -> t.Any:
        """A rejected token says so in one line, whichever request finds out first (the
        connection check, or discovering the custom fields)."""
        try:
            return super().get_json(path, label)
        except UnauthorizedError:
            msg = "Humaans rejected the API token (401): check api_token"
            raise ConfigError(msg) from None


if __name__ == "__main__":
    TapHumaans.cli()
