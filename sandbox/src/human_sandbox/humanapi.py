"""Local emulator of the Human API (humanapi.co), contract of shared/specs/humanapi.md.

One :class:`EmulatorServer` plays the three hosts a tap talks to:

* the auth service (``auth.humanapi.co``): ``POST /v1/connect/token`` with a JSON body
  (``client_id``, ``client_secret``, ``client_user_id``, ``type``) minting per-user access
  tokens ``{access_token, expires_in, token_type, refresh_token: "atrt-…"}``; a token is
  bound to ONE user and expires ``token_ttl`` seconds after issue (``time.monotonic``);
* the Application API (``/v1/apps/{clientId}``, HTTP Basic ``base64("<AppKey>:")``):
  ``/users``, ``/users/{humanId}`` and the wellness batch queries (``/users/activities``,
  ``/users/heart_rates``, ``/users/bmis``, ...) over every user of the app;
* the per-user Data API (``/v1/human``, ``Authorization: Bearer`` or ``?access_token=``):
  the token alone decides whose data is served; there is no humanId in the path.

Lists are bare JSON arrays paged with ``limit`` (default 50, at most 500) / ``offset`` and an
``X-Total-Count`` header (plus ``Link: rel="next"`` while records remain, the spec's
emulator ASSUMPTION). Activities and sleeps carry ``timeSeries`` (activities: steps and
heart rate every 5 minutes; sleeps: the stage every 10 minutes, both shapes ASSUMPTIONS)
only with ``time_series=true``, and ``timeZone`` (the user's IANA zone) in batch responses
only. The legacy types (``/locations``, ``/food/meals``, ``/genetic/traits``; batch
``/users/locations``, ``/users/food/meals``, ``/users/genetic_traits``) come from sources
of their own (Moves, MyFitnessPal, 23andMe); their fields are ASSUMPTIONS (the spec names
the paths only). They come in NO particular order: each list is shuffled by a hash of
(seed, request path, humanId, record id), stable across pages of one walk but different
per path, so a tap cannot rely on order. ``updated_since`` / ``created_since`` (strictly
after) and ``updated_before`` / ``created_before`` (strictly before) accept the documented
``YYYYMMDDTHHmmssZ`` and extended ISO-8601; ``start_date`` + ``end_date`` (together) filter
on the measurement date; ``source`` filters on the source name or source id. A medical list
for a user with no data of that kind answers 404 ``No data`` (as the spec says of
``/medical/profile``), not ``[]``. Errors are hapi/Boom bodies
``{"statusCode", "error", "message"}`` (400s add ``validation``).

Which records carry ``humanId`` as served: users, the profile, every wellness and medical
record (the spec's common fields) and therefore every batch record. ``/sources`` items do
NOT (the tap adds it). ``data`` keeps records exactly as served.

Data is generated deterministically from ``seed`` and ``size`` (number of users), each user
from rng streams of its own; only tokens are random. The dataset's "now" is
2026-01-01T00:00:00Z: measurements lie in 2024-2025 and every createdAt/updatedAt is earlier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import orjson

from human_sandbox import datagen as dg
from human_sandbox.core import Emulator, EmulatorServer, Request, Response, json_response
from human_sandbox.drift import Drift, drift_records

# Fake test credentials (not secrets).
CLIENT_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90abcd1234"
CLIENT_SECRET = "hapi_test_secret_5d1e9c"
APP_KEY = "hapi_test_appkey_0b7f3a"

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
SESSION_TTL = 3600
#: Where the vendor's own links (organization ``href``) point; data is built before the port.
VENDOR_API = "https://api.humanapi.co/v1/human"

#: Measurements lie in [2024-01-01, 2026-01-01); the dataset's "now" is END_MS.
LO_DAY = (date(2024, 1, 1) - dg.ANCHOR_DATE).days
END_DAY = dg.SPAN_DAYS
END_MS = END_DAY * dg.DAY_MS
_ANCHOR_EPOCH_S = int(dg.ANCHOR.timestamp())
_HOUR = 3_600_000
_MINUTE = 60_000
DAY_1 = dg.DAY_MS

#: Wellness types a user's connected trackers deliver.
_TRACKER_STREAMS = (
    "activities",
    "activity_summaries",
    "sleeps",
    "sleep_summaries",
    "heart_rate",
    "heart_rate_summaries",
    "blood_pressure",
    "blood_glucose",
    "blood_oxygen",
    "bmi",
    "body_fat",
    "height",
    "weight",
)
#: Legacy wellness types, each from a source of its own (Moves, MyFitnessPal, 23andMe).
LEGACY_STREAMS = ("locations", "food_meals", "genetic_traits")
WELLNESS_STREAMS = (*_TRACKER_STREAMS, *LEGACY_STREAMS)
#: Records of these carry `timeSeries` when asked with `time_series=true`, and `timeZone`
#: (the user's IANA zone) in batch responses.
TIME_SERIES_STREAMS = frozenset({"activities", "sleeps"})
MEDICAL_STREAMS = (
    "medical_allergies",
    "medical_encounters",
    "medical_medications",
    "medical_test_results",
    "medical_vitals",
    "medical_narratives",
    "medical_organizations",
    "medical_social_history",
    "medical_reports",
)
#: Streams kept in ``HumanApiEmulator.data`` (per user, as the Data API serves them).
DATA_STREAMS = ("sources", *WELLNESS_STREAMS, *MEDICAL_STREAMS)
#: Every stream the tap emits (one schema each).
STREAMS = ("users", "profile", "medical_profile", *DATA_STREAMS)
#: Drift mode (stream -> which nested objects gain undeclared fields, besides the top of
#: the records). The docs give no list of values for any field.
_MEDICAL = ("organization", "codes[]")
DRIFT = {
    "profile": Drift(nested=("defaultTimeZone",)),
    "sources": Drift(nested=("historySync", "syncStatus", "resync", "organization")),
    "heart_rate_summaries": Drift(nested=("zones[]",)),
    **{stream: Drift(nested=_MEDICAL) for stream in STREAMS if stream.startswith("medical_")},
    "medical_encounters": Drift(nested=(*_MEDICAL, "providers[]", "diagnoses[]")),
    "medical_test_results": Drift(nested=(*_MEDICAL, "results[]")),
    "medical_vitals": Drift(nested=(*_MEDICAL, "results[]")),
    "medical_organizations": Drift(nested=(*_MEDICAL, "address")),
    "medical_profile": Drift(),
}
SUMMARY_STREAMS = frozenset({"activity_summaries", "sleep_summaries", "heart_rate_summaries"})
READING_STREAMS = (
    "heart_rate",
    "blood_pressure",
    "blood_glucose",
    "blood_oxygen",
    "bmi",
    "body_fat",
    "height",
    "weight",
)

#: Data API list path (under /v1/human) -> stream.
DATA_PATHS: dict[str, str] = {
    "sources": "sources",
    "activities": "activities",
    "activities/summaries": "activity_summaries",
    "sleeps": "sleeps",
    "sleeps/summaries": "sleep_summaries",
    **{f"{s}/readings": s for s in READING_STREAMS},
    "heart_rate/summaries": "heart_rate_summaries",
    **{f"medical/{s.removeprefix('medical_')}": s for s in MEDICAL_STREAMS},
    "locations": "locations",
    "food/meals": "food_meals",
    "genetic/traits": "genetic_traits",
}
#: Data API "latest reading" objects (``GET /v1/human/heart_rate`` ...).
LATEST_PATHS: dict[str, str] = {s: s for s in READING_STREAMS}
#: Application API batch path (under /v1/apps/{clientId}/users/) -> stream. Wellness only.
BATCH_PATHS: dict[str, str] = {
    "activities": "activities",
    "activities/summaries": "activity_summaries",
    "heart_rates": "heart_rate",
    "heart_rate/summaries": "heart_rate_summaries",
    "bmis": "bmi",
    "body_fats": "body_fat",
    "heights": "height",
    "weights": "weight",
    "blood_glucoses": "blood_glucose",
    "blood_oxygens": "blood_oxygen",
    "blood_pressures": "blood_pressure",
    "sleeps": "sleeps",
    "sleeps/summaries": "sleep_summaries",
    "locations": "locations",
    "food/meals": "food_meals",
    "genetic_traits": "genetic_traits",
}
#: Field whose date ``start_date``/``end_date`` filter on.
MEASURED_FIELD: dict[str, str] = {
    "users": "createdAt",
    "activities": "startTime",
    "sleeps": "day",
    **{s: "date" for s in SUMMARY_STREAMS},
    **{s: "timestamp" for s in READING_STREAMS},
    **{s: "dateTime" for s in MEDICAL_STREAMS},
    "medical_organizations": "createdAt",
    "medical_reports": "createdAt",
    "locations": "startTime",
    "food_meals": "timestamp",
    "genetic_traits": "createdAt",
}

_HEX24 = re.compile(r"[0-9a-f]{24}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{1,6}))?Z")
_EXTENDED = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_INT = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


# --------------------------------------------------------------------------------------
# Error bodies (hapi / Boom)
# --------------------------------------------------------------------------------------

INVALID_CLIENT = "Invalid client credentials"
NO_SOURCES = "No connected sources for this user"
INVALID_TOKEN = "Invalid or expired access token"
INVALID_APP_KEY = "Invalid app key"
NO_DATA = "No data"
SERVER_ERROR = "An internal server error occurred"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def boom(status: int, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Boom error body; hapi hides the message of a 500 behind a fixed sentence."""
    if message is None:
        message = SERVER_ERROR if status == 500 else _phrase(status)
    return {"statusCode": status, "error": _phrase(status), "message": message, **extra}


def boom_error_body(status: int) -> bytes:
    """Body of injected status faults and app crashes."""
    return orjson.dumps(boom(status))


