"""The OpenHuman read endpoints and what extracts each: contract (A), the `/v1` API (paths
under the host of `api_url`), and contract (B), every GET route of the hosted backend in
the vendor SDK's route manifest (`api/tinyhumans.backend.json`) plus the Neocortex memory
routes (paths under `backend_url`)."""

from taps_shared.coverage import Coverage, Endpoint

BY_ID = "lookup by id: the list returns the same record"
REDIRECT = "a browser step of a login, payment or OAuth flow (a redirect), not data"
JOB = "status of a job a write started: its id comes only from that write"
BINARY = "file content (binary), not records"
CATALOG = "the vendor's catalog, the same for every account"
ADD_ON = (
    "agent-integration add-on (Composio, file storage, calendar, ...), outside the read "
    "endpoints the spec lists for a tap"
)


def later(what: str) -> str:
    """The reason for a read endpoint left for a later stream."""
    return f"not extracted yet (issue 18's first set of streams): {what}"


V1 = [
    Endpoint("GET /v1/agents", "agents"),
    Endpoint("GET /v1/agents/{id}", left_out=BY_ID),
    Endpoint("GET /v1/conversations", "conversations"),
    Endpoint("GET /v1/conversations/{conversation_id}/messages", "messages"),
    Endpoint("GET /v1/memories", "memories"),
    Endpoint("GET /v1/runs", "runs"),
    Endpoint("GET /v1/usage", "usage"),
]

