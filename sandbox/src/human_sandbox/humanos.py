"""Local emulator of the Humanos API (humanos.id; see shared/specs/humanos.md).

It reproduces the contract a tap depends on:

* Signed requests on every route but ``/health``: ``Authorization: Bearer <API_KEY>``,
  ``X-Timestamp`` (milliseconds since the epoch, 13 digits, within ``freshness_ms`` of the
  wall clock) and ``X-Signature`` = hex HMAC-SHA256 keyed by :data:`SIGNATURE_SECRET` over
  ``f"{ts}.{raw_body}"`` (non-empty body) or ``f"{ts}"`` (no body). The query string and the
  path are not signed. An optional ``API-Version: YYYY-MM-DD`` header must not be a future
  date. Failures are NestJS 401 bodies (``Invalid API key`` / ``Invalid timestamp`` /
  ``Invalid signature``); each rejected timestamp or signature is explained in
  ``signature_failures``.
* The same handlers at ``/`` (dated versions) and ``/v1`` (v1 paths).
* ``{"data": [...], "totalPages": N}`` pages with ``pageIndex`` (0-based) and ``pageSize``
  (5-100, default ``page_default``), class-validator 400 bodies for bad values.
  ``totalPages`` is ``ceil(matching / pageSize)``, so 0 when nothing matches; a page past
  the end has empty ``data``.
* ``GET /request`` and ``GET /activity`` newest first (createdAt desc, ties by id desc),
  with ``dateFrom``/``dateTo`` rounded to whole UTC days (``dateFrom`` down to 00:00,
  ``dateTo`` up to 23:59:59.999; ``dateTo`` needs ``dateFrom``): a client must drop the
  older records of the bookmark's day itself. ``GET /resource`` and ``GET /resource/group``
  are served updatedAt desc (ties by id desc).
* ``GET /request/{id}``: the detail (summary fields + ``agent``, ``issuer`` and the full
  credentials). Canceled requests are listed (``canceledAt`` set); their detail is served
  in dated versions (the 2026-05-17 behaviour) and answers 404 at ``/v1`` (v1's docs). The
  v1 detail has v1 credentials: a VC 1.1 ``w3cCredential`` (issuanceDate, expirationDate,
  proof, name, resourceType, status, required), ``data`` as arrays (``[label, value]``,
  the pairs an ASSUMPTION: v1 documents only "an array of arrays"), no decisions.
* ``GET /credential/{id}``: in dated versions the credential (tags, status, revokedAt,
  decisions, the W3C credential); at ``/v1`` ``{credential, internalId}`` plus ``pdf``
  (base64) for a DOCUMENT with ``includePdf=true``. 404 ``Credential not found for
  issuer`` for an unknown id.
* ``GET /credential/{id}/evidence`` (dated versions only; the path is an ASSUMPTION, the
  docs name the page "Get evidence" and no route): a JSON array, one OTP verification per
  decision plus the signed file of an accepted DOCUMENT. At ``/v1`` the route does not
  exist: NestJS's ``Cannot GET`` 404.
* ``GET /webhooks`` (seen in the n8n node only): a JSON array of registrations, each with
  its signing secret (``signatureSecret``; one also with ``encryptionSecret`` and
  ``encryptionSalt``), all starting with :data:`WEBHOOK_SECRET_PREFIX`.
* An optional per-API-key token bucket (429 + ``Retry-After`` + the NestJS throttler body).

Data is generated deterministically from ``seed`` and ``size`` (number of requests); each
request has an rng stream of its own, so a bigger dataset keeps a smaller one's requests.
Requests are created over 2024-2025 with several on the same UTC day and a few sharing the
exact same instant; ids are ObjectIds whose first 8 hex digits are the creation second.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import threading
import time
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http import HTTPStatus
from typing import Any

import orjson

from human_sandbox import datagen as dg
from human_sandbox.core import (
    Emulator,
    EmulatorServer,
    RateLimit,
    Request,
    Response,
    json_response,
)
from human_sandbox.drift import Drift, drift_records

API_KEY = "hms_test_key_4c1d9a"  # fake test credential
SIGNATURE_SECRET = "hms_test_sigsecret_e83f27b0"  # fake test credential

PAGE_MIN, PAGE_MAX = 5, 100
#: Drift mode (stream -> what changes): nested objects gain undeclared fields, and the
#: fields the docs give a list of values for get values outside it. `credentials` are
#: those of the request details.
DRIFT = {
    "requests": Drift(
        nested=("credentials[]", "subjects[]"),
        enums={"securityLevel", "resourceType", "status", "identityStatus"},
    ),
    "credentials": Drift(
        nested=("w3cCredential", "data[]", "decisions[]"), enums={"resourceType", "status"}
    ),
    "resources": Drift(enums={"type"}),
    "resource_groups": Drift(nested=("resources[]",), enums={"type"}),
    "activity_events": Drift(enums={"type"}),
    "credential_details": Drift(
        nested=("w3cCredential", "decisions[]"), enums={"resourceType", "status"}
    ),
    "credential_evidence": Drift(),
    "webhooks": Drift(),
}
SEARCH_MAX = 120
DEFAULT_FRESHNESS_MS = 300_000

SECURITY_LEVELS = ("CONTACT", "ORGANIZATION_KYC", "HUMANOS_KYC", "HUMANOS_REVALIDATION")
RESOURCE_TYPES = ("CONSENT", "FORM", "DOCUMENT", "JSON")
ACTIVITY_TYPES = (
    "REQUEST_CREATED",
    "REQUEST_CANCELED",
    "VP_CREATED",
    "VP_DENIED",
    "VP_VERIFIED",
    "VP_VERIFICATION_DENIED",
    "USER_DECISION_ACCEPTED",
    "USER_DECISION_REJECTED",
    "MANDATE_ISSUED",
    "MANDATE_REVOKED",
    "KYC_ACCEPTED",
    "KYC_REJECTED",
)

#: Generated requests are created in [FIRST_DAY, END_DAY) days after the datagen anchor.
FIRST_DAY = dg.day_of("2024-01-01")
END_DAY = dg.day_of("2026-01-01")
#: Unix seconds of the datagen anchor (ObjectIds embed their creation second).
EPOCH_S = int(dg.ANCHOR.timestamp())
HOUR_MS = 3_600_000
#: Instants shared by pairs of requests (index % 10 in (2, 6)): identical createdAt values.
SHARED_INSTANTS_MS = tuple(
    t for t in dg.BULK_INSTANTS_MS if FIRST_DAY * dg.DAY_MS <= t < END_DAY * dg.DAY_MS
)
#: Number of "busy" UTC days per seed: every 4th request (index % 4 == 1) falls on one.
BUSY_DAYS = 4

_OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_TIMESTAMP_MS = re.compile(r"\d{13}")
_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}")
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT = re.compile(r"[+-]?\d+")
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})

ORG_NAME = "Atlântico Digital, Lda"
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "sapo.pt", "proton.me")
LANGUAGES = ("ENG", "ENG", "PRT", "PRT", "SPA", "FRA", "DEU")
_LEVEL_POOL = (
    ("CONTACT",) * 11 + ("ORGANIZATION_KYC",) * 4 + ("HUMANOS_KYC",) * 4 + ("HUMANOS_REVALIDATION",)
)
_N_SUBJECTS = (1, 1, 1, 1, 1, 1, 2, 2, 2, 3)
_N_CREDENTIALS = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4)
_REQUEST_NAMES = (
    "Onboarding",
    "Contract renewal",
    "Annual policy review",
    "Contractor paperwork",
    "Marketing preferences",
    "Agent mandate",
    "Background screening",
    "Payroll setup",
)
# type, name, description
_RESOURCES = (
    ("DOCUMENT", "Employment contract", "Standard permanent employment contract."),
    ("DOCUMENT", "Non-disclosure agreement", "Mutual NDA for staff and contractors."),
    ("DOCUMENT", "Equipment loan agreement", None),
    ("CONSENT", "Privacy notice acknowledgement", "GDPR art. 13 information notice."),
    ("CONSENT", "Marketing communications", "Opt-in to newsletters and product news."),
    ("CONSENT", "Background check consent", "Authorises a criminal-record check."),
    ("CONSENT", "Photo and video release", None),
    ("FORM", "Onboarding questionnaire", "Personal data collected on the first day."),
    ("FORM", "Bank details", "IBAN for salary payments."),
    ("FORM", "Emergency contact", None),
    ("JSON", "Payroll data mandate", "Lets an agent read payslips for the employee."),
    ("JSON", "Expense approval policy", "Spending limits an agent may approve."),
)
#: Resources that are inactive (deactivated after use: old requests still name them).
_INACTIVE_RESOURCES = frozenset({2, 6})
# name, description, active, resource indexes
_GROUPS = (
    ("Employee onboarding", "Everything a new hire signs.", True, (0, 1, 3, 7, 8, 9)),
    ("Contractor onboarding", None, False, (1, 2, 5)),
    ("Marketing consents", "Newsletter and media permissions.", True, (4, 6)),
    ("Agent mandates", "What AI agents may do for an employee.", True, (10, 11)),
)
_AGENTS = (
    ("Onboarding assistant", "Sends new-hire paperwork."),
    ("Payroll agent", None),
    ("Expense bot", "Approves small expenses within policy."),
)
#: A credential's first tag, by resource type, and the tags drawn after it.
_TAGS = {"DOCUMENT": "signature", "CONSENT": "consent", "FORM": "form", "JSON": "mandate"}
_EXTRA_TAGS = ("hr", "onboarding", "gdpr", "payroll", "2025-review")
# name, url slug, events, active
_WEBHOOKS = (
    ("n8n Webhook", "n8n-7f3a", ("identity", "credential", "otp.failed"), True),
    ("HR system", "hris-sync", ("credential",), True),
    ("Old audit log", "audit-legacy", ("credential", "identity"), False),
)
#: Where the vendor's own links (evidence `location`) point; data is built before the port.
VENDOR_API = "https://api.humanos.id"
#: Every secret a webhook registration carries starts with it (tests look for it in output).
WEBHOOK_SECRET_PREFIX = "whsec_emulated_"


# --------------------------------------------------------------------------------------
# Errors (NestJS shapes)
# --------------------------------------------------------------------------------------


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def nest_error(status: int, message: str | list[str], error: str | None = None) -> dict[str, Any]:
    """NestJS HttpException body; ``error`` defaults to the status phrase."""
    return {"statusCode": status, "message": message, "error": error or _phrase(status)}


THROTTLED = {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"}


def nest_error_body(status: int) -> bytes:
    """Body of injected status faults and app crashes (NestJS defaults)."""
    if status == 500:
        return orjson.dumps({"statusCode": 500, "message": "Internal server error"})
    if status == 429:
        return orjson.dumps(THROTTLED)
    return orjson.dumps({"statusCode": status, "message": _phrase(status)})


def unauthorized(message: str) -> dict[str, Any]:
    """401 body: ``Invalid API key`` / ``Invalid timestamp`` / ``Invalid signature``."""
    return nest_error(401, message, "Unauthorized")


class _BadRequest(Exception):
    """A class-validator failure: 400 with a list of messages."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def object_id(rng: Any, ms: int) -> str:
    """24-hex ObjectId: the creation second (unix, 8 hex) then 16 random hex digits."""
    return f"{EPOCH_S + ms // 1000:08x}{rng.getrandbits(64):016x}"