class _HttpError(Exception):
    def __init__(
        self,
        status: int,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = boom(status, message, **extra)
        self.headers = headers or {}


def _invalid(key: str, message: str, source: str = "query") -> _HttpError:
    """400 as hapi's default failAction reports a Joi validation error."""
    return _HttpError(400, message, validation={"source": source, "keys": [key]})


# --------------------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------------------

# (IANA name, standard UTC offset in hours, observes US daylight saving time)
ZONES = (
    ("America/New_York", -5, True),
    ("America/Chicago", -6, True),
    ("America/Denver", -7, True),
    ("America/Phoenix", -7, False),
    ("America/Los_Angeles", -8, True),
    ("Pacific/Honolulu", -10, False),
)


@cache
def _dst_window(year: int, std: int) -> tuple[int, int]:
    """US DST [start, end) in ms after the anchor: 2nd Sunday of March 02:00 standard time
    to 1st Sunday of November 02:00 daylight time (both local)."""
    march = date(year, 3, 8)
    start = march + timedelta(days=(6 - march.weekday()) % 7)
    november = date(year, 11, 1)
    end = november + timedelta(days=(6 - november.weekday()) % 7)
    start_ms = (start - dg.ANCHOR_DATE).days * dg.DAY_MS + (2 - std) * _HOUR
    end_ms = (end - dg.ANCHOR_DATE).days * dg.DAY_MS + (2 - std - 1) * _HOUR
    return start_ms, end_ms


def offset_hours(ms: int, zone: tuple[str, int, bool]) -> int:
    """UTC offset (hours) of ``zone`` at the instant ``ms``."""
    _name, std, dst = zone
    if not dst:
        return std
    year = (dg.ANCHOR_DATE + timedelta(days=ms // dg.DAY_MS)).year
    start, end = _dst_window(year, std)
    return std + 1 if start <= ms < end else std


def tz_offset(ms: int, zone: tuple[str, int, bool]) -> str:
    """'-04:00'-style offset of ``zone`` at ``ms``."""
    hours = offset_hours(ms, zone)
    return f"{'-' if hours < 0 else '+'}{abs(hours):02d}:00"


def local_to_utc(local_ms: int, zone: tuple[str, int, bool]) -> int:
    """Instant (ms after the anchor) of a local wall-clock time in ``zone``."""
    guess = local_ms - zone[1] * _HOUR
    return local_ms - offset_hours(guess, zone) * _HOUR


def parse_instant(raw: str) -> int | None:
    """Microseconds after the anchor of a ``YYYYMMDDTHHmmssZ`` or extended ISO-8601 date-time
    (no offset = UTC); None when malformed. Bare dates are rejected."""
    text = raw.strip()
    moment: datetime
    match = _COMPACT.fullmatch(text)
    try:
        if match:
            y, mo, d, h, mi, s, frac = match.groups()
            micro = int((frac or "0").ljust(6, "0"))
            moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, UTC)
        elif _EXTENDED.fullmatch(text):
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        else:
            return None
    except ValueError:
        return None
    delta = moment - dg.ANCHOR
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _oid(rng: Any, ms: int) -> str:
    """A MongoDB ObjectId: 4 bytes of epoch seconds (the record's creation) + 8 random."""
    return f"{_ANCHOR_EPOCH_S + ms // 1000:08x}{rng.getrandbits(64):016x}"


def _date(ms: int) -> str:
    return dg.iso_date(ms // dg.DAY_MS)


# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------

# source, sourceName, streams the source can deliver
WELLNESS_SOURCES: tuple[tuple[str, str, frozenset[str]], ...] = (
    (
        "fitbit",
        "Fitbit",
        frozenset(
            {
                "activities",
                "activity_summaries",
                "sleeps",
                "sleep_summaries",
                "heart_rate",
                "heart_rate_summaries",
                "weight",
                "bmi",
                "body_fat",
                "blood_oxygen",
            }
        ),
    ),
    (
        "garmin",
        "Garmin Connect",
        frozenset(
            {
                "activities",
                "activity_summaries",
                "sleeps",
                "sleep_summaries",
                "heart_rate",
                "heart_rate_summaries",
                "blood_oxygen",
            }
        ),
    ),
    (
        "withings",
        "Withings",
        frozenset(
            {"weight", "bmi", "body_fat", "height", "blood_pressure", "heart_rate", "sleeps"}
        ),
    ),
    (
        "ihealth",
        "iHealth",
        frozenset(
            {
                "activities",
                "sleeps",
                "blood_glucose",
                "blood_oxygen",
                "blood_pressure",
                "weight",
                "bmi",
                "heart_rate",
            }
        ),
    ),
    ("omron", "OMRON connect", frozenset({"blood_pressure", "heart_rate", "weight", "bmi"})),
    ("dexcom", "Dexcom", frozenset({"blood_glucose"})),
)
#: Sources a user's first connection is drawn from (all but the single-purpose ones).
HUB_SOURCES = WELLNESS_SOURCES[:5]

# Fictional providers (555-01xx numbers are reserved for fiction).
# source code, portal name, organization name, street, city, state, postal code, phone
MEDICAL_SOURCES = (
    ("emr-1-320", "Riverbend Medical Group (MyChart)", "Riverbend Medical Group",
     "1200 Riverside Dr", "Sacramento", "CA", "95814", "(916) 555-0142"),
    ("emr-2-58", "Lakeside Community Hospital Patient Portal", "Lakeside Community Hospital",
     "45 Harbor Way", "Madison", "WI", "53703", "(608) 555-0117"),
    ("emr-4-1187", "Cedar Valley Family Practice", "Cedar Valley Family Practice",
     "300 Cedar Ave", "Boulder", "CO", "80302", "(303) 555-0163"),
    ("emr-3-907", "Northgate Health Partners (FollowMyHealth)", "Northgate Health Partners",
     "8 Northgate Plaza", "Columbus", "OH", "43215", "(614) 555-0190"),
    ("emr-6-44", "Summit Orthopedics Portal", "Summit Orthopedics & Sports Medicine",
     "77 Summit Blvd", "Phoenix", "AZ", "85004", "(602) 555-0128"),
)  # fmt: skip
LAB = ("Bayview Diagnostic Laboratory", "910 Bayview St", "Tampa", "FL", "33602", "(813) 555-0175")

SNOMED = ("2.16.840.1.113883.6.96", "SNOMED CT")
LOINC = ("2.16.840.1.113883.6.1", "LOINC")
RXNORM = ("2.16.840.1.113883.6.88", "RxNorm")
CPT = ("2.16.840.1.113883.6.12", "CPT-4")
ICD10CM = ("2.16.840.1.113883.6.90", "ICD-10-CM")


def _code(system: tuple[str, str], code: str, name: str) -> dict[str, str]:
    return {"code": code, "codeSystem": system[0], "codeSystemName": system[1], "name": name}


ALLERGENS = (
    ("Penicillin", "91936005", "Allergy to penicillin"),
    ("Peanut", "91935009", "Allergy to peanuts"),
    ("Latex", "300916003", "Latex allergy"),
    ("Shellfish", "300913006", "Shellfish allergy"),
)
REACTIONS = ("Hives", "Rash", "Swelling", "Wheezing", "Anaphylaxis", "Itching")
# visit type, CPT code, CPT display
VISITS = (
    ("Office Visit", "99213", "Office or other outpatient visit, established patient"),
    ("New Patient Visit", "99203", "Office or other outpatient visit, new patient"),
    ("Annual Physical", "99395", "Preventive medicine visit, established patient, 18-39 years"),
    ("Emergency Department Visit", "99284", "Emergency department visit"),
)
DIAGNOSES = (
    ("I10", "Essential (primary) hypertension"),
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("J06.9", "Acute upper respiratory infection, unspecified"),
    ("M54.50", "Low back pain, unspecified"),
    ("Z00.00", "Encounter for general adult medical examination without abnormal findings"),
)
# name, RxNorm code, dosage, route, frequency, instructions, course length in days (None = ongoing)
MEDICATIONS = (
    ("lisinopril 10 MG Oral Tablet", "314076", "10 mg", "oral", "once daily",
     "Take 1 tablet by mouth once daily", None),
    ("metformin hydrochloride 500 MG Oral Tablet", "861007", "500 mg", "oral", "twice daily",
     "Take 1 tablet by mouth twice daily with meals", None),
    ("atorvastatin 20 MG Oral Tablet", "617310", "20 mg", "oral", "once daily",
     "Take 1 tablet by mouth at bedtime", None),
    ("amoxicillin 500 MG Oral Capsule", "308191", "500 mg", "oral", "every 8 hours",
     "Take 1 capsule by mouth every 8 hours for 10 days", 10),
    ("ibuprofen 400 MG Oral Tablet", "197805", "400 mg", "oral", "every 6 hours as needed",
     "Take 1 tablet by mouth every 6 hours as needed for pain", 14),
)  # fmt: skip
# Lab component: name, LOINC, unit, reference low, reference high, typical range, decimals.
_Component = tuple[str, str, str, float | None, float | None, float, float, int]
# Test panel: name, LOINC, components.
PANELS: tuple[tuple[str, str, tuple[_Component, ...]], ...] = (
    ("Lipid panel", "24331-1", (
        ("Cholesterol, total", "2093-3", "mg/dL", None, 200, 150, 250, 0),
        ("Triglycerides", "2571-8", "mg/dL", None, 150, 70, 220, 0),
        ("HDL cholesterol", "2085-9", "mg/dL", 40, None, 32, 80, 0),
        ("LDL cholesterol (calculated)", "13457-7", "mg/dL", None, 100, 60, 170, 0),
    )),
    ("Hemoglobin A1c", "4548-4", (
        ("Hemoglobin A1c", "4548-4", "%", 4.0, 5.6, 4.8, 8.2, 1),
    )),
    ("Glucose, serum", "2345-7", (
        ("Glucose", "2345-7", "mg/dL", 70, 99, 75, 160, 0),
    )),
    ("Thyroid stimulating hormone", "3016-3", (
        ("TSH", "3016-3", "mIU/L", 0.45, 4.5, 0.3, 6.0, 2),
    )),
    ("Complete blood count", "58410-2", (
        ("Hemoglobin", "718-7", "g/dL", 12.0, 17.5, 11.2, 17.0, 1),
        ("White blood cell count", "6690-2", "10*3/uL", 4.5, 11.0, 3.8, 12.5, 1),
        ("Platelet count", "777-3", "10*3/uL", 150, 400, 140, 420, 0),
    )),
)  # fmt: skip
NARRATIVES = (
    ("Progress note", "11506-3",
     "Patient seen for follow-up. Reports feeling well. Vital signs reviewed. "
     "Continue current plan and return in 3 months."),
    ("Discharge summary", "18842-5",
     "Patient discharged home in stable condition. Follow up with primary care within 7 days."),
    ("Consult note", "11488-4",
     "Consulted for evaluation of intermittent joint pain. Imaging ordered; "
     "conservative management recommended."),
    ("History and physical note", "34117-2",
     "Comprehensive history and physical examination completed. No acute findings."),
)  # fmt: skip
# observation name, LOINC, possible values (value, SNOMED code or None)
SOCIAL = (
    ("Tobacco smoking status", "72166-2", (
        ("Never smoker", "266919005", "Never smoked tobacco"),
        ("Former smoker", "8517006", "Ex-smoker"),
        ("Current every day smoker", "449868002", "Smokes tobacco daily"),
    )),
    ("Alcohol use", "11331-6", (
        ("None", None, None), ("Occasional", None, None), ("1-2 drinks per week", None, None),
    )),
    ("Occupation", "11341-5", (
        ("Teacher", None, None), ("Software developer", None, None),
        ("Registered nurse", None, None), ("Retired", None, None),
    )),
)  # fmt: skip
REPORT_TYPES = (
    ("unity", "Unity Report", ("pdf", "html", "json")),
    ("healthcheck", "HealthCheck", ("pdf", "json")),
    ("highlights", "Highlights", ("pdf", "html")),
    ("ccdraw", "CCD (raw)", ("json", "html")),
)
ACTIVITY_TYPES = (
    # type, (min, max) duration s, speed m/s, steps per metre, kcal per minute
    ("walking", (600, 5400), 1.35, 1.35, 4.0),
    ("running", (900, 5400), 2.9, 0.85, 11.0),
    ("cycling", (900, 7200), 6.0, 0.0, 8.0),
    ("swimming", (900, 3600), 0.7, 0.0, 9.0),
    ("hiking", (1800, 14400), 1.1, 1.4, 6.0),
    ("yoga", (1200, 4500), 0.0, 0.0, 3.0),
    ("weight_training", (1200, 4500), 0.0, 0.0, 5.0),
)
# source, sourceName, the one legacy type it delivers, share of users who connected it
LEGACY_SOURCES = (
    ("moves", "Moves", "locations", 0.4),
    ("myfitnesspal", "MyFitnessPal", "food_meals", 0.5),
    ("23andme", "23andMe", "genetic_traits", 0.3),
)
#: Where the users of each time zone live (latitude, longitude of a city).
CITIES = {
    "America/New_York": (40.7128, -74.006),
    "America/Chicago": (41.8781, -87.6298),
    "America/Denver": (39.7392, -104.9903),
    "America/Phoenix": (33.4484, -112.074),
    "America/Los_Angeles": (34.0522, -118.2437),
    "Pacific/Honolulu": (21.3069, -157.8583),
}
PLACES = ("Home", "Work", "Gym", "Park", "Grocery store", "Cafe")
MOVES = ("walking", "running", "cycling", "transport")
# meal type -> (name, kcal, carbohydrate g, protein g, fat g) per serving
MEALS = {
    "breakfast": (
        ("Oatmeal with berries", 310, 54, 9, 6),
        ("Scrambled eggs on toast", 420, 30, 22, 22),
        ("Greek yogurt and granola", 290, 38, 17, 8),
    ),
    "lunch": (
        ("Chicken salad", 460, 18, 38, 26),
        ("Turkey sandwich", 520, 52, 31, 18),
        ("Lentil soup", 330, 48, 18, 7),
    ),
    "dinner": (
        ("Salmon with rice", 610, 55, 40, 22),
        ("Spaghetti bolognese", 690, 78, 32, 24),
        ("Vegetable stir-fry with tofu", 480, 44, 24, 21),
    ),
    "snack": (("Apple", 95, 25, 0, 0), ("Almonds", 170, 6, 6, 15), ("Protein bar", 210, 22, 20, 7)),
}
# trait, description, possible values (23andMe-style wellness traits)
TRAITS = (
    ("eye-color", "Eye color", ("brown", "blue", "green", "hazel")),
    ("lactose-intolerance", "Lactose intolerance", ("likely tolerant", "likely intolerant")),
    ("bitter-taste", "Bitter taste perception", ("can taste", "unlikely to taste")),
    ("caffeine-consumption", "Caffeine consumption", ("likely less", "likely more")),
    ("muscle-composition", "Muscle composition", ("common in sprinters", "uncommon in sprinters")),
    ("earwax-type", "Earwax type", ("wet", "dry")),
)
# An EMR sync imports a source's history in one go: records before connectedSince get a
# createdAt right after it, a few milliseconds apart (sometimes equal: ties).
_IMPORT_OFFSET_S = {
    s: 40 + 97 * i for i, s in enumerate(_TRACKER_STREAMS + MEDICAL_STREAMS + LEGACY_STREAMS)
}


def _source_id(name: str) -> str:
    """The id of a source kind: the same for every user who connected it (non-unique)."""
    return hashlib.blake2b(f"humanapi-source/{name}".encode(), digest_size=12).hexdigest()


# --------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------


@dataclass
class _Source:
    source: str
    name: str
    medical: bool
    connected_ms: int
    kinds: frozenset[str]
    org: dict[str, str] | None = None
    org_detail: tuple[str, ...] = ()
    cursor: dict[str, int] = field(default_factory=dict)
    measured: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return _source_id(self.source)


@dataclass
class _Human:
    idx: int
    human_id: str
    external_id: str
    user_oid: str
    first: str
    last: str
    email: str
    zone: tuple[str, int, bool]
    birth: date
    sex: str
    created_ms: int
    sources: list[_Source] = field(default_factory=list)


class _Builder:
    """Generates the dataset; per-user rng streams keep users independent of each other."""

    def __init__(self, seed: int, size: int, no_source_users: int, scale: float = 1.0) -> None:
        self.seed = seed
        self.size = size
        self.no_source_users = no_source_users
        self.scale = scale

    def count(self, rng: Any, lo: int, hi: int) -> int:
        """How many wellness records (or summary days) a user has: between lo and hi, times
        the dataset's `scale` (at least one)."""
        if self.scale != 1.0:
            lo, hi = max(1, round(lo * self.scale)), max(1, round(hi * self.scale))
        return amount(rng, lo, hi)

    def rng(self, *labels: str) -> Any:
        return dg.sub_rng(self.seed, "humanapi", *labels)

    def build(self, emu: HumanApiEmulator) -> None:
        emails: set[str] = set()
        humans = [self._human(i, emails) for i in range(self.size)]
        with_sources = self.size - self.no_source_users
        emu.data = {stream: {} for stream in DATA_STREAMS}
        for h in humans:
            rng = self.rng("data", str(h.idx))
            per_stream: dict[str, list[dict[str, Any]]] = {s: [] for s in DATA_STREAMS}
            if h.idx < with_sources:
                self._sources(rng, h)
                self._wellness(rng, h, per_stream)
                medical = [s for s in h.sources if s.medical]
                if medical:
                    self._medical(rng, h, medical, per_stream, emu)
                per_stream["sources"] = [self._source_record(rng, s) for s in h.sources]
                # From rng streams of their own: the data above does not depend on them.
                legacy = self.rng("legacy", str(h.idx))
                for src in self._legacy_sources(legacy, h):
                    self._legacy(legacy, h, src, per_stream)
                    per_stream["sources"].append(self._source_record(legacy, src))
                for stream in TIME_SERIES_STREAMS:
                    for record in per_stream[stream]:
                        emu.time_series[record["id"]] = self._series(stream, record)
            for stream, records in per_stream.items():
                emu.data[stream][h.human_id] = records
            updated = h.created_ms
            if h.sources:
                updated = max(s.connected_ms for s in h.sources) + int(rng.random() * 30 * _MINUTE)
            elif rng.random() < 0.5:
                updated += int(rng.random() * 10 * dg.DAY_MS)
            created_iso, updated_iso = dg.iso_ms(h.created_ms), dg.iso_ms(updated)
            emu.users.append(
                {
                    "humanId": h.human_id,
                    "externalId": h.external_id,
                    "appId": CLIENT_ID,
                    "createdAt": created_iso,
                    "updatedAt": updated_iso,
                }
            )
            emu.profiles[h.human_id] = {
                "humanId": h.human_id,
                "userId": h.user_oid,
                "email": h.email,
                "defaultTimeZone": {"name": h.zone[0]},
                "createdAt": created_iso,
                "updatedAt": updated_iso,
            }
            if not h.sources:
                emu.no_sources.add(h.human_id)

    # -- users ---------------------------------------------------------------------------

    def _human(self, idx: int, emails: set[str]) -> _Human:
        rng = self.rng("user", str(idx))
        human_id = f"{rng.getrandbits(128):032x}"
        first, last = dg.person_name(rng)
        n = 0
        while (mail := dg.email(first, last, "example.com", n)) in emails:
            n += 1
        emails.add(mail)
        created = dg.timestamp_ms(rng, LO_DAY + 14, LO_DAY + 270)
        birth = date(1950, 1, 1) + timedelta(days=int(rng.random() * 365 * 52))
        return _Human(
            idx=idx,
            human_id=human_id,
            external_id=f"ext-{idx + 1:04d}",
            user_oid=_oid(rng, created),
            first=first,
            last=last,
            email=mail,
            zone=dg.pick(rng, ZONES),
            birth=birth,
            sex=dg.pick(rng, ("female", "male")),
            created_ms=created,
        )

    def _connect_ms(self, rng: Any, h: _Human) -> int:
        return min(
            h.created_ms + _HOUR + int(rng.random() * 200 * dg.DAY_MS), END_MS - 40 * dg.DAY_MS
        )

    def _sources(self, rng: Any, h: _Human) -> None:
        hub = dg.pick(rng, HUB_SOURCES)
        h.sources.append(_Source(hub[0], hub[1], False, self._connect_ms(rng, h), hub[2]))
        medical = rng.random() < 0.65
        if h.idx == 0:
            medical = True  # user 0 always has medical data, user 1 never (test anchors)
        elif h.idx == 1:
            medical = False
        extra = int(rng.random() < 0.5) + int(rng.random() < 0.25)
        if medical:
            extra = max(extra, 1)
        for k in range(extra):
            if medical and (k == 0 or rng.random() < 0.3):
                taken = {s.source for s in h.sources}
                options = [m for m in MEDICAL_SOURCES if m[0] not in taken]
                code, portal, org_name, *detail = dg.pick(rng, options)
                src = _Source(code, portal, True, self._connect_ms(rng, h), frozenset())
                src.org_detail = (org_name, *detail)
            else:
                taken = {s.source for s in h.sources}
                options = [w for w in WELLNESS_SOURCES if w[0] not in taken]
                name, label, kinds = dg.pick(rng, options)
                src = _Source(name, label, False, self._connect_ms(rng, h), kinds)
            h.sources.append(src)

    def _source_record(self, rng: Any, s: _Source) -> dict[str, Any]:
        oldest = min(s.measured) if s.measured else s.connected_ms
        oldest = oldest // dg.DAY_MS * dg.DAY_MS
        synched = max([s.connected_ms, *s.changed]) + int((1 + rng.random() * 30) * _MINUTE)
        synched = min(synched, END_MS - 1)
        failing = rng.random() < 0.1
        return {
            "id": s.id,
            "source": s.source,
            "sourceName": s.name,
            "connectedSince": dg.iso_ms(s.connected_ms),
            "historySync": {"status": "completed", "oldestDate": dg.iso_ms(oldest)},
            "syncStatus": {
                "status": "error" if failing else "ok",
                "details": "The source asked the user to sign in again" if failing else None,
                "synchedAt": dg.iso_ms(synched),
            },
            "resync": {"active": rng.random() < 0.05},
            "organization": dict(s.org) if s.org else None,
            "expectedSyncDuration": dg.pick(rng, (3600, 7200, 86400)) if s.medical else None,
        }

    # -- timestamps ----------------------------------------------------------------------

    def _stamps(
        self, rng: Any, src: _Source, stream: str, measured_ms: int, delay: tuple[int, int]
    ) -> tuple[str, str]:
        """(createdAt, updatedAt): history imported at connection, later data after a delay."""
        if measured_ms < src.connected_ms:
            step = src.cursor.get(stream, 0) + int(rng.random() * 3)
            src.cursor[stream] = step
            created = src.connected_ms + _IMPORT_OFFSET_S[stream] * 1000 + step
        else:
            created = measured_ms + delay[0] + int(rng.random() * (delay[1] - delay[0]))
        created = min(created, END_MS - 10 * _MINUTE)
        updated = created
        if rng.random() < 0.25:
            updated = min(END_MS - 1, created + _HOUR + int(rng.random() * 20 * dg.DAY_MS))
        src.measured.append(measured_ms)
        src.changed.append(updated)
        return dg.iso_ms(created), dg.iso_ms(updated)

    # -- wellness ------------------------------------------------------------------------

    def _wellness(self, rng: Any, h: _Human, out: dict[str, list[dict[str, Any]]]) -> None:
        wellness = [s for s in h.sources if not s.medical]
        by_stream = {
            stream: [s for s in wellness if stream in s.kinds] or wellness[:1]
            for stream in _TRACKER_STREAMS
        }
        age = 2025 - h.birth.year
        height_mm = amount(rng, 1520, 1780) if h.sex == "female" else amount(rng, 1630, 1930)
        base = _Baseline(
            height_mm=height_mm,
            bmi=19 + rng.random() * 15,
            drift=-3 + rng.random() * 6,
            fat=(22 if h.sex == "female" else 12) + rng.random() * 16,
            resting=amount(rng, 52, 78),
            glucose=amount(rng, 82, 125),
            systolic=amount(rng, 105, 140),
            max_hr=220 - age,
        )

        def finish(
            stream: str, body: dict[str, Any], measured: int, delay: tuple[int, int]
        ) -> None:
            src = dg.pick(rng, by_stream[stream])
            created, updated = self._stamps(rng, src, stream, measured, delay)
            record = {
                "id": _oid(rng, dg.ms_of(created)),
                "humanId": h.human_id,
                "source": src.source,
                **body,
                "createdAt": created,
                "updatedAt": updated,
            }
            out[stream].append(record)

        after_sync = (5 * _MINUTE, 8 * _HOUR)
        for _ in range(self.count(rng, 10, 40)):
            body, end = self._activity(rng, h)
            finish("activities", body, end, after_sync)
        for day in rng.sample(range(LO_DAY + 1, END_DAY - 2), self.count(rng, 10, 40)):
            body, end = self._sleep(rng, h, day)
            finish("sleeps", body, end, after_sync)
        for stream in READING_STREAMS:
            for _ in range(self.count(rng, 10, 40)):
                ms = dg.timestamp_ms(rng, LO_DAY, END_DAY - 2) // 1000 * 1000
                finish(stream, self._reading(rng, h, stream, ms, base), ms, after_sync)
        n_days = self.count(rng, 12, 18)
        last_day = amount(rng, END_DAY - 45, END_DAY - 2)
        summary_sync = (14 * _HOUR, 20 * _HOUR)
        for day in range(last_day - n_days + 1, last_day + 1):
            end = (day + 1) * dg.DAY_MS
            finish("activity_summaries", self._activity_summary(rng, day), end, summary_sync)
            finish("sleep_summaries", self._sleep_summary(rng, day), end, summary_sync)
            finish("heart_rate_summaries", self._hr_summary(rng, day, base), end, summary_sync)

    @staticmethod
    def _activity(rng: Any, h: _Human) -> tuple[dict[str, Any], int]:
        kind, (lo, hi), speed, steps_per_m, kcal = dg.pick(rng, ACTIVITY_TYPES)
        day = amount(rng, LO_DAY, END_DAY - 3)
        start = local_to_utc(day * dg.DAY_MS + int((6 + rng.random() * 14) * _HOUR), h.zone)
        start = start // 1000 * 1000
        duration = amount(rng, lo, hi)
        precise = rng.random() < 0.2  # some sources report fractional values
        distance: float = speed * duration * (0.8 + rng.random() * 0.4)
        calories: float = duration / 60 * kcal * (0.8 + rng.random() * 0.4)
        if precise:
            distance, calories = round(distance, 3), round(calories, 3)
        else:
            distance, calories = round(distance), round(calories)
        end = start + duration * 1000
        body = {
            "startTime": dg.iso_ms(start),
            "endTime": dg.iso_ms(end),
            "tzOffset": tz_offset(start, h.zone),
            "type": kind,
            "duration": duration,
            "distance": distance,
            "steps": round(distance * steps_per_m),
            "calories": calories,
            "sourceData": {"manual": rng.random() < 0.1},
        }
        return body, end

    @staticmethod
    def _sleep(rng: Any, h: _Human, day: int) -> tuple[dict[str, Any], int]:
        nap = rng.random() < 0.1
        if nap:
            local_start = day * dg.DAY_MS + int((13 + rng.random() * 3) * _HOUR)
            in_bed = amount(rng, 20, 110)
        else:
            local_start = (day - 1) * dg.DAY_MS + int((21.5 + rng.random() * 3.5) * _HOUR)
            in_bed = amount(rng, 300, 600)
        start = local_to_utc(local_start, h.zone) // 1000 * 1000
        end = start + in_bed * _MINUTE
        to_sleep = amount(rng, 0, 40 if not nap else 10)
        after_wake = amount(rng, 0, 15 if not nap else 3)
        awake = min(in_bed - 5, to_sleep + after_wake + amount(rng, 0, 50 if not nap else 5))
        asleep = in_bed - awake
        local_end_day = (end + offset_hours(end, h.zone) * _HOUR) // dg.DAY_MS
        body = {
            "day": dg.iso_date(local_end_day),
            "startTime": dg.iso_ms(start),
            "endTime": dg.iso_ms(end),
            "tzOffset": tz_offset(start, h.zone),
            "mainSleep": not nap,
            "timeAsleep": asleep,
            "timeAwake": awake,
            "efficiency": round(100 * asleep / in_bed),
            "timeToFallAsleep": to_sleep,
            "timeAfterWakeup": after_wake,
            "timeInBed": in_bed,
            "numberOfWakeups": dg.maybe(rng, 0.9, amount(rng, 0, 8 if not nap else 1)),
            "sourceData": {},
        }
        return body, end

    @staticmethod
    def _reading(rng: Any, h: _Human, stream: str, ms: int, base: _Baseline) -> dict[str, Any]:
        tz = tz_offset(ms, h.zone)
        progress = (ms - LO_DAY * dg.DAY_MS) / ((END_DAY - LO_DAY) * dg.DAY_MS)
        height_m = base.height_mm / 1000
        weight = base.bmi * height_m * height_m + base.drift * progress
        source_data: dict[str, Any] = {} if rng.random() < 0.7 else {"manual": True}
        if stream == "blood_pressure":
            systolic = base.systolic + amount(rng, -12, 12)
            return {
                "timestamp": dg.iso_ms(ms),
                "tzOffset": tz,
                "systolic": systolic,
                "diastolic": _diastolic(rng, systolic),
                "unit": "mmHg",
                "heartRate": dg.maybe(rng, 0.85, base.resting + amount(rng, 0, 25)),
                "sourceData": source_data,
            }
        value: float
        if stream == "heart_rate":
            value, unit = base.resting + amount(rng, -4, 90), "bpm"
        elif stream == "blood_glucose":
            value, unit = base.glucose + amount(rng, -15, 60), "mg/dL"
        elif stream == "blood_oxygen":
            value, unit = amount(rng, 93, 100), "SpO2(%)"
        elif stream == "bmi":
            value, unit = round(weight / (height_m * height_m), 1), "kg/m2"
        elif stream == "body_fat":
            value, unit = round(base.fat + base.drift * progress * 0.5 + rng.random() - 0.5, 1), "%"
        elif stream == "height":
            value, unit = base.height_mm + amount(rng, -3, 3), "mm"
        else:  # weight
            value, unit = round(weight + rng.random() * 1.2 - 0.6, 1), "kg"
        return {
            "timestamp": dg.iso_ms(ms),
            "tzOffset": tz,
            "value": value,
            "unit": unit,
            "sourceData": source_data,
        }

    @staticmethod
    def _activity_summary(rng: Any, day: int) -> dict[str, Any]:
        vigorous, moderate = amount(rng, 0, 60), amount(rng, 0, 90)
        light = amount(rng, 60, 300)
        steps = amount(rng, 2000, 18000)
        return {
            "date": dg.iso_date(day),
            "duration": (vigorous + moderate + light) * 60,
            "distance": round(steps * 0.75),
            "steps": steps,
            "calories": amount(rng, 1600, 3200),
            "vigorous": vigorous,
            "moderate": moderate,
            "light": light,
            "sedentary": amount(rng, 500, 900),
            "sourceData": {},
        }

    @staticmethod
    def _sleep_summary(rng: Any, day: int) -> dict[str, Any]:
        asleep: float = amount(rng, 240, 540)
        if rng.random() < 0.3:  # some sources report fractional minutes
            asleep = round(asleep + rng.random(), 2)
        return {
            "date": dg.iso_date(day),
            "timeAsleep": asleep,
            "timeAwake": amount(rng, 5, 90),
            "sourceData": {},
        }

    @staticmethod
    def _hr_summary(rng: Any, day: int, base: _Baseline) -> dict[str, Any]:
        m = base.max_hr
        bounds = (30, round(0.5 * m), round(0.7 * m), round(0.85 * m), 220)
        cardio = amount(rng, 0, 45)
        minutes = (
            amount(rng, 1000, 1300),
            amount(rng, 30, 200),
            cardio,
            amount(rng, 0, 15) if cardio else 0,
        )
        rates = (1.2, 5.5, 9.0, 11.5)  # kcal per minute in each zone
        zones = [
            {
                "name": name,
                "min": bounds[k],
                "max": bounds[k + 1],
                "duration": minutes[k],
                "caloriesBurned": round(minutes[k] * rates[k] * (0.9 + rng.random() * 0.2), 2),
            }
            for k, name in enumerate(("Out of Range", "Fat Burn", "Cardio", "Peak"))
        ]
        resting = base.resting + amount(rng, -3, 3)
        return {
            "date": dg.iso_date(day),
            "zones": zones,
            "restingHR": dg.maybe(rng, 0.9, resting),
            "averageHR": resting + amount(rng, 10, 25),
            "maxHR": amount(rng, max(110, round(0.6 * m)), m),
            "minHR": resting - amount(rng, 1, 8),
            "sourceData": {},
        }

    # -- legacy wellness -----------------------------------------------------------------

    def _legacy_sources(self, rng: Any, h: _Human) -> list[_Source]:
        """The legacy sources the user connected (user 0 all of them: a test anchor)."""
        out = []
        for name, label, stream, share in LEGACY_SOURCES:
            if h.idx == 0 or rng.random() < share:
                connected = self._connect_ms(rng, h)
                out.append(_Source(name, label, False, connected, frozenset({stream})))
        return out

    def _legacy(
        self, rng: Any, h: _Human, src: _Source, out: dict[str, list[dict[str, Any]]]
    ) -> None:
        (stream,) = src.kinds

        def finish(body: dict[str, Any], measured: int, delay: tuple[int, int]) -> None:
            created, updated = self._stamps(rng, src, stream, measured, delay)
            out[stream].append(
                {
                    "id": _oid(rng, dg.ms_of(created)),
                    "humanId": h.human_id,
                    "source": src.source,
                    **body,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )

        after_sync = (5 * _MINUTE, 8 * _HOUR)
        if stream == "genetic_traits":  # one report, imported when 23andMe is connected
            for trait, description, values in TRAITS:
                body = {
                    "trait": trait,
                    "value": dg.pick(rng, values),
                    "possibleValues": list(values),
                    "description": description,
                    "sourceData": {},
                }
                finish(body, src.connected_ms - 1, (0, 0))
        elif stream == "locations":
            home = CITIES[h.zone[0]]
            for _ in range(amount(rng, 8, 30)):
                body, end = self._location(rng, h, home)
                finish(body, end, after_sync)
        else:
            for _ in range(amount(rng, 10, 40)):
                body, at = self._meal(rng, h)
                finish(body, at, after_sync)

    @staticmethod
    def _location(rng: Any, h: _Human, home: tuple[float, float]) -> tuple[dict[str, Any], int]:
        """A place the user stayed at, or a move between places (Moves' segments)."""
        day = amount(rng, LO_DAY, END_DAY - 3)
        start = local_to_utc(day * dg.DAY_MS + int((7 + rng.random() * 13) * _HOUR), h.zone)
        start = start // 1000 * 1000
        move = rng.random() < 0.35
        minutes = amount(rng, 5, 60) if move else amount(rng, 20, 300)
        end = start + minutes * _MINUTE
        body = {
            "startTime": dg.iso_ms(start),
            "endTime": dg.iso_ms(end),
            "tzOffset": tz_offset(start, h.zone),
            "type": "move" if move else "place",
            "name": dg.pick(rng, MOVES if move else PLACES),
            "latitude": round(home[0] + (rng.random() - 0.5) * 0.2, 5),
            "longitude": round(home[1] + (rng.random() - 0.5) * 0.2, 5),
            "distance": amount(rng, 300, 12000) if move else None,
            "sourceData": {},
        }
        return body, end

    @staticmethod
    def _meal(rng: Any, h: _Human) -> tuple[dict[str, Any], int]:
        """A logged meal: its nutrients scaled by the servings eaten."""
        kind = dg.pick(rng, tuple(MEALS))
        name, calories, carbohydrate, protein, fat = dg.pick(rng, MEALS[kind])
        day = amount(rng, LO_DAY, END_DAY - 3)
        hour = {"breakfast": 7.0, "lunch": 12.0, "snack": 15.5, "dinner": 19.0}[kind]
        at = local_to_utc(day * dg.DAY_MS + int((hour + rng.random() * 1.5) * _HOUR), h.zone)
        at = at // 1000 * 1000
        servings = dg.pick(rng, (0.75, 1.0, 1.0, 1.5, 2.0))
        body = {
            "timestamp": dg.iso_ms(at),
            "tzOffset": tz_offset(at, h.zone),
            "type": kind,
            "name": name,
            "servings": servings,
            "calories": round(calories * servings),
            "carbohydrate": round(carbohydrate * servings, 1),
            "protein": round(protein * servings, 1),
            "fat": round(fat * servings, 1),
            "fiber": round(rng.random() * 8, 1),
            "sugar": round(rng.random() * 25, 1),
            "sodium": amount(rng, 50, 1500),
            "sourceData": {},
        }
        return body, at

    def _series(self, stream: str, record: dict[str, Any]) -> dict[str, Any]:
        """`timeSeries` of an activity (steps and heart rate every 5 minutes) or a sleep
        (its stage every 10 minutes); from an rng stream of the record's own."""
        rng = self.rng("series", record["id"])
        start, end = dg.ms_of(record["startTime"]), dg.ms_of(record["endTime"])
        if stream == "sleeps":
            stages = []
            for at in range(start, end, 10 * _MINUTE):
                stage = dg.pick(rng, ("light", "light", "deep", "rem", "awake"))
                stages.append({"timestamp": dg.iso_ms(at), "value": stage})
            return {"stages": stages}
        points = list(range(start, end, 5 * _MINUTE))
        steps = record["steps"] or 0
        series: dict[str, Any] = {
            "heartRate": [
                {"timestamp": dg.iso_ms(at), "value": amount(rng, 85, 165)} for at in points
            ]
        }
        if steps:
            share = steps // len(points)
            series["steps"] = [
                {"timestamp": dg.iso_ms(at), "value": share + amount(rng, -share // 5, share // 5)}
                for at in points
            ]
        return series

    # -- medical -------------------------------------------------------------------------

    def _medical(
        self,
        rng: Any,
        h: _Human,
        sources: list[_Source],
        out: dict[str, list[dict[str, Any]]],
        emu: HumanApiEmulator,
    ) -> None:
        # Organizations first: every medical record points at one of them.
        orgs: list[tuple[_Source, dict[str, str]]] = []
        labs: list[tuple[_Source, dict[str, str]]] = []
        for src in sources:
            record = self._org_record(rng, h, src, src.org_detail)
            out["medical_organizations"].append(record)
            src.org = _org_ref(record)
            orgs.append((src, src.org))
            if rng.random() < 0.3:
                lab = self._org_record(rng, h, src, LAB)
                out["medical_organizations"].append(lab)
                labs.append((src, _org_ref(lab)))

        def finish(stream: str, body: dict[str, Any], when: int, org: Any = None) -> None:
            src, ref = org or dg.pick(rng, orgs)
            created, updated = self._stamps(rng, src, stream, when, (DAY_1, 5 * dg.DAY_MS))
            record: dict[str, Any] = {
                "id": _oid(rng, dg.ms_of(created)),
                "humanId": h.human_id,
                "source": src.source,
                "dateTime": dg.iso_ms(when),
                "organization": dict(ref),
                **body,
                "createdAt": created,
                "updatedAt": updated,
            }
            if rng.random() < 0.4:
                record["sourceData"] = {"documentId": f"{rng.getrandbits(48):012x}"}
            out[stream].append(record)

        def when() -> int:
            day = amount(rng, LO_DAY, END_DAY - 8)
            return day * dg.DAY_MS + int((13 + rng.random() * 10) * _HOUR) // 1000 * 1000

        for allergen in rng.sample(ALLERGENS, min(len(ALLERGENS), amount(rng, 0, 6))):
            finish("medical_allergies", self._allergy(rng, allergen), when())
        for _ in range(amount(rng, 0, 6)):
            finish("medical_encounters", self._encounter(rng), when())
        for med in rng.sample(MEDICATIONS, min(len(MEDICATIONS), amount(rng, 0, 6))):
            at = when()
            finish("medical_medications", self._medication(rng, med, at), at)
        for _ in range(amount(rng, 0, 6)):
            org = dg.pick(rng, labs) if labs and rng.random() < 0.6 else None
            finish("medical_test_results", self._test_result(rng), when(), org)
        for _ in range(amount(rng, 0, 6)):
            finish("medical_vitals", self._vitals(rng, h), when())
        for _ in range(amount(rng, 0, 6)):
            title, code, text = dg.pick(rng, NARRATIVES)
            body = {"name": title, "codes": [_code(LOINC, code, title)], "text": text}
            finish("medical_narratives", body, when())
        for _ in range(amount(rng, 0, 6)):
            finish("medical_social_history", self._social(rng), when())
        latest = max(s.connected_ms for s in sources)
        for kind, name, formats in rng.sample(REPORT_TYPES, amount(rng, 0, 2)):
            src = dg.pick(rng, sources)
            at = latest + DAY_1 + int(rng.random() * 30 * dg.DAY_MS)
            created, updated = self._stamps(rng, src, "medical_reports", at, (0, _HOUR))
            out["medical_reports"].append(
                {
                    "id": _oid(rng, dg.ms_of(created)),
                    "humanId": h.human_id,
                    "name": name,
                    "type": kind,
                    "formats": list(formats),
                    "source": src.source if kind == "ccdraw" else "humanapi",
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        first = min(sources, key=lambda s: s.connected_ms)
        stamp = dg.iso_ms(first.connected_ms + 5 * _MINUTE)
        emu.medical_profiles[h.human_id] = {
            "id": _oid(rng, first.connected_ms + 5 * _MINUTE),
            "humanId": h.human_id,
            "source": first.source,
            "firstName": h.first,
            "lastName": h.last,
            "dateOfBirth": h.birth.isoformat(),
            "gender": h.sex,
            "createdAt": stamp,
            "updatedAt": stamp,
        }

    def _org_record(
        self, rng: Any, h: _Human, src: _Source, detail: tuple[str, ...]
    ) -> dict[str, Any]:
        name, street, city, state, postal, phone = detail
        created, updated = self._stamps(
            rng, src, "medical_organizations", src.connected_ms - 1, (0, 0)
        )
        return {
            "id": _oid(rng, dg.ms_of(created)),
            "humanId": h.human_id,
            "source": src.source,
            "dateTime": None,
            "organization": None,
            "codes": [],
            "name": name,
            "address": {
                "line": [street],
                "city": city,
                "state": state,
                "postalCode": postal,
                "country": "US",
            },
            "phone": phone,
            "createdAt": created,
            "updatedAt": updated,
        }

    @staticmethod
    def _allergy(rng: Any, allergen: tuple[str, str, str]) -> dict[str, Any]:
        name, code, display = allergen
        onset = dg.maybe(rng, 0.6, dg.iso_date(amount(rng, -9000, LO_DAY)))
        status = "active" if rng.random() < 0.85 else "inactive"
        return {
            "codes": [_code(SNOMED, code, display)],
            "name": name,
            "reaction": dg.maybe(rng, 0.8, dg.pick(rng, REACTIONS)),
            "severity": dg.maybe(rng, 0.8, dg.pick(rng, ("mild", "moderate", "severe"))),
            "status": status,
            "startDate": onset,
            "endDate": None,
        }

    @staticmethod
    def _encounter(rng: Any) -> dict[str, Any]:
        visit, code, display = dg.pick(rng, VISITS)
        first, last = dg.person_name(rng)
        diagnoses = [
            {"name": name, "codes": [_code(ICD10CM, icd, name)]}
            for icd, name in rng.sample(DIAGNOSES, amount(rng, 0, 2))
        ]
        return {
            "codes": [_code(CPT, code, display)],
            "visitType": visit,
            "providers": [{"name": f"{first} {last}, MD", "role": "attending"}],
            "diagnoses": diagnoses,
        }

    @staticmethod
    def _medication(rng: Any, med: tuple[Any, ...], at: int) -> dict[str, Any]:
        name, code, dosage, route, frequency, instructions, days = med
        start = at // dg.DAY_MS
        if days is not None:
            status, end = "completed", dg.iso_date(start + days)
        elif rng.random() < 0.2:
            status, end = "discontinued", dg.iso_date(start + amount(rng, 30, 300))
        else:
            status, end = "active", None
        first, last = dg.person_name(rng)
        return {
            "codes": [_code(RXNORM, code, name)],
            "name": name,
            "dosage": dosage,
            "route": route,
            "frequency": frequency,
            "instructions": instructions,
            "status": status,
            "startDate": dg.iso_date(start),
            "endDate": end,
            "prescriber": dg.maybe(rng, 0.8, f"{first} {last}, MD"),
        }

    @staticmethod
    def _test_result(rng: Any) -> dict[str, Any]:
        name, code, components = dg.pick(rng, PANELS)
        results = []
        for cname, ccode, unit, low, high, typ_lo, typ_hi, decimals in components:
            value = round(typ_lo + rng.random() * (typ_hi - typ_lo), decimals)
            if low is not None and high is not None:
                ref = f"{_num(low)}-{_num(high)}"
            elif high is not None:
                ref = f"<{_num(high)}"
            else:
                ref = f">{_num(low)}"
            flag = "normal"
            if high is not None and value > high:
                flag = "high"
            elif low is not None and value < low:
                flag = "low"
            results.append(
                {
                    "name": cname,
                    "value": f"{value:.{decimals}f}",
                    "unit": unit,
                    "referenceRange": ref,
                    "interpretation": flag,
                    "codes": [_code(LOINC, ccode, cname)],
                }
            )
        return {
            "codes": [_code(LOINC, code, name)],
            "name": name,
            "status": "final",
            "results": results,
        }

    @staticmethod
    def _vitals(rng: Any, h: _Human) -> dict[str, Any]:
        systolic = amount(rng, 105, 150)
        tall = amount(rng, 152, 178) if h.sex == "female" else amount(rng, 163, 193)
        height_cm = tall + round(rng.random(), 1)
        weight = round(height_cm * height_cm / 10_000 * (19 + rng.random() * 14), 1)
        # (name, LOINC, value, UCUM unit)
        options = [
            ("Systolic blood pressure", "8480-6", str(systolic), "mm[Hg]"),
            ("Diastolic blood pressure", "8462-4", str(_diastolic(rng, systolic)), "mm[Hg]"),
            ("Heart rate", "8867-4", str(amount(rng, 55, 95)), "/min"),
            ("Respiratory rate", "9279-1", str(amount(rng, 12, 20)), "/min"),
            ("Body temperature", "8310-5", f"{36.1 + rng.random() * 1.2:.1f}", "Cel"),
            ("Body weight", "29463-7", f"{weight:.1f}", "kg"),
            ("Body height", "8302-2", f"{height_cm:.1f}", "cm"),
            ("Body mass index", "39156-5", f"{weight / (height_cm / 100) ** 2:.1f}", "kg/m2"),
            ("Oxygen saturation by pulse oximetry", "59408-5", str(amount(rng, 94, 100)), "%"),
        ]
        chosen = sorted(rng.sample(range(len(options)), amount(rng, 3, 6)))
        name = "Vital signs panel"
        return {
            "codes": [_code(LOINC, "85353-1", name)],
            "results": [
                {"name": n, "value": v, "unit": u, "codes": [_code(LOINC, c, n)]}
                for n, c, v, u in (options[i] for i in chosen)
            ],
        }

    @staticmethod
    def _social(rng: Any) -> dict[str, Any]:
        name, code, values = dg.pick(rng, SOCIAL)
        value, snomed, display = dg.pick(rng, values)
        codes = [_code(LOINC, code, name)]
        if snomed is not None:
            codes.append(_code(SNOMED, snomed, display))
        start = dg.maybe(rng, 0.5, dg.iso_date(amount(rng, -7000, LO_DAY)))
        return {"codes": codes, "name": name, "value": value, "startDate": start, "endDate": None}


@dataclass(frozen=True)
class _Baseline:
    height_mm: int
    bmi: float
    drift: float
    fat: float
    resting: int
    glucose: int
    systolic: int
    max_hr: int


def _org_ref(record: dict[str, Any]) -> dict[str, str]:
    return {
        "id": record["id"],
        "name": record["name"],
        "href": f"{VENDOR_API}/medical/organizations/{record['id']}",
    }


def _diastolic(rng: Any, systolic: int) -> int:
    """A diastolic pressure that goes with ``systolic`` (roughly 0.62 of it, +-6 mmHg)."""
    return round(systolic * 0.62) + amount(rng, -6, 6)


def _num(value: float) -> str:
    return f"{value:g}"


def amount(rng: Any, lo: int, hi: int) -> int:
    """Integer in [lo, hi] (hi < lo gives lo)."""
    return dg.amount(rng, lo, max(lo, hi))


# --------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """A record with what the filters need, precomputed when a view is built."""

    record: dict[str, Any]
    created_ms: int
    updated_ms: int
    measured: str
    source: str | None


@dataclass(frozen=True)
class _Token:
    human_id: str
    expires: float


@dataclass
class _Query:
    limit: int
    offset: int
    keep: Callable[[_Entry], bool]
    time_series: bool = False


class HumanApiEmulator(Emulator):
    """Human API on a local port; see the module docstring and shared/specs/humanapi.md.

    seed/size: the dataset (size = number of users; the last ``no_source_users`` of them
    connected no source, so no access token can be minted for them and they have no data).
    token_ttl: ``expires_in`` of access tokens; they stop working that many seconds after
    issue. latency_ms: delay before every response. port: 0 picks a free port.
    drift: serve records as a later API version might (`human_sandbox.drift`, `DRIFT`).
    wellness_scale: each user's number of wellness records (and summary days) times this,
    at least one per stream: 0.1 gives about 30 records a user instead of 300, so that tens of
    thousands of users fit a benchmark.
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        size: int = 8,
        token_ttl: int = 86400,
        no_source_users: int = 1,
        latency_ms: int = 0,
        port: int = 0,
        drift: bool = False,
        wellness_scale: float = 1.0,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        if not 0 <= no_source_users <= size:
            raise ValueError("no_source_users must be between 0 and size")
        self.seed = seed
        self.size = size
        self.token_ttl = token_ttl
        self.no_source_users = no_source_users
        self.users: list[dict[str, Any]] = []
        self.data: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        #: humanId -> ``GET /medical/profile`` object (only users with medical sources).
        self.medical_profiles: dict[str, dict[str, Any]] = {}
        #: humanIds of the users without connected sources (see ``external_id``).
        self.no_sources: set[str] = set()
        #: Record id -> its ``timeSeries`` (activities and sleeps), served when asked.
        self.time_series: dict[str, dict[str, Any]] = {}
        _Builder(seed, size, no_source_users, wellness_scale).build(self)
        if drift:
            self._drift()
        self.external_ids = {u["humanId"]: u["externalId"] for u in self.users}
        self._by_external = {u["externalId"]: u["humanId"] for u in self.users}
        self.token_requests: list[dict[str, Any]] = []
        #: (request path, humanId the token resolved to) for every authorised Data API call.
        self.data_reads: list[tuple[str, str]] = []
        #: Data API requests naming (by record id) a record of another user than the token's.
        self.cross_user_attempts = 0
        self._tokens: dict[str, _Token] = {}
        self._sessions: dict[str, float] = {}
        self._views: dict[tuple[str, str | None, str], list[_Entry]] = {}
        self._lock = threading.RLock()
        self._mutations = 0
        self._max_ms = self._newest_ms()
        self.server = EmulatorServer(
            self.handle, port=port, latency_ms=latency_ms, error_body=boom_error_body
        )

    def _drift(self) -> None:
        """Drift mode: the records the API serves, as `DRIFT` says."""
        self.users = drift_records(self.users, Drift())
        profiles = drift_records(list(self.profiles.values()), DRIFT["profile"])
        self.profiles = dict(zip(self.profiles, profiles, strict=True))
        medical = drift_records(list(self.medical_profiles.values()), DRIFT["medical_profile"])
        self.medical_profiles = dict(zip(self.medical_profiles, medical, strict=True))
        for stream, by_user in self.data.items():
            flat = [row for rows in by_user.values() for row in rows]
            drifted = iter(drift_records(flat, DRIFT.get(stream, Drift())))
            self.data[stream] = {h: [next(drifted) for _ in rows] for h, rows in by_user.items()}

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """Base of the Application API (``/v1/apps/{CLIENT_ID}``) and Data API (``/v1/human``)."""
        return self.server.base_url

    @property
    def auth_url(self) -> str:
        """Base of the auth service; the token endpoint is ``auth_url + "/v1/connect/token"``."""
        return self.server.base_url

    @property
    def token_url(self) -> str:
        return f"{self.auth_url}/v1/connect/token"

    @property
    def url(self) -> str:
        """What the CLI announces: the API base URL."""
        return self.api_url

    # -- helpers for tests ---------------------------------------------------------------

    def human_id(self, external_id: str) -> str:
        """humanId of the user with this externalId (client_user_id)."""
        return self._by_external[external_id]

    def issue_token(self, human_id: str) -> str:
        """An access token for ``human_id`` without going through the token endpoint."""
        if human_id not in self.external_ids:
            raise KeyError(human_id)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = _Token(human_id, time.monotonic() + self.token_ttl)
        return token

    def revoke_tokens(self) -> None:
        """Every access token issued so far is invalid from now on (401)."""
        with self._lock:
            self._tokens.clear()

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (401 on its next use)."""
        now = time.monotonic()
        with self._lock:
            self._tokens = {k: _Token(v.human_id, now) for k, v in self._tokens.items()}

    def records(self, stream: str) -> list[dict[str, Any]]:
        """Every user's records of a data stream, as served (in user order)."""
        return [r for u in self.users for r in self.data[stream][u["humanId"]]]

    # -- mutations -----------------------------------------------------------------------

    def _newest_ms(self) -> int:
        newest = 0
        for rows in (self.users, self.profiles.values(), self.medical_profiles.values()):
            for row in rows:
                newest = max(newest, dg.ms_of(row["createdAt"]), dg.ms_of(row["updatedAt"]))
        for stream, per_user in self.data.items():
            for rows in per_user.values():
                for row in rows:
                    if stream == "sources":
                        newest = max(newest, dg.ms_of(row["syncStatus"]["synchedAt"]))
                    else:
                        newest = max(newest, dg.ms_of(row["updatedAt"]))
        return newest

    def touch(self, stream: str, human_id: str, n: int) -> list[str]:
        """Edit ``n`` deterministically chosen records of one user's stream: they all get one
        new updatedAt, strictly later than any instant in the dataset. Returns their ids."""
        if stream not in self.data or stream == "sources":
            raise ValueError(f"cannot touch {stream!r}: not a stream with updatedAt")
        with self._lock:
            rows = self.data[stream].get(human_id)
            if rows is None:
                raise KeyError(human_id)
            if not 0 <= n <= len(rows):
                raise ValueError(f"cannot touch {n} of {len(rows)} records")
            self._mutations += 1
            rng = dg.sub_rng(self.seed, "humanapi", "touch", str(self._mutations))
            chosen = sorted(rng.sample(range(len(rows)), n))
            self._max_ms = (self._max_ms // 1000 + 1) * 1000 + 1000
            stamp = dg.iso_ms(self._max_ms)
            for i in chosen:
                rows[i] = {**rows[i], "updatedAt": stamp}
            for key in [k for k in self._views if k[0] == stream]:
                del self._views[key]
            return [rows[i]["id"] for i in chosen]

    def remove_user(self, human_id: str) -> None:
        """Remove a user from the app (``DELETE /v1/apps/{clientId}/users/{humanId}``): gone
        from ``/users`` and from every batch query, no token can be minted for them, and
        the tokens they had stop working."""
        with self._lock:
            before = len(self.users)
            self.users = [u for u in self.users if u["humanId"] != human_id]
            if len(self.users) == before:
                raise KeyError(human_id)
            external = self.external_ids.pop(human_id)
            del self._by_external[external]
            self._tokens = {k: v for k, v in self._tokens.items() if v.human_id != human_id}
            self._views.clear()

    def delete_records(self, stream: str, human_id: str, n: int) -> list[str]:
        """Delete ``n`` deterministically chosen records of one user's data stream (a source
        withdrew them): no listing has them any more. Returns their ids."""
        with self._lock:
            rows = self.data[stream].get(human_id)
            if rows is None or not 0 <= n <= len(rows):
                raise ValueError(f"cannot delete {n} {stream} records of {human_id}")
            self._mutations += 1
            rng = dg.sub_rng(self.seed, "humanapi", "delete", str(self._mutations))
            chosen = set(rng.sample(range(len(rows)), n))
            ids = [row["id"] for i, row in enumerate(rows) if i in chosen]
            self.data[stream][human_id] = [r for i, r in enumerate(rows) if i not in chosen]
            self._views.clear()
            return ids

    # -- request handling ----------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """The app: token endpoint, Application API, Data API."""
        path = req.path.rstrip("/") or "/"
        method = "GET" if req.method == "HEAD" else req.method
        try:
            if path == "/v1/connect/token" and method == "POST":
                return self._token_endpoint(req)
            if method != "GET":
                raise _HttpError(404)  # hapi: no route for this method and path
            if path.startswith("/v1/apps/"):
                return self._app_api(req, path.removeprefix("/v1/apps/"))
            if path == "/v1/human" or path.startswith("/v1/human/"):
                return self._data_api(req, path.removeprefix("/v1/human").strip("/"))
            raise _HttpError(404)
        except _HttpError as exc:
            return json_response(exc.status, exc.body, exc.headers)

    # -- auth service --------------------------------------------------------------------

    def _token_endpoint(self, req: Request) -> Response:
        """POST /v1/connect/token (JSON body)."""
        entry: dict[str, Any] = {
            "time": time.monotonic(),
            "client_user_id": None,
            "ok": False,
            "status": 0,
        }
        with self._lock:
            self.token_requests.append(entry)
        try:
            response = self._mint(req, entry)
        except _HttpError as exc:
            response = json_response(exc.status, exc.body, exc.headers)
        entry["status"] = response.status
        entry["ok"] = response.status == 200
        return response

    def _mint(self, req: Request, entry: dict[str, Any]) -> Response:
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise _HttpError(415, "Unsupported Media Type")
        try:
            body = orjson.loads(req.body) if req.body else None
        except orjson.JSONDecodeError:
            raise _HttpError(400, "Invalid request payload JSON format") from None
        if not isinstance(body, dict):
            raise _invalid("value", '"value" must be of type object', "payload")
        if isinstance(body.get("client_user_id"), str):
            entry["client_user_id"] = body["client_user_id"]
        for key in ("client_id", "client_user_id", "type"):
            if body.get(key) is None:
                raise _invalid(key, f'"{key}" is required', "payload")
        for key in ("client_id", "client_user_id", "type", "client_secret", "client_user_email"):
            value = body.get(key)
            if value is not None and not isinstance(value, str):
                raise _invalid(key, f'"{key}" must be a string', "payload")
            if value == "":
                raise _invalid(key, f'"{key}" is not allowed to be empty', "payload")
        if body["type"] not in ("access", "session"):
            raise _invalid("type", '"type" must be one of [session, access]', "payload")
        secret = body.get("client_secret") or ""
        ok = hmac.compare_digest(body["client_id"].encode(), CLIENT_ID.encode())
        ok = hmac.compare_digest(secret.encode(), CLIENT_SECRET.encode()) and ok
        if not ok:
            raise _HttpError(401, INVALID_CLIENT)
        client_user_id = body["client_user_id"]
        human_id = self._by_external.get(client_user_id)
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if body["type"] == "session":  # Connect session: also for new or source-less users
            if human_id is None:
                digest = hashlib.blake2b(f"{self.seed}/{client_user_id}".encode(), digest_size=16)
                human_id = digest.hexdigest()
            session = secrets.token_urlsafe(24)
            with self._lock:
                self._sessions[session] = time.monotonic() + SESSION_TTL
            body_out = {"session_token": session, "human_id": human_id, "expires_in": SESSION_TTL}
            return json_response(200, body_out, no_store)
        if human_id is None or human_id in self.no_sources:
            raise _HttpError(404, NO_SOURCES)
        token = self.issue_token(human_id)
        credentials = {
            "access_token": token,
            "expires_in": self.token_ttl,
            "token_type": "Bearer",
            "refresh_token": "atrt-" + secrets.token_urlsafe(33),
        }
        return json_response(200, credentials, no_store)

    # -- Application API -----------------------------------------------------------------

    def _app_api(self, req: Request, rest: str) -> Response:
        scheme, _, encoded = (req.header("authorization") or "").partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            raise _HttpError(401, "Missing authentication", {"WWW-Authenticate": "Basic"})
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _HttpError(401, "Bad HTTP authentication header format") from None
        key, colon, _password = decoded.partition(":")  # the password is ignored (empty)
        if not colon or not hmac.compare_digest(key.encode(), APP_KEY.encode()):
            raise _HttpError(401, INVALID_APP_KEY, {"WWW-Authenticate": "Basic"})
        client_id, _, tail = rest.partition("/")
        if client_id != CLIENT_ID:
            raise _HttpError(404, "App not found")
        if tail == "users":
            return self._list(req, "users", None, self.users)
        if tail.startswith("users/"):
            sub = tail.removeprefix("users/")
            if sub in BATCH_PATHS:
                stream = BATCH_PATHS[sub]
                return self._list(req, stream, None, lambda: self.records(stream), batch=True)
            if _HEX32.fullmatch(sub):
                for user in self.users:
                    if user["humanId"] == sub:
                        return json_response(200, user)
                raise _HttpError(404, "User not found")
        raise _HttpError(404)

    # -- Data API ------------------------------------------------------------------------

    def _bearer(self, req: Request) -> str:
        scheme, _, token = (req.header("authorization") or "").partition(" ")
        if not scheme:
            token = req.q("access_token") or ""
        elif scheme.lower() != "bearer":
            token = ""
        token = token.strip()
        with self._lock:
            found = self._tokens.get(token) if token else None
        if found is None or time.monotonic() >= found.expires:
            raise _HttpError(
                401, INVALID_TOKEN, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return found.human_id

    def _data_api(self, req: Request, rest: str) -> Response:
        human_id = self._bearer(req)
        with self._lock:
            self.data_reads.append((req.path, human_id))
        if rest == "":
            return json_response(200, self._summary(human_id))
        if rest == "profile":
            return json_response(200, self.profiles[human_id])
        if rest == "medical/profile":
            profile = self.medical_profiles.get(human_id)
            if profile is None:
                raise _HttpError(404, NO_DATA)
            return json_response(200, profile)
        if rest == "sources":
            return json_response(200, self._shuffled("sources", human_id, req.path))
        stream = DATA_PATHS.get(rest)
        if stream is not None:
            rows = self.data[stream][human_id]
            query = self._query(req, stream)  # 400s come before the medical 404
            if stream.startswith("medical_") and not rows:
                raise _HttpError(404, NO_DATA)
            view = self._view(stream, human_id, req.path, rows)
            return self._page(req, view, query, self._served(stream, query, batch=False))
        if rest in LATEST_PATHS:
            rows = self.data[LATEST_PATHS[rest]][human_id]
            if not rows:
                raise _HttpError(404, NO_DATA)
            return json_response(200, max(rows, key=lambda r: (r["timestamp"], r["id"])))
        head, _, ident = rest.rpartition("/")
        stream = DATA_PATHS.get(head)
        if stream is not None and stream != "sources":
            return json_response(200, self._single(stream, human_id, ident))
        raise _HttpError(404)

    def _summary(self, human_id: str) -> dict[str, Any]:
        """``GET /v1/human``: the latest value of a few measurement types."""

        def latest(stream: str, key: str) -> dict[str, Any] | None:
            rows = self.data[stream][human_id]
            return max(rows, key=lambda r: (r[key], r["id"])) if rows else None

        profile = self.profiles[human_id]
        return {
            "humanId": human_id,
            "userId": profile["userId"],
            "bloodPressure": latest("blood_pressure", "timestamp"),
            "bodyFat": latest("body_fat", "timestamp"),
            "bmi": latest("bmi", "timestamp"),
            "heartRate": latest("heart_rate", "timestamp"),
            "height": latest("height", "timestamp"),
            "weight": latest("weight", "timestamp"),
            "activitySummary": latest("activity_summaries", "date"),
            "sleepSummary": latest("sleep_summaries", "date"),
            "createdAt": profile["createdAt"],
            "updatedAt": profile["updatedAt"],
        }

    def _single(self, stream: str, human_id: str, ident: str) -> dict[str, Any]:
        """``/{list path}/{id}`` (or ``/{summaries path}/{YYYY-MM-DD}``) of the token's user."""
        rows = self.data[stream][human_id]
        if stream in SUMMARY_STREAMS and _ISO_DAY.fullmatch(ident):
            for row in rows:
                if row["date"] == ident:
                    return row
            raise _HttpError(404, NO_DATA)
        if not _HEX24.fullmatch(ident):
            raise _HttpError(404)
        for row in rows:
            if row["id"] == ident:
                return row
        for other, other_rows in self.data[stream].items():
            if other != human_id and any(r["id"] == ident for r in other_rows):
                with self._lock:
                    self.cross_user_attempts += 1
                break
        raise _HttpError(404, "Not Found")

    # -- lists ---------------------------------------------------------------------------

    def _shuffled(self, stream: str, human_id: str, path: str) -> list[dict[str, Any]]:
        rows = self.data[stream][human_id]
        return [e.record for e in self._view(stream, human_id, path, rows)]

    def _view(
        self,
        stream: str,
        human_id: str | None,
        path: str,
        rows: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]],
    ) -> list[_Entry]:
        """The records in this path's own deterministic order (cached until a touch)."""
        key = (stream, human_id, path)
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                return view
            records = rows() if callable(rows) else rows
            salt = f"{self.seed}|{path}|{human_id or ''}|"

            def order(record: dict[str, Any]) -> bytes:
                ident = record.get("id") or record["humanId"]
                return hashlib.blake2b(
                    (salt + record.get("humanId", "") + ident).encode(), digest_size=8
                ).digest()

            view = [self._entry(stream, r) for r in sorted(records, key=order)]
            self._views[key] = view
            return view

    @staticmethod
    def _entry(stream: str, record: dict[str, Any]) -> _Entry:
        if stream == "sources":
            return _Entry(record, 0, 0, "", record["source"])
        measured = record.get(MEASURED_FIELD[stream]) or record["createdAt"]
        return _Entry(
            record,
            dg.ms_of(record["createdAt"]),
            dg.ms_of(record["updatedAt"]),
            measured[:10],
            record.get("source"),
        )

    def _list(
        self,
        req: Request,
        stream: str,
        human_id: str | None,
        rows: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]],
        *,
        batch: bool = False,
    ) -> Response:
        query = self._query(req, stream)
        view = self._view(stream, human_id, req.path, rows)
        return self._page(req, view, query, self._served(stream, query, batch=batch))

    def _served(
        self, stream: str, query: _Query, *, batch: bool
    ) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        """What a record gains as served: `timeSeries` when asked, and `timeZone` in batch
        responses (activities and sleeps); None when nothing."""
        if stream not in TIME_SERIES_STREAMS or not (batch or query.time_series):
            return None

        def served(record: dict[str, Any]) -> dict[str, Any]:
            out = dict(record)
            if batch:
                out["timeZone"] = self.profiles[record["humanId"]]["defaultTimeZone"]["name"]
            if query.time_series:
                out["timeSeries"] = self.time_series[record["id"]]
            return out

        return served

    @staticmethod
    def _page(
        req: Request,
        view: list[_Entry],
        query: _Query,
        served: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Response:
        rows = [e.record for e in view if query.keep(e)]
        page = rows[query.offset : query.offset + query.limit]
        if served is not None:
            page = [served(record) for record in page]
        headers = {"X-Total-Count": str(len(rows))}
        if query.offset + len(page) < len(rows):
            params = {k: v[0] for k, v in req.query.items() if k != "access_token"}
            params.update(limit=str(query.limit), offset=str(query.offset + len(page)))
            host = req.header("host") or "127.0.0.1"
            headers["Link"] = f'<http://{host}{req.path}?{urlencode(params)}>; rel="next"'
        return json_response(200, page, headers)

    def _query(self, req: Request, stream: str) -> _Query:
        """Validate paging and filter parameters as hapi/Joi would (400 with ``validation``)."""
        limit = _int_param(req, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int_param(req, "offset", 0, 0, None)
        checks: list[Callable[[_Entry], bool]] = []
        for name, attr, after in (
            ("created_since", "created_ms", True),
            ("updated_since", "updated_ms", True),
            ("created_before", "created_ms", False),
            ("updated_before", "updated_ms", False),
        ):
            raw = req.q(name)
            if raw is None:
                continue
            micros = parse_instant(raw)
            if micros is None:
                raise _invalid(name, f'"{name}" must be a valid date')
            if after:  # strictly after: floor keeps a record in the same millisecond out
                bound = micros // 1000
                checks.append(lambda e, a=attr, b=bound: getattr(e, a) > b)
            else:
                bound = -(-micros // 1000)
                checks.append(lambda e, a=attr, b=bound: getattr(e, a) < b)
        start, end = req.q("start_date"), req.q("end_date")
        if (start is None) != (end is None):
            missing = "end_date" if end is None else "start_date"
            raise _invalid(missing, f'"{missing}" is required when using a date range')
        if start is not None and end is not None:
            for name, value in (("start_date", start), ("end_date", end)):
                if not _valid_day(value):
                    raise _invalid(name, f'"{name}" must be a valid date (YYYY-MM-DD)')
            checks.append(lambda e, s=start, t=end: s <= e.measured <= t)
        source = req.q("source")
        if source is not None and stream != "users":
            checks.append(lambda e, s=source: e.source == s or _source_id(e.source or "") == s)
        time_series = False
        raw = req.q("time_series")
        if raw is not None and stream in TIME_SERIES_STREAMS:
            if raw.strip().lower() not in ("true", "false"):
                raise _invalid("time_series", '"time_series" must be a boolean')
            time_series = raw.strip().lower() == "true"
        return _Query(limit, offset, lambda e: all(check(e) for check in checks), time_series)


def _int_param(req: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = req.q(name)
    if raw is None:
        return default
    text = raw.strip()
    if not _NUMBER.fullmatch(text):
        raise _invalid(name, f'"{name}" must be a number')
    if not _INT.fullmatch(text):
        number = float(text)
        if not math.isfinite(number) or number != int(number):
            raise _invalid(name, f'"{name}" must be an integer')
    value = int(float(text)) if not _INT.fullmatch(text) else int(text)
    if value < low:
        raise _invalid(name, f'"{name}" must be larger than or equal to {low}')
    if high is not None and value > high:
        raise _invalid(name, f'"{name}" must be less than or equal to {high}')
    return value


def _valid_day(value: str) -> bool:
    if not _ISO_DAY.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