BACKEND = [
    Endpoint("GET /", left_out="liveness check, no data"),
    # account
    Endpoint("GET /auth/me", "me"),
    Endpoint("GET /auth/integrations", "integrations"),
    Endpoint("GET /auth/email/verify", left_out=REDIRECT),
    Endpoint("GET /auth/{provider}/login", left_out=REDIRECT),
    Endpoint("GET /auth/{provider}/connect", left_out=REDIRECT),
    Endpoint("GET /auth/{provider}/callback", left_out=REDIRECT),
    Endpoint("GET /api-keys", "api_keys"),
    Endpoint("GET /budgets", "budgets"),
    Endpoint("GET /spend-caps", "spend_caps"),
    # teams
    Endpoint("GET /teams", "teams"),
    Endpoint("GET /teams/{teamId}", left_out=BY_ID),
    Endpoint("GET /teams/{teamId}/members", "team_members"),
    Endpoint("GET /teams/{teamId}/invites", "team_invites"),
    Endpoint("GET /teams/me/usage", "team_usage"),
    Endpoint("GET /teams/{teamId}/billing/plan", left_out=later("each team's plan")),
    # billing
    Endpoint("GET /payments/credits/balance", "credit_balance"),
    Endpoint("GET /payments/credits/transactions", "credit_transactions"),
    Endpoint("GET /payments/stripe/currentPlan", "current_plan"),
    Endpoint("GET /payments/stripe/plans", left_out=CATALOG),
    Endpoint("GET /payments/credits/auto-recharge", left_out=later("auto-recharge settings")),
    Endpoint("GET /payments/credits/auto-recharge/cards", left_out=later("saved cards")),
    Endpoint("GET /payments/credits/top-up/success", left_out=REDIRECT),
    Endpoint("GET /payments/credits/top-up/cancel", left_out=REDIRECT),
    Endpoint("GET /payments/stripe/checkout/return", left_out=REDIRECT),
    Endpoint("GET /payments/stripe/portal/return", left_out=REDIRECT),
    Endpoint("GET /payments/coinbase/charge/{gatewayTransactionId}", left_out=JOB),
    Endpoint("GET /coupons/me", left_out=later("redeemed coupons")),
    Endpoint("GET /referral/stats", left_out=later("referral statistics")),
    Endpoint("GET /rewards/me", left_out=later("the rewards snapshot")),
    Endpoint(
        "GET /invite/my-codes", left_out="invite codes let anyone join: credentials, not copied"
    ),
    Endpoint("GET /invite/status", left_out=later("the invite status")),
    # agents' work
    Endpoint("GET /medulla/v1/sessions", "sessions"),
    Endpoint("GET /medulla/v1/sessions/{id}", left_out=BY_ID),
    Endpoint("GET /medulla/v1/sessions/{id}/messages", "session_messages"),
    Endpoint("GET /medulla/v1/sessions/{id}/events", "session_events"),
    Endpoint(
        "GET /medulla/v1/sessions/{id}/stream",
        left_out="a live event stream (SSE); session_events has the persisted events",
    ),
    Endpoint("GET /medulla/v1/tasks", "tasks"),
    Endpoint("GET /medulla/v1/tasks/sources", left_out=later("the tasks' GitHub sources")),
    Endpoint("GET /medulla/v1/workflows", "workflows"),
    Endpoint("GET /medulla/v1/roster", "roster"),
    Endpoint("GET /medulla/v1/hosts", left_out=later("the Medulla hosts")),
    Endpoint("GET /medulla/v1/hosts/entitlements", left_out=later("host entitlements")),
    Endpoint("GET /medulla/v1/routing/strategy", left_out=later("one routing setting")),
    Endpoint("GET /orchestration/v1/sessions", "orchestration_sessions"),
    Endpoint("GET /orchestration/v1/sessions/{id}/messages", "orchestration_session_messages"),
    Endpoint("GET /orchestration/v1/sessions/{id}/state", left_out=later("a session's state")),
    Endpoint("GET /orchestration/v1/steering", left_out=later("the steering directives")),
    Endpoint("GET /orchestration/v1/world-diff", left_out=later("world diffs")),
    Endpoint("GET /opencompany/instances", left_out=later("OpenCompany instances")),
    Endpoint("GET /channels/{channel}/threads", left_out=later("threads per channel")),
    # memory (Neocortex)
    Endpoint("GET /memory/documents", "memory_documents"),
    Endpoint("GET /memory/documents/{documentId}", left_out=BY_ID),
    Endpoint("GET /memory/ingestion/jobs/{jobId}", left_out=JOB),
    Endpoint("GET /memory/health", left_out="liveness check, no data"),
    # webhooks, inference
    Endpoint("GET /webhooks/core", "webhooks"),
    Endpoint("GET /webhooks/core/{id}", left_out=BY_ID),
    Endpoint("GET /webhooks/core/bandwidth", left_out=later("the tunnels' bandwidth budget")),
    Endpoint("GET /openai/v1/models", "models"),
    # the rest of the product
    Endpoint("GET /feedback", left_out=later("community feedback posts")),
    Endpoint("GET /feedback/{id}", left_out=BY_ID),
    Endpoint("GET /announcements/latest", left_out=later("the latest announcement")),
    Endpoint("GET /mascots", left_out=CATALOG),
    Endpoint("GET /mascots/demo", left_out=CATALOG),
    Endpoint("GET /mascots/{id}", left_out=CATALOG),
    Endpoint("GET /mascots/{id}/riv", left_out=BINARY),
    Endpoint("GET /mascots/meetings", left_out=later("mascot meetings")),
    Endpoint("GET /r/{code}", left_out=REDIRECT),
    Endpoint("GET /voice-agent/get-signed-url", left_out="mints a signed URL (a credential)"),
    Endpoint("GET /waitlist/me", left_out="the product's waitlist, not account data"),
    Endpoint("GET /waitlist/stats", left_out="the product's waitlist, not account data"),
    Endpoint("GET /waitlist/download/{token}", left_out=BINARY),
    # agent integrations
    Endpoint("GET /agent-integrations/pricing", left_out=CATALOG),
    Endpoint("GET /agent-integrations/composio/toolkits", left_out=CATALOG),
    Endpoint("GET /agent-integrations/composio/tools", left_out=CATALOG),
    Endpoint("GET /agent-integrations/composio/triggers/available", left_out=CATALOG),
    Endpoint("GET /agent-integrations/media-generation/models", left_out=CATALOG),
    Endpoint("GET /agent-integrations/crypto/routes", left_out=CATALOG),
    Endpoint("GET /agent-integrations/composio/connections", left_out=ADD_ON),
    Endpoint("GET /agent-integrations/composio/triggers", left_out=ADD_ON),
    Endpoint("GET /agent-integrations/composio/github/repos", left_out=ADD_ON),
    Endpoint("GET /agent-integrations/file-storage/files", left_out=ADD_ON),
    Endpoint("GET /agent-integrations/file-storage/files/{fileId}", left_out=BY_ID),
    Endpoint("GET /agent-integrations/file-storage/files/{fileId}/download", left_out=BINARY),
    Endpoint("GET /agent-integrations/file-storage/public/{fileId}", left_out=BINARY),
    Endpoint("GET /agent-integrations/file-storage/usage", left_out=ADD_ON),
    Endpoint("GET /agent-integrations/history-rewards/status", left_out=ADD_ON),
    Endpoint("GET /agent-integrations/recall-calendar/meetings", left_out=ADD_ON),
    Endpoint("GET /agent-integrations/recall-calendar/status", left_out=ADD_ON),
    Endpoint("GET /agent-integrations/recall-calendar/oauth-complete", left_out=REDIRECT),
    Endpoint("GET /agent-integrations/apify/runs/{runId}", left_out=JOB),
    Endpoint("GET /agent-integrations/apify/runs/{runId}/results", left_out=JOB),
    Endpoint("GET /agent-integrations/media-generation/requests/{requestId}", left_out=JOB),
    Endpoint("GET /agent-integrations/parallel/dataset/{findallId}", left_out=JOB),
    Endpoint("GET /agent-integrations/parallel/dataset/{findallId}/result", left_out=JOB),
    Endpoint("GET /agent-integrations/parallel/research/{runId}", left_out=JOB),
    Endpoint("GET /agent-integrations/parallel/research/{runId}/result", left_out=JOB),
]

COVERAGE = Coverage([*V1, *BACKEND])
