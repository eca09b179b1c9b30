"""Local emulator of the Huma (humahr.com) Open API (see shared/specs/huma.md).

It reproduces the contract a tap depends on: the OAuth2 client-credentials token endpoint
(form body, JSON body or HTTP Basic client auth) with expiring bearer tokens, the
``{total, items, filters, meta}`` page envelope with ``limit``/``offset`` and the spec's
page-size maxima, UserDetails served with every attribute in a *Field* wrapper
(``{"value": X, "editable": ..., ...}``), uuid path validation, and the vendor's error
bodies (``field:invalid-format``, ``object:not-found``, ``invalid_token``, Spring's 500).

Data is generated deterministically from ``seed`` and ``size`` (number of users), each user
from an rng stream of its own, so tests can compute expected results. Only tokens are
random. The dataset's "today" is :data:`AS_OF`, never the wall clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import orjson

from human_sandbox import datagen as dg
from human_sandbox.core import Emulator, EmulatorServer, Request, Response, json_response
from human_sandbox.drift import Drift, drift_records

CLIENT_ID = "3f2b8c1e-5a47-4d2e-9b1a-7c6d5e4f3a21"  # fake test credential
CLIENT_SECRET = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"  # fake test credential

USERS_DEFAULT_LIMIT, USERS_MAX_LIMIT = 25, 50
GROUPS_DEFAULT_LIMIT, GROUPS_MAX_LIMIT = 10, 25
#: ASSUMPTION: the spec gives positions no default or maximum; these mirror /users.
POSITIONS_DEFAULT_LIMIT, POSITIONS_MAX_LIMIT = 25, 50
INT32_MAX = 2**31 - 1

#: "Today" of the dataset: position statuses, jubilees and seniority are relative to it.
AS_OF = date(2025, 9, 1)
#: Users never start earlier than this.
EARLIEST_HIRE = date(2012, 1, 2)
#: One user has this many positions, so positions paging (max 50) takes two pages.
MANY_POSITIONS = 60
MIN_GROUPS = 30
HOLIDAY_YEARS = range(2023, 2028)
EMAIL_DOMAIN = "nordlys.no"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})
GROUP_KINDS = ("team", "location", "company")
#: Drift mode (what changes in which records): nested objects gain undeclared fields, and
#: the fields the spec gives a list of values for get values outside it. UserDetails keep
#: their Field wrappers: what is nested is in their `value`.
DRIFT = {
    "users": Drift(nested=("avatarImage", "jobTitles[]", "teams[]", "status"), enums={"type"}),
    "details": Drift(
        nested=(
            "homeAddress.value",
            "children.value[]",
            "emergencyContacts.value[]",
            "identifications.value[]",
            "salary.value",
            "supervisor.value",
            "completeness.important",
            "currentPositions[]",
            "status",
        ),
        enums={"type", "civilStatus", "employmentType", "contractType", "status", "periodUnit"},
    ),
    "positions": Drift(nested=("title",), enums={"contractType", "status"}),
    "groups": Drift(nested=("members[]", "address"), enums={"type"}),
    "job_titles": Drift(),
    "position_details": Drift(
        nested=("title.value",), enums={"contractType", "status", "endReason"}
    ),
    "work_schedules": Drift(),
    "group_details": Drift(
        nested=("members[]", "links[]", "grants[]", "grants[].role"), enums={"type", "domain"}
    ),
}


# --------------------------------------------------------------------------------------
# Error bodies (shapes from the spec's examples)
# --------------------------------------------------------------------------------------


def invalid_format(*fields: str) -> dict[str, Any]:
    """400 body for a bad parameter (query or path)."""
    return {
        "errorCode": "field:invalid-format",
        "errorMessage": "Invalid field Format",
        "fields": list(fields),
    }


def not_found(kind: str, ident: str) -> dict[str, Any]:
    """404 body for an unknown object (or path)."""
    return {
        "errorCode": "object:not-found",
        "errorMessage": "Object not found",
        "interpolations": {"type": kind, "id": ident},
    }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def spring_error(status: int, message: str, path: str) -> dict[str, Any]:
    """Spring Boot's default error body (the spec's StandardServerErrorResponse)."""
    now = datetime.now(UTC)
    return {
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "status": status,
        "error": _phrase(status),
        "message": message,
        "path": path,
    }


def spring_error_body(status: int) -> bytes:
    """Body of injected status faults and app crashes (the request path is not known)."""
    return orjson.dumps(spring_error(status, _phrase(status), ""))


class _Invalid(Exception):
    def __init__(self, *fields: str) -> None:
        super().__init__(*fields)
        self.fields = fields


# --------------------------------------------------------------------------------------
# Public holidays: a real (simplified) calendar per country, 2023-2027
# --------------------------------------------------------------------------------------


def easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    x = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * x) // 451
    month, day = divmod(h + x - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """n-th (1-based; -1 = last) given weekday (Monday = 0) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _weekday_between(year: int, month: int, first_day: int, weekday: int) -> date:
    """The given weekday in the 7 days starting at (month, first_day)."""
    start = date(year, month, first_day)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def _us_observed(day: date) -> date:
    """US federal rule: Saturday holidays are observed on Friday, Sunday ones on Monday."""
    shift = {5: -1, 6: 1}.get(day.weekday(), 0)
    return day + timedelta(days=shift)


def _gb_new_year(year: int) -> date:
    day = date(year, 1, 1)
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


def _gb_christmas(year: int) -> list[date]:
    xmas = date(year, 12, 25)
    return {
        4: [xmas, date(year, 12, 28)],  # Friday: Boxing Day moves to Monday
        5: [date(year, 12, 27), date(year, 12, 28)],
        6: [date(year, 12, 26), date(year, 12, 27)],
    }.get(xmas.weekday(), [xmas, date(year, 12, 26)])


def _year_holidays(country: str, y: int) -> list[date]:
    e = easter(y)

    def ez(days: int) -> date:
        return e + timedelta(days=days)

    if country == "NO":
        return [
            date(y, 1, 1),
            *(ez(d) for d in (-3, -2, 0, 1)),
            date(y, 5, 1),
            date(y, 5, 17),
            *(ez(d) for d in (39, 49, 50)),
            date(y, 12, 25),
            date(y, 12, 26),
        ]
    if country == "SE":
        return [
            date(y, 1, 1),
            date(y, 1, 6),
            *(ez(d) for d in (-2, 0, 1)),
            date(y, 5, 1),
            ez(39),
            ez(49),
            date(y, 6, 6),
            _weekday_between(y, 6, 20, 5),  # Midsummer Day
            _weekday_between(y, 10, 31, 5),  # All Saints' Day
            date(y, 12, 25),
            date(y, 12, 26),
        ]
    if country == "DK":
        prayer_day = [ez(26)] if y <= 2023 else []  # Store bededag, abolished from 2024
        return [
            date(y, 1, 1),
            *(ez(d) for d in (-3, -2, 0, 1)),
            *prayer_day,
            *(ez(d) for d in (39, 49, 50)),
            date(y, 12, 25),
            date(y, 12, 26),
        ]
    if country == "FI":
        return [
            date(y, 1, 1),
            date(y, 1, 6),
            *(ez(d) for d in (-2, 0, 1)),
            date(y, 5, 1),
            ez(39),
            ez(49),
            _weekday_between(y, 6, 20, 5),
            _weekday_between(y, 10, 31, 5),
            date(y, 12, 6),
            date(y, 12, 25),
            date(y, 12, 26),
        ]
    if country == "DE":
        return [
            date(y, 1, 1),
            ez(-2),
            ez(1),
            date(y, 5, 1),
            ez(39),
            ez(50),
            date(y, 10, 3),
            date(y, 12, 25),
            date(y, 12, 26),
        ]
    if country == "GB":  # England and Wales bank holidays, with substitute days
        coronation = [date(2023, 5, 8)] if y == 2023 else []
        return [
            _gb_new_year(y),
            ez(-2),
            ez(1),
            _nth_weekday(y, 5, 0, 1),
            *coronation,
            _nth_weekday(y, 5, 0, -1),
            _nth_weekday(y, 8, 0, -1),
            *_gb_christmas(y),
        ]
    if country == "US":  # federal holidays, observed dates
        return [
            _us_observed(date(y, 1, 1)),
            _nth_weekday(y, 1, 0, 3),
            _nth_weekday(y, 2, 0, 3),
            _nth_weekday(y, 5, 0, -1),
            _us_observed(date(y, 6, 19)),
            _us_observed(date(y, 7, 4)),
            _nth_weekday(y, 9, 0, 1),
            _nth_weekday(y, 10, 0, 2),
            _us_observed(date(y, 11, 11)),
            _nth_weekday(y, 11, 3, 4),
            _us_observed(date(y, 12, 25)),
        ]
    return []


