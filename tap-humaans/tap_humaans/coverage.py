"""The Humaans read endpoints and what extracts each (paths under `api_url`, as the spec
writes them): the two account endpoints, every resource the spec lists with a list
operation, then the ones it can only retrieve by id. `GET /x/{id}` exists on every listed
resource and returns a record its list returns, so it has no row of its own."""

from taps_shared.coverage import Coverage, Endpoint

#: Why the rest is left out: the tap extracts the 32 core HR resources; these are add-on
#: products or account administration, whose fields and scopes the spec does not give.
_ADDON = "add-on product, not one of the core HR resources (the spec gives no fields or scope)"
_ESIGN = f"e-signature {_ADDON}"
_PERFORMANCE = f"performance-review {_ADDON}"
_REQUESTS = f"requests-and-approvals {_ADDON}"
_ROLES = "account administration (roles and permissions), not HR data"
_BY_ID = "retrieve by id only: the API cannot list them, so there are no ids to ask for"

COVERAGE = Coverage(
    [
        Endpoint("GET /me", left_out="the token owner's person record, already in `people`"),
        Endpoint(
            "GET /token-info",
            left_out="metadata of the token (scopes, person); not business data",
        ),
        Endpoint("GET /people", "people"),
        Endpoint("GET /companies", "companies"),
        Endpoint("GET /locations", "locations"),
        Endpoint("GET /job-roles", "job_roles"),
        Endpoint("GET /compensations", "compensations"),
        Endpoint("GET /compensation-types", "compensation_types"),
        Endpoint("GET /time-away", "time_away"),
        Endpoint("GET /time-away-types", "time_away_types"),
        Endpoint("GET /time-away-allocations", "time_away_allocations"),
        Endpoint("GET /time-away-policies", "time_away_policies"),
        Endpoint("GET /time-away-adjustments", "time_away_adjustments"),
        Endpoint("GET /time-away-periods", "time_away_periods"),
        Endpoint("GET /bank-accounts", "bank_accounts"),
        Endpoint("GET /emergency-contacts", "emergency_contacts"),
        Endpoint("GET /equipment", "equipment"),
        Endpoint("GET /equipment-types", "equipment_types"),
        Endpoint("GET /equipment-names", "equipment_names"),
        Endpoint("GET /custom-fields", "custom_fields"),
        Endpoint("GET /custom-values", "custom_values"),
        Endpoint("GET /documents", "documents"),
        Endpoint("GET /document-types", "document_types"),
        Endpoint("GET /document-folders", "document_folders"),
        Endpoint("GET /identity-documents", "identity_documents"),
        Endpoint("GET /identity-document-types", "identity_document_types"),
        Endpoint("GET /timesheet-entries", "timesheet_entries"),
        Endpoint("GET /timesheet-submissions", "timesheet_submissions"),
        Endpoint("GET /working-patterns", "working_patterns"),
        Endpoint("GET /working-pattern-allocations", "working_pattern_allocations"),
        Endpoint("GET /spaces", "spaces"),
        Endpoint("GET /public-holidays", "public_holidays"),
        Endpoint("GET /public-holiday-calendars", "public_holiday_calendars"),
        Endpoint("GET /public-holiday-calendar-days", "public_holiday_calendar_days"),
        Endpoint(
            "GET /webhooks",
            left_out="integration settings, not HR data, and they need the webhooks:manage scope",
        ),
        Endpoint(
            "GET /webhook-events",
            left_out="delivery log of webhooks (webhooks:manage scope), not HR data",
        ),
        Endpoint("GET /esign-templates", left_out=_ESIGN),
        Endpoint("GET /esign-instances", left_out=_ESIGN),
        Endpoint("GET /esign-bulks", left_out=_ESIGN),
        Endpoint("GET /esign-bulk-recipients", left_out=_ESIGN),
        Endpoint("GET /esign-bulk-tokens", left_out=_ESIGN),
        Endpoint("GET /okrs", left_out=f"goals (OKR) {_ADDON}"),
        Endpoint("GET /performance-cycles", left_out=_PERFORMANCE),
        Endpoint("GET /performance-instances", left_out=_PERFORMANCE),
        Endpoint("GET /performance-reviews", left_out=_PERFORMANCE),
        Endpoint("GET /performance-templates", left_out=_PERFORMANCE),
        Endpoint("GET /requests", left_out=_REQUESTS),
        Endpoint("GET /request-types", left_out=_REQUESTS),
        Endpoint("GET /request-comments", left_out=_REQUESTS),
        Endpoint("GET /request-reviews", left_out=_REQUESTS),
        Endpoint("GET /request-activity-logs", left_out=_REQUESTS),
        Endpoint("GET /roles", left_out=_ROLES),
        Endpoint("GET /role-members", left_out=_ROLES),
        Endpoint("GET /role-permissions", left_out=_ROLES),
        Endpoint("GET /tasks", left_out=f"onboarding and offboarding tasks: workflows {_ADDON}"),
        Endpoint("GET /audit-events/{id}", left_out=_BY_ID),
        Endpoint("GET /performance-ratings/{id}", left_out=_BY_ID),
        Endpoint("GET /performance-summaries/{id}", left_out=_BY_ID),
        Endpoint("GET /performance-cycle-peer-nominations/{id}", left_out=_BY_ID),
        Endpoint("GET /workflow-*/{id}", left_out=_BY_ID),
    ]
)
