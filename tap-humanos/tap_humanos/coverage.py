"""The Humanos read endpoints and what extracts each (paths under `api_url`)."""

from taps_shared.coverage import Coverage, Endpoint

COVERAGE = Coverage(
    [
        Endpoint("GET /request", "requests"),
        Endpoint("GET /request/{requestId}", ("requests", "credentials")),
        Endpoint("GET /resource", "resources"),
        Endpoint("GET /resource/group", "resource_groups"),
        Endpoint("GET /activity", "activity_events"),
    ]
)