HOLIDAY_COUNTRIES = ("DE", "DK", "FI", "GB", "NO", "SE", "US")
#: Country -> sorted unique ISO dates over HOLIDAY_YEARS.
CALENDAR: dict[str, tuple[str, ...]] = {
    cc: tuple(sorted({d.isoformat() for y in HOLIDAY_YEARS for d in _year_holidays(cc, y)}))
    for cc in HOLIDAY_COUNTRIES
}


# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------

# fmt: off
FIRST_NAMES = (
    "Ole", "Kari", "Ingrid", "Lars", "Sigrid", "Magnus", "Astrid", "Erik", "Nora", "Henrik",
    "Emma", "Jonas", "Maja", "Anders", "Sofie", "Mathias", "Ida", "Oskar", "Frida", "Jakob",
    "Thea", "Sander", "Linnea", "Emil", "Hedda", "Filip", "Tuva", "Elias", "Selma", "Håkon",
    "Åse", "Bjørn", "Solveig", "Øystein", "Märta", "Björn", "Søren", "Freja", "Mette", "Niels",
    "Aino", "Mikko", "Hannah", "Lukas", "Léa", "Zoë", "Ahmed", "Fatima", "Priya", "Chen",
)
LAST_NAMES = (
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
    "Jensen", "Karlsen", "Berg", "Haugen", "Hagen", "Bakken", "Solberg", "Lie", "Dahl", "Lund",
    "Strand", "Eriksen", "Bjørnstad", "Sæther", "Løken", "Østby", "Ødegård", "Åsheim",
    "Lindqvist", "Karlsson", "Eriksson", "Svensson", "Johansson", "Nielsen", "Sørensen",
    "Rasmussen", "Virtanen", "Korhonen", "Müller", "Schmidt", "Smith", "O'Brien",
    "Van der Berg", "Nguyen", "Khan",
)
PREFERRED_NAMES = ("Kaja", "Mads", "Bror", "Liv", "Tor", "Siri", "Jens", "Elsa", "Kim", "Alex")
# fmt: on


@dataclass(frozen=True)
class _Country:
    dial: str
    currency: str
    salary_unit: str
    monthly_pay: tuple[int, int]
    cities: tuple[tuple[str, str], ...]  # (postal code, city) for home addresses
    streets: tuple[str, ...]
    mobile_prefixes: tuple[str, ...]


COUNTRIES: dict[str, _Country] = {
    "NO": _Country(
        "47",
        "NOK",
        "monthly",
        (42_000, 110_000),
        (("0150", "Oslo"), ("0364", "Oslo"), ("5003", "Bergen"), ("7011", "Trondheim")),
        ("Storgata", "Kirkeveien", "Bogstadveien", "Thorvald Meyers gate", "Møllendalsveien"),
        ("4", "9"),
    ),
    "SE": _Country(
        "46",
        "SEK",
        "monthly",
        (35_000, 90_000),
        (("111 21", "Stockholm"), ("116 46", "Stockholm"), ("411 19", "Göteborg")),
        ("Drottninggatan", "Götgatan", "Sveavägen", "Linnégatan"),
        ("70", "72", "73", "76"),
    ),
    "DK": _Country(
        "45",
        "DKK",
        "monthly",
        (38_000, 85_000),
        (("1160", "København K"), ("2200", "København N"), ("8000", "Aarhus C")),
        ("Nørrebrogade", "Vesterbrogade", "Strøget", "Jægersborggade"),
        ("2", "3", "4", "5"),
    ),
    "GB": _Country(
        "44",
        "GBP",
        "yearly",
        (38_000, 120_000),
        (("EC1V 9BE", "London"), ("M1 1AE", "Manchester")),
        ("High Street", "Station Road", "Church Lane"),
        ("74", "75", "77", "78"),
    ),
    "DE": _Country(
        "49",
        "EUR",
        "yearly",
        (48_000, 110_000),
        (("10119", "Berlin"), ("20095", "Hamburg")),
        ("Torstraße", "Hauptstraße", "Schönhauser Allee"),
        ("151", "160", "170", "176"),
    ),
    "FI": _Country(
        "358",
        "EUR",
        "monthly",
        (3_200, 7_500),
        (("00100", "Helsinki"), ("33100", "Tampere")),
        ("Mannerheimintie", "Hämeenkatu", "Aleksanterinkatu"),
        ("40", "45", "50"),
    ),
}

# name, country, organisation number, whether the number is flagged invalid
_COMPANIES = (
    ("Nordlys AS", "NO", "923609016", False),
    ("Nordlys Sverige AB", "SE", "559123-4567", False),
    ("Nordlys Danmark ApS", "DK", "38123456", False),
    ("Nordlys UK Ltd", "GB", "1234567", True),
)
# name, line1, line2, postal code, city, country, employing company's country
_LOCATIONS = (
    ("Oslo HQ", "Karl Johans gate 12", "4. etasje", "0154", "Oslo", "NO", "NO"),
    ("Bergen", "Bryggen 5", None, "5003", "Bergen", "NO", "NO"),
    ("Trondheim", "Munkegata 20", None, "7011", "Trondheim", "NO", "NO"),
    ("Stavanger", "Kirkegata 3", None, "4006", "Stavanger", "NO", "NO"),
    ("Stockholm", "Drottninggatan 45", "Plan 3", "111 21", "Stockholm", "SE", "SE"),
    ("Göteborg", "Kungsgatan 10", None, "411 19", "Göteborg", "SE", "SE"),
    ("Malmö", "Södergatan 8", None, "211 34", "Malmö", "SE", "SE"),
    ("København", "Strøget 22", "2. sal", "1160", "København K", "DK", "DK"),
    ("Aarhus", "Ryesgade 3", None, "8000", "Aarhus C", "DK", "DK"),
    ("London", "12 Old Street", "Floor 4", "EC1V 9BE", "London", "GB", "GB"),
    ("Berlin", "Torstraße 140", None, "10119", "Berlin", "DE", "NO"),
    ("Helsinki", "Mannerheimintie 5", None, "00100", "Helsinki", "FI", "NO"),
)
_TEAM_NAMES = (
    "Platform", "Payments", "Growth", "Data", "Mobile", "People", "Sales Nordics",
    "Customer Success", "Finance", "Design", "Security", "Infrastructure", "Marketing",
    "Legal", "Procurement", "Analytics", "Support", "Onboarding", "Partnerships", "Facilities",
)  # fmt: skip
_JOB_TITLES = (
    ("Software Engineer", "Builds and maintains the product."),
    ("Senior Software Engineer", "Leads technical work in a team."),
    ("Engineering Manager", "Manages an engineering team."),
    ("Product Manager", "Owns the roadmap of a product area."),
    ("Product Designer", None),
    ("Data Analyst", "Turns data into decisions."),
    ("Account Executive", None),
    ("Customer Success Manager", "Keeps customers happy and renewing."),
    ("HR Business Partner", "Supports managers on people matters."),
    ("Payroll Specialist", None),
    ("Financial Controller", "Owns monthly closing and reporting."),
    ("Office Manager", None),
)
_CONTRACT_TYPES = (
    ("Permanent", 70),
    ("Temporary", 10),
    ("Trainee", 4),
    ("Consultant", 5),
    ("Freelance", 3),
    ("Seasonal", 2),
    ("Casual", 2),
    ("JobTrainingProgram", 1),
    ("ThirdParty", 2),
    ("Other", 1),
)
_CONTRACT_POOL = tuple(name for name, weight in _CONTRACT_TYPES for _ in range(weight))
_FIXED_TERM = frozenset({"Temporary", "Trainee", "Seasonal", "JobTrainingProgram", "Consultant"})
_PERCENTAGES = (100,) * 7 + (80, 80, 60, 50, 40, 20)
_END_REASONS = (
    "change_in_organization_or_internal_job_transfer",
    "employee_resigned",
    "employee_terminated",
    "temporary_contract_or_position_ended",
    "change_in_payroll_system_or_accountant",
    "other",
)
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
#: Work schedules: name, countryCode, working weekdays (Monday = 0), default, archived.
#: First a standard week per country the users live in (the organisation's default first).
_SCHEDULES: tuple[tuple[str, str | None, tuple[int, ...], bool, bool], ...] = (
    ("Standard week (Norway)", "NO", (0, 1, 2, 3, 4), True, False),
    ("Standard week (Sweden)", "SE", (0, 1, 2, 3, 4), False, False),
    ("Standard week (Denmark)", "DK", (0, 1, 2, 3, 4), False, False),
    ("Standard week (UK)", "GB", (0, 1, 2, 3, 4), False, False),
    ("Standard week (Germany)", "DE", (0, 1, 2, 3, 4), False, False),
    ("Standard week (Finland)", "FI", (0, 1, 2, 3, 4), False, False),
    ("Four-day week", "NO", (0, 1, 2, 3), False, False),
    ("Part time (Mon-Wed)", None, (0, 1, 2), False, False),
    ("Summer hours 2023", "NO", (0, 1, 2, 3), False, True),
)
_RELATIONS = ("Spouse", "Partner", "Mother", "Father", "Sister", "Brother", "Friend")
_GENDERS = ("Female", "Male", "Female", "Male", "Non-binary")
_CIVIL = ("Married", "Relationship", "Single")
_DIETS = ("Vegetarian", "Vegan", "Gluten-free", "Lactose intolerant", "Halal", "No nuts")
_INTERESTS = (
    "Skiing", "Hiking", "Climbing", "Sailing", "Board games", "Cooking", "Running",
    "Photography", "Chess", "Knitting", "Football", "Jazz",
)  # fmt: skip
_FUNFACTS = (
    "Has skied across Finnmarksvidda.",
    "Once met the King at a petrol station.",
    "Bakes a mean kanelbolle.",
    "Speaks five languages, badly.",
)
_NATIONALITIES_EXTRA = ("PL", "LT", "IN", "DE", "ES", "US", "NL", "IS")
_INTEGRATIONS = ("tripletex", "visma", "hibob")
#: UserDetails attributes an HR integration owns: locked (not editable) while connected.
_LOCKED = frozenset(
    {"givenName", "familyName", "employmentId", "bankAccount", "salary", "email", "birthDate"}
)
_IMPORTANT = frozenset(
    {"givenName", "familyName", "phone", "birthDate", "homeAddress", "emergencyContacts",
     "bankAccount", "employmentId"}
)  # fmt: skip
_DETAILS = frozenset(
    {"preferredName", "avatarImage", "gender", "nationality", "civilStatus", "children",
     "privateEmail", "dietaryRequirements", "interests", "funfacts", "identifications"}
)  # fmt: skip


