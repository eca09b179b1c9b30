"""The Human API read endpoints (shared/specs/humanapi.md) and what extracts each: the
Application API (App Key, under `/v1/apps/{clientId}`), the Data API (a user's token,
under `/v1/human`) and the Admin API (its own host and client token)."""

from tap_humanapi.tap import MEDICAL, WELLNESS
from taps_shared.coverage import Coverage, Endpoint

DATA = "/v1/human"
APP = "/v1/apps/{clientId}"
ADMIN = "https://admin.humanapi.co/api/v1"
READINGS = (
    "heart_rate",
    "blood_pressure",
    "blood_glucose",
    "blood_oxygen",
    "bmi",
    "body_fat",
    "height",
    "weight",
)
SUMMARIES = ("/activities/summaries", "/sleeps/summaries", "/heart_rate/summaries")
#: Medical paths the spec lists as probably existing but not verified.
UNVERIFIED = (
    "immunizations",
    "issues",
    "procedures",
    "plans_of_care",
    "demographics",
    "timeline",
    "ccds",
)

BY_ID = "lookup by id: the list returns the same record"
BY_DATE = "lookup by date: the list returns the same record"
SAME_USER = "lookup by humanId: the list returns the same user"
ADMIN_API = (
    "Admin API (orders and reports of the Health Intelligence Platform): another product, "
    "with a client token Human API support enables per client; not in this tap's scope"
)


def _lookup(path: str) -> Endpoint:
    """The single-record route of a Data API list."""
    if path in SUMMARIES:
        return Endpoint(f"GET {DATA}{path}/{{YYYY-MM-DD}}", left_out=BY_DATE)
    return Endpoint(f"GET {DATA}{path}/{{id}}", left_out=BY_ID)


COVERAGE = Coverage(
    [
        # Application API
        Endpoint(f"GET {APP}/users", "users"),
        Endpoint(f"GET {APP}/users/{{humanId}}", left_out=SAME_USER),
        *(Endpoint(f"GET {APP}{batch}", name) for name, (_, batch) in WELLNESS.items()),
        # Data API: lists
        Endpoint(f"GET {DATA}/profile", "profile"),
        Endpoint(f"GET {DATA}/sources", "sources"),
        Endpoint(f"GET {DATA}/medical/profile", "medical_profile"),
        *(Endpoint(f"GET {DATA}/medical/{kind}", f"medical_{kind}") for kind in MEDICAL),
        *(Endpoint(f"GET {DATA}{per_user}", name) for name, (per_user, _) in WELLNESS.items()),
        # Data API: what the lists already hold, or is not data
        Endpoint(
            f"GET {DATA}",
            left_out="the human summary: the latest value of a few types, the newest records "
            "of their streams",
        ),
        *(
            Endpoint(
                f"GET {DATA}/{kind}", left_out=f"the latest reading: the newest `{kind}` record"
            )
            for kind in READINGS
        ),
        *(
            Endpoint(
                f"GET {DATA}/{kind}/readings/daily/{{YYYY-MM-DD}}",
                left_out=f"one day of readings (python client only): the same `{kind}` records",
            )
            for kind in READINGS
        ),
        *(_lookup(per_user) for per_user, _ in WELLNESS.values()),
        *(_lookup(f"/medical/{kind}") for kind in MEDICAL),
        Endpoint(
            f"GET {DATA}/medical/reports/{{id}}/raw",
            left_out="a report's file (PDF, HTML or JSON document), not records: its metadata "
            "is `medical_reports`",
        ),
        *(
            Endpoint(f"GET {DATA}/medical/{kind}", left_out="path not verified by the spec")
            for kind in UNVERIFIED
        ),
        # Admin API
        *(
            Endpoint(f"GET {ADMIN}{path}", left_out=ADMIN_API)
            for path in (
                "/users",
                "/users/{humanId}",
                "/users/providers",
                "/user/reports",
                "/user/reports/{reportId}",
                "/subscriptions",
                "/order-types",
            )
        ),
    ]
)
