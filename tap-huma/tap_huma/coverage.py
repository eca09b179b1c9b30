"""The Huma Open API read endpoints (the spec's table of 13, v1.53.2) and what extracts each
(paths under `api_url`, as the spec writes them)."""

from taps_shared.coverage import Coverage, Endpoint

COVERAGE = Coverage(
    [
        Endpoint("GET /users", "users"),
        Endpoint(
            "GET /users/{id}",
            ("user_details", "user_children", "user_emergency_contacts", "user_identifications"),
        ),
        Endpoint("GET /users/{userId}/positions", "positions"),
        Endpoint("GET /users/{userId}/positions/{id}", "position_details"),
        Endpoint(
            "GET /users/{id}/subordinates",
            left_out=(
                "the same reporting lines as each user's `supervisor` in `user_details`, "
                "seen from the other side, at one more request per user"
            ),
        ),
        Endpoint(
            "GET /users/{id}/supervisor",
            left_out=(
                "the supervisor is in `user_details` (`supervisor`); the rest (their teams, "
                "locations, companies, subordinates) is in `users`, at one more request per user"
            ),
        ),
        Endpoint("GET /users/{id}/work-schedule", "work_schedules"),
        Endpoint(
            "GET /users/jubilees",
            left_out=(
                "derived: birthdays and work anniversaries computed from `birthDate` and "
                "`firstContractStartDate` in `user_details` for a date window; today's are in "
                "`user_details` (`jubileesToday`)"
            ),
        ),
        Endpoint("GET /groups", "groups"),
        Endpoint("GET /groups/{id}", "group_details"),
        Endpoint("GET /job-titles", "job_titles"),
        Endpoint("GET /job-titles/{id}", "job_title_details"),
        Endpoint("GET /holidays/{countryCode}", "holidays"),
    ]
)