def _uuid(rng: Any) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _dt(day: date, rng: Any) -> str:
    """ISO date-time with milliseconds on ``day`` during office hours."""
    ms = (day - dg.ANCHOR_DATE).days * dg.DAY_MS + int((7 + rng.random() * 10) * 3_600_000)
    return dg.iso_ms(ms)


def _months_between(start: date, end: date) -> int:
    return max(0, (end.year - start.year) * 12 + end.month - start.month)


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    return date(day.year + year, month + 1, min(day.day, 28))


def _status(start: date, end: date | None) -> str:
    if start > AS_OF:
        return "UPCOMING"
    if end is not None and end < AS_OF:
        return "ENDED"
    return "CURRENT"


def _mod97_iban(country: str, bban: str) -> str:
    numeric = "".join(c if c.isdigit() else str(ord(c) - 55) for c in bban + country) + "00"
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


# --------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------


@dataclass
class _Position:
    id: str
    title: dict[str, Any]
    start: date
    end: date | None
    contract_type: str
    percentage: int | None
    description: str | None
    country: str
    rng_seed: int

    @property
    def status(self) -> str:
        return _status(self.start, self.end)


@dataclass
class _UserCtx:
    idx: int
    id: str
    first: str
    last: str
    preferred: str | None
    email: str
    phone: str | None
    country: str
    location: int
    company: int
    teams: list[int]
    active: bool
    avatar: dict[str, Any] | None
    invited_at: str
    positions: list[_Position] = field(default_factory=list)
    supervisor: int | None = None
    subordinates: int = 0