def _uuid(rng: Any) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def sign(timestamp: str, body: bytes = b"", secret: str = SIGNATURE_SECRET) -> str:
    """The vendor's signature: hex HMAC-SHA256 over ``ts.body`` (or ``ts`` without body)."""
    payload = timestamp.encode() + (b"." + body if body else b"")
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def _parse_instant(raw: str) -> datetime | None:
    """ISO date or date-time as an aware UTC datetime (naive means UTC); None if invalid."""
    raw = raw.strip()
    if not _ISO_START.match(raw):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _day_index(moment: datetime) -> int:
    """Whole UTC days from the datagen anchor to ``moment``'s day."""
    return (moment.date() - dg.ANCHOR_DATE).days


@dataclass
class _Person:
    first: str
    last: str
    contact: str
    did: str
    internal_id: str | None


@dataclass
class _Built:
    """One generated request: its list item, its detail (dated versions and v1), its
    credentials as `GET /credential/{id}` serves them, their evidence, its activity events."""

    summary: dict[str, Any]
    detail: dict[str, Any]
    created_ms: int
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: The v1 detail: VC 1.1 `w3cCredential`s, `data` as arrays, no decisions.
    detail_v1: dict[str, Any] = field(default_factory=dict)
    #: credential id -> `GET /credential/{id}` body (dated versions).
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: credential id -> `GET /v1/credential/{id}` body, without the PDF.
    credentials_v1: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: credential id -> `GET /credential/{id}/evidence` body.
    evidence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def last_ms(self) -> int:
        return max([self.created_ms, *(ms for ms, _ in self.events)])


# --------------------------------------------------------------------------------------
# Data generation
# --------------------------------------------------------------------------------------


