"""The OpenHuman read endpoints and what extracts each (paths under `api_url`)."""

from taps_shared.coverage import Coverage, Endpoint

COVERAGE = Coverage(
    [
        Endpoint("GET /v1/agents", "agents"),
        Endpoint("GET /v1/conversations", "conversations"),
        Endpoint("GET /v1/conversations/{conversation_id}/messages", "messages"),
        Endpoint("GET /v1/memories", "memories"),
        Endpoint("GET /v1/runs", "runs"),
        Endpoint("GET /v1/usage", "usage"),
    ]
)
