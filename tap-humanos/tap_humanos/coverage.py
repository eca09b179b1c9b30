"""The Humanos read endpoints (shared/specs/humanos.md) and what extracts each (paths under
`api_url`; the v1-only VIA paths as the spec writes them)."""

from taps_shared.coverage import Coverage, Endpoint

LOOKUP_BY_MANDATE = (
    "lookup by mandate id: ids appear only in activity payloads, and issuance and "
    "revocation are already `MANDATE_*` events in `activity_events`"
)

NO_PATH = "the docs name the page, the spec confirms no route: nothing to call yet"

COVERAGE = Coverage(
    [
        Endpoint("GET /request", "requests"),
        Endpoint("GET /request/{requestId}", ("requests", "credentials")),
        Endpoint("GET /credential/{credentialId}", "credential_details"),
        Endpoint("GET /credential/{credentialId}/evidence", "credential_evidence"),
        Endpoint("GET /resource", "resources"),
        Endpoint("GET /resource/group", "resource_groups"),
        Endpoint("GET /activity", "activity_events"),
        Endpoint("GET /webhooks", "webhooks"),
        Endpoint(
            "GET /user",
            left_out=(
                "lookup of one person by contact, DID or internalId, not a list: the subjects "
                "are in `requests`, and the rest is KYC identity data"
            ),
        ),
        *(
            Endpoint(f"{page} (dated versions; no path in the spec)", left_out=NO_PATH)
            for page in ("Get Actions", "Get Versions")
        ),
        Endpoint("GET /v1/via/mandates/{mdt_id}", left_out=LOOKUP_BY_MANDATE),
        Endpoint("GET /v1/via/mandates/{mdt_id}/vc", left_out=LOOKUP_BY_MANDATE),
        Endpoint(
            "GET /v1/via/dids/{did}",
            left_out="DID resolution: public key documents, not the organisation's data",
        ),
        Endpoint("GET /v1/via/health", left_out="service health check"),
        Endpoint("GET /health", left_out="service health check"),
    ]
)
