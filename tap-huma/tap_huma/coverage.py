"""The Huma Open API read endpoints and what extracts each (paths under `api_url`)."""

from taps_shared.coverage import Coverage, Endpoint

COVERAGE = Coverage(
    [
        Endpoint("GET /users", "users"),
        Endpoint(
            "GET /users/{userId}",
            ("user_details", "user_children", "user_emergency_contacts", "user_identifications"),
        ),
        Endpoint("GET /users/{userId}/positions", "positions"),
        Endpoint("GET /groups", "groups"),
        Endpoint("GET /job-titles", "job_titles"),
        Endpoint("GET /holidays/{countryCode}", "holidays"),
    ]
)
