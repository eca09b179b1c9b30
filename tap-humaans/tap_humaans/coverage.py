"""The Humaans read endpoints and what extracts each (paths under `api_url`)."""

from taps_shared.coverage import Coverage, Endpoint

COVERAGE = Coverage(
    [
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
        Endpoint("GET /bank-accounts", "bank_accounts"),
        Endpoint("GET /emergency-contacts", "emergency_contacts"),
        Endpoint("GET /equipment", "equipment"),
        Endpoint("GET /custom-fields", "custom_fields"),
        Endpoint("GET /custom-values", "custom_values"),
        Endpoint("GET /documents", "documents"),
        Endpoint("GET /document-types", "document_types"),
        Endpoint("GET /identity-documents", "identity_documents"),
        Endpoint("GET /timesheet-entries", "timesheet_entries"),
        Endpoint("GET /timesheet-submissions", "timesheet_submissions"),
        Endpoint("GET /working-patterns", "working_patterns"),
        Endpoint("GET /public-holidays", "public_holidays"),
        Endpoint("GET /public-holiday-calendars", "public_holiday_calendars"),
    ]
)
