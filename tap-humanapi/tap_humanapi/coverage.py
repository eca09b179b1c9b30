"""The Human API read endpoints and what extracts each: the Application API (App Key,
under `/v1/apps/{clientId}`) and the Data API (a user's token, under `/v1/human`)."""

from tap_humanapi.tap import MEDICAL, WELLNESS
from taps_shared.coverage import Coverage, Endpoint

COVERAGE = Coverage(
    [
        Endpoint("GET /v1/apps/{clientId}/users", "users"),
        Endpoint("GET /v1/human/profile", "profile"),
        Endpoint("GET /v1/human/sources", "sources"),
        *(Endpoint(f"GET /v1/human/medical/{kind}", f"medical_{kind}") for kind in MEDICAL),
        *(Endpoint(f"GET /v1/human{per_user}", name) for name, (per_user, _) in WELLNESS.items()),
        *(
            Endpoint(f"GET /v1/apps/{{clientId}}{batch}", name)
            for name, (_, batch) in WELLNESS.items()
        ),
    ]
)