class _Generator:
    """Builds the reference data once and then any request by index."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        org = self.rng("org")
        org_did = f"did:web:humanos.tech:org:{_uuid(org)}"
        self.issuer = {
            "id": object_id(org, 0),
            "name": ORG_NAME,
            "did": {"id": org_did, "method": "web"},
        }
        self.issuer_did = org_did
        self.agents: list[dict[str, Any]] = [
            {
                "id": object_id(org, 30 * dg.DAY_MS),
                "name": name,
                "did": {
                    "id": f"did:web:humanos.tech:agent:{_uuid(org)}",
                    "method": "web",
                    "controller": org_did,
                },
                "description": description,
            }
            for name, description in _AGENTS
        ]
        busy = self.rng("busy")
        self.busy_days = [
            FIRST_DAY + int(busy.random() * (END_DAY - FIRST_DAY)) for _ in range(BUSY_DAYS)
        ]
        self._people: dict[int, _Person] = {}
        self._resources()

    def rng(self, *labels: str) -> Any:
        return dg.sub_rng(self.seed, "humanos", *labels)

    # -- reference data -----------------------------------------------------------------

    def _resources(self) -> None:
        rng = self.rng("resources")
        group_ids = [object_id(rng, int(rng.random() * 300) * dg.DAY_MS) for _ in _GROUPS]
        memberships: dict[int, list[str]] = {i: [] for i in range(len(_RESOURCES))}
        for gid, (_n, _d, _a, members) in zip(group_ids, _GROUPS, strict=True):
            for i in members:
                memberships[i].append(gid)
        self.resource_list: list[dict[str, Any]] = []
        for i, (kind, name, description) in enumerate(_RESOURCES):
            created = int(rng.random() * 360) * dg.DAY_MS + int(rng.random() * dg.DAY_MS)
            updated = dg.timestamp_ms(rng, FIRST_DAY, END_DAY)
            slug = dg.ascii_slug(name.replace(" ", ""))
            content: str | None
            if kind == "DOCUMENT":
                pdf = f"%PDF-1.4\n% {name}\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
                content = base64.b64encode(pdf.encode()).decode()
            elif kind == "CONSENT":
                content = f"I have read and accept the {name.lower()} of {ORG_NAME}."
            elif kind == "FORM":
                content = orjson.dumps(
                    {"fields": [f["label"] for f in _form_fields(name)]}
                ).decode()
            else:
                content = orjson.dumps({"schema": "mandate", "scope": slug}).decode()
            if i == 2:  # an old document whose file was purged
                content = None
            self.resource_list.append(
                {
                    "id": object_id(rng, created),
                    "type": kind,
                    "name": name,
                    "description": description,
                    "active": i not in _INACTIVE_RESOURCES,
                    "internalId": f"RES-{i + 1:04d}" if rng.random() < 0.6 else None,
                    "groupIds": memberships[i],
                    "typeFormId": dg.make_id(rng, 8) if kind == "FORM" and i != 9 else None,
                    "content": content,
                    "consentUrl": (
                        f"https://consents.atlantico.example/{slug}" if kind == "CONSENT" else None
                    ),
                    "updatedAt": dg.iso_ms(updated),
                }
            )
        self.group_list: list[dict[str, Any]] = []
        for gid, (name, description, active, members) in zip(group_ids, _GROUPS, strict=True):
            resources = [self.resource_list[i] for i in members]
            self.group_list.append(
                {
                    "id": gid,
                    "name": name,
                    "description": description,
                    "active": active,
                    "resources": [
                        {k: r[k] for k in ("id", "name", "type", "active", "internalId")}
                        for r in resources
                    ],
                    "updatedAt": dg.iso_ms(dg.timestamp_ms(rng, FIRST_DAY, END_DAY)),
                }
            )

    def person(self, k: int) -> _Person:
        """Contact ``k`` of the organisation: people get several requests over time."""
        if k not in self._people:
            rng = self.rng("person", str(k))
            first, last = dg.person_name(rng)
            if rng.random() < 0.7:
                contact = dg.email(first, last, dg.pick(rng, EMAIL_DOMAINS), k)
            else:
                contact = f"+3519{rng.randrange(10**8):08d}"
            self._people[k] = _Person(
                first,
                last,
                contact,
                f"did:web:humanos.tech:user:{_uuid(rng)}",
                f"EMP-{1000 + k}" if rng.random() < 0.6 else None,
            )
        return self._people[k]

    # -- requests -----------------------------------------------------------------------

    def created_ms(self, index: int) -> int:
        """createdAt of generated request ``index``: shared instants, busy days, or random."""
        rng = self.rng("time", str(index))
        if index % 10 in (2, 6) and SHARED_INSTANTS_MS:
            return SHARED_INSTANTS_MS[(index // 10) % len(SHARED_INSTANTS_MS)]
        if index % 4 == 1:
            day = self.busy_days[(index // 4) % BUSY_DAYS]
            return day * dg.DAY_MS + int((6 + rng.random() * 14) * HOUR_MS)
        return dg.timestamp_ms(rng, FIRST_DAY, END_DAY)

    def request(self, index: int, created: int) -> _Built:
        rng = self.rng("request", str(index))
        rid = object_id(rng, created)
        level = dg.pick(rng, _LEVEL_POOL)
        agent = self.agents[int(rng.random() * 3)] if rng.random() < 0.3 else None
        actor = agent["did"]["id"] if agent else self.issuer_did
        n_people = 20 + index // 2
        ks = sorted({int(rng.random() * n_people) for _ in range(dg.pick(rng, _N_SUBJECTS))})
        people = [self.person(k) for k in ks]
        canceled = rng.random() < 0.1 or index % 9 == 4
        canceled_ms = created + HOUR_MS + int(rng.random() * 15 * dg.DAY_MS) if canceled else None
        events: list[tuple[int, dict[str, Any]]] = []

        subjects: list[dict[str, Any]] = []
        for p in people:
            kyc: str | None = None
            identity = "NONE"
            if level != "CONTACT":
                kyc = dg.pick(rng, ("PENDING", "APPROVED", "APPROVED", "APPROVED", "REJECTED"))
                if kyc == "APPROVED":
                    identity = "KYC" if level == "ORGANIZATION_KYC" else "HUMANOS"
                if kyc != "PENDING":
                    at = created + 60_000 + int(rng.random() * dg.DAY_MS)
                    events.append(
                        self.event(
                            rng,
                            at,
                            "KYC_ACCEPTED" if kyc == "APPROVED" else "KYC_REJECTED",
                            entity=("veriff", object_id(rng, at)),
                            dids=(None, p.did),  # the KYC provider acted, not a DID
                            payload={"requestId": rid, "contact": p.contact, "provider": "veriff"},
                        )
                    )
            elif rng.random() < 0.15:
                identity = "HUMANOS"
            subjects.append(
                {
                    "contact": p.contact,
                    "did": p.did,
                    "id": p.did,
                    "internalId": p.internal_id,
                    "name": f"{p.first} {p.last}" if rng.random() < 0.9 else None,
                    "identityStatus": identity,
                    "kyc": kyc,
                }
            )

        # When each subject decided (None: not yet, or not before the request was canceled).
        decided_at: list[int | None] = []
        for _ in people:
            at = created + 120_000 + int(rng.random() ** 2 * 10 * dg.DAY_MS)
            ok = rng.random() < 0.65 and (canceled_ms is None or at < canceled_ms)
            decided_at.append(at if ok else None)

        resource_idx = rng.sample(range(len(self.resource_list)), dg.pick(rng, _N_CREDENTIALS))
        credentials: list[dict[str, Any]] = []
        revoked_at: list[int | None] = []
        for k, ri in enumerate(resource_idx):
            credential, revoked_ms = self._credential(
                rng,
                rid=rid,
                created=created,
                resource=self.resource_list[ri],
                people=people,
                decided_at=decided_at,
                k=k,
                events=events,
            )
            credentials.append(credential)
            revoked_at.append(revoked_ms)

        name = dg.pick(rng, _REQUEST_NAMES)
        if len(people) == 1:
            name = f"{name} — {people[0].first} {people[0].last}"
        summary = {
            "id": rid,
            "name": name if rng.random() < 0.9 else None,
            "securityLevel": level,
            "createdAt": dg.iso_ms(created),
            "canceledAt": dg.iso_ms(canceled_ms) if canceled_ms is not None else None,
            "language": dg.pick(rng, LANGUAGES),
            "redirectUrl": (
                f"https://portal.atlantico.example/done/{rid}" if rng.random() < 0.4 else None
            ),
            "internalId": f"REQ-{index + 1:05d}" if rng.random() < 0.5 else None,
            "credentials": [
                {
                    k: c[k]
                    for k in ("id", "name", "resourceType", "status", "internalId", "description")
                }
                for c in credentials
            ],
            "subjects": subjects,
        }
        detail = {
            **{k: v for k, v in summary.items() if k not in ("credentials", "subjects")},
            "agent": agent,
            "issuer": self.issuer,
            "credentials": credentials,
            "subjects": subjects,
        }
        events.append(
            self.event(
                rng,
                created,
                "REQUEST_CREATED",
                entity=("request", rid),
                dids=(actor, people[0].did if len(people) == 1 else None),
                payload={
                    "requestId": rid,
                    "name": summary["name"],
                    "securityLevel": level,
                    "credentialIds": [c["id"] for c in credentials],
                    "contacts": [p.contact for p in people],
                },
            )
        )
        if canceled_ms is not None:
            events.append(
                self.event(
                    rng,
                    canceled_ms,
                    "REQUEST_CANCELED",
                    entity=("request", rid),
                    dids=(actor, None),
                    payload={
                        "requestId": rid,
                        "reason": dg.maybe(rng, 0.5, "Sent to the wrong contact"),
                    },
                )
            )
        built = _Built(summary, detail, created, events)
        self._credential_views(built, [self.resource_list[i] for i in resource_idx], revoked_at)
        return built

    def _credential_views(
        self, built: _Built, resources: list[dict[str, Any]], revoked_at: list[int | None]
    ) -> None:
        """What the credential endpoints serve, and the v1 request detail. Drawn from rng
        streams of their own, so the request, its detail and its activity stay as they were."""
        credentials_v1 = []
        for credential, resource, mandate_revoked in zip(
            built.detail["credentials"], resources, revoked_at, strict=True
        ):
            cid = credential["id"]
            rng = self.rng("credential", cid)
            revoked_ms = mandate_revoked
            if credential["status"] == "REVOKED" and revoked_ms is None:
                last = max(dg.ms_of(d["decidedAt"]) for d in credential["decisions"])
                revoked_ms = last + dg.DAY_MS + int(rng.random() * 90 * dg.DAY_MS)
            tags = [_TAGS[resource["type"]], *rng.sample(_EXTRA_TAGS, int(rng.random() * 3))]
            built.credentials[cid] = {
                "id": cid,
                "resourceType": credential["resourceType"],
                "status": credential["status"],
                "w3cCredential": credential["w3cCredential"],
                "name": credential["name"],
                "description": credential["description"],
                "internalId": credential["internalId"],
                "tags": tags,
                "decisions": credential["decisions"],
                "revokedAt": dg.iso_ms(revoked_ms) if revoked_ms is not None else None,
            }
            built.evidence[cid] = self._evidence(rng, credential, resource)
            vc = _vc_1_1(credential, required=rng.random() < 0.8)
            built.credentials_v1[cid] = {"credential": vc, "internalId": credential["internalId"]}
            credentials_v1.append(
                {
                    **{k: credential[k] for k in ("id", "name", "resourceType", "internalId")},
                    "status": credential["status"],
                    "w3cCredential": vc,
                    "data": [[row["label"], row["value"]] for row in credential["data"]],
                }
            )
        built.detail_v1 = {**built.detail, "credentials": credentials_v1}

    def _evidence(
        self, rng: Any, credential: dict[str, Any], resource: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """How each decision was verified (an OTP) and, for a signed document, the file."""
        out = []
        for decision in credential["decisions"]:
            decided = dg.ms_of(decision["decidedAt"])
            items = [("OtpVerification", decided - 30_000)]
            if resource["type"] == "DOCUMENT" and decision["accepted"]:
                items.append(("SignedDocument", decided))
            for kind, at in items:
                eid = f"did:web:humanos.tech:evidence:{_uuid(rng)}"
                digest = hashlib.sha256(f"{eid}/{at}".encode()).digest()
                out.append(
                    {
                        "id": eid,
                        "type": kind,
                        "decisionId": decision["id"],
                        "contact": decision["contact"],
                        "channel": (
                            ("SMS" if decision["contact"].startswith("+") else "EMAIL")
                            if kind == "OtpVerification"
                            else None
                        ),
                        "mediaType": "application/pdf" if kind == "SignedDocument" else None,
                        "digestSRI": "sha256-" + base64.b64encode(digest).decode(),
                        "location": f"{VENDOR_API}/evidences/{eid}",
                        "createdAt": dg.iso_ms(at),
                    }
                )
        return out

    def _credential(
        self,
        rng: Any,
        *,
        rid: str,
        created: int,
        resource: dict[str, Any],
        people: list[_Person],
        decided_at: list[int | None],
        k: int,
        events: list[tuple[int, dict[str, Any]]],
    ) -> tuple[dict[str, Any], int | None]:
        """A credential as the request detail serves it, and when it was revoked (a
        revoked mandate's MANDATE_REVOKED time; None otherwise)."""
        kind = resource["type"]
        cid = object_id(rng, created)
        decisions: list[dict[str, Any]] = []
        decided: list[tuple[int, _Person, bool]] = []  # (decidedAt ms, who, accepted)
        for p, at in zip(people, decided_at, strict=True):
            if at is None:
                continue
            when = at + k * 1000 + int(rng.random() * 1000)
            accepted = rng.random() < 0.85
            decision_id = object_id(rng, when)
            decided.append((when, p, accepted))
            decisions.append(
                {
                    "id": decision_id,
                    "contact": p.contact,
                    "accepted": accepted,
                    "decidedAt": dg.iso_ms(when),
                }
            )
            events.append(
                self.event(
                    rng,
                    when,
                    "USER_DECISION_ACCEPTED" if accepted else "USER_DECISION_REJECTED",
                    entity=("credential", cid),
                    dids=(p.did, p.did),
                    payload={
                        "requestId": rid,
                        "credentialId": cid,
                        "decisionId": decision_id,
                        "contact": p.contact,
                        "accepted": accepted,
                    },
                )
            )
        if any(not d["accepted"] for d in decisions):
            status = "REJECTED"
        elif len(decisions) == len(people):
            status = "REVOKED" if rng.random() < 0.1 else "APPROVED"
        else:
            status = "PENDING"
        last = max((when for when, _p, _a in decided), default=0)
        if status == "APPROVED" and rng.random() < 0.2:  # presented to a verifier later
            at = last + HOUR_MS + int(rng.random() * 30 * dg.DAY_MS)
            holder = people[0].did
            payload = {
                "requestId": rid,
                "credentialId": cid,
                "verifier": "did:web:verifier.example",
            }
            events.append(
                self.event(
                    rng,
                    at,
                    "VP_CREATED",
                    entity=("credential", cid),
                    dids=(holder, holder),
                    payload=payload,
                )
            )
            outcome = dg.pick(rng, ("VP_VERIFIED", "VP_VERIFIED", "VP_VERIFICATION_DENIED"))
            events.append(
                self.event(
                    rng,
                    at + 5_000,
                    outcome,
                    entity=("credential", cid),
                    dids=("did:web:verifier.example", holder),
                    payload=payload,
                )
            )
        revoked_ms: int | None = None
        if kind == "JSON" and status in ("APPROVED", "REVOKED"):
            mandate = {"requestId": rid, "credentialId": cid, "mandateId": f"mdt_{_uuid(rng)}"}
            events.append(
                self.event(
                    rng,
                    last + 2_000,
                    "MANDATE_ISSUED",
                    entity=("mandate", None),
                    dids=(self.issuer_did, people[0].did),
                    payload=mandate,
                )
            )
            if status == "REVOKED":
                at = last + dg.DAY_MS + int(rng.random() * 60 * dg.DAY_MS)
                revoked_ms = at
                events.append(
                    self.event(
                        rng,
                        at,
                        "MANDATE_REVOKED",
                        entity=("mandate", None),
                        dids=(self.issuer_did, people[0].did),
                        payload=mandate,
                    )
                )

        w3c = None
        if decided:
            valid_from, subject, first_accepted = min(decided, key=lambda d: d[0])
            channel = "SMS" if subject.contact.startswith("+") else "EMAIL"
            w3c = {
                "@context": [
                    "https://www.w3.org/ns/credentials/v2",
                    "https://w3id.org/security/data-integrity/v2",
                ],
                "id": f"urn:uuid:{_uuid(rng)}",
                "type": ["VerifiableCredential", f"{kind.title()}Credential"],
                "issuer": self.issuer_did,
                "validFrom": dg.iso_ms(valid_from),
                "validUntil": (
                    dg.iso_ms(valid_from + 365 * dg.DAY_MS) if rng.random() < 0.6 else None
                ),
                "credentialSubject": {
                    "id": subject.did,
                    "contact": subject.contact,
                    "resource": {"name": resource["name"], "type": kind},
                    "accepted": first_accepted,
                },
                "evidences": [
                    {
                        "type": "OtpVerification",
                        "channel": channel,
                        "verifiedAt": dg.iso_ms(valid_from - 30_000),
                    }
                ],
                "proofs": [
                    {
                        "type": "DataIntegrityProof",
                        "cryptosuite": "eddsa-rdfc-2022",
                        "created": dg.iso_ms(valid_from),
                        "verificationMethod": f"{self.issuer_did}#key-1",
                        "proofPurpose": "assertionMethod",
                        "proofValue": "z" + dg.make_id(rng, 86),
                    }
                ],
            }
        credential = {
            "id": cid,
            "name": resource["name"],
            "resourceType": kind,
            "status": status,
            "internalId": f"CRD-{rng.randrange(10**6):06d}" if rng.random() < 0.4 else None,
            "description": resource["description"],
            "w3cCredential": w3c,
            "data": _data(rng, resource, people[0], answered=bool(decisions)),
            "decisions": decisions,
        }
        return credential, revoked_ms

    def event(
        self,
        rng: Any,
        ms: int,
        kind: str,
        *,
        entity: tuple[str, str | None],
        dids: tuple[str | None, str | None],
        payload: dict[str, Any],
    ) -> tuple[int, dict[str, Any]]:
        """One activity event; entity = (entityType, entityId), dids = (actor, subject)."""
        (entity_type, entity_id), (actor, subject) = entity, dids
        return ms, {
            "id": object_id(rng, ms),
            "type": kind,
            "entityType": entity_type,
            "entityId": entity_id,
            "createdAt": dg.iso_ms(ms),
            "actorDid": actor,
            "subjectDid": subject,
            "payload": payload,
        }


def _form_fields(name: str) -> list[dict[str, Any]]:
    """The fields of a FORM resource: label, type, whether the value is hidden."""
    if name == "Bank details":
        return [
            {"label": "Account holder", "type": "text", "hidden": False},
            {"label": "IBAN", "type": "text", "hidden": True},
        ]
    if name == "Emergency contact":
        return [
            {"label": "Contact name", "type": "text", "hidden": False},
            {"label": "Phone", "type": "phone", "hidden": False},
        ]
    return [
        {"label": "Full name", "type": "text", "hidden": False},
        {"label": "Date of birth", "type": "date", "hidden": False},
        {"label": "Tax number", "type": "text", "hidden": True},
        {"label": "Hours per week", "type": "number", "hidden": False},
        {"label": "Needs a parking space", "type": "checkbox", "hidden": False},
    ]


def _data(rng: Any, resource: dict[str, Any], person: _Person, *, answered: bool) -> list[Any]:
    """Raw fields ``{label, type, value, hidden}``; values are null until someone decides."""
    kind, name = resource["type"], resource["name"]
    full = f"{person.first} {person.last}"
    rows: list[dict[str, Any]]
    if kind == "FORM":
        values: dict[str, Any] = {
            "Account holder": full,
            "IBAN": f"PT50{rng.randrange(10**20):021d}",
            "Contact name": f"{dg.pick(rng, dg.FIRST_NAMES)} {person.last}",
            "Phone": f"+3519{rng.randrange(10**8):08d}",
            "Full name": full,
            "Date of birth": dg.iso_date(-int(rng.random() * 40 * 365) - 18 * 365),
            "Tax number": f"{rng.randrange(10**9):09d}",
            "Hours per week": dg.pick(rng, (40, 40, 35, 20)),
            "Needs a parking space": rng.random() < 0.3,
        }
        rows = [
            {
                "label": f["label"],
                "type": f["type"],
                "value": values[f["label"]],
                "hidden": f["hidden"],
            }
            for f in _form_fields(name)
        ]
    elif kind == "JSON":
        rows = [
            {"label": "scope", "type": "string", "value": dg.ascii_slug(name), "hidden": False},
            {
                "label": "limitEUR",
                "type": "number",
                "value": dg.amount(rng, 50, 2000, 50),
                "hidden": False,
            },
            {"label": "recurring", "type": "boolean", "value": rng.random() < 0.5, "hidden": False},
        ]
    elif kind == "DOCUMENT":
        rows = [
            {
                "label": "Signed document",
                "type": "file",
                "value": f"{dg.ascii_slug(name)}-signed.pdf",
                "hidden": False,
            },
            {"label": "Signature", "type": "signature", "value": full, "hidden": False},
        ]
    else:
        rows = [{"label": "I agree", "type": "checkbox", "value": True, "hidden": False}]
    if not answered:
        for row in rows:
            row["value"] = None
    return rows


def _vc_1_1(credential: dict[str, Any], *, required: bool) -> dict[str, Any] | None:
    """The v1 `w3cCredential`: VC 1.1 dates (issuanceDate, expirationDate), `proof`, and
    the credential's name, resourceType, status and whether it is required (v1 OpenAPI,
    CredentialW3CDto); None before any decision, as in the dated versions."""
    vc = credential["w3cCredential"]
    if vc is None:
        return None
    return {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "id": vc["id"],
        "type": vc["type"],
        "issuer": vc["issuer"],
        "issuanceDate": vc["validFrom"],
        "expirationDate": vc["validUntil"],
        "credentialSubject": vc["credentialSubject"],
        "proof": vc["proofs"],
        "name": credential["name"],
        "resourceType": credential["resourceType"],
        "status": credential["status"],
        "required": required,
    }


def _webhooks(rng: Any) -> list[dict[str, Any]]:
    """The organisation's webhook registrations as `GET /webhooks` lists them: each with
    its signing secret (the API may return it; a tap must never emit it), the second also
    with the payload encryption secret and salt."""
    out = []
    for i, (name, slug, events, active) in enumerate(_WEBHOOKS):
        created = dg.timestamp_ms(rng, FIRST_DAY, END_DAY)
        hook: dict[str, Any] = {
            "id": object_id(rng, created),
            "name": name,
            "url": f"https://hooks.atlantico.example/humanos/{slug}",
            "events": list(events),
            "active": active,
            "apiVersion": "2026-05-17",
            "createdAt": dg.iso_ms(created),
            "signatureSecret": f"{WEBHOOK_SECRET_PREFIX}sig_{rng.getrandbits(96):024x}",
        }
        if i == 1:
            key = base64.b64encode(rng.getrandbits(256).to_bytes(32, "big")).decode()
            hook["encryptionSecret"] = f"{WEBHOOK_SECRET_PREFIX}{key}"
            hook["encryptionSalt"] = f"{WEBHOOK_SECRET_PREFIX}salt_{rng.getrandbits(64):016x}"
        out.append(hook)
    return out


# --------------------------------------------------------------------------------------
# Serving indexes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TimeIndex:
    """Rows newest first (createdAt desc, id desc) with ``-createdAt`` keys for bisecting."""

    blobs: list[bytes]
    neg_ms: list[int]
    records: list[dict[str, Any]]
    names: list[str]  # lower-cased ``name`` (empty when null or absent), for ``search``

    def window(self, lo_ms: int | None, hi_ms: int | None) -> range:
        """Positions of the rows with lo_ms <= createdAt <= hi_ms."""
        start = 0 if hi_ms is None else bisect_left(self.neg_ms, -hi_ms)
        end = len(self.neg_ms) if lo_ms is None else bisect_right(self.neg_ms, -lo_ms)
        return range(start, max(start, end))


def _time_index(rows: list[tuple[int, dict[str, Any]]], blob_of: dict[str, bytes]) -> _TimeIndex:
    ordered = sorted(rows, key=lambda r: (r[0], r[1]["id"]), reverse=True)
    return _TimeIndex(
        [blob_of[r["id"]] for _, r in ordered],
        [-ms for ms, _ in ordered],
        [r for _, r in ordered],
        [(r.get("name") or "").lower() for _, r in ordered],
    )


def _page_body(blobs: list[bytes], index: int, size: int) -> bytes:
    total_pages = math.ceil(len(blobs) / size)
    page = blobs[index * size : (index + 1) * size]
    return b'{"data":[%b],"totalPages":%d}' % (b",".join(page), total_pages)


# --------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------


class HumanosEmulator(Emulator):
    """Humanos API on a local port; see the module docstring and shared/specs/humanos.md.

    seed/size: the dataset (size = number of requests). page_default: pageSize when none
    is sent. freshness_ms: accepted |now - X-Timestamp| (settable while running).
    rate_limit: (requests per second, burst) per API key, or None for no limit.
    latency_ms: delay before every response. port: 0 picks a free port.
    drift: serve records as a later API version might (`human_sandbox.drift`, `DRIFT`).

    Public data (what the API serves): ``requests`` (list items, oldest first),
    ``details`` (request id -> detail, every request) and ``details_v1`` (the same at
    ``/v1``), ``credentials`` / ``credentials_v1`` (credential id -> ``GET
    /credential/{id}``), ``evidence`` (credential id -> its evidence), ``webhooks``,
    ``resources`` and ``resource_groups`` (served order: updatedAt desc), ``activity``
    (oldest first).
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        size: int = 40,
        page_default: int = 10,
        freshness_ms: int = DEFAULT_FRESHNESS_MS,
        rate_limit: tuple[float, int] | None = None,
        latency_ms: int = 0,
        port: int = 0,
        drift: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        if not PAGE_MIN <= page_default <= PAGE_MAX:
            raise ValueError(f"page_default must be in [{PAGE_MIN}, {PAGE_MAX}]")
        self.seed = seed
        self.size = size
        self.page_default = page_default
        self.freshness_ms = freshness_ms
        self.signature_failures: list[str] = []
        self._limiter = RateLimit(*rate_limit) if rate_limit else None
        self._lock = threading.Lock()
        self._gen = _Generator(seed)

        self.resources = sorted(
            self._gen.resource_list, key=lambda r: (r["updatedAt"], r["id"]), reverse=True
        )
        self.resource_groups = sorted(
            self._gen.group_list, key=lambda g: (g["updatedAt"], g["id"]), reverse=True
        )
        self._resource_blobs = [orjson.dumps(r) for r in self.resources]
        self._group_blobs = [orjson.dumps(g) for g in self.resource_groups]
        self._group_search = [
            " ".join([g["name"], *(r["name"] for r in g["resources"])]).lower()
            for g in self.resource_groups
        ]

        self.details: dict[str, dict[str, Any]] = {}
        self._detail_blobs: dict[str, bytes] = {}
        self.details_v1: dict[str, dict[str, Any]] = {}
        #: credential id -> `GET /credential/{id}` (dated versions) / `GET /v1/credential/{id}`.
        self.credentials: dict[str, dict[str, Any]] = {}
        self.credentials_v1: dict[str, dict[str, Any]] = {}
        #: credential id -> `GET /credential/{id}/evidence` (dated versions only).
        self.evidence: dict[str, list[dict[str, Any]]] = {}
        #: credential id -> its resource's type (the PDF `includePdf` adds is a DOCUMENT's).
        self._credential_kinds: dict[str, str] = {}
        self._canceled: set[str] = set()
        #: `GET /webhooks`, as served: with their secrets.
        self.webhooks = _webhooks(self._gen.rng("webhooks"))
        self._request_rows: list[tuple[int, dict[str, Any]]] = []
        self._event_rows: list[tuple[int, dict[str, Any]]] = []
        self._blobs: dict[str, bytes] = {}
        self._latest_ms = 0
        self._next_index = 0
        self._extra_events = 0
        for _ in range(size):
            index = self._next_index
            self._add(self._gen.request(index, self._gen.created_ms(index)))
        if drift:
            self._drift()
        self._reindex()

        self.server = EmulatorServer(
            self.handle, port=port, latency_ms=latency_ms, error_body=nest_error_body
        )

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the dated-version paths; the v1 paths are at url + "/v1"."""
        return self.server.base_url

    # -- data ----------------------------------------------------------------------------

    def _add(self, built: _Built) -> None:
        rid = built.summary["id"]
        self._next_index += 1
        self._request_rows.append((built.created_ms, built.summary))
        self._blobs[rid] = orjson.dumps(built.summary)
        self.details[rid] = built.detail
        self._detail_blobs[rid] = orjson.dumps(built.detail)
        self.details_v1[rid] = built.detail_v1
        self.credentials.update(built.credentials)
        self.credentials_v1.update(built.credentials_v1)
        self.evidence.update(built.evidence)
        for credential in built.detail["credentials"]:
            self._credential_kinds[credential["id"]] = credential["resourceType"]
        if built.summary["canceledAt"] is not None:
            self._canceled.add(rid)
        for ms, event in built.events:
            self._add_event(ms, event)
        self._latest_ms = max(self._latest_ms, built.last_ms)

    def _drift(self) -> None:
        """Drift mode: the records the API serves, as `DRIFT` says."""
        self.resources = drift_records(self.resources, DRIFT["resources"])
        self.resource_groups = drift_records(self.resource_groups, DRIFT["resource_groups"])
        self._resource_blobs = [orjson.dumps(r) for r in self.resources]
        self._group_blobs = [orjson.dumps(g) for g in self.resource_groups]
        for rows, drift in (
            (self._request_rows, DRIFT["requests"]),
            (self._event_rows, DRIFT["activity_events"]),
        ):
            drifted = drift_records([row for _, row in rows], drift)
            rows[:] = [(ms, row) for (ms, _), row in zip(rows, drifted, strict=True)]
            self._blobs.update((row["id"], orjson.dumps(row)) for row in drifted)
        flat = [c for detail in self.details.values() for c in detail["credentials"]]
        credentials = iter(drift_records(flat, DRIFT["credentials"]))
        for rid, detail in self.details.items():
            mine = [next(credentials) for _ in detail["credentials"]]
            self.details[rid] = {**detail, "credentials": mine}
            self._detail_blobs[rid] = orjson.dumps(self.details[rid])
        drifted = drift_records(list(self.credentials.values()), DRIFT["credential_details"])
        self.credentials = dict(zip(self.credentials, drifted, strict=True))
        flat_evidence = [e for rows in self.evidence.values() for e in rows]
        evidence = iter(drift_records(flat_evidence, DRIFT["credential_evidence"]))
        self.evidence = {cid: [next(evidence) for _ in rows] for cid, rows in self.evidence.items()}
        self.webhooks = drift_records(self.webhooks, DRIFT["webhooks"])

    def _add_event(self, ms: int, event: dict[str, Any]) -> None:
        self._event_rows.append((ms, event))
        self._blobs[event["id"]] = orjson.dumps(event)
        self._latest_ms = max(self._latest_ms, ms)

    def _reindex(self) -> None:
        """Rebuild the newest-first indexes; swapped in whole, so serving never sees half."""
        requests = _time_index(self._request_rows, self._blobs)
        activity = _time_index(self._event_rows, self._blobs)
        self._requests_index = requests
        self._activity_index = activity
        self.requests = requests.records[::-1]
        self.activity = activity.records[::-1]

    def credential_records(self) -> list[dict[str, Any]]:
        """What a ``credentials`` stream emits: each detail credential plus ``requestId``."""
        return [
            {**c, "requestId": r["id"]}
            for r in self.requests
            for c in self.details[r["id"]]["credentials"]
        ]

    def add_requests(self, n: int) -> list[str]:
        """Create ``n`` requests after everything so far (with their activity); their ids."""
        ids: list[str] = []
        with self._lock:
            for _ in range(n):
                index = self._next_index
                rng = self._gen.rng("added", str(index))
                created = self._latest_ms + 60_000 + int(rng.random() * 3 * HOUR_MS)
                built = self._gen.request(index, created)
                self._add(built)
                ids.append(built.summary["id"])
            self._reindex()
        return ids

    def add_activity(self, n: int) -> list[str]:
        """Append ``n`` activity events (presentations, KYC, mandates about existing
        credentials) later than everything so far; request data is unchanged. Their ids."""
        ids: list[str] = []
        with self._lock:
            for _ in range(n):
                rng = self._gen.rng("extra-activity", str(self._extra_events))
                self._extra_events += 1
                request = self.requests[int(rng.random() * len(self.requests))]
                credential = dg.pick(rng, self.details[request["id"]]["credentials"])
                subject = dg.pick(rng, request["subjects"])
                at = self._latest_ms + 1_000 + int(rng.random() * HOUR_MS)
                kind = dg.pick(
                    rng,
                    ("VP_CREATED", "VP_VERIFIED", "VP_DENIED", "KYC_ACCEPTED", "MANDATE_ISSUED"),
                )
                payload: dict[str, Any] = {
                    "requestId": request["id"],
                    "credentialId": credential["id"],
                }
                entity_type = "credential"
                entity_id: str | None = credential["id"]
                if kind == "KYC_ACCEPTED":
                    entity_type, entity_id = "veriff", object_id(rng, at)
                    payload = {
                        "requestId": request["id"],
                        "contact": subject["contact"],
                        "provider": "veriff",
                    }
                elif kind == "MANDATE_ISSUED":
                    entity_type, entity_id = "mandate", None
                    payload["mandateId"] = f"mdt_{_uuid(rng)}"
                actor = None if kind == "KYC_ACCEPTED" else subject["did"]
                ms, event = self._gen.event(
                    rng,
                    at,
                    kind,
                    entity=(entity_type, entity_id),
                    dids=(actor, subject["did"]),
                    payload=payload,
                )
                self._add_event(ms, event)
                ids.append(event["id"])
            self._reindex()
        return ids

    # -- request handling ----------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """The app: route, authenticate, validate, serve."""
        path = req.path.rstrip("/") or "/"
        v1 = path == "/v1" or path.startswith("/v1/")
        if v1:
            path = path[3:] or "/"
        method = "GET" if req.method == "HEAD" else req.method
        route = self._route(path, v1=v1)
        if route is None or (route == "health" and method != "GET"):
            return json_response(404, nest_error(404, f"Cannot {req.method} {req.path}"))
        if isinstance(route, str):  # "health": no authentication
            return json_response(200, {"status": "ok"})
        denied = self._authenticate(req)
        if denied is not None:
            return denied
        if method != "GET":
            body = nest_error(405, f"{req.method} {req.path} is not emulated (read-only)")
            return json_response(405, body, {"Allow": "GET"})
        try:
            return route(req)
        except _BadRequest as exc:
            return json_response(400, nest_error(400, exc.messages))

    def _route(self, path: str, *, v1: bool) -> Callable[[Request], Response] | str | None:
        """The handler of a path (without its /v1 prefix); v1 lacks the evidence route."""
        parts = path.strip("/").split("/")
        match parts:
            case ["health"]:
                return "health"
            case ["request"]:
                return self._list_requests
            case ["request", request_id]:
                return lambda req: self._get_request(request_id, v1=v1)
            case ["credential", credential_id]:
                return lambda req: self._get_credential(req, credential_id, v1=v1)
            case ["credential", credential_id, "evidence"] if not v1:
                return lambda req: self._get_evidence(credential_id)
            case ["webhooks"]:
                return lambda req: json_response(200, self.webhooks)
            case ["resource"]:
                return self._list_resources
            case ["resource", "group"]:
                return self._list_groups
            case ["activity"]:
                return self._list_activity
        return None

    # -- auth ----------------------------------------------------------------------------

    def _authenticate(self, req: Request) -> Response | None:
        scheme, _, key = (req.header("authorization") or "").partition(" ")
        key = key.strip()
        valid_key = scheme.lower() == "bearer" and hmac.compare_digest(
            key.encode(errors="replace"), API_KEY.encode()
        )
        if not valid_key:
            return json_response(401, unauthorized("Invalid API key"))
        if self._limiter is not None:
            allowed, wait = self._limiter.allow(key)
            if not allowed:
                retry = str(max(1, math.ceil(wait)))
                return json_response(429, THROTTLED, {"Retry-After": retry})
        timestamp = req.header("x-timestamp")
        problem = self._timestamp_problem(timestamp)
        if problem is not None:
            self.signature_failures.append(problem)
            return json_response(401, unauthorized("Invalid timestamp"))
        assert timestamp is not None
        signature = req.header("x-signature")
        expected = sign(timestamp, req.body)
        if not signature:
            self.signature_failures.append("signature: missing X-Signature header")
            return json_response(401, unauthorized("Invalid signature"))
        if not hmac.compare_digest(signature.encode(errors="replace"), expected.encode()):
            signed = f"'{timestamp}.<{len(req.body)} body bytes>'" if req.body else f"'{timestamp}'"
            self.signature_failures.append(
                f"signature: X-Signature is not hex HMAC-SHA256 of {signed} "
                f"({req.method} {req.path})"
            )
            return json_response(401, unauthorized("Invalid signature"))
        version = req.header("api-version")
        if version is not None:
            return self._check_version(version.strip())
        return None

    def _timestamp_problem(self, raw: str | None) -> str | None:
        if raw is None or not raw.strip():
            return "timestamp: missing X-Timestamp header"
        raw = raw.strip()
        if not _TIMESTAMP_MS.fullmatch(raw):
            if re.fullmatch(r"\d{10}", raw):
                return f"timestamp: X-Timestamp {raw!r} is in seconds; milliseconds are required"
            return f"timestamp: X-Timestamp {raw!r} is not 13-digit epoch milliseconds"
        skew = abs(int(time.time() * 1000) - int(raw))
        if skew > self.freshness_ms:
            allowed = self.freshness_ms
            return f"timestamp: X-Timestamp is {skew} ms from server time (allowed {allowed})"
        return None

    @staticmethod
    def _check_version(version: str) -> Response | None:
        try:
            if not _VERSION.fullmatch(version):
                raise ValueError(version)
            day = date.fromisoformat(version)
        except ValueError:
            message = f"Invalid API-Version '{version}': expected YYYY-MM-DD"
            return json_response(400, nest_error(400, message))
        if day > datetime.now(UTC).date():
            message = f"Invalid API-Version '{version}': the date is in the future"
            return json_response(400, nest_error(400, message))
        return None

    # -- parameters ----------------------------------------------------------------------

    def _paging(self, req: Request, messages: list[str]) -> tuple[int, int]:
        index = self._int(req, "pageIndex", 0, (0, None), messages)
        size = self._int(req, "pageSize", self.page_default, (PAGE_MIN, PAGE_MAX), messages)
        return index, size

    @staticmethod
    def _int(
        req: Request, name: str, default: int, bounds: tuple[int, int | None], messages: list[str]
    ) -> int:
        lo, hi = bounds
        raw = req.q(name)
        if raw is None:
            return default
        if not _INT.fullmatch(raw.strip()):
            if hi is not None:
                messages.append(f"{name} must not be greater than {hi}")
            messages.append(f"{name} must not be less than {lo}")
            messages.append(f"{name} must be an integer number")
            return default
        value = int(raw.strip())
        if hi is not None and value > hi:
            messages.append(f"{name} must not be greater than {hi}")
        if value < lo:
            messages.append(f"{name} must not be less than {lo}")
        return value

    @staticmethod
    def _multi(req: Request, name: str) -> list[str]:
        """Repeated (``type=A&type=B``), bracketed (``type[]=A``) or comma-separated."""
        values: list[str] = []
        for key in (name, f"{name}[]"):
            for raw in req.query.get(key, []):
                values.extend(part.strip() for part in raw.split(",") if part.strip())
        return values

    def _enum(
        self, req: Request, name: str, allowed: tuple[str, ...], messages: list[str]
    ) -> set[str]:
        values = self._multi(req, name)
        if any(v not in allowed for v in values):
            messages.append(
                f"each value in {name} must be one of the following values: {', '.join(allowed)}"
            )
        return set(values)

    @staticmethod
    def _window(req: Request, messages: list[str]) -> tuple[int | None, int | None]:
        """(lo, hi) ms after the anchor: dateFrom's day start, dateTo's day end."""
        bounds: list[int | None] = []
        for name in ("dateFrom", "dateTo"):
            raw = req.q(name)
            if raw is None or not raw.strip():
                bounds.append(None)
                continue
            moment = _parse_instant(raw)
            if moment is None:
                messages.append(f"{name} must be a valid ISO 8601 date string")
                bounds.append(None)
                continue
            day = _day_index(moment)
            bounds.append(day * dg.DAY_MS if name == "dateFrom" else (day + 1) * dg.DAY_MS - 1)
        if req.q("dateTo") and not (req.q("dateFrom") or "").strip():
            messages.append("dateFrom should not be empty")
        return bounds[0], bounds[1]

    @staticmethod
    def _search(req: Request, messages: list[str]) -> str:
        raw = (req.q("search") or "").strip()
        if len(raw) > SEARCH_MAX:
            messages.append(f"search must be shorter than or equal to {SEARCH_MAX} characters")
        return raw.lower()

    @staticmethod
    def _bool(req: Request, name: str, messages: list[str]) -> bool | None:
        raw = req.q(name)
        if raw is None or not raw.strip():
            return None
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        messages.append(f"{name} must be a boolean value")
        return None

    # -- routes --------------------------------------------------------------------------

    def _list_requests(self, req: Request) -> Response:
        messages: list[str] = []
        index, size = self._paging(req, messages)
        lo, hi = self._window(req, messages)
        search = self._search(req, messages)
        levels = self._enum(req, "securityLevel", SECURITY_LEVELS, messages)
        if messages:
            raise _BadRequest(*messages)
        view = self._requests_index
        rows = [
            view.blobs[i]
            for i in view.window(lo, hi)
            if (not search or search in view.names[i])
            and (not levels or view.records[i]["securityLevel"] in levels)
        ]
        return json_response(200, _page_body(rows, index, size))

    def _get_request(self, raw: str, *, v1: bool) -> Response:
        """The detail; v1 answers 404 for a canceled request (its docs say so)."""
        if not _OBJECT_ID.fullmatch(raw):
            raise _BadRequest("requestId must be a mongodb id")
        blob = self._detail_blobs.get(raw)
        if blob is None or (v1 and raw in self._canceled):
            return json_response(404, nest_error(404, "Request not found"))
        return json_response(200, self.details_v1[raw] if v1 else blob)

    def _get_credential(self, req: Request, raw: str, *, v1: bool) -> Response:
        """`{credential, internalId, pdf?}` in v1 (`includePdf`, default false: the signed
        PDF of a DOCUMENT credential), the credential itself in dated versions."""
        messages: list[str] = []
        include_pdf = self._bool(req, "includePdf", messages) if v1 else None
        if v1 and not _OBJECT_ID.fullmatch(raw):
            messages.append("credentialId must be a mongodb id")
        if messages:
            raise _BadRequest(*messages)
        body = (self.credentials_v1 if v1 else self.credentials).get(raw)
        if body is None:
            return json_response(404, nest_error(404, "Credential not found for issuer"))
        if include_pdf and self._credential_kinds[raw] == "DOCUMENT":
            pdf = f"%PDF-1.4\n% signed credential {raw}\n%%EOF\n".encode()
            body = {**body, "pdf": base64.b64encode(pdf).decode()}
        return json_response(200, body)

    def _get_evidence(self, raw: str) -> Response:
        """What proves each decision on the credential (dated versions only)."""
        rows = self.evidence.get(raw)
        if rows is None:
            return json_response(404, nest_error(404, "Credential not found for issuer"))
        return json_response(200, rows)

    def _list_resources(self, req: Request) -> Response:
        messages: list[str] = []
        index, size = self._paging(req, messages)
        active = self._bool(req, "active", messages)
        types = self._enum(req, "types", RESOURCE_TYPES, messages)
        search = self._search(req, messages)
        if messages:
            raise _BadRequest(*messages)
        rows = [
            blob
            for r, blob in zip(self.resources, self._resource_blobs, strict=True)
            if (active is None or r["active"] is active)
            and (not types or r["type"] in types)
            and (not search or search in r["name"].lower())
        ]
        return json_response(200, _page_body(rows, index, size))

    def _list_groups(self, req: Request) -> Response:
        messages: list[str] = []
        index, size = self._paging(req, messages)
        active = self._bool(req, "active", messages)
        search = self._search(req, messages)
        if messages:
            raise _BadRequest(*messages)
        rows = [
            blob
            for g, blob, text in zip(
                self.resource_groups, self._group_blobs, self._group_search, strict=True
            )
            if (active is None or g["active"] is active) and (not search or search in text)
        ]
        return json_response(200, _page_body(rows, index, size))

    def _list_activity(self, req: Request) -> Response:
        messages: list[str] = []
        index, size = self._paging(req, messages)
        lo, hi = self._window(req, messages)
        types = self._enum(req, "type", ACTIVITY_TYPES, messages)
        entity_id = (req.q("entityId") or "").strip()
        if entity_id and not _OBJECT_ID.fullmatch(entity_id):
            messages.append("entityId must be a mongodb id")
        if messages:
            raise _BadRequest(*messages)
        exact = {
            key: value.strip()
            for key in ("entityType", "entityId", "actorDid", "subjectDid")
            if (value := req.q(key)) is not None and value.strip()
        }
        view = self._activity_index
        rows = [
            view.blobs[i]
            for i in view.window(lo, hi)
            if (not types or view.records[i]["type"] in types)
            and all(view.records[i][k] == v for k, v in exact.items())
        ]
        return json_response(200, _page_body(rows, index, size))