class _Builder:
    """Generates the whole dataset; per-user rng streams keep users independent."""

    def __init__(self, seed: int, size: int) -> None:
        self.seed = seed
        self.size = size

    def rng(self, *labels: str) -> Any:
        return dg.sub_rng(self.seed, "huma", *labels)

    def build(self, emu: HumaEmulator) -> None:
        org = self.rng("org")
        emu.organization_id = _uuid(org)
        emu.service_user_id = _uuid(org)
        emu.auth_origin = _uuid(org)
        self._job_titles()
        self._groups()
        self._users()
        self._assemble(emu)

    # -- reference ----------------------------------------------------------------------

    def _job_titles(self) -> None:
        rng = self.rng("job-titles")
        titles: list[dict[str, Any]] = [
            {"id": _uuid(rng), "name": n, "description": d} for n, d in _JOB_TITLES
        ]
        self.titles = sorted(titles, key=lambda t: (t["name"], t["id"]))

    def _groups(self) -> None:
        rng = self.rng("groups")
        hq = {loc[5]: loc for loc in reversed(_LOCATIONS)}  # first location per country
        self.companies: list[dict[str, Any]] = [
            {
                "id": _uuid(rng),
                "name": name,
                "type": "company",
                "members": None,
                "address": {
                    "line1": hq[cc][1],
                    "line2": None,
                    "line3": None,
                    "postalCode": hq[cc][3],
                    "city": hq[cc][4],
                    "country": cc,
                },
                "organizationNumber": number,
                "invalidOrganizationNumber": invalid,
            }
            for name, cc, number, invalid in _COMPANIES
        ]
        self.company_of_country = {c["address"]["country"]: i for i, c in enumerate(self.companies)}
        self.locations: list[dict[str, Any]] = [
            {
                "id": _uuid(rng),
                "name": name,
                "type": "location",
                "members": None,
                "address": {
                    "line1": line1,
                    "line2": line2,
                    "line3": None,
                    "postalCode": postal,
                    "city": city,
                    "country": cc,
                },
            }
            for name, line1, line2, postal, city, cc, _employer in _LOCATIONS
        ]
        n_teams = max(MIN_GROUPS, self.size // 3) - len(self.companies) - len(self.locations)
        names = [
            base if k == 0 else f"{base} {k + 1}"
            for k in range(n_teams // len(_TEAM_NAMES) + 1)
            for base in _TEAM_NAMES
        ][:n_teams]
        self.teams: list[dict[str, Any]] = [
            {"id": _uuid(rng), "name": name, "type": "team", "members": None} for name in names
        ]
        # Team lead role and links for GroupDetails.
        self.role = {
            "domain": "user",
            "id": _uuid(rng),
            "name": "Manager",
            "permissions": ["absence:approve", "users:read", "users:write"],
            "deletable": False,
            "assignable": True,
            "updatable": False,
            "description": "Manages the members of a group.",
            "grants": None,
            "features": None,
        }
        self.group_extra: dict[str, tuple[str | None, list[dict[str, str]]]] = {}
        for g in self.companies + self.locations + self.teams:
            desc = dg.maybe(rng, 0.5, f"All about {g['name']}.")
            links = (
                [{"name": "Handbook", "url": f"https://wiki.{EMAIL_DOMAIN}/{g['id'][:8]}"}]
                if rng.random() < 0.4
                else []
            )
            self.group_extra[g["id"]] = (desc, links)

    # -- users --------------------------------------------------------------------------

    def _users(self) -> None:
        size = self.size
        pick_rng = self.rng("special")
        self.many_idx = 1 if size > 1 else 0
        others = [i for i in range(size) if i != self.many_idx]
        n_inactive = max(1, round(size * 0.1)) if size >= 3 else 0
        n_upcoming = max(1, size // 20) if size >= 5 else 0
        chosen = pick_rng.sample(others, min(len(others), n_inactive + n_upcoming))
        self.inactive = set(chosen[:n_inactive])
        self.upcoming = set(chosen[n_inactive:])
        taken_emails: set[str] = set()
        self.users: list[_UserCtx] = []
        for i in range(size):
            rng = self.rng("user", str(i))
            first, last = dg.pick(rng, FIRST_NAMES), dg.pick(rng, LAST_NAMES)
            n = 0
            while (mail := dg.email(first, last, EMAIL_DOMAIN, n)) in taken_emails:
                n += 1
            taken_emails.add(mail)
            loc = int(rng.random() * len(_LOCATIONS))
            country = _LOCATIONS[loc][5]
            n_teams = 1 + (rng.random() < 0.3)
            teams = sorted({int(rng.random() * len(self.teams)) for _ in range(n_teams)})
            avatar = None
            if rng.random() < 0.6:
                side = dg.pick(rng, (256, 512))
                avatar = {
                    "url": f"https://files.humahr.com/avatars/{_uuid(rng)}.jpg",
                    "width": side,
                    "height": side,
                }
            ctx = _UserCtx(
                idx=i,
                id=_uuid(rng),
                first=first,
                last=last,
                preferred=dg.maybe(rng, 0.15, dg.pick(rng, PREFERRED_NAMES)),
                email=mail,
                phone=dg.maybe(rng, 0.85, self._phone(rng, country)),
                country=country,
                location=loc,
                company=self.company_of_country[_LOCATIONS[loc][6]],
                teams=teams,
                active=i not in self.inactive,
                avatar=avatar,
                invited_at="",
            )
            ctx.positions = self._positions(rng, ctx)
            first_start = min(p.start for p in ctx.positions)
            ctx.invited_at = _dt(first_start - timedelta(days=amount(rng, 3, 40)), rng)
            self.users.append(ctx)
        # Reporting lines: everyone but the first user reports to someone generated earlier.
        org_rng = self.rng("supervisors")
        for i, ctx in enumerate(self.users[1:], start=1):
            boss = int(org_rng.random() ** 2 * i)
            ctx.supervisor = boss
            self.users[boss].subordinates += 1

    @staticmethod
    def _phone(rng: Any, country: str) -> str:
        """Mobile number in the country's usual grouping, e.g. '+47 412 34 567'."""
        spec = COUNTRIES[country]
        digits = dg.pick(rng, spec.mobile_prefixes) + f"{rng.randrange(10**7):07d}"
        if country in ("NO", "DK"):
            return f"+{spec.dial} {digits[:3]} {digits[3:5]} {digits[5:]}"
        return f"+{spec.dial} {digits[:2]} {digits[2:5]} {digits[5:]}"

    def _position(
        self, rng: Any, ctx_country: str, start: date, end: date | None, kind: str | None = None
    ) -> _Position:
        return _Position(
            id=_uuid(rng),
            title=dg.pick(rng, self.titles),
            start=start,
            end=end,
            contract_type=kind or dg.pick(rng, _CONTRACT_POOL),
            percentage=dg.maybe(rng, 0.95, dg.pick(rng, _PERCENTAGES)),
            description=dg.maybe(rng, 0.4, "Responsible for day-to-day delivery in the team."),
            country=ctx_country,
            rng_seed=rng.getrandbits(32),
        )

    def _positions(self, rng: Any, ctx: _UserCtx) -> list[_Position]:
        """1-3 consecutive positions (MANY_POSITIONS for one user), newest first."""
        country = ctx.country
        if ctx.idx in self.upcoming:
            start = AS_OF + timedelta(days=amount(rng, 10, 120))
            return [self._position(rng, country, start, None, "Permanent")]
        n = MANY_POSITIONS if ctx.idx == self.many_idx else 1 + int(rng.random() * 3)
        span = (AS_OF - EARLIEST_HIRE).days
        hire = EARLIEST_HIRE + timedelta(
            days=0 if n == MANY_POSITIONS else int(rng.random() ** 0.7 * (span - 400))
        )
        room = (AS_OF - hire).days - 60
        cuts = sorted(rng.sample(range(30, room), n - 1)) if n > 1 else []
        starts = [hire, *(hire + timedelta(days=c) for c in cuts)]
        out: list[_Position] = []
        for k, start in enumerate(starts):
            last = k == n - 1
            end: date | None
            if not last:
                end = starts[k + 1] - timedelta(days=1)
                kind = None
            elif not ctx.active:
                end = start + timedelta(days=amount(rng, 30, max(31, (AS_OF - start).days - 1)))
                end = min(end, AS_OF - timedelta(days=1))
                kind = None
            else:
                kind = dg.pick(rng, _CONTRACT_POOL)
                end = AS_OF + timedelta(days=amount(rng, 30, 400)) if kind in _FIXED_TERM else None
            out.append(self._position(rng, country, start, end, kind))
        return out[::-1]

    # -- assembly -----------------------------------------------------------------------

    def _simple(self, ctx: _UserCtx) -> dict[str, Any]:
        titles = self._titles_of(ctx)
        return {
            "type": "user",
            "id": ctx.id,
            "givenName": ctx.first,
            "familyName": ctx.last,
            "preferredName": ctx.preferred,
            "email": ctx.email,
            "phone": ctx.phone,
            "avatarUrl": ctx.avatar["url"] if ctx.avatar else None,
            "avatarImage": ctx.avatar,
            "jobTitle": titles[0] if titles else None,
            "jobTitles": titles,
            "status": {"active": ctx.active},
            "invitedAt": ctx.invited_at,
        }

    @staticmethod
    def _titles_of(ctx: _UserCtx) -> list[dict[str, Any]]:
        current = [p for p in ctx.positions if p.status == "CURRENT"] or ctx.positions[:1]
        seen: dict[str, dict[str, Any]] = {}
        for p in current:
            seen.setdefault(p.title["id"], {"id": p.title["id"], "name": p.title["name"]})
        return list(seen.values())

    def _assemble(self, emu: HumaEmulator) -> None:
        simple = [self._simple(ctx) for ctx in self.users]
        titles = [s["jobTitles"] for s in simple]
        # Group members (SimpleUser, by name) for GET /groups.
        members: dict[str, list[int]] = {
            g["id"]: [] for g in self.companies + self.locations + self.teams
        }
        for ctx in self.users:
            members[self.companies[ctx.company]["id"]].append(ctx.idx)
            members[self.locations[ctx.location]["id"]].append(ctx.idx)
            for t in ctx.teams:
                members[self.teams[t]["id"]].append(ctx.idx)

        def by_name(i: int) -> tuple[str, str, str]:
            u = self.users[i]
            return (u.first, u.last, u.id)

        for ids in members.values():
            ids.sort(key=by_name)
        groups = [
            {**g, "members": [simple[i] for i in members[g["id"]]]}
            for g in self.companies + self.locations + self.teams
        ]
        groups.sort(key=lambda g: (g["name"], g["id"]))
        emu.groups = groups
        emu.group_members = members

        users: list[dict[str, Any]] = []
        for ctx in self.users:
            teams = [self.teams[t] for t in ctx.teams]
            locations = [self.locations[ctx.location]]
            companies = [self.companies[ctx.company]]
            users.append(
                {
                    "id": ctx.id,
                    "givenName": ctx.first,
                    "familyName": ctx.last,
                    "preferredName": ctx.preferred,
                    "email": ctx.email,
                    "phone": ctx.phone,
                    "avatarUrl": ctx.avatar["url"] if ctx.avatar else None,
                    "avatarImage": ctx.avatar,
                    "jobTitle": titles[ctx.idx][0] if titles[ctx.idx] else None,
                    "jobTitles": titles[ctx.idx],
                    "teams": teams,
                    "locations": locations,
                    "companies": companies,
                    "groups": [*teams, *locations, *companies],
                    "type": "user",
                    "status": {"active": ctx.active},
                }
            )
        order = sorted(range(len(users)), key=by_name)
        emu.users = [users[i] for i in order]
        emu.list_index = {u["id"]: u for u in users}

        # Who deactivates accounts: the first active user (an HR admin, say).
        admin = next((c for c in self.users if c.active), None)
        emu.details = {}
        emu.positions = {}
        emu.position_details = {}
        for i in order:
            ctx = self.users[i]
            emu.positions[ctx.id] = [self._summary(p) for p in ctx.positions]
            for p in ctx.positions:
                emu.position_details[(ctx.id, p.id)] = self._position_detail(p)
            emu.details[ctx.id] = self._details(
                ctx, users[i], simple, admin if admin is not ctx else None
            )
        emu.job_titles = [{"id": t["id"], "name": t["name"]} for t in self.titles]
        emu.title_descriptions = {t["id"]: t["description"] for t in self.titles}
        emu.service_user = self._service_user(emu)
        emu.work_schedules = self._work_schedules()

    def _work_schedules(self) -> dict[str, dict[str, Any]]:
        """User id -> the WorkSchedule `GET /users/{id}/work-schedule` serves: the standard
        week of the user's country, or a shorter week for part-timers (by the percentage
        of the current position). Deactivated users have none: the API answers 404
        (assumed; the spec declares a 404 but not when)."""
        rng = self.rng("work-schedules")
        ids = [_uuid(rng) for _ in _SCHEDULES]
        names = [name for name, *_ in _SCHEDULES]
        standard = {country: k for k, (_, country, *_) in enumerate(_SCHEDULES[:6])}
        chosen: dict[str, int] = {}
        for ctx in self.users:
            if not ctx.active:
                continue
            current = [p for p in ctx.positions if p.status == "CURRENT"] or ctx.positions[:1]
            percentage = current[0].percentage or 100
            if percentage <= 50:
                chosen[ctx.id] = names.index("Part time (Mon-Wed)")
            elif percentage < 100:
                chosen[ctx.id] = names.index("Four-day week")
            else:
                chosen[ctx.id] = standard[ctx.country]
        counts = Counter(chosen.values())
        schedules = [
            {
                "id": ids[k],
                "name": name,
                "countryCode": country,
                "weekDays": [day + 1 for day in days],  # deprecated: 1 = Monday (assumed)
                "weekWorkDays": [WEEKDAYS[day] for day in days],
                "default": default,
                "userCount": counts[k],
                "archived": archived,
            }
            for k, (name, country, days, default, archived) in enumerate(_SCHEDULES)
        ]
        return {user_id: schedules[k] for user_id, k in chosen.items()}

    @staticmethod
    def _summary(p: _Position) -> dict[str, Any]:
        return {
            "id": p.id,
            "title": p.title,
            "description": p.description,
            "contractStartDate": p.start.isoformat(),
            "contractEndDate": p.end.isoformat() if p.end else None,
            "periodInMonths": _months_between(p.start, p.end) if p.end else None,
            "percentage": p.percentage,
            "contractType": p.contract_type,
            "status": p.status,
        }

    @staticmethod
    def _position_detail(p: _Position) -> dict[str, Any]:
        """GET /users/{userId}/positions/{id}: the same data in Field wrappers, and more."""
        rng = dg.sub_rng(p.rng_seed, "position")
        ended = p.end is not None and p.status == "ENDED"

        def ldate(value: date | None, completeness: str | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {"value": value.isoformat() if value else None}
            out["editable"] = True
            if completeness:
                out["completeness"] = completeness
            return out

        def fld(value: Any) -> dict[str, Any]:
            return {"value": value, "editable": True, "integrations": {}}

        notice = p.end - timedelta(days=amount(rng, 30, 90)) if ended and p.end else None
        probation = _add_months(p.start, 6) if p.contract_type == "Permanent" else None
        return {
            "id": p.id,
            "contractStartDate": ldate(p.start, "important"),
            "contractEndDate": ldate(p.end),
            "firstDayOfWork": ldate(p.start + timedelta(days=amount(rng, 0, 3))),
            "lastDayOfWork": ldate(p.end),
            "contractCountry": fld(p.country),
            "contractType": fld(p.contract_type),
            "percentage": fld(p.percentage),
            "terminationNoticeDate": ldate(notice),
            "probationEndDate": ldate(probation),
            "title": fld(p.title),
            "description": fld(p.description),
            "endNote": fld(dg.maybe(rng, 0.5, "Handover completed.") if ended else None),
            "endReason": fld(dg.pick(rng, _END_REASONS) if ended else None),
            "wantedEnd": fld(rng.random() < 0.5 if ended else None),
            "status": p.status,
            "note": fld(dg.maybe(rng, 0.2, "Signed contract archived.")),
        }

    def _details(
        self,
        ctx: _UserCtx,
        item: dict[str, Any],
        simple: list[dict[str, Any]],
        admin: _UserCtx | None,
    ) -> dict[str, Any]:
        rng = self.rng("details", str(ctx.idx))
        integration = dg.maybe(rng, 0.3, dg.pick(rng, _INTEGRATIONS))
        empty_integrations = rng.random() < 0.5

        def integ(name: str) -> dict[str, Any] | None:
            if integration and name in _LOCKED:
                warning = (
                    "locked_disconnect" if rng.random() < 0.7 else "possibly_locked_disconnect"
                )
                return {integration: {"warning": warning}}
            return {} if empty_integrations else None

        def editable(name: str) -> bool:
            return not (integration and name in _LOCKED) and rng.random() < 0.95

        def wrap(name: str, value: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"value": value, "editable": editable(name)}
            if name in _IMPORTANT:
                out["completeness"] = "important"
            elif name in _DETAILS:
                out["completeness"] = "details"
            ints = integ(name)
            if ints is not None:
                out["integrations"] = ints
            return out

        def local_date(name: str, value: date | None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "value": value.isoformat() if value else None,
                "editable": editable(name),
            }
            if name in _IMPORTANT:
                out["completeness"] = "important"
            return out

        positions = ctx.positions  # newest first
        first, newest = positions[-1], positions[0]
        current = [p for p in positions if p.status == "CURRENT"]
        main = current[0] if current else None
        country = ctx.country
        nationality = ctx.country if rng.random() < 0.85 else dg.pick(rng, _NATIONALITIES_EXTRA)

        birth = date(1960, 1, 1) + timedelta(days=int(rng.random() * 365 * 43))
        jubilees: list[dict[str, Any]] = []
        if rng.random() < 0.05:  # birthday today
            birth = birth.replace(month=AS_OF.month, day=AS_OF.day)
        show_birthday = rng.random() < 0.7
        if (birth.month, birth.day) == (AS_OF.month, AS_OF.day):
            jubilees.append(
                {
                    "type": "birthday",
                    "date": AS_OF.isoformat(),
                    "originalDate": birth.isoformat(),
                    "years": AS_OF.year - birth.year,
                    "user": simple[ctx.idx],
                    "public": show_birthday,
                }
            )
        if (first.start.month, first.start.day) == (AS_OF.month, AS_OF.day) and (
            AS_OF.year > first.start.year
        ):
            jubilees.append(
                {
                    "type": "work_anniversary",
                    "date": AS_OF.isoformat(),
                    "originalDate": first.start.isoformat(),
                    "years": AS_OF.year - first.start.year,
                    "user": simple[ctx.idx],
                    "public": True,
                }
            )

        children = [
            {
                "id": _uuid(rng),
                "name": f"{dg.pick(rng, FIRST_NAMES)} {ctx.last}",
                "birthDate": dg.maybe(
                    rng,
                    0.9,
                    (
                        max(birth + timedelta(days=365 * 20), date(1995, 1, 1))
                        + timedelta(days=int(rng.random() * 365 * 10))
                    ).isoformat(),
                ),
            }
            for _ in range(int(rng.random() * 4))
        ]
        for child in children:  # birthDate must be past or present
            if child["birthDate"] and child["birthDate"] > AS_OF.isoformat():
                child["birthDate"] = AS_OF.isoformat()
        contacts = [
            {
                "id": _uuid(rng),
                "name": f"{dg.pick(rng, FIRST_NAMES)} {dg.pick(rng, LAST_NAMES)}",
                "phone": dg.maybe(rng, 0.9, self._phone(rng, country)),
                "relation": dg.maybe(rng, 0.85, dg.pick(rng, _RELATIONS)),
            }
            for _ in range(int(rng.random() * 3))
        ]
        identifications: list[dict[str, Any]] = []
        for _ in range(int(rng.random() * 3)):
            kind = "national" if not identifications or rng.random() < 0.3 else "passport"
            identifications.append(
                {
                    "id": _uuid(rng),
                    "type": kind,
                    "value": self._ident_value(rng, kind, nationality, birth),
                    "country": dg.maybe(rng, 0.9, nationality),
                }
            )

        home = None
        if rng.random() < 0.85:
            postal, city = dg.pick(rng, COUNTRIES[country].cities)
            home = {
                "line1": f"{dg.pick(rng, COUNTRIES[country].streets)} {amount(rng, 1, 140)}",
                "line2": dg.maybe(rng, 0.3, f"H0{amount(rng, 1, 5)}0{amount(rng, 1, 4)}"),
                "line3": None,
                "postalCode": postal,
                "city": city,
                "country": country,
            }
        bank = self._bank(rng, country) if rng.random() < 0.85 else None
        salary = None
        if main is not None and rng.random() < 0.8:
            spec = COUNTRIES[country]
            lo, hi = spec.monthly_pay
            unit = "hourly" if main.contract_type in ("Casual", "Freelance") else spec.salary_unit
            pay = lo + rng.random() * (hi - lo)
            if unit == "hourly":
                pay = pay / 160
            salary = {
                "id": _uuid(rng),
                "periodUnit": unit,
                "amount": round(pay * (main.percentage or 100) / 100, 2),
                "currency": spec.currency,
                "fromDate": main.start.isoformat(),
                "toDate": None,
                "note": dg.maybe(rng, 0.2, "Includes holiday pay."),
                "current": True,
            }

        experience = dg.maybe(rng, 0.7, amount(rng, 0, 240))
        seniority = _months_between(first.start, min(AS_OF, newest.end or AS_OF))
        last_login = None
        if ctx.active and rng.random() < 0.85:
            last_login = _dt(AS_OF - timedelta(days=amount(rng, 0, 200)), rng)
        email_field: dict[str, Any] = {"value": ctx.email, "editable": editable("email")}
        if rng.random() < 0.1:
            email_field["requestedValue"] = ctx.email.replace(EMAIL_DOMAIN, "nordlys.com")
        if (ints := integ("email")) is not None:
            email_field["integrations"] = ints
        birth_field: dict[str, Any] = {
            "value": dg.maybe(rng, 0.9, birth.isoformat()),
            "editable": editable("birthDate"),
            "showBirthday": show_birthday,
            "completeness": "important",
        }
        supervisor = simple[ctx.supervisor] if ctx.supervisor is not None else None
        status: dict[str, Any] = {
            "active": ctx.active,
            "deactivatedBy": None,
            "deactivatedAt": None,
        }
        if not ctx.active:
            last_day = newest.end or AS_OF
            status["deactivatedBy"] = {
                k: v for k, v in (simple[admin.idx] if admin else {}).items() if k != "status"
            } or None
            status["deactivatedAt"] = _dt(last_day + timedelta(days=1), rng)

        details: dict[str, Any] = {
            "id": ctx.id,
            "givenName": wrap("givenName", ctx.first),
            "familyName": wrap("familyName", ctx.last),
            "preferredName": wrap("preferredName", ctx.preferred),
            "email": email_field,
            "avatarUrl": wrap("avatarUrl", item["avatarUrl"]),
            "avatarImage": wrap("avatarImage", ctx.avatar),
            "coverImageUrl": wrap(
                "coverImageUrl",
                dg.maybe(rng, 0.3, f"https://files.humahr.com/covers/{_uuid(rng)}.jpg"),
            ),
            "birthDate": birth_field,
            "phone": wrap("phone", ctx.phone),
            "homeAddress": wrap("homeAddress", home),
            "gender": wrap("gender", dg.maybe(rng, 0.8, dg.pick(rng, _GENDERS))),
            "nationality": wrap("nationality", dg.maybe(rng, 0.9, nationality)),
            "civilStatus": wrap("civilStatus", dg.maybe(rng, 0.7, dg.pick(rng, _CIVIL))),
            "children": wrap("children", children),
            "privateEmail": wrap(
                "privateEmail",
                dg.maybe(rng, 0.5, dg.email(ctx.first, ctx.last, "gmail.com")),
            ),
            "dietaryRequirements": wrap(
                "dietaryRequirements", dg.maybe(rng, 0.25, dg.pick(rng, _DIETS))
            ),
            "interests": wrap(
                "interests",
                sorted({dg.pick(rng, _INTERESTS) for _ in range(int(rng.random() * 4))}),
            ),
            "funfacts": wrap("funfacts", dg.maybe(rng, 0.3, dg.pick(rng, _FUNFACTS))),
            "emergencyContacts": wrap("emergencyContacts", contacts),
            "identifications": wrap("identifications", identifications),
            "employmentId": wrap("employmentId", dg.maybe(rng, 0.8, str(1000 + ctx.idx))),
            "employmentType": wrap("employmentType", main.contract_type if main else None),
            "teams": wrap("teams", item["teams"]),
            "locations": wrap("locations", item["locations"]),
            "companies": wrap("companies", item["companies"]),
            "groups": wrap("groups", item["groups"]),
            "supervisor": wrap("supervisor", supervisor),
            "subordinatesCount": ctx.subordinates,
            "jobTitle": wrap("jobTitle", main.title if main else None),
            "jobTitles": [p.title for p in current],
            "jobDescription": wrap(
                "jobDescription", dg.maybe(rng, 0.3, "See the position description.")
            ),
            "terminationNoticeDate": local_date(
                "terminationNoticeDate",
                newest.end - timedelta(days=30) if not ctx.active and newest.end else None,
            ),
            "probationEndDate": local_date(
                "probationEndDate",
                _add_months(first.start, 6) if first.contract_type == "Permanent" else None,
            ),
            "employmentStartDate": local_date("employmentStartDate", first.start),
            "firstDayOfWork": local_date("firstDayOfWork", first.start),
            "employmentEndDate": local_date("employmentEndDate", newest.end),
            "lastDayOfWork": local_date("lastDayOfWork", newest.end),
            "employmentPercentage": wrap("employmentPercentage", main.percentage if main else None),
            "relevantExperienceInMonths": wrap("relevantExperienceInMonths", experience),
            "seniorityNote": wrap(
                "seniorityNote", dg.maybe(rng, 0.1, "Includes two years at a subsidiary.")
            ),
            "firstContractStartDate": wrap("firstContractStartDate", first.start.isoformat()),
            "bankAccount": wrap("bankAccount", bank),
            "invitedAt": ctx.invited_at,
            "lastLoggedInAt": last_login,
            "connectedIntegrations": (
                {integration: {"type": "employee", "externalId": str(amount(rng, 10_000, 99_999))}}
                if integration
                else {}
            ),
            "completeness": None,  # filled in below from the wrappers
            "salary": wrap("salary", salary),
            "jubileesToday": jubilees,
            "excludeFromInsights": wrap(
                "excludeFromInsights", dg.maybe(rng, 0.9, rng.random() < 0.05)
            ),
            "excludeFromSurveys": wrap(
                "excludeFromSurveys", dg.maybe(rng, 0.9, rng.random() < 0.1)
            ),
            "custom": self._custom(rng),
            "status": status,
            "type": "user",
            "currentPositions": [self._summary(p) for p in current],
            "seniorityInCompany": seniority,
            "totalSeniority": seniority + (experience or 0),
        }
        details["completeness"] = _profile_completeness(details)
        return details

    @staticmethod
    def _ident_value(rng: Any, kind: str, country: str, birth: date) -> str:
        if kind == "passport":
            return f"{chr(65 + int(rng.random() * 26))}{rng.randrange(10**7, 10**8)}"
        tail = rng.randrange(10**4)
        if country == "NO":
            return f"{birth:%d%m%y}{rng.randrange(10**5):05d}"
        if country == "SE":
            return f"{birth:%Y%m%d}-{tail:04d}"
        if country == "DK":
            return f"{birth:%d%m%y}-{tail:04d}"
        if country == "GB":
            return f"QQ{rng.randrange(10**6):06d}C"
        return f"{rng.randrange(10**10, 10**11)}"

    @staticmethod
    def _bank(rng: Any, country: str) -> dict[str, Any]:
        if country in ("NO", "SE", "DK"):
            digits = f"{rng.randrange(10**11):011d}"
            return {
                "type": "national",
                "code": digits[:4],
                "number": f"{digits[:4]}.{digits[4:6]}.{digits[6:]}",
                "country": country,
            }
        bic = dg.pick(rng, ("NDEAFIHH", "DEUTDEFF", "BARCGB22", "DNBANOKK"))
        bban = f"{rng.randrange(10**17, 10**18)}"
        return {
            "type": "international",
            "code": bic[:4],
            "iban": _mod97_iban(country, bban),
            "bic": bic,
        }

    @staticmethod
    def _custom(rng: Any) -> dict[str, Any]:
        return {
            "tshirtSize": {
                "label": "T-shirt size",
                "value": dg.maybe(rng, 0.7, dg.pick(rng, ("XS", "S", "M", "L", "XL"))),
                "placeholder": None,
                "editable": True,
                "section": "misc",
                "type": "enum",
                "options": {s: s for s in ("XS", "S", "M", "L", "XL")},
            },
            "parkingSpot": {
                "label": "Parking spot",
                "value": dg.maybe(rng, 0.3, f"P-{amount(rng, 1, 80)}"),
                "placeholder": "e.g. P-12",
                "editable": True,
                "section": "employment",
                "type": "text",
            },
            "remoteDaysPerWeek": {
                "label": "Remote days per week",
                "value": amount(rng, 0, 3),
                "editable": False,
                "section": "employment",
                "type": "number",
            },
        }

    def _service_user(self, emu: HumaEmulator) -> dict[str, Any]:
        """UserDetails of the API key's service user (``/users/me``); not in user lists."""

        def empty(value: Any = None) -> dict[str, Any]:
            return {"value": value, "editable": False}

        ldate = empty
        fields = [
            "preferredName", "avatarUrl", "avatarImage", "coverImageUrl", "phone", "homeAddress",
            "gender", "nationality", "civilStatus", "privateEmail", "dietaryRequirements",
            "funfacts", "employmentId", "employmentType", "supervisor", "jobTitle",
            "jobDescription", "employmentPercentage", "relevantExperienceInMonths",
            "seniorityNote", "firstContractStartDate", "bankAccount", "salary",
        ]  # fmt: skip
        details: dict[str, Any] = {"id": emu.service_user_id}
        details.update({name: empty() for name in fields})
        details.update(
            {
                "givenName": empty("Open API"),
                "familyName": empty("Service user"),
                "email": {
                    "value": f"open-api+{CLIENT_ID[:8]}@service.humahr.com",
                    "editable": False,
                },
                "birthDate": {"value": None, "editable": False, "showBirthday": False},
                "children": empty([]),
                "interests": empty([]),
                "emergencyContacts": empty([]),
                "identifications": empty([]),
                "teams": empty([]),
                "locations": empty([]),
                "companies": empty([]),
                "groups": empty([]),
                "subordinatesCount": 0,
                "jobTitles": [],
                "terminationNoticeDate": ldate(),
                "probationEndDate": ldate(),
                "employmentStartDate": ldate(),
                "firstDayOfWork": ldate(),
                "employmentEndDate": ldate(),
                "lastDayOfWork": ldate(),
                "invitedAt": None,
                "lastLoggedInAt": None,
                "connectedIntegrations": {},
                "completeness": {
                    "important": {"filled": 0, "available": 0},
                    "details": {"filled": 0, "available": 0},
                },
                "jubileesToday": [],
                "excludeFromInsights": empty(True),
                "excludeFromSurveys": empty(True),
                "custom": {},
                "status": {"active": True, "deactivatedBy": None, "deactivatedAt": None},
                "type": "service_user",
                "currentPositions": [],
                "seniorityInCompany": None,
                "totalSeniority": None,
            }
        )
        return details


def amount(rng: Any, lo: int, hi: int) -> int:
    """Integer in [lo, hi] (hi < lo gives lo)."""
    return dg.amount(rng, lo, max(lo, hi))


def _profile_completeness(details: dict[str, Any]) -> dict[str, Any]:
    """Counts of filled/available wrappers per completeness level, from the wrappers."""
    out = {"important": {"filled": 0, "available": 0}, "details": {"filled": 0, "available": 0}}
    for value in details.values():
        if isinstance(value, dict) and value.get("completeness") in out:
            level = out[value["completeness"]]
            level["available"] += 1
            level["filled"] += value.get("value") not in (None, "", [])
    return out


# --------------------------------------------------------------------------------------
# Emulator
# --------------------------------------------------------------------------------------


class HumaEmulator(Emulator):
    """Huma Open API on a local port; see the module docstring and shared/specs/huma.md.

    seed/size: the dataset (size = number of users; groups are max(30, size // 3)).
    token_ttl: ``expires_in`` of minted tokens; they stop working that many seconds after
    issue (``time.monotonic``). echo_secret_in_errors: a rejected token request's
    error_description includes the client_secret sent (proves the tap never prints it).
    latency_ms: delay before every response. port: 0 picks a free port.
    drift: serve records as a later API version might (`human_sandbox.drift`, `DRIFT`).
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        size: int = 30,
        token_ttl: int = 3600,
        latency_ms: int = 0,
        port: int = 0,
        echo_secret_in_errors: bool = False,
        drift: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.seed = seed
        self.size = size
        self.token_ttl = token_ttl
        self.echo_secret_in_errors = echo_secret_in_errors
        self.organization_id = ""
        self.service_user_id = ""
        self.auth_origin = ""
        self.users: list[dict[str, Any]] = []
        self.list_index: dict[str, dict[str, Any]] = {}
        self.details: dict[str, dict[str, Any]] = {}
        self.positions: dict[str, list[dict[str, Any]]] = {}
        self.position_details: dict[tuple[str, str], dict[str, Any]] = {}
        self.groups: list[dict[str, Any]] = []
        self.group_members: dict[str, list[int]] = {}
        self.job_titles: list[dict[str, Any]] = []
        self.title_descriptions: dict[str, str | None] = {}
        self.work_schedules: dict[str, dict[str, Any]] = {}
        self.service_user: dict[str, Any] = {}
        self._builder = _Builder(seed, size)
        self._builder.build(self)
        #: Group id -> what `GET /groups/{id}` serves (GroupDetails).
        self.group_details = {g["id"]: self._group_detail(g) for g in self.groups}
        if drift:
            self._drift()
        self._user_blobs = [orjson.dumps(u) for u in self.users]
        self._group_blobs = [orjson.dumps(g) for g in self.groups]
        self._active_flags = [u["status"]["active"] for u in self.users]
        self.token_requests: list[dict[str, Any]] = []
        self._tokens: dict[str, float] = {}  # access token -> monotonic expiry
        self._lock = threading.Lock()
        self.server = EmulatorServer(
            self.handle, port=port, latency_ms=latency_ms, error_body=spring_error_body
        )

    def _drift(self) -> None:
        """Drift mode: the records the API serves, as `DRIFT` says."""
        self.users = drift_records(self.users, DRIFT["users"])
        details = drift_records(list(self.details.values()), DRIFT["details"])
        self.details = dict(zip(self.details, details, strict=True))
        flat = drift_records([p for ps in self.positions.values() for p in ps], DRIFT["positions"])
        positions = iter(flat)
        self.positions = {u: [next(positions) for _ in ps] for u, ps in self.positions.items()}
        self.groups = drift_records(self.groups, DRIFT["groups"])
        self.job_titles = drift_records(self.job_titles, DRIFT["job_titles"])
        for name in ("position_details", "work_schedules", "group_details"):
            served: dict[Any, dict[str, Any]] = getattr(self, name)
            drifted = drift_records(list(served.values()), DRIFT[name])
            setattr(self, name, dict(zip(served, drifted, strict=True)))

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """API base URL for the tap (``api_url``); the token URL is url + /auth/oauth/token."""
        return self.server.base_url

    @property
    def token_url(self) -> str:
        return f"{self.url}/auth/oauth/token"

    # -- data accessors ------------------------------------------------------------------

    def holidays(self, country: str, from_date: str, to_date: str) -> list[str]:
        """What ``GET /holidays/{country}?fromDate&toDate`` serves (both ends inclusive)."""
        return [d for d in CALENDAR.get(country, ()) if from_date <= d <= to_date]

    def job_title_detail(self, title_id: str) -> dict[str, Any] | None:
        """``GET /job-titles/{id}`` (JobTitle): the list's item with its description, so
        a title renamed, added or removed in ``job_titles`` is so in its details too."""
        summary = next((t for t in self.job_titles if t["id"] == title_id), None)
        if summary is None:
            return None
        return {**summary, "description": self.title_descriptions.get(title_id)}

    def _group_detail(self, group: dict[str, Any]) -> dict[str, Any]:
        """``GET /groups/{id}`` (GroupDetails: members as full User list items)."""
        description, links = self._builder.group_extra[group["id"]]
        member_ids = [m["id"] for m in group["members"]]
        grants = []
        if group["type"] == "team" and member_ids:
            lead = group["members"][0]
            grants = [{"role": self._builder.role, "users": [lead]}]
        return {
            "id": group["id"],
            "name": group["name"],
            "members": [self.list_index[i] for i in member_ids],
            "grants": grants,
            "description": description,
            "links": links,
        }

    # -- tokens --------------------------------------------------------------------------

    def revoke_all_tokens(self) -> None:
        """Invalidate every token issued so far: the next API call with one gets 401."""
        with self._lock:
            self._tokens.clear()

    def expire_all_tokens(self) -> None:
        """Every token issued so far expires now: the next API call with one gets 401
        "Access token expired" (as if its ``token_ttl`` had run out early)."""
        now = time.monotonic()
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, now)

    def _mint(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "refresh_token": "def50200" + secrets.token_hex(24),
            "organizationId": self.organization_id,
            "userId": self.service_user_id,
            "authOrigin": self.auth_origin,
            "authProvider": "open-api",
        }

    def _token_error(self, status: int, error: str, description: str) -> Response:
        return json_response(
            status,
            {"error": error, "error_description": description},
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _token_endpoint(self, req: Request) -> Response:
        """POST /auth/oauth/token: client_credentials by form, JSON or HTTP Basic."""
        authorization = req.header("authorization") or ""
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        basic = authorization[:6].lower() == "basic "
        style = "basic" if basic else ("json" if ctype == "application/json" else "form")
        entry: dict[str, Any] = {
            "time": time.monotonic(),
            "style": style,
            "ok": False,
            "token": None,
        }
        with self._lock:
            self.token_requests.append(entry)

        fields: dict[str, Any]
        if ctype == "application/json":
            try:
                parsed = orjson.loads(req.body) if req.body else None
            except orjson.JSONDecodeError:
                return self._token_error(400, "invalid_request", "Malformed JSON body")
            if not isinstance(parsed, dict):
                return self._token_error(400, "invalid_request", "Body must be a JSON object")
            fields = parsed
        elif ctype == "application/x-www-form-urlencoded":
            try:
                text = req.body.decode("utf-8")
            except UnicodeDecodeError:
                return self._token_error(400, "invalid_request", "Malformed form body")
            fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        else:
            return self._token_error(
                400, "invalid_request", f"Unsupported content type '{ctype or 'none'}'"
            )
        grant = fields.get("grant_type")
        if not grant:
            return self._token_error(400, "invalid_request", "Missing grant_type")
        if grant != "client_credentials":
            return self._token_error(400, "invalid_request", f"Unsupported grant_type '{grant}'")

        client_id: Any
        client_secret: Any
        if basic:
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return self._token_error(400, "invalid_request", "Malformed Basic credentials")
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                return self._token_error(400, "invalid_request", "Malformed Basic credentials")
            client_id, client_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        else:
            client_id = fields.get("client_id")
            client_secret = fields.get("client_secret")
        ok = (
            isinstance(client_id, str)
            and isinstance(client_secret, str)
            and hmac.compare_digest(client_id.encode(), CLIENT_ID.encode())
            and hmac.compare_digest(client_secret.encode(), CLIENT_SECRET.encode())
        )
        if not ok:
            description = "Bad client credentials"
            if self.echo_secret_in_errors and client_secret:
                description += f" (client_secret: {client_secret})"
            return self._token_error(401, "invalid_client", description)
        credentials = self._mint()
        entry["ok"] = True
        entry["token"] = credentials["access_token"]
        return json_response(200, credentials, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _check_bearer(self, req: Request) -> tuple[str | None, Response | None]:
        scheme, _, token = (req.header("authorization") or "").partition(" ")
        token = token.strip()
        description = "Access token invalid"
        if scheme.lower() == "bearer" and token:
            with self._lock:
                expiry = self._tokens.get(token)
            if expiry is not None and time.monotonic() < expiry:
                return token, None
            if expiry is not None:
                description = "Access token expired"
        header = f'Bearer error="invalid_token", error_description="{description}"'
        return None, json_response(
            401,
            {"error": "invalid_token", "error_description": description},
            {"WWW-Authenticate": header},
        )

    # -- request handling ----------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """The app: token endpoint, bearer check, then routing."""
        path = req.path.rstrip("/") or "/"
        method = "GET" if req.method == "HEAD" else req.method
        if path == "/auth/oauth/token":
            if method != "POST":
                return self._not_allowed(req.method, path)
            return self._token_endpoint(req)
        _token, denied = self._check_bearer(req)
        if denied is not None:
            return denied
        if path == "/auth/oauth/revoke":
            if method != "POST":
                return self._not_allowed(req.method, path)
            self.revoke_all_tokens()  # "the current user's tokens": all are the service user's
            return Response(200, b"", {})
        parts = path.strip("/").split("/")
        try:
            route = self._route(parts)
            if route is None:
                return json_response(404, not_found("Path", path))
            if method != "GET":
                return self._not_allowed(req.method, path)
            return route(req)
        except _Invalid as exc:
            return json_response(400, invalid_format(*exc.fields))

    @staticmethod
    def _not_allowed(method: str, path: str) -> Response:
        body = spring_error(405, f"Request method '{method}' is not supported", path)
        return json_response(405, body, {"Allow": "GET"})

    def _route(self, parts: list[str]) -> Any:
        n = len(parts)
        head = parts[0]
        if head == "users":
            if n == 1:
                return self._list_users
            if n == 2:
                return lambda req: self._get_user(parts[1])
            if parts[2] == "positions" and n == 3:
                return lambda req: self._list_positions(req, parts[1])
            if parts[2] == "positions" and n == 4:
                return lambda req: self._get_position(parts[1], parts[3])
            if parts[2] == "work-schedule" and n == 3:
                return lambda req: self._get_work_schedule(parts[1])
            return None
        if head == "groups" and n <= 2:
            return self._list_groups if n == 1 else (lambda req: self._get_group(parts[1]))
        if head == "job-titles" and n <= 2:
            return self._list_job_titles if n == 1 else (lambda req: self._get_job_title(parts[1]))
        if head == "holidays" and n == 2:
            return lambda req: self._list_holidays(req, parts[1])
        return None

    # -- parameters ----------------------------------------------------------------------

    @staticmethod
    def _int(req: Request, name: str, default: int, maximum: int | None) -> int:
        raw = req.q(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise _Invalid(name) from None
        if value < 0 or value > (maximum if maximum is not None else INT32_MAX):
            raise _Invalid(name)
        return value

    @staticmethod
    def _bool(req: Request, name: str) -> bool | None:
        raw = req.q(name)
        if raw is None or raw.strip() == "":
            return None
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise _Invalid(name)

    @staticmethod
    def _descending(req: Request) -> bool:
        raw = (req.q("orderDirection") or "").strip()
        if raw not in ("", "ASC", "DESC"):
            raise _Invalid("orderDirection")
        return raw == "DESC"

    @staticmethod
    def _uuid(value: str, name: str) -> str:
        if not _UUID.fullmatch(value):
            raise _Invalid(name)
        return value.lower()

    @staticmethod
    def _page(blobs: list[bytes], total: int) -> bytes:
        return b'{"total":%d,"items":[%b],"filters":{},"meta":{}}' % (total, b",".join(blobs))

    # -- routes --------------------------------------------------------------------------

    def _list_users(self, req: Request) -> Response:
        limit = self._int(req, "limit", USERS_DEFAULT_LIMIT, USERS_MAX_LIMIT)
        offset = self._int(req, "offset", 0, None)
        active = self._bool(req, "isActive")
        descending = self._descending(req)
        # search, team[], location[], company[], jobTitle[], supervisor, ... are accepted
        # and ignored (documented filters the tap does not use).
        if active is None:
            rows = self._user_blobs
        else:
            rows = [
                b for b, a in zip(self._user_blobs, self._active_flags, strict=True) if a is active
            ]
        if descending:
            rows = rows[::-1]
        return json_response(200, self._page(rows[offset : offset + limit], len(rows)))

    def _get_user(self, raw: str) -> Response:
        if raw == "me":
            return json_response(200, self.service_user)
        user_id = self._uuid(raw, "id")
        if user_id == self.service_user_id:
            return json_response(200, self.service_user)
        details = self.details.get(user_id)
        if details is None:
            return json_response(404, not_found("User", raw))
        return json_response(200, details)

    def _user_id(self, raw: str) -> str | None:
        user_id = self._uuid(raw, "userId")
        if user_id in self.positions or user_id == self.service_user_id:
            return user_id
        return None

    def _list_positions(self, req: Request, raw_user: str) -> Response:
        user_id = self._user_id(raw_user)
        limit = self._int(req, "limit", POSITIONS_DEFAULT_LIMIT, POSITIONS_MAX_LIMIT)
        offset = self._int(req, "offset", 0, None)
        if user_id is None:
            return json_response(404, not_found("User", raw_user))
        rows = self.positions.get(user_id, [])
        page = [orjson.dumps(p) for p in rows[offset : offset + limit]]
        return json_response(200, self._page(page, len(rows)))

    def _get_position(self, raw_user: str, raw_id: str) -> Response:
        user_id = self._user_id(raw_user)
        position_id = self._uuid(raw_id, "id")
        if user_id is None:
            return json_response(404, not_found("User", raw_user))
        detail = self.position_details.get((user_id, position_id))
        if detail is None:
            return json_response(404, not_found("Position", raw_id))
        return json_response(200, detail)

    def _get_work_schedule(self, raw: str) -> Response:
        """The user's current WorkSchedule; `me` is the service user, who has none."""
        user_id = self.service_user_id if raw == "me" else self._uuid(raw, "id")
        if user_id not in self.details and user_id != self.service_user_id:
            return json_response(404, not_found("User", raw))
        schedule = self.work_schedules.get(user_id)
        if schedule is None:
            return json_response(404, not_found("WorkSchedule", raw))
        return json_response(200, schedule)

    def _list_groups(self, req: Request) -> Response:
        limit = self._int(req, "limit", GROUPS_DEFAULT_LIMIT, GROUPS_MAX_LIMIT)
        offset = self._int(req, "offset", 0, None)
        descending = self._descending(req)
        kinds: set[str] = set()
        for key in ("type", "type[]"):
            for value in req.query.get(key, []):
                for kind in value.split(","):
                    if kind.strip():
                        if kind.strip() not in GROUP_KINDS:
                            raise _Invalid("type")
                        kinds.add(kind.strip())
        search = (req.q("search") or "").strip().lower()
        rows = [
            blob
            for group, blob in zip(self.groups, self._group_blobs, strict=True)
            if (not kinds or group["type"] in kinds)
            and (not search or search in group["name"].lower())
        ]
        if descending:
            rows = rows[::-1]
        return json_response(200, self._page(rows[offset : offset + limit], len(rows)))

    def _get_group(self, raw: str) -> Response:
        details = self.group_details.get(self._uuid(raw, "id"))
        if details is None:
            return json_response(404, not_found("Group", raw))
        return json_response(200, details)

    def _list_job_titles(self, req: Request) -> Response:
        search = (req.q("search") or "").strip().lower()
        rows = [t for t in self.job_titles if not search or search in t["name"].lower()]
        return json_response(200, rows)

    def _get_job_title(self, raw: str) -> Response:
        title_id = self._uuid(raw, "id")
        title = self.job_title_detail(title_id)
        if title is None:
            return json_response(404, not_found("JobTitle", raw))
        return json_response(200, title)

    def _list_holidays(self, req: Request, country: str) -> Response:
        bad: list[str] = []
        if not _COUNTRY.fullmatch(country):
            bad.append("countryCode")
        window: list[str] = []
        for name in ("fromDate", "toDate"):
            raw = (req.q(name) or "").strip()
            try:
                if not _ISO_DATE.fullmatch(raw):
                    raise ValueError(raw)
                date.fromisoformat(raw)
            except ValueError:
                bad.append(name)
            window.append(raw)
        if bad:
            raise _Invalid(*bad)
        return json_response(200, self.holidays(country, window[0], window[1]))
