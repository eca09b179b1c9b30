"""Local emulator of the Humaans HRIS API (see shared/specs/humaans.md).

It reproduces the contract a tap depends on: bearer auth and per-resource scopes, the
Feathers list envelope with ``$limit``/``$skip``/``$sort`` and operator filters, Feathers
error bodies, and an optional per-token rate limit. Data is generated deterministically
from ``seed`` and ``size`` (number of people), so tests can compute expected results.

Serving is tuned for benchmarks with ~100k people: records are kept pre-serialised, pages
are built by joining bytes, and the incremental query (``updatedAt[$gte]`` sorted by
``updatedAt``) is answered by bisecting an index sorted by (updatedAt, id).
"""

from __future__ import annotations

import gc
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from operator import itemgetter
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

FULL_TOKEN = "hmns_test_full_7f3a9c"  # fake test credential
NO_SENSITIVE_TOKEN = "hmns_test_private_51be"  # fake test credential

ALL_READ_SCOPES = frozenset({"public:read", "private:read", "compensations:read", "documents:read"})
DEFAULT_TOKENS: dict[str, set[str]] = {
    FULL_TOKEN: set(ALL_READ_SCOPES),
    NO_SENSITIVE_TOKEN: {"public:read", "private:read"},
}

#: Tap stream name -> API path under /api (the emulator's ``data`` is keyed by path).
STREAM_PATHS: dict[str, str] = {
    "people": "people",
    "companies": "companies",
    "locations": "locations",
    "job_roles": "job-roles",
    "compensations": "compensations",
    "compensation_types": "compensation-types",
    "time_away": "time-away",
    "time_away_types": "time-away-types",
    "time_away_allocations": "time-away-allocations",
    "time_away_policies": "time-away-policies",
    "time_away_adjustments": "time-away-adjustments",
    "bank_accounts": "bank-accounts",
    "emergency_contacts": "emergency-contacts",
    "equipment": "equipment",
    "custom_fields": "custom-fields",
    "custom_values": "custom-values",
    "documents": "documents",
    "document_types": "document-types",
    "identity_documents": "identity-documents",
    "timesheet_entries": "timesheet-entries",
    "timesheet_submissions": "timesheet-submissions",
    "working_patterns": "working-patterns",
    "public_holidays": "public-holidays",
    "public_holiday_calendars": "public-holiday-calendars",
    "working_pattern_allocations": "working-pattern-allocations",
    "time_away_periods": "time-away-periods",
    "spaces": "spaces",
    "document_folders": "document-folders",
    "equipment_types": "equipment-types",
    "equipment_names": "equipment-names",
    "identity_document_types": "identity-document-types",
    "public_holiday_calendar_days": "public-holiday-calendar-days",
}
RESOURCES: tuple[str, ...] = tuple(STREAM_PATHS.values())

#: Drift mode (API path -> what changes): nested objects of the records gain undeclared
#: fields, and the fields the docs give a list of values for get values outside it.
DRIFT: dict[str, Drift] = {
    "people": Drift(
        nested=("profilePhoto", "profilePhoto.variants", "workingDays[]", "teams[]"),
        enums={"status", "leavingReason"},
    ),
    "time-away": Drift(
        nested=("breakdown[]", "workingDays[]", "timeAwayType"),
        enums={"startPeriod", "endPeriod", "requestStatus", "period"},
    ),
    "time-away-allocations": Drift(nested=("timeAwayPolicy",)),
    "time-away-periods": Drift(nested=("timeAwayAllocation", "timeAwayAllocation.timeAwayPolicy")),
    "timesheet-entries": Drift(nested=("duration",)),
    "working-patterns": Drift(nested=("workingDays[]",)),
    "compensation-types": Drift(enums={"baseType"}),
    "custom-fields": Drift(enums={"type"}),
    "timesheet-submissions": Drift(nested=("durationAsTime",), enums={"status"}),
    "companies": Drift(enums={"status", "paymentStatus"}),
    "documents": Drift(nested=("file",)),
    "identity-documents": Drift(nested=("file",)),
}

_PUBLIC_OK = frozenset({"public:read", "private:read"})
_PRIVATE = frozenset({"private:read"})
_COMP = frozenset({"compensations:read"})
_DOCS = frozenset({"documents:read"})
#: Path -> scopes any one of which grants read access (inferred in the spec; see its notes).
RESOURCE_SCOPES: dict[str, frozenset[str]] = {path: _PRIVATE for path in RESOURCES} | {
    "people": _PUBLIC_OK,
    "locations": _PUBLIC_OK,
    "companies": _PUBLIC_OK,
    "public-holidays": _PUBLIC_OK,
    "public-holiday-calendars": _PUBLIC_OK,
    "public-holiday-calendar-days": _PUBLIC_OK,
    "compensations": _COMP,
    "compensation-types": _COMP,
    "documents": _DOCS,
    "document-types": _DOCS,
    "document-folders": _DOCS,
    "identity-documents": _DOCS,
    "identity-document-types": _DOCS,
}

#: Person fields a token with only public:read sees (the spec: a "company-public subset").
PUBLIC_PERSON_FIELDS: tuple[str, ...] = (
    "id",
    "companyId",
    "firstName",
    "middleName",
    "lastName",
    "preferredName",
    "email",
    "profilePhotoId",
    "profilePhoto",
    "locationId",
    "remoteCity",
    "remoteCountryCode",
    "remoteTimezone",
    "bio",
    "linkedIn",
    "twitter",
    "github",
    "teams",
    "workingDays",
    "timezone",
    "status",
    "employmentStartDate",
    "publicHolidayCalendarId",
    "directReports",
    "createdAt",
    "updatedAt",
)

MAX_LIMIT = 250
DEFAULT_LIMIT = 100
#: The day time-away balances are computed for (`/time-away-periods`: used before it,
#: upcoming after it; the current period contains it): a month before the data ends.
BALANCE_DAY = dg.SPAN_DAYS - 31

_FEATHERS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "bad-request"),
    401: ("NotAuthenticated", "not-authenticated"),
    402: ("PaymentError", "payment-error"),
    403: ("Forbidden", "forbidden"),
    404: ("NotFound", "not-found"),
    405: ("MethodNotAllowed", "method-not-allowed"),
    406: ("NotAcceptable", "not-acceptable"),
    408: ("Timeout", "timeout"),
    409: ("Conflict", "conflict"),
    410: ("Gone", "gone"),
    411: ("LengthRequired", "length-required"),
    422: ("Unprocessable", "unprocessable"),
    429: ("TooManyRequests", "too-many-requests"),
    500: ("GeneralError", "general-error"),
    501: ("NotImplemented", "not-implemented"),
    502: ("BadGateway", "bad-gateway"),
    503: ("Unavailable", "unavailable"),
}


def feathers_error(status: int, message: str | None = None) -> dict[str, Any]:
    """Feathers error object, the shape Humaans returns for every failure."""
    if status in _FEATHERS_ERRORS:
        name, class_name = _FEATHERS_ERRORS[status]
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        name = "".join(w.capitalize() for w in phrase.split())
        class_name = "-".join(w.lower() for w in phrase.split())
    if message is None:
        message = "Too many requests" if status == 429 else _default_message(status)
    return {"name": name, "message": message, "code": status, "className": class_name}


def _default_message(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def feathers_error_body(status: int) -> bytes:
    """Serialised :func:`feathers_error`; the server's body for injected status faults."""
    return orjson.dumps(feathers_error(status))


# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Shared, never mutated: nested lists/dicts can be shared by many records at no cost.
_DAY_OBJS = tuple({"day": d} for d in _WEEKDAYS)
_PATTERNS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Full time (Mon-Fri)", (0, 1, 2, 3, 4)),
    ("Four-day week (Mon-Thu)", (0, 1, 2, 3)),
    ("Part time (Mon-Wed)", (0, 1, 2)),
)
_PATTERN_DAYS = tuple([_DAY_OBJS[d] for d in days] for _, days in _PATTERNS)


@dataclass(frozen=True)
class _Country:
    name: str
    dial: str
    currency: str
    language: str
    banks: tuple[tuple[str, str], ...]  # (bank name, BIC)


COUNTRIES: dict[str, _Country] = {
    "GB": _Country(
        "United Kingdom",
        "44",
        "GBP",
        "en",
        (("Barclays", "BARCGB22"), ("Monzo", "MONZGB2L"), ("HSBC UK", "HBUKGB4B")),
    ),
    "ES": _Country(
        "Spain",
        "34",
        "EUR",
        "es",
        (("BBVA", "BBVAESMM"), ("Banco Santander", "BSCHESMM"), ("CaixaBank", "CAIXESBB")),
    ),
    "DE": _Country(
        "Germany",
        "49",
        "EUR",
        "de",
        (("Deutsche Bank", "DEUTDEFF"), ("N26", "NTSBDEB1"), ("Commerzbank", "COBADEFF")),
    ),
    "US": _Country(
        "United States",
        "1",
        "USD",
        "en",
        (("Chase", "CHASUS33"), ("Bank of America", "BOFAUS3N"), ("Wells Fargo", "WFBIUS6S")),
    ),
    "PT": _Country(
        "Portugal",
        "351",
        "EUR",
        "pt",
        (("Millennium bcp", "BCOMPTPL"), ("Caixa Geral de Depositos", "CGDIPTPL")),
    ),
}

# name, address, city, state, postcode, country, timezone, holiday calendar
_LOCATIONS: tuple[tuple[str, str, str, str | None, str, str, str, str | None], ...] = (
    ("London HQ", "1 Long Lane", "London", None, "SE1 4PG", "GB", "Europe/London", "GB-ENG"),
    (
        "Madrid",
        "Calle de Alcala 21",
        "Madrid",
        "Comunidad de Madrid",
        "28014",
        "ES",
        "Europe/Madrid",
        "ES-MD",
    ),
    ("Berlin", "Torstrasse 140", "Berlin", "Berlin", "10119", "DE", "Europe/Berlin", "DE-BE"),
    ("New York", "99 Hudson Street", "New York", "NY", "10013", "US", "America/New_York", None),
    ("Lisbon", "Avenida da Liberdade 110", "Lisboa", None, "1250-146", "PT", "Europe/Lisbon", None),
)

# remote city, region code, country, timezone, holiday calendar
_REMOTE: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("Manchester", "GB-MAN", "GB", "Europe/London", "GB-ENG"),
    ("Brighton", "GB-BNH", "GB", "Europe/London", "GB-ENG"),
    ("Valencia", "ES-VC", "ES", "Europe/Madrid", None),
    ("Hamburg", "DE-HH", "DE", "Europe/Berlin", None),
    ("Austin", "US-TX", "US", "America/Chicago", None),
    ("Porto", "PT-13", "PT", "Europe/Lisbon", None),
)

_CALENDARS: tuple[tuple[str, str, str, str | None], ...] = (
    ("GB-ENG", "England and Wales", "GB", "ENG"),
    ("ES-MD", "Spain - Madrid", "ES", "MD"),
    ("DE-BE", "Germany - Berlin", "DE", "BE"),
)

_HOLIDAYS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "GB-ENG": (
        ("2024-01-01", "New Year's Day", False),
        ("2024-03-29", "Good Friday", False),
        ("2024-04-01", "Easter Monday", False),
        ("2024-05-06", "Early May bank holiday", False),
        ("2024-05-27", "Spring bank holiday", False),
        ("2024-08-26", "Summer bank holiday", False),
        ("2024-12-25", "Christmas Day", False),
        ("2024-12-26", "Boxing Day", False),
        ("2025-01-01", "New Year's Day", False),
        ("2025-04-18", "Good Friday", False),
    ),
    "ES-MD": (
        ("2024-01-01", "Año Nuevo", False),
        ("2024-01-06", "Epifanía del Señor", False),
        ("2024-03-28", "Jueves Santo", False),
        ("2024-03-29", "Viernes Santo", False),
        ("2024-05-01", "Fiesta del Trabajo", False),
        ("2024-05-02", "Fiesta de la Comunidad de Madrid", False),
        ("2024-08-15", "Asunción de la Virgen", False),
        ("2024-10-12", "Fiesta Nacional de España", False),
        ("2024-11-01", "Todos los Santos", False),
        ("2024-12-06", "Día de la Constitución Española", False),
        ("2024-12-25", "Navidad", False),
    ),
    "DE-BE": (
        ("2024-01-01", "Neujahr", False),
        ("2024-03-08", "Internationaler Frauentag", False),
        ("2024-03-29", "Karfreitag", False),
        ("2024-04-01", "Ostermontag", False),
        ("2024-05-01", "Tag der Arbeit", False),
        ("2024-05-09", "Christi Himmelfahrt", False),
        ("2024-05-20", "Pfingstmontag", False),
        ("2024-10-03", "Tag der Deutschen Einheit", False),
        ("2024-12-24", "Heiligabend", True),
        ("2024-12-25", "1. Weihnachtstag", False),
        ("2024-12-26", "2. Weihnachtstag", False),
        ("2024-12-31", "Silvester", True),
    ),
}

_COMPANY_NAMES = ("Acme Robotics Ltd", "Northwind Labs", "Blue Heron Health", "Lumen Freight")
_TEAMS = tuple(
    {"name": t}
    for t in (
        "Platform",
        "Payments",
        "Growth",
        "Data",
        "Mobile",
        "People",
        "Sales EMEA",
        "Customer Success",
        "Finance",
        "Design",
    )
)
_DEPARTMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Engineering",
        ("Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager"),
    ),
    ("Product", ("Product Manager", "Senior Product Manager", "Product Designer")),
    ("Sales", ("Account Executive", "Sales Development Representative", "Head of Sales")),
    ("Customer Success", ("Customer Success Manager", "Support Specialist")),
    ("People", ("People Partner", "Talent Acquisition Specialist", "Head of People")),
    ("Finance", ("Financial Analyst", "Finance Manager", "Payroll Specialist")),
)
_TIME_AWAY_TYPES = (
    "Vacation",
    "Sick leave",
    "Parental leave",
    "Work from elsewhere",
    "Unpaid leave",
)
_TA_NAMES: dict[str, tuple[str, ...]] = {
    "Vacation": ("Summer holiday", "Family trip", "Long weekend", "Skiing"),
    "Sick leave": ("Flu", "Doctor's appointment", "Recovery"),
    "Parental leave": ("Parental leave",),
    "Work from elsewhere": ("Working from family home", "Co-working abroad"),
    "Unpaid leave": ("Personal matters", "Moving house"),
}
_COMPENSATION_TYPES = (
    ("Salary", "salary"),
    ("Annual bonus", "bonus"),
    ("Sales commission", "commission"),
    ("Stock options", "equity"),
    ("Car allowance", "custom"),
)
_DOCUMENT_TYPES = ("Employment contract", "Offer letter", "NDA", "Payslip", "Performance review")
# Document folders: name, audience (who sees its documents; the shape is assumed: the
# public client types it only as a map), and the document types filed in it.
_DOCUMENT_FOLDERS: tuple[tuple[str, dict[str, Any], tuple[int, ...]], ...] = (
    ("Contracts", {"roles": ["admin", "owner"], "person": True, "manager": False}, (0, 1, 2)),
    ("Payslips", {"roles": ["admin", "owner"], "person": True, "manager": False}, (3,)),
    ("Performance", {"roles": ["admin", "owner"], "person": True, "manager": True}, (4,)),
    (
        "Company policies",
        {"roles": ["admin", "owner", "user"], "person": True, "manager": True},
        (),
    ),
)
_IDENTITY_DOCUMENT_TYPES = ("Passport", "National ID card", "Driving licence", "Residence permit")
#: Spaces (the public client: "team/department").
_SPACES = ("Engineering", "Product", "Sales", "Customer Success", "People", "Finance")
_CUSTOM_FIELDS: tuple[tuple[str, str | None, str, tuple[str, ...]], ...] = (
    ("T-shirt size", "Personal", "select", ("XS", "S", "M", "L", "XL")),
    ("Desk number", "Work", "text", ()),
    ("Laptop OS preference", None, "select", ("macOS", "Linux", "Windows")),
    ("Security clearance date", "Compliance", "date", ()),
    ("Years of prior experience", "Work", "number", ()),
)
#: Custom fields of the kinds the first five lack (a checkbox and a multi-select, whose value
#: the public client types as a list of strings), generated from a random stream of their
#: own so that the data before them stays as it was.
_MORE_CUSTOM_FIELDS: tuple[tuple[str, str | None, str, tuple[str, ...]], ...] = (
    ("Remote worker", "Work", "boolean", ("true", "false")),
    ("Languages spoken", "Personal", "multiselect", ("English", "Spanish", "German", "French")),
)
_EQUIPMENT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Laptop", ('MacBook Pro 14"', 'MacBook Air 13"', "ThinkPad X1 Carbon", "Dell XPS 13")),
    ("Monitor", ('Dell U2723QE 27"', 'LG UltraFine 24"')),
    ("Phone", ("iPhone 15", "Pixel 8")),
    ("Headphones", ("Jabra Evolve2 75", "AirPods Pro")),
    ("Keyboard", ("Apple Magic Keyboard", "Logitech MX Keys")),
)
_LEAVING_REASONS = ("dismissed", "resigned", "resigned", "redundancy", "contract_ended", "other")
_GENDERS = ("female", "male", "female", "male", "non-binary")
_DIETS = ("vegetarian", "vegan", "pescatarian", "halal", "kosher")
_ALLERGIES = ("nuts", "gluten", "lactose", "shellfish")
_STREETS = (
    "High Street",
    "Station Road",
    "Calle Mayor",
    "Hauptstrasse",
    "Rua Augusta",
    "Main Street",
    "Church Lane",
    "Gran Via",
)
_BIOS = (
    "Coffee first, then code.",
    "Trail runner and amateur baker.",
    "Ask me about sourdough.",
    "Ex-consultant, now building things.",
    "Happiest on a bike.",
)
_PHOTO_SIZES = ("64", "96", "104", "136", "156", "192", "320", "480")


def _iban(rng: Any, country: str) -> str:
    """IBAN with valid mod-97 check digits, so clients that validate IBANs accept it."""
    lengths = {"ES": 20, "DE": 18, "PT": 21}
    bban = "".join(str(int(rng.random() * 10)) for _ in range(lengths.get(country, 18)))
    numeric = bban + "".join(str(ord(c) - 55) for c in country) + "00"
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


@dataclass(slots=True)
class _PersonCtx:
    """What child resources need to know about a person, kept out of the public record."""

    id: str
    first: str
    last: str
    country: str
    calendar: str | None
    pattern: int
    start_day: int
    end_day: int | None
    created_day: int
    status: str
    manager: str | None
    timesheets: bool


# --------------------------------------------------------------------------------------
# Data generation
# --------------------------------------------------------------------------------------


#: People generated field by field; beyond this, people and their records are cloned from
#: these templates (fresh ids, names, links and timestamps), which keeps 100k people fast.
TEMPLATE_POOL = 1000


class _Generator:
    """Builds the whole dataset; each resource draws from its own seeded random stream."""

    def __init__(self, seed: int, size: int, *, people_only: bool = False) -> None:
        self.seed = seed
        self.size = size
        self.people_only = people_only
        self.data: dict[str, list[dict[str, Any]]] = {}
        self.ctx: list[_PersonCtx] = []
        self.emails: dict[str, int] = {}
        self.holiday_days: dict[str, frozenset[int]] = {}

    def rng(self, *labels: str) -> Any:
        return dg.sub_rng(self.seed, *labels)

    def ts(
        self, rng: Any, lo_day: int = 0, hi_day: int = dg.SPAN_DAYS, **kw: float
    ) -> tuple[str, str]:
        created, updated = dg.created_updated(rng, lo_day, hi_day, **kw)
        iso = dg.iso_ms(created)
        return iso, (iso if updated == created else dg.iso_ms(updated))

    def build(self) -> dict[str, list[dict[str, Any]]]:
        self._reference()
        self._people()
        self._catalogues()
        self._more_custom_fields()
        if self.people_only:  # the benchmark's dataset: people at any size, nothing else
            return {path: self.data.get(path, []) for path in RESOURCES}
        per_person: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
            ("job-roles", self._job_roles),
            ("compensations", self._compensations),
            ("time-away", self._time_away),
            ("time-away-allocations", self._allocations),
            ("time-away-adjustments", self._adjustments),
            ("time-away-periods", self._time_away_periods),
            ("working-pattern-allocations", self._working_pattern_allocations),
            ("bank-accounts", self._bank_accounts),
            ("emergency-contacts", self._emergency_contacts),
            ("equipment", self._equipment),
            ("custom-values", self._custom_values),
            ("documents", self._documents),
            ("identity-documents", self._identity_documents),
            ("timesheet-entries", self._timesheet_entries),
            ("timesheet-submissions", self._timesheet_submissions),
        ]
        for path, fn in per_person:
            pool = fn()
            self.data[path] = pool + self._clone_children(path, pool)
        self._direct_reports()
        self._link_allocations()
        return {path: self.data[path] for path in RESOURCES}

    def _link_allocations(self) -> None:
        """Adjustments and periods name their person's allocation (one per person); the
        records of cloned people get their own person's, not their template's."""
        allocation = {a["personId"]: a for a in self.data["time-away-allocations"]}
        for adjustment in self.data["time-away-adjustments"]:
            adjustment["timeAwayAllocationId"] = allocation[adjustment["personId"]]["id"]
        for period in self.data["time-away-periods"]:
            period["timeAwayAllocation"] = allocation[period["personId"]]

    # -- reference tables ----------------------------------------------------------------

    def _reference(self) -> None:
        rng = self.rng("reference")
        ids = iter(dg.make_ids(rng, 128))
        cid = next(ids)
        self.company_id = cid
        cname = _COMPANY_NAMES[self.seed % len(_COMPANY_NAMES)]
        self.domain = dg.ascii_slug(cname.removesuffix(" Ltd")) + ".com"
        created, updated = self.ts(rng, 0, 30)
        self.data["companies"] = [
            {
                "id": cid,
                "name": cname,
                "domains": [self.domain, "corp." + self.domain],
                "trialEndDate": None,
                "status": "active",
                "paymentStatus": "ok",
                "package": "premium",
                "isTimesheetEnabled": True,
                "autogenerateEmployeeId": True,
                "autogenerateEmployeeIdForNewHires": True,
                "nextEmployeeId": self.size + 1,  # people are E000001 ... E<size>
                "createdAt": created,
                "updatedAt": updated,
            }
        ]

        stamps = self.rng("holiday-stamps")  # its own stream: the data after it stays as it was
        calendars = [*_CALENDARS, ("PT", "Portugal", "PT", None)]
        self.data["public-holiday-calendars"] = [
            {"id": code, "name": name, "countryCode": cc, "regionCode": region}
            | dict(zip(("createdAt", "updatedAt"), self.ts(stamps, 0, 60), strict=True))
            for code, name, cc, region in calendars
        ]
        holidays = []
        for code, rows in _HOLIDAYS.items():
            self.holiday_days[code] = frozenset(dg.day_of(d) for d, _, _ in rows)
            holidays += [
                {
                    "id": next(ids),
                    "publicHolidayCalendarId": code,
                    "date": d,
                    "name": name,
                    "isHalfDay": half,
                }
                | dict(zip(("createdAt", "updatedAt"), self.ts(stamps, 0, 400), strict=True))
                for d, name, half in rows
            ]
        holidays.sort(key=lambda h: (h["date"], h["publicHolidayCalendarId"]))
        self.data["public-holidays"] = holidays

        n_locations = 3 + dg.amount(rng, 0, 2)
        self.locations: list[dict[str, Any]] = []
        for name, address, city, state, postcode, cc, tz, cal in _LOCATIONS[:n_locations]:
            created, updated = self.ts(rng, 0, 400)
            self.locations.append(
                {
                    "id": next(ids),
                    "companyId": cid,
                    "name": name,
                    "address": address,
                    "city": city,
                    "state": state,
                    "postcode": postcode,
                    "countryCode": cc,
                    "country": COUNTRIES[cc].name,
                    "timezone": tz,
                    "publicHolidayCalendarId": cal,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        self.data["locations"] = self.locations

        def typed(
            names: Iterable[str], extra: Callable[[int], dict[str, Any]]
        ) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for i, name in enumerate(names):
                created, updated = self.ts(rng, 0, 60, bulk_p=0.5)
                out.append(
                    {
                        "id": next(ids),
                        "companyId": cid,
                        "name": name,
                        **extra(i),
                        "createdAt": created,
                        "updatedAt": updated,
                    }
                )
            return out

        self.comp_types = typed(
            (n for n, _ in _COMPENSATION_TYPES), lambda i: {"baseType": _COMPENSATION_TYPES[i][1]}
        )
        self.data["compensation-types"] = self.comp_types
        self.ta_types = typed(_TIME_AWAY_TYPES, lambda i: {})
        self.data["time-away-types"] = self.ta_types
        self.ta_type_refs = [{"id": t["id"], "name": t["name"]} for t in self.ta_types]
        vacation, sick = self.ta_types[0]["id"], self.ta_types[1]["id"]
        self.policies = []
        for name, type_id, allowance, carry in (
            ("UK vacation policy", vacation, 25.0, 5.0),
            ("Spain vacation policy", vacation, 23.0, 0.0),
            ("Germany vacation policy", vacation, 28.0, 5.0),
            ("Standard vacation policy", vacation, 25.0, None),
            ("Sick leave policy", sick, None, None),
        ):
            created, updated = self.ts(rng, 0, 60, bulk_p=0.5)
            self.policies.append(
                {
                    "id": next(ids),
                    "companyId": cid,
                    "timeAwayTypeId": type_id,
                    "name": name,
                    "allowance": allowance,
                    "maxPtoCarryOver": carry,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        self.data["time-away-policies"] = self.policies
        self.custom_fields = typed(
            (f[0] for f in _CUSTOM_FIELDS),
            lambda i: {"section": _CUSTOM_FIELDS[i][1], "type": _CUSTOM_FIELDS[i][2]},
        )
        self.data["custom-fields"] = self.custom_fields
        self.doc_types = typed(_DOCUMENT_TYPES, lambda i: {})
        self.data["document-types"] = self.doc_types
        self.data["working-patterns"] = typed(
            (p[0] for p in _PATTERNS),
            lambda i: {"workingDays": _PATTERN_DAYS[i], "isDefault": i == 0},
        )

    def _more_custom_fields(self) -> None:
        """The custom fields of `_MORE_CUSTOM_FIELDS`, after the first five."""
        rng = self.rng("more-custom-fields")
        ids = iter(dg.make_ids(rng, len(_MORE_CUSTOM_FIELDS)))
        for name, section, ftype, _ in _MORE_CUSTOM_FIELDS:
            created, updated = self.ts(rng, 0, 60, bulk_p=0.5)
            self.custom_fields.append(
                {
                    "id": next(ids),
                    "companyId": self.company_id,
                    "name": name,
                    "section": section,
                    "type": ftype,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )

    def _catalogues(self) -> None:
        """Company-wide lists the per-person records point at: spaces, equipment types and
        names, document folders, identity document types, and the calendar days that put
        each public holiday on its calendar. Their own random stream, so the resources
        generated before them stay as they were."""
        rng = self.rng("catalogues")
        ids = iter(dg.make_ids(rng, 64))
        cid, owner = self.company_id, self.ids[0]

        def listed(names: Iterable[str], **extra: Any) -> list[dict[str, Any]]:
            out = []
            for name in names:
                created, updated = self.ts(rng, 0, 60, bulk_p=0.5)
                out.append(
                    {
                        "id": next(ids),
                        "companyId": cid,
                        "name": name,
                        **extra,
                        "createdAt": created,
                        "updatedAt": updated,
                    }
                )
            return out

        self.data["spaces"] = listed(_SPACES)
        self.equipment_types = self.data["equipment-types"] = listed(k for k, _ in _EQUIPMENT)
        models = [m for _, names in _EQUIPMENT for m in names]
        self.equipment_names = self.data["equipment-names"] = listed(models)
        self.equipment_name_of = {n["name"]: n["id"] for n in self.equipment_names}
        self.id_doc_types = self.data["identity-document-types"] = listed(_IDENTITY_DOCUMENT_TYPES)
        folders = []
        for name, audience, _types in _DOCUMENT_FOLDERS:
            created, updated = self.ts(rng, 0, 60, bulk_p=0.5)
            folders.append(
                {
                    "id": next(ids),
                    "companyId": cid,
                    "name": name,
                    "audience": audience,
                    "createdBy": owner,
                    "createdAt": created,
                    "updatedAt": updated,
                    "deletedAt": None,
                }
            )
        self.data["document-folders"] = folders
        self.folder_of_type = {
            t: folder["id"]
            for folder, (_, _, types) in zip(folders, _DOCUMENT_FOLDERS, strict=True)
            for t in types
        }
        day_ids = iter(dg.make_ids(rng, len(self.data["public-holidays"])))
        self.data["public-holiday-calendar-days"] = [
            {
                "id": next(day_ids),
                "publicHolidayCalendarId": h["publicHolidayCalendarId"],
                "publicHolidayId": h["id"],
            }
            | dict(zip(("createdAt", "updatedAt"), self.ts(rng, 0, 400), strict=True))
            for h in self.data["public-holidays"]
        ]

    # -- people --------------------------------------------------------------------------

    def _people(self) -> None:
        rng = self.rng("people")
        self.ids = ids = dg.make_ids(rng, self.size)
        people = [self.person(rng, i, ids[i], None) for i in range(min(self.size, TEMPLATE_POOL))]
        self.pool_index = {p["id"]: i for i, p in enumerate(people)}
        self.data["people"] = people + self._clone_people(people)

    def _clone_people(self, pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """People beyond the pool: template copies with their own identity and timestamps."""
        rng = self.rng("people", "clones")
        n_pool = len(pool)
        n_clones = self.size - n_pool
        if n_clones <= 0:
            return []
        tokens = iter(dg.make_ids(rng, n_clones, 32))
        suffixes = self.clone_suffixes = dg.ms_suffixes(rng, n_clones)
        firsts, lasts = dg.FIRST_NAMES, dg.LAST_NAMES
        name_idx = rng.randbytes(2 * n_clones)
        slug, unique_email = dg.ascii_slug, self.unique_email
        prefixes = [(dg.ts_prefix(t["createdAt"]), dg.ts_prefix(t["updatedAt"])) for t in pool]
        out: list[dict[str, Any]] = []
        for k in range(n_clones):
            i = n_pool + k
            t = pool[k % n_pool]
            first = firsts[name_idx[2 * k] % len(firsts)]
            last = lasts[name_idx[2 * k + 1] % len(lasts)]
            handle = slug(first + last)
            c_pre, u_pre = prefixes[k % n_pool]
            sfx = suffixes[k]
            p = t.copy()
            p["id"] = self.ids[i]
            p["firstName"] = first
            p["lastName"] = last
            p["email"] = unique_email(first, last)
            if t["preferredName"] is not None:
                p["preferredName"] = first[:3]
            if t["personalEmail"] is not None:
                p["personalEmail"] = f"{handle}{i % 100}@gmail.com"
            if t["linkedIn"] is not None:
                p["linkedIn"] = f"https://www.linkedin.com/in/{handle}"
            if t["twitter"] is not None:
                p["twitter"] = f"@{handle[:12]}"
            if t["github"] is not None:
                p["github"] = handle
            if t["employeeId"] is not None:
                p["employeeId"] = f"E{i + 1:06d}"
            if t["calendarFeedToken"] is not None:
                p["calendarFeedToken"] = next(tokens)
            if t["role"] == "owner":
                p["role"] = "admin"
            p["directReports"] = []
            p["createdAt"] = t["createdAt"] if c_pre is None else c_pre + sfx
            p["updatedAt"] = t["updatedAt"] if u_pre is None else u_pre + sfx
            out.append(p)
        return out

    def _clone_children(self, path: str, pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records of cloned people: each copies its template person's records.

        Person links are remapped into the clone's own copy of the org chart (clone group
        ``g`` of template ``t`` reports to group ``g``'s copy of t's manager). All records
        of one cloned person share its millisecond shift, so updatedAt >= createdAt holds.
        """
        n_pool = len(self.pool_index)
        if self.size <= n_pool:
            return []
        ids, pool_index = self.ids, self.pool_index
        link = {
            "job-roles": "reportingTo",
            "time-away": "reviewedBy",
            "timesheet-submissions": "reviewedBy",
        }.get(path)
        by_person: dict[str, list[tuple[dict[str, Any], str | None, str | None, int, bool]]] = {}
        for rec in pool:
            target = -1
            if link is not None and rec[link] is not None:
                target = pool_index[rec[link]]
            # A review is what last updated a reviewed record: keep the two equal in clones.
            review = rec.get("reviewedAt") is not None and rec["reviewedAt"] == rec["updatedAt"]
            by_person.setdefault(rec["personId"], []).append(
                (
                    rec,
                    dg.ts_prefix(rec.get("createdAt")),
                    dg.ts_prefix(rec.get("updatedAt")),
                    target,
                    review,
                )
            )
        templates = [by_person.get(ids[t], []) for t in range(n_pool)]
        n_out = sum(len(templates[i % n_pool]) for i in range(n_pool, self.size))
        new_ids = iter(dg.make_ids(self.rng(path, "clones"), n_out))
        people = self.data["people"]
        suffixes = self.clone_suffixes
        bank = path == "bank-accounts"
        out: list[dict[str, Any]] = []
        for k in range(self.size - n_pool):
            i = n_pool + k
            group, t = divmod(i, n_pool)
            pid = ids[i]
            sfx = suffixes[k]
            for rec, c_pre, u_pre, target, review in templates[t]:
                clone = rec.copy()
                clone["id"] = next(new_ids)
                clone["personId"] = pid
                if c_pre is not None:
                    clone["createdAt"] = c_pre + sfx
                if u_pre is not None:
                    clone["updatedAt"] = u_pre + sfx
                    if review:
                        clone["reviewedAt"] = clone["updatedAt"]
                if target >= 0:
                    clone[link] = ids[group * n_pool + target]  # type: ignore[index]
                elif bank:
                    person = people[i]
                    clone["nameOnAccount"] = f"{person['firstName']} {person['lastName']}"
                out.append(clone)
        return out

    def _timeline(
        self, rng: Any, i: int, at_ms: int | None
    ) -> tuple[str, int, int | None, int, int]:
        """(status, start day, end day, createdAt ms, updatedAt ms) of person ``i``.

        People who started before 2023 were imported at a bulk instant (shared timestamps);
        later hires were created a few weeks before starting; leavers were last edited
        around their end date.
        """
        r = rng.random
        span = dg.SPAN_DAYS
        # Structural choices follow the index so that every status shows up in small sets.
        k = i % 20
        status = "offboarded" if k in (7, 17) else "newHire" if k == 3 else "active"
        if at_ms is not None:
            status = "newHire"
        veteran = status != "newHire" and (i == 0 or r() < 0.35)
        if veteran:
            start_day = -dg.amount(rng, 30, 8 * 365)
            created_ms = dg.BULK_INSTANTS_MS[int(r() * 3)]
        elif status == "newHire":
            created_ms = dg.timestamp_ms(rng, span - 60, span - 20)
            start_day = created_ms // dg.DAY_MS + dg.amount(rng, 14, 45)
        else:
            hi = span - 400 if status == "offboarded" else span - 30
            created_ms = dg.timestamp_ms(rng, 0, hi)
            start_day = created_ms // dg.DAY_MS + dg.amount(rng, 7, 60)
        end_day: int | None = None
        lo_update_ms = created_ms
        if status == "offboarded":
            end_day = dg.amount(rng, max(start_day + 90, 30), span - 5)
            lo_update_ms = max(created_ms, (end_day - 25) * dg.DAY_MS)
        if at_ms is not None:
            created_ms = updated_ms = at_ms
        elif r() < 0.3 and status != "offboarded":
            updated_ms = created_ms
        else:
            updated_ms = lo_update_ms + int(r() * (span * dg.DAY_MS - lo_update_ms))
        return status, start_day, end_day, created_ms, updated_ms

    def _place(self, rng: Any) -> tuple[str, str | None, str, str, str | None, str | None]:
        """(city, region, country, timezone, holiday calendar, location id): an office or,
        for a quarter of people, a remote place."""
        if rng.random() < 0.25:
            city, region, cc, tz, cal = dg.pick(rng, _REMOTE)
            return city, region, cc, tz, cal, None
        loc = dg.pick(rng, self.locations)
        return (
            loc["city"],
            None,
            loc["countryCode"],
            loc["timezone"],
            loc["publicHolidayCalendarId"],
            loc["id"],
        )

    def unique_email(self, first: str, last: str) -> str:
        """Work email, numbered when two people share a name (emails are unique)."""
        base = dg.email(first, last, self.domain)
        n_same = self.emails.get(base, 0)
        self.emails[base] = n_same + 1
        return dg.email(first, last, self.domain, n_same) if n_same else base

    def person(self, rng: Any, i: int, pid: str, at_ms: int | None) -> dict[str, Any]:
        """One person; ``at_ms`` forces createdAt = updatedAt (people added later)."""
        r = rng.random
        status, start_day, end_day, created_ms, updated_ms = self._timeline(rng, i, at_ms)
        city, region, cc, tz, cal, location_id = self._place(rng)
        remote = location_id is None
        country = COUNTRIES[cc]
        first, last = dg.person_name(rng)
        work_email = self.unique_email(first, last)
        phone, fphone = dg.phone(rng, country.dial) if r() < 0.8 else (None, None)
        pphone, fpphone = dg.phone(rng, country.dial) if r() < 0.7 else (None, None)
        photo_id = dg.make_id(rng) if r() < 0.7 else None
        photo = (
            None
            if photo_id is None
            else {
                "id": photo_id,
                "variants": {
                    s: f"https://cdn.humaans.example/photos/{photo_id}/{s}.jpg"
                    for s in _PHOTO_SIZES
                },
            }
        )
        nationality = cc if r() < 0.8 else dg.pick(rng, tuple(COUNTRIES))
        nationalities = [nationality] if r() < 0.85 else [nationality, "IE"]
        languages = ["en"] if country.language == "en" else [country.language, "en"]
        has_home = r() < 0.85
        pattern = 0 if r() < 0.85 else (1 if r() < 0.65 else 2)
        slug = dg.ascii_slug(first + last)
        team = dg.pick(rng, _TEAMS)
        teams = [team] if r() < 0.8 else [team, _TEAMS[1] if team is _TEAMS[0] else _TEAMS[0]]
        leaving = status == "offboarded"
        source = dg.pick(rng, ("bamboohr", "personio", "csv")) if r() < 0.2 else None
        created, updated = dg.iso_ms(created_ms), dg.iso_ms(updated_ms)
        seen_docs = (
            dg.iso_ms(created_ms + int(r() * (updated_ms - created_ms))) if r() < 0.6 else None
        )
        record = {
            "id": pid,
            "companyId": self.company_id,
            "firstName": first,
            "middleName": dg.pick(rng, dg.FIRST_NAMES) if r() < 0.15 else None,
            "lastName": last,
            "preferredName": first[:3] if r() < 0.1 else None,
            "email": work_email,
            "personalEmail": f"{slug}{dg.amount(rng, 0, 99)}@gmail.com" if r() < 0.6 else None,
            "phoneNumber": phone,
            "formattedPhoneNumber": fphone,
            "personalPhoneNumber": pphone,
            "formattedPersonalPhoneNumber": fpphone,
            "locationId": location_id,
            "remoteCity": city if remote else None,
            "remoteRegionCode": region,
            "remoteCountryCode": cc if remote else None,
            "remoteTimezone": tz if remote else None,
            "gender": dg.pick(rng, _GENDERS) if r() < 0.8 else None,
            "birthday": dg.iso_date(-dg.amount(rng, 20 * 365, 58 * 365)) if r() < 0.9 else None,
            "profilePhotoId": photo_id,
            "profilePhoto": photo,
            "nationality": nationality if r() < 0.9 else None,
            "nationalities": nationalities,
            "spokenLanguages": languages,
            "dietaryPreference": dg.pick(rng, _DIETS) if r() < 0.3 else None,
            "foodAllergies": [dg.pick(rng, _ALLERGIES)] if r() < 0.1 else [],
            "address": f"{dg.amount(rng, 1, 199)} {dg.pick(rng, _STREETS)}" if has_home else None,
            "city": city if has_home else None,
            "state": region if has_home else None,
            "postcode": f"{dg.amount(rng, 10000, 99999)}" if has_home else None,
            "countryCode": cc if has_home else None,
            "country": country.name if has_home else None,
            "bio": dg.pick(rng, _BIOS) if r() < 0.4 else None,
            "linkedIn": f"https://www.linkedin.com/in/{slug}" if r() < 0.5 else None,
            "twitter": f"@{slug[:12]}" if r() < 0.2 else None,
            "github": slug if r() < 0.3 else None,
            "employmentStartDate": dg.iso_date(start_day),
            "firstWorkingDay": dg.iso_date(start_day) if r() < 0.8 else None,
            "employmentEndDate": dg.iso_date(end_day) if end_day is not None else None,
            "lastWorkingDay": dg.iso_date(end_day) if end_day is not None else None,
            "probationEndDate": dg.iso_date(start_day + dg.pick(rng, (90, 180)))
            if r() < 0.6
            else None,
            "turnoverImpact": dg.pick(rng, ("regrettable", "non_regrettable")) if leaving else None,
            "workingDays": _PATTERN_DAYS[pattern],
            "publicHolidayCalendarId": cal,
            "leavingReason": dg.pick(rng, _LEAVING_REASONS) if leaving else None,
            "leavingNote": "Moving abroad" if leaving and r() < 0.5 else None,
            "leavingFileId": dg.make_id(rng) if leaving and r() < 0.5 else None,
            "contractType": dg.pick(rng, ("Full time",) * 8 + ("Part time", "Contractor"))
            if r() < 0.95
            else None,
            "employeeId": f"E{i + 1:06d}" if r() < 0.9 else None,
            "taxId": f"{cc}{dg.amount(rng, 0, 10**8 - 1):08d}" if r() < 0.5 else None,
            "taxCode": "1257L" if cc == "GB" and r() < 0.8 else None,
            "teams": teams,
            "status": status,
            "isVerified": status != "newHire" or r() < 0.3,
            "isWorkEmailHidden": r() < 0.05,
            "calendarFeedToken": dg.make_id(rng, 32) if r() < 0.5 else None,
            "role": "owner" if i == 0 else ("admin" if i % 25 == 1 else "user"),
            "seenDocumentsAt": seen_docs,
            "source": source,
            "sourceId": str(dg.amount(rng, 1000, 99999)) if source else None,
            "timezone": tz if r() < 0.9 else None,
            "payrollProvider": dg.pick(rng, ("ADP", "Deel", "Sage")) if r() < 0.3 else None,
            "isBirthdayHidden": r() < 0.1,
            "demo": False,
            "directReports": [],
            "createdAt": created,
            "updatedAt": updated,
        }
        self.ctx.append(
            _PersonCtx(
                pid,
                first,
                last,
                cc,
                cal,
                pattern,
                start_day,
                end_day,
                created_ms // dg.DAY_MS,
                status,
                None,
                r() < 0.4,
            )
        )
        return record

    def _direct_reports(self) -> None:
        by_id = {p["id"]: p for p in self.data["people"]}
        for role in self.data["job-roles"]:
            if role["endDate"] is None and role["reportingTo"] is not None:
                by_id[role["reportingTo"]]["directReports"].append(role["personId"])

    def _child_ts(self, rng: Any, c: _PersonCtx, lo_day: int | None = None) -> tuple[str, str]:
        lo = max(c.created_day, 0 if lo_day is None else lo_day)
        return self.ts(rng, min(lo, dg.SPAN_DAYS - 2), dg.SPAN_DAYS)

    # -- per-person resources ------------------------------------------------------------

    def _job_roles(self) -> list[dict[str, Any]]:
        rng = self.rng("job-roles")
        new_id = dg.IdSource(rng)
        r = rng.random
        out: list[dict[str, Any]] = []
        ctx = self.ctx
        managers: list[int] = []  # index of each person's manager, -1 at the top
        for i, c in enumerate(ctx):
            n = 1 + (r() < 0.35) + (r() < 0.12)
            dept, titles = dg.pick(rng, _DEPARTMENTS)
            # A roughly 6-wide org tree; leavers' reports move up to the leaver's manager.
            boss = -1 if i == 0 else dg.amount(rng, i // 7, max(i // 5, i // 7))
            while boss > 0 and ctx[boss].status == "offboarded":
                boss = managers[boss]
            managers.append(boss)
            manager = None if boss < 0 else ctx[boss].id
            c.manager = manager
            last_day = c.end_day if c.end_day is not None else dg.SPAN_DAYS
            day = c.start_day
            for j in range(n):
                nxt = day + dg.amount(rng, 120, 500) if j < n - 1 else None
                if nxt is not None and nxt >= last_day - 1:
                    nxt = None
                created, updated = self._child_ts(rng, c, day)
                out.append(
                    {
                        "id": new_id(),
                        "personId": c.id,
                        "jobTitle": titles[min(j, len(titles) - 1)],
                        "department": dept if r() < 0.92 else None,
                        "effectiveDate": dg.iso_date(day),
                        "endDate": dg.iso_date(nxt - 1)
                        if nxt is not None
                        else (dg.iso_date(c.end_day) if c.end_day is not None else None),
                        "reportingTo": manager,
                        "createdAt": created,
                        "updatedAt": updated,
                    }
                )
                if nxt is None:
                    break
                day = nxt
        return out

    def _compensations(self) -> list[dict[str, Any]]:
        rng = self.rng("compensations")
        new_id = dg.IdSource(rng)
        r = rng.random
        salary, allowance = self.comp_types[0]["id"], self.comp_types[4]["id"]
        ranges = {"GBP": (35000, 140000), "EUR": (30000, 120000), "USD": (60000, 220000)}
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            currency = COUNTRIES[c.country].currency
            x = r()
            if x < 0.05:  # a car allowance instead of a salary
                type_id, period, value = allowance, "monthly", dg.amount(rng, 300, 800, 50)
            elif x < 0.13:  # contractor on an hourly rate
                type_id, period, value = salary, "hourly", dg.amount(rng, 35, 120)
            else:
                lo, hi = ranges[currency]
                type_id, period, value = salary, "annual", dg.amount(rng, lo, hi, 500)
            created, updated = self._child_ts(rng, c)
            out.append(
                {
                    "id": new_id(),
                    "personId": c.id,
                    "compensationTypeId": type_id,
                    "amount": str(value),
                    "currency": currency,
                    "period": period,
                    "note": dg.pick(rng, ("Annual review", "Offer accepted", "Market adjustment"))
                    if r() < 0.2
                    else None,
                    "effectiveDate": dg.iso_date(c.start_day),
                    "endDate": dg.iso_date(c.end_day) if c.end_day is not None else None,
                    "endReason": "Left the company" if c.end_day is not None else None,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        return out

    def _breakdown(
        self,
        c: _PersonCtx,
        span: tuple[int, int],
        periods: tuple[str, str],
        cache: dict[tuple[int, str, str], dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], float]:
        """Per-day breakdown and the working days it costs (weekends/holidays are free)."""
        start, end = span
        holidays = self.holiday_days.get(c.calendar or "", frozenset())
        working = _PATTERNS[c.pattern][1]
        items = []
        days = 0.0
        for day in range(start, end + 1):
            period = periods[0] if day == start else (periods[1] if day == end else "full")
            wd = dg.weekday(day)
            kind = (
                "weekend"
                if wd >= 5
                else "holiday"
                if day in holidays
                else "work"
                if wd in working
                else "nonWorkingDay"
            )
            key = (day, period, kind)
            entry = cache.get(key)
            if entry is None:
                entry = {"date": dg.iso_date(day), "period": period}
                if kind == "weekend":
                    entry["weekend"] = True
                    entry["kind"] = "weekend"
                elif kind == "holiday":
                    entry["holiday"] = True
                    entry["kind"] = "publicHoliday"
                elif kind == "nonWorkingDay":
                    entry["kind"] = "nonWorkingDay"
                cache[key] = entry
            items.append(entry)
            if kind == "work":
                days += 1.0 if period == "full" else 0.5
        return items, days

    def _time_away(self) -> list[dict[str, Any]]:
        rng = self.rng("time-away")
        new_id = dg.IdSource(rng)
        r = rng.random
        cache: dict[tuple[int, str, str], dict[str, Any]] = {}
        weights = (0, 0, 0, 0, 0, 0, 1, 1, 3, 3)  # indexes into _TIME_AWAY_TYPES, below
        out: list[dict[str, Any]] = []
        owner = self.ctx[0].id if self.ctx else None
        for c in self.ctx:
            x = r()
            n = 0 if x < 0.2 or c.status == "newHire" else 1 if x < 0.55 else 2 if x < 0.85 else 3
            lo = max(0, c.start_day)
            hi = (c.end_day if c.end_day is not None else dg.SPAN_DAYS) - 12
            if hi <= lo + 1:
                continue
            for _ in range(n):
                t = weights[int(r() * len(weights))] if r() < 0.97 else dg.pick(rng, (2, 4))
                tname = _TIME_AWAY_TYPES[t]
                length = {0: 10, 1: 3, 2: 60, 3: 5, 4: 5}[t]
                start = dg.amount(rng, lo, hi)
                end = start + dg.amount(rng, 0, length - 1)
                if start == end:
                    sp = ep = dg.pick(rng, ("full",) * 8 + ("am", "pm"))
                else:
                    sp = "pm" if r() < 0.1 else "full"
                    ep = "am" if r() < 0.1 else "full"
                breakdown, days = self._breakdown(c, (start, end), (sp, ep), cache)
                # Structural rather than random so small datasets always show every status.
                slot = len(out) % 9
                status = (
                    "approved"
                    if t == 1 or slot not in (4, 7)
                    else "pending"
                    if slot == 4
                    else "declined"
                )
                reviewed = status != "pending"
                created_ms = dg.timestamp_ms(rng, max(0, start - 40), max(1, start))
                reviewed_ms = created_ms + int(r() * 3 * dg.DAY_MS) if reviewed else None
                if r() < 0.05:
                    created_ms = dg.BULK_INSTANTS_MS[-1]
                    reviewed_ms = created_ms if reviewed else None
                updated_ms = reviewed_ms if reviewed_ms is not None else created_ms
                out.append(
                    {
                        "id": new_id(),
                        "personId": c.id,
                        "startDate": dg.iso_date(start),
                        "startPeriod": sp,
                        "endDate": dg.iso_date(end),
                        "endPeriod": ep,
                        "timeAwayTypeId": self.ta_type_refs[t]["id"],
                        "name": dg.pick(rng, _TA_NAMES[tname]) if r() < 0.4 else None,
                        "isTimeOff": t != 3,
                        "workingFromLocationId": dg.pick(rng, self.locations)["id"]
                        if t == 3 and r() < 0.5
                        else None,
                        "note": "Back on Monday" if r() < 0.25 else None,
                        "breakdown": breakdown,
                        "days": days,
                        "requestStatus": status,
                        "reviewedBy": (c.manager or owner) if reviewed and c.id != owner else None,
                        "reviewedAt": dg.iso_ms(reviewed_ms) if reviewed_ms is not None else None,
                        "reviewNote": "Overlaps with the team offsite"
                        if status == "declined"
                        else ("Enjoy!" if reviewed and r() < 0.1 else None),
                        "publicHolidayCalendarId": c.calendar,
                        "workingDays": _PATTERN_DAYS[c.pattern],
                        "timeAwayType": self.ta_type_refs[t],
                        "createdAt": dg.iso_ms(created_ms),
                        "updatedAt": dg.iso_ms(updated_ms),
                    }
                )
        return out

    def _allocations(self) -> list[dict[str, Any]]:
        """One vacation policy per person, by country, for their whole employment."""
        rng = self.rng("time-away-allocations")
        new_id = dg.IdSource(rng)
        by_country = {"GB": 0, "ES": 1, "DE": 2}
        refs = [
            {"id": p["id"], "name": p["name"], "maxPtoCarryOver": p["maxPtoCarryOver"]}
            for p in self.policies
        ]
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            p = by_country.get(c.country, 3)
            created, updated = self._child_ts(rng, c)
            out.append(
                {
                    "id": new_id(),
                    "personId": c.id,
                    "timeAwayTypeId": self.policies[p]["timeAwayTypeId"],
                    "timeAwayPolicyId": self.policies[p]["id"],
                    "timeAwayPolicy": refs[p],
                    "amount": self.policies[p]["allowance"],
                    "unit": "days",
                    "startDate": dg.iso_date(c.start_day),
                    "endDate": dg.iso_date(c.end_day) if c.end_day is not None else None,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        return out

    def _adjustments(self) -> list[dict[str, Any]]:
        """Manual changes to a person's allowance (`timeAwayAllocationId` is set once the
        allocations of every person exist: `_link_allocations`)."""
        rng = self.rng("time-away-adjustments")
        new_id = dg.IdSource(rng)
        r = rng.random
        notes = (
            "Carry-over from last year",
            "Worked on a bank holiday",
            "Correction",
            "Long service award",
        )
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            if r() >= 0.3:
                continue
            day = dg.amount(rng, max(0, c.created_day), dg.SPAN_DAYS - 2)
            created, updated = self._child_ts(rng, c, day)
            out.append(
                {
                    "id": new_id(),
                    "personId": c.id,
                    "timeAwayAllocationId": None,
                    "amount": dg.pick(rng, (1.0, 2.0, -1.0, 0.5, -0.5, 3.0)),
                    "note": dg.pick(rng, notes) if r() < 0.7 else None,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        return out

    def _time_away_periods(self) -> list[dict[str, Any]]:
        """Leave balances per person and calendar year of employment up to BALANCE_DAY:
        the allowance (the allocation's amount, pro rata for a partial year), the approved
        vacation days taken before BALANCE_DAY and booked after it, and what the policy
        let them carry over. No timestamps: the balances are computed, not edited."""
        rng = self.rng("time-away-periods")
        new_id = dg.IdSource(rng)
        allocation = {a["personId"]: a for a in self.data["time-away-allocations"]}
        vacation = self.ta_types[0]["id"]
        taken: dict[str, list[tuple[int, float]]] = {}  # person -> (day, days) of vacation
        for ta in self.data["time-away"]:
            if ta["timeAwayTypeId"] == vacation and ta["requestStatus"] == "approved":
                taken.setdefault(ta["personId"], []).extend(
                    (dg.day_of(item["date"]), 1.0 if item["period"] == "full" else 0.5)
                    for item in ta["breakdown"]
                    if "kind" not in item  # a working day
                )
        years = range(dg.ANCHOR_DATE.year, int(dg.iso_date(BALANCE_DAY)[:4]) + 1)
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            alloc = allocation[c.id]
            cap = alloc["timeAwayPolicy"]["maxPtoCarryOver"]
            carried = 0.0
            for year in years:
                lo, hi = dg.day_of(f"{year}-01-01"), dg.day_of(f"{year}-12-31")
                start = max(lo, c.start_day)
                end = min(hi, c.end_day if c.end_day is not None else hi)
                if start > min(end, BALANCE_DAY):
                    continue
                share = (end - start + 1) / (hi - lo + 1)
                allowance = round(alloc["amount"] * share * 2) / 2
                days = [(d, n) for d, n in taken.get(c.id, ()) if lo <= d <= hi]
                used = sum((n for d, n in days if d <= BALANCE_DAY), 0.0)
                upcoming = sum((n for d, n in days if d > BALANCE_DAY), 0.0)
                out.append(
                    {
                        "id": new_id(),
                        "personId": c.id,
                        "startDate": dg.iso_date(lo),
                        "endDate": dg.iso_date(hi),
                        "allowance": allowance,
                        "ptoUsed": used,
                        "ptoUpcoming": upcoming,
                        "ptoCarriedOver": carried,
                        "timeAwayAllocation": None,  # `_link_allocations`
                    }
                )
                left = max(0.0, allowance + carried - used - upcoming)
                carried = left if cap is None else min(cap, left)
        return out

    def _working_pattern_allocations(self) -> list[dict[str, Any]]:
        """Who works which pattern since when: everyone has their current one; about one
        in five switched to it from another during their employment."""
        rng = self.rng("working-pattern-allocations")
        new_id = dg.IdSource(rng)
        patterns = self.data["working-patterns"]
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            last_day = c.end_day if c.end_day is not None else dg.SPAN_DAYS
            start = c.start_day
            if rng.random() < 0.2 and last_day - start > 200:
                switch = dg.amount(rng, start + 90, last_day - 90)
                created, updated = self._child_ts(rng, c, start)
                out.append(
                    {
                        "id": new_id(),
                        "personId": c.id,
                        "workingPatternId": patterns[(c.pattern + 1) % len(patterns)]["id"],
                        "startDate": dg.iso_date(start),
                        "endDate": dg.iso_date(switch - 1),
                        "createdAt": created,
                        "updatedAt": updated,
                    }
                )
                start = switch
            created, updated = self._child_ts(rng, c, start)
            out.append(
                {
                    "id": new_id(),
                    "personId": c.id,
                    "workingPatternId": patterns[c.pattern]["id"],
                    "startDate": dg.iso_date(start),
                    "endDate": dg.iso_date(c.end_day) if c.end_day is not None else None,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        return out

    def _bank_accounts(self) -> list[dict[str, Any]]:
        rng = self.rng("bank-accounts")
        new_id = dg.IdSource(rng)
        r = rng.random
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            bank, bic = dg.pick(rng, COUNTRIES[c.country].banks)
            account = iban = swift = sort_code = routing = None
            if c.country == "GB":
                account = f"{dg.amount(rng, 0, 10**8 - 1):08d}"
                sort_code = "-".join(f"{dg.amount(rng, 0, 99):02d}" for _ in range(3))
                swift = bic if r() < 0.3 else None
            elif c.country == "US":
                account = str(dg.amount(rng, 10**9, 10**12 - 1))
                routing = f"0{dg.amount(rng, 0, 10**8 - 1):08d}"
            else:
                iban = _iban(rng, c.country)
                swift = bic if r() < 0.8 else None
            created, updated = self._child_ts(rng, c)
            out.append(
                {
                    "id": new_id(),
                    "personId": c.id,
                    "bankName": bank,
                    "nameOnAccount": f"{c.first} {c.last}",
                    "accountNumber": account,
                    "iban": iban,
                    "swiftCode": swift,
                    "sortCode": sort_code,
                    "routingNumber": routing,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        return out

    def _emergency_contacts(self) -> list[dict[str, Any]]:
        rng = self.rng("emergency-contacts")
        new_id = dg.IdSource(rng)
        r = rng.random
        relationships = ("Partner", "Spouse", "Mother", "Father", "Sibling", "Friend")
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            first, last = dg.person_name(rng)
            e164, formatted = dg.phone(rng, COUNTRIES[c.country].dial)
            created, updated = self._child_ts(rng, c)
            out.append(
                {
                    "id": new_id(),
                    "personId": c.id,
                    "name": f"{first} {last}",
                    "relationship": dg.pick(rng, relationships) if r() < 0.9 else None,
                    "email": dg.email(first, last, "example.com") if r() < 0.5 else None,
                    "phoneNumber": e164,
                    "formattedPhoneNumber": formatted if r() < 0.9 else None,
                    "isPrimary": True,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        return out

    def _equipment(self) -> list[dict[str, Any]]:
        rng = self.rng("equipment")
        new_id = dg.IdSource(rng)
        r = rng.random
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            if r() >= 0.6:
                continue
            for _ in range(1 + (r() < 0.4)):
                kind = dg.amount(rng, 0, len(_EQUIPMENT) - 1)
                model = dg.pick(rng, _EQUIPMENT[kind][1])
                assigned = max(c.start_day, 0) if r() < 0.85 else None
                created, updated = self._child_ts(rng, c)
                out.append(
                    {
                        "id": new_id(),
                        "personId": c.id,
                        "equipmentTypeId": self.equipment_types[kind]["id"],
                        "equipmentNameId": self.equipment_name_of[model],
                        "serialNumber": "C02" + dg.make_id(rng, 8).upper() if r() < 0.8 else None,
                        "assignedDate": dg.iso_date(assigned) if assigned is not None else None,
                        "returnedDate": dg.iso_date(c.end_day) if c.end_day is not None else None,
                        "createdAt": created,
                        "updatedAt": updated,
                    }
                )
        return out

    def _custom_values(self) -> list[dict[str, Any]]:
        rng = self.rng("custom-values")
        new_id = dg.IdSource(rng)
        r = rng.random
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            if r() >= 0.6:
                continue
            fields = [0] if r() < 0.6 else [0, dg.amount(rng, 1, len(_CUSTOM_FIELDS) - 1)]
            for f in fields:
                _, _, ftype, options = _CUSTOM_FIELDS[f]
                if ftype == "select":
                    value = dg.pick(rng, options)
                elif ftype == "date":
                    value = dg.iso_date(dg.amount(rng, 0, dg.SPAN_DAYS - 1))
                elif ftype == "number":
                    value = str(dg.amount(rng, 0, 25))
                else:
                    value = f"{dg.pick(rng, 'ABCD')}-{dg.amount(rng, 1, 80 - 1):02d}"
                created, updated = self._child_ts(rng, c)
                out.append(
                    {
                        "id": new_id(),
                        "personId": c.id,
                        "customFieldId": self.custom_fields[f]["id"],
                        "value": value if r() < 0.93 else None,
                        "createdAt": created,
                        "updatedAt": updated,
                    }
                )
        return out + self._more_custom_values()

    def _more_custom_values(self) -> list[dict[str, Any]]:
        """Values of `_MORE_CUSTOM_FIELDS`: "true"/"false" for the checkbox, a list of
        options for the multi-select (the public client: a string or a list of strings)."""
        rng = self.rng("more-custom-values")
        new_id = dg.IdSource(rng)
        r = rng.random
        first = len(_CUSTOM_FIELDS)
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            for k, (_, _, ftype, options) in enumerate(_MORE_CUSTOM_FIELDS):
                if r() >= 0.5:
                    continue
                if ftype == "multiselect":
                    value: Any = sorted(rng.sample(options, dg.amount(rng, 1, 2)))
                else:
                    value = dg.pick(rng, options)
                created, updated = self._child_ts(rng, c)
                out.append(
                    {
                        "id": new_id(),
                        "personId": c.id,
                        "customFieldId": self.custom_fields[first + k]["id"],
                        "value": value,
                        "createdAt": created,
                        "updatedAt": updated,
                    }
                )
        return out

    def _documents(self) -> list[dict[str, Any]]:
        rng = self.rng("documents")
        new_id = dg.IdSource(rng)
        r = rng.random
        owner = self.ctx[0].id if self.ctx else None
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            if r() >= 0.7:
                continue
            for _ in range(1 + (r() < 0.4)):
                t = dg.amount(rng, 0, len(self.doc_types) - 1)
                uncategorised = r() < 0.1
                is_link = r() < 0.15
                file_id = None if is_link else dg.make_id(rng)
                filename = f"{_DOCUMENT_TYPES[t]}.pdf"
                imported = r() < 0.1
                created, updated = self._child_ts(rng, c)
                out.append(
                    {
                        "id": new_id(),
                        "companyId": self.company_id,
                        "personId": c.id,
                        "name": filename,
                        "documentTypeId": None if uncategorised else self.doc_types[t]["id"],
                        "folderId": None if uncategorised else self.folder_of_type[t],
                        "link": f"https://drive.example.com/file/d/{dg.make_id(rng, 16)}/view"
                        if is_link
                        else None,
                        "fileId": file_id,
                        "file": None
                        if file_id is None
                        else {
                            "id": file_id,
                            "url": f"https://files.humaans.example/{file_id}/{filename}",
                            "filename": filename,
                        },
                        "source": "bamboohr" if imported else None,
                        "sourceId": str(dg.amount(rng, 1000, 99999)) if imported else None,
                        "issueDate": dg.iso_date(max(c.start_day, 0)) if r() < 0.6 else None,
                        "createdBy": c.manager or owner,
                        "createdAt": created,
                        "updatedAt": updated,
                    }
                )
        return out

    def _identity_documents(self) -> list[dict[str, Any]]:
        rng = self.rng("identity-documents")
        new_id = dg.IdSource(rng)
        r = rng.random
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            if r() >= 0.4:
                continue
            kind = dg.pick(rng, (0, 0, 1, 2, 3))
            issue = -dg.amount(rng, 0, 9 * 365) + dg.SPAN_DAYS // 2
            file_id = dg.make_id(rng) if r() < 0.7 else None
            type_name = _IDENTITY_DOCUMENT_TYPES[kind]
            created, updated = self._child_ts(rng, c)
            out.append(
                {
                    "id": new_id(),
                    "personId": c.id,
                    "identityDocumentTypeId": self.id_doc_types[kind]["id"],
                    "name": f"{COUNTRIES[c.country].name} {type_name.lower()}",
                    "number": None if len(out) % 8 == 5 else dg.make_id(rng, 9).upper(),
                    "issuingCountry": c.country,
                    "issueDate": dg.iso_date(issue) if r() < 0.8 else None,
                    "expiryDate": dg.iso_date(issue + 10 * 365) if r() < 0.8 else None,
                    "fileId": file_id,
                    "file": None
                    if file_id is None
                    else {
                        "id": file_id,
                        "url": f"https://files.humaans.example/{file_id}/scan.pdf",
                        "filename": "scan.pdf",
                    },
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        return out

    def _timesheet_entries(self) -> list[dict[str, Any]]:
        rng = self.rng("timesheet-entries")
        new_id = dg.IdSource(rng)
        r = rng.random
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            if not c.timesheets or c.status == "newHire":
                continue
            lo = max(0, c.start_day)
            hi = (c.end_day if c.end_day is not None else dg.SPAN_DAYS) - 2
            if hi <= lo:
                continue
            for _ in range(dg.amount(rng, 2, 5)):
                day = dg.amount(rng, lo, hi)
                if dg.weekday(day) >= 5:
                    day -= dg.weekday(day) - 4
                day = max(day, 0)
                start_s = 8 * 3600 + 300 * dg.amount(rng, 0, 24)
                created_ms = day * dg.DAY_MS + start_s * 1000 + dg.amount(rng, 0, 999)
                open_entry = r() < 0.05
                worked = 0 if open_entry else 300 * dg.amount(rng, 36, 120)
                end_s = start_s + worked
                updated_ms = created_ms + worked * 1000
                out.append(
                    {
                        "id": new_id(),
                        "personId": c.id,
                        "date": dg.iso_date(day),
                        "startTime": f"{start_s // 3600:02d}:{start_s // 60 % 60:02d}:00",
                        "endTime": None
                        if open_entry
                        else f"{end_s // 3600:02d}:{end_s // 60 % 60:02d}:00",
                        "duration": None
                        if open_entry
                        else {"hours": worked // 3600, "minutes": worked // 60 % 60},
                        "createdAt": dg.iso_ms(created_ms),
                        "updatedAt": dg.iso_ms(updated_ms),
                    }
                )
        return out

    def _timesheet_submissions(self) -> list[dict[str, Any]]:
        rng = self.rng("timesheet-submissions")
        durations = self.rng("timesheet-submissions", "durations")
        new_id = dg.IdSource(rng)
        r = rng.random
        owner = self.ctx[0].id if self.ctx else None
        out: list[dict[str, Any]] = []
        for c in self.ctx:
            if not c.timesheets or c.status == "newHire" or r() >= 0.6:
                continue
            lo = max(0, c.start_day)
            hi = (c.end_day if c.end_day is not None else dg.SPAN_DAYS) - 10
            if hi <= lo:
                continue
            day = dg.amount(rng, lo, hi)
            monday = day - dg.weekday(day)
            status = dg.pick(rng, ("approved",) * 6 + ("pending",) * 3 + ("rejected",))
            created_ms = (monday + 7) * dg.DAY_MS + dg.amount(rng, 0, dg.DAY_MS - 1)
            reviewed_ms = None
            if status != "pending":
                reviewed_ms = created_ms + dg.amount(rng, 0, 2 * dg.DAY_MS - 1)
            days_worked = dg.amount(durations, 3, 5)
            minutes = days_worked * 60 * dg.amount(durations, 6, 9) + 15 * dg.amount(
                durations, 0, 3
            )
            out.append(
                {
                    "id": new_id(),
                    "personId": c.id,
                    "startDate": dg.iso_date(monday),
                    "endDate": dg.iso_date(monday + 6),
                    "status": status,
                    "submittedAt": dg.iso_ms(created_ms),
                    "reviewedBy": (c.manager or owner) if reviewed_ms is not None else None,
                    "reviewedAt": dg.iso_ms(reviewed_ms) if reviewed_ms is not None else None,
                    "changesRequested": "Missing hours from the weekend shift."
                    if status == "rejected"
                    else None,
                    "durationAsTime": {"hours": minutes // 60, "minutes": minutes % 60},
                    "durationAsDays": days_worked,
                    "createdAt": dg.iso_ms(created_ms),
                    "updatedAt": dg.iso_ms(reviewed_ms if reviewed_ms is not None else created_ms),
                }
            )
        return out


# --------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building millions of acyclic dicts: it would otherwise
    rescan them again and again (a third of the build time at 100k people)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _BadRequest(Exception):
    """A query the API rejects with 400."""


_OPS = frozenset({"$gt", "$gte", "$lt", "$lte", "$ne", "$in", "$nin"})
_LIST_OPS = frozenset({"$in", "$nin"})
_RANGE_OPS = frozenset({"$gt", "$gte", "$lt", "$lte"})
_SCALAR_KINDS = frozenset({"str", "bool", "int", "float"})

Filter = tuple[str, str, Any]  # (field, operator, coerced value or tuple of values)


@dataclass(frozen=True)
class _Query:
    limit: int
    skip: int
    filters: tuple[Filter, ...]
    sort: tuple[tuple[str, int], ...]
    select: tuple[str, ...] | None


def _split_key(key: str) -> tuple[str, list[str]]:
    """'a[$in][]' -> ('a', ['$in', '']): qs-style bracket parsing."""
    base, _, rest = key.partition("[")
    if not rest:
        return base, []
    if not base or not rest.endswith("]"):
        raise _BadRequest(f"Invalid query parameter {key}")
    return base, rest[:-1].split("][")


class _Table:
    """Immutable serving snapshot of one resource; replaced wholesale when data changes."""

    def __init__(self, records: list[dict[str, Any]], kinds: dict[str, str]) -> None:
        self.records = recs = list(records)
        dumps = orjson.dumps
        # orjson 3.13 returns bytes with ~4 KiB of spare capacity; copying through a
        # memoryview trims them, which keeps 1M pre-serialised records in ~0.5 GB, not 5 GB.
        self.blobs = [bytes(memoryview(dumps(r))) for r in recs]
        ids = list(map(itemgetter("id"), recs))
        self.by_id = dict(zip(ids, range(len(recs)), strict=True))
        self.kinds = kinds
        self.has_updated = "updatedAt" in kinds
        order: list[int] = []
        if self.has_updated:
            updated = [r.get("updatedAt") or "" for r in recs]  # none: first, and never >= x
            if len(set(map(len, ids))) <= 1:
                # With fixed-length ids, sorting "updatedAt + id" strings orders records by
                # (updatedAt, id), and is faster than comparing tuples.
                composite: list[Any] = [u + i for u, i in zip(updated, ids, strict=True)]
            else:
                composite = list(zip(updated, ids, strict=True))
            order = sorted(range(len(recs)), key=composite.__getitem__)
            self.upd_keys: list[str] = list(map(updated.__getitem__, order))
        else:
            self.upd_keys = []
        self.upd_order = order
        self.upd_blobs = list(map(self.blobs.__getitem__, order))
        self._id_index: tuple[list[str], list[int]] | None = None
        self._cache: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def by_id_order(self) -> tuple[list[str], list[int]]:
        """(ids sorted, their record positions): what a listing by id pages through."""
        if self._id_index is None:
            order = sorted(range(len(self.records)), key=lambda i: self.records[i]["id"])
            self._id_index = ([self.records[i]["id"] for i in order], order)
        return self._id_index

    def positions(
        self, filters: tuple[Filter, ...], sort: tuple[tuple[str, int], ...]
    ) -> list[int]:
        """Record positions matching ``filters`` in ``sort`` order (ties by id), memoised."""
        key = (filters, sort)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        recs = self.records
        preds = [_predicate(f, op, v) for f, op, v in filters]
        pos = [i for i, r in enumerate(recs) if all(p(r) for p in preds)]
        if sort:
            pos.sort(key=lambda i: recs[i]["id"])
            for fname, direction in reversed(sort):
                pos.sort(key=_field_key(recs, fname), reverse=direction < 0)
        with self._lock:
            self._cache[key] = pos
            if len(self._cache) > 64:
                self._cache.popitem(last=False)
        return pos


def _field_key(records: list[dict[str, Any]], fname: str) -> Callable[[int], tuple[bool, Any]]:
    """Sort key by field value with nulls last (first when reversed), like SQL's default."""

    def key(i: int) -> tuple[bool, Any]:
        value = records[i].get(fname)
        return (value is None, value)

    return key


def _predicate(fname: str, op: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    """Filter function with SQL-like null handling (null never satisfies a comparison)."""
    if op == "$eq":
        return lambda r: r.get(fname) == value
    if op == "$ne":
        return lambda r: r.get(fname) != value
    if op == "$in":
        allowed = set(value)
        return lambda r: r.get(fname) in allowed
    if op == "$nin":
        banned = set(value)
        return lambda r: r.get(fname) not in banned
    if value is None:
        return lambda r: False
    cmp: dict[str, Callable[[Any], bool]] = {
        "$gt": lambda x: x > value,
        "$gte": lambda x: x >= value,
        "$lt": lambda x: x < value,
        "$lte": lambda x: x <= value,
    }
    test = cmp[op]
    return lambda r: (x := r.get(fname)) is not None and test(x)


def _coerce(raw: str, kind: str, key: str) -> Any:
    """Query strings are untyped; convert them like the API's ORM would for the column."""
    if raw == "null":
        return None
    try:
        if kind == "bool":
            if raw not in ("true", "false"):
                raise ValueError(raw)
            return raw == "true"
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise _BadRequest(f"Invalid value for {key}: {raw}") from None
    return raw


def _infer_kinds(records: list[dict[str, Any]], fields: Iterable[str]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    sample = records[:500]
    for f in fields:
        kind = "str"
        for r in sample:
            v = r.get(f)
            if v is None:
                continue
            kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(v), "other")
            if kind == "int" and any(isinstance(x.get(f), float) for x in sample):
                kind = "float"
            break
        kinds[f] = kind
    return kinds


class HumaansEmulator(Emulator):
    """Humaans API on a local port; see the module docstring and shared/specs/humaans.md.

    seed/size: the dataset (size = number of people; other resources scale from it).
    tokens: bearer token -> scopes (default: FULL_TOKEN and NO_SENSITIVE_TOKEN).
    rate_limit: (requests per second, burst) per token; excess gets 429 + Retry-After: 1.
    max_limit: largest accepted ``$limit``; larger values get 400 (the real API may clamp;
    rejecting makes a tap that ignores the maximum fail loudly).
    ignore_skip: serve every page from offset 0 and echo ``skip: 0``, like a server that
    ignores ``$skip`` (proves a paginator cannot loop forever).
    reject_updated_filter: 400 on any ``updatedAt`` filter or sort (the spec could not
    confirm the API allows them; the tap must fall back to full syncs).
    echo_token_in_errors: error messages include the token sent (proves the tap redacts).
    latency_ms: delay before every response. port: 0 picks a free port.
    people_only: generate people (and the reference tables) but no per-person resources,
    which serve empty lists: the benchmark's dataset, cheap at a million people.
    drift: serve records as a later API version might (`human_sandbox.drift`, `DRIFT`).
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        size: int = 40,
        tokens: dict[str, set[str]] | None = None,
        rate_limit: tuple[float, int] | None = None,
        max_limit: int = MAX_LIMIT,
        ignore_skip: bool = False,
        reject_updated_filter: bool = False,
        echo_token_in_errors: bool = False,
        latency_ms: int = 0,
        port: int = 0,
        people_only: bool = False,
        drift: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1 (the token owner is the first person)")
        self.seed = seed
        self.size = size
        self.tokens = {k: set(v) for k, v in (tokens or DEFAULT_TOKENS).items()}
        self.rate_limiter = RateLimit(*rate_limit) if rate_limit else None
        self.max_limit = max_limit
        self.ignore_skip = ignore_skip
        self.reject_updated_filter = reject_updated_filter
        self.echo_token_in_errors = echo_token_in_errors
        self._gen = _Generator(seed, size, people_only=people_only)
        with _gc_paused():
            self.data: dict[str, list[dict[str, Any]]] = self._gen.build()
        if drift:
            self.data = {
                p: drift_records(rows, DRIFT.get(p, Drift())) for p, rows in self.data.items()
            }
        self._kinds = {
            path: _infer_kinds(recs, recs[0].keys() if recs else ())
            for path, recs in self.data.items()
        }
        self._tables: dict[str, _Table] = {}
        self._lock = threading.Lock()
        self._mutations = 0
        self._max_ms = self._scan_max_ms()
        self.server = EmulatorServer(
            self.handle, port=port, latency_ms=latency_ms, error_body=feathers_error_body
        )

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """API base URL for the tap (``api_url``), e.g. http://127.0.0.1:PORT/api."""
        return f"{self.server.base_url}/api"

    def warm(self) -> None:
        """Build every serving index now instead of on each resource's first request."""
        with _gc_paused():
            for path in RESOURCES:
                self._table(path)

    # -- mutations -----------------------------------------------------------------------

    def _scan_max_ms(self) -> int:
        best = max(
            (
                max(filter(None, (r.get("updatedAt") for r in recs)), default="")
                for recs in self.data.values()
                if recs and "updatedAt" in recs[0]
            ),
            default=None,
        )
        return dg.ms_of(best) if best else 0

    def _next_ms(self) -> int:
        # Whole seconds past the newest change, so new values are visibly and strictly later.
        self._max_ms = (self._max_ms // 1000 + 1) * 1000 + 1000
        return self._max_ms

    def update_people(self, n: int) -> list[str]:
        """Edit ``bio`` on ``n`` deterministically chosen people; they all get one new
        updatedAt strictly later than any in the dataset. Returns their ids."""
        with self._lock:
            people = self.data["people"]
            if not 0 <= n <= len(people):
                raise ValueError(f"cannot update {n} of {len(people)} people")
            self._mutations += 1
            rng = self._gen.rng("update", str(self._mutations))
            chosen = sorted(rng.sample(range(len(people)), n))
            stamp = dg.iso_ms(self._next_ms())
            for i in chosen:
                people[i] = {
                    **people[i],
                    "bio": f"Updated profile (change {self._mutations})",
                    "updatedAt": stamp,
                }
            self._tables.pop("people", None)
            return [people[i]["id"] for i in chosen]

    def add_people(self, n: int) -> list[str]:
        """Append ``n`` new hires with createdAt = updatedAt later than everything else."""
        with self._lock:
            people = self.data["people"]
            self._mutations += 1
            rng = self._gen.rng("add", str(self._mutations))
            stamp = self._next_ms()
            taken = {p["id"] for p in people}
            ids = []
            for _ in range(n):
                pid = dg.make_id(rng)
                while pid in taken:
                    pid = dg.make_id(rng)
                taken.add(pid)
                people.append(self._gen.person(rng, len(people), pid, stamp))
                ids.append(pid)
            self._tables.pop("people", None)
            return ids

    def delete_records(self, path: str, n: int) -> list[dict[str, Any]]:
        """Delete ``n`` deterministically chosen records of a resource, as ``DELETE
        /api/<path>/{id}`` does: no listing has them any more (a hard delete, no trace).
        Returns them as they were."""
        with self._lock:
            rows = self.data[path]
            if not 0 <= n <= len(rows):
                raise ValueError(f"cannot delete {n} of {len(rows)} {path}")
            self._mutations += 1
            rng = self._gen.rng("delete", path, str(self._mutations))
            chosen = set(rng.sample(range(len(rows)), n))
            gone = [rows[i] for i in sorted(chosen)]
            self.data[path] = [row for i, row in enumerate(rows) if i not in chosen]
            self._tables.pop(path, None)
            return gone

    def recreate_records(self, path: str, records: list[dict[str, Any]]) -> list[str]:
        """Create deleted records again under their old ids (a restore), each with one new
        updatedAt strictly later than any in the dataset. Returns their ids."""
        with self._lock:
            stamp = dg.iso_ms(self._next_ms())
            taken = {row["id"] for row in self.data[path]}
            if taken & {r["id"] for r in records}:
                raise ValueError(f"{path}: a record to re-create still exists")
            self.data[path] = [*self.data[path], *({**r, "updatedAt": stamp} for r in records)]
            self._tables.pop(path, None)
            return [r["id"] for r in records]

    def add_custom_field(self, name: str, field_type: str, values: dict[str, Any]) -> str:
        """Create a custom field and its values (person id -> value), all with one
        createdAt = updatedAt later than everything else. Returns the field's id."""
        with self._lock:
            self._mutations += 1
            rng = self._gen.rng("add-custom-field", str(self._mutations))
            stamp = dg.iso_ms(self._next_ms())
            field_id = dg.make_id(rng)
            self.data["custom-fields"].append(
                {
                    "id": field_id,
                    "companyId": self.data["companies"][0]["id"],
                    "name": name,
                    "section": None,
                    "type": field_type,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                }
            )
            for person, value in values.items():
                self.data["custom-values"].append(
                    {
                        "id": dg.make_id(rng),
                        "personId": person,
                        "customFieldId": field_id,
                        "value": value,
                        "createdAt": stamp,
                        "updatedAt": stamp,
                    }
                )
            self._tables.pop("custom-fields", None)
            self._tables.pop("custom-values", None)
            return field_id

    def set_custom_value(self, value_id: str, value: Any) -> str:
        """Change one custom value; its updatedAt becomes later than everything else.
        Returns the new updatedAt."""
        with self._lock:
            rows = self.data["custom-values"]
            (i,) = [i for i, row in enumerate(rows) if row["id"] == value_id]
            stamp = dg.iso_ms(self._next_ms())
            rows[i] = {**rows[i], "value": value, "updatedAt": stamp}
            self._tables.pop("custom-values", None)
            return stamp

    def delete_custom_values(self, value_ids: Iterable[str]) -> None:
        """Delete custom values, as ``DELETE /api/custom-values/{id}`` does: no listing has
        them any more, and nothing else changes (their person's other values keep their
        updatedAt)."""
        with self._lock:
            gone = set(value_ids)
            values = self.data["custom-values"]
            if not gone <= {v["id"] for v in values}:
                raise ValueError(f"no such custom values: {sorted(gone)}")
            values[:] = [v for v in values if v["id"] not in gone]
            self._tables.pop("custom-values", None)

    def delete_custom_field(self, field_id: str) -> None:
        """Delete a custom field and its values (the API's DELETE: no trace in lists)."""
        with self._lock:
            fields, values = self.data["custom-fields"], self.data["custom-values"]
            fields[:] = [f for f in fields if f["id"] != field_id]
            values[:] = [v for v in values if v["customFieldId"] != field_id]
            self._tables.pop("custom-fields", None)
            self._tables.pop("custom-values", None)

    # -- request handling ----------------------------------------------------------------

    def _table(self, path: str) -> _Table:
        table = self._tables.get(path)
        if table is None:
            with self._lock:
                table = self._tables.get(path)
                if table is None:
                    with _gc_paused():
                        table = _Table(self.data[path], self._kinds[path])
                    self._tables[path] = table
        return table

    def _current_periods(self, current: bool) -> _Table:
        """The time-away periods that contain BALANCE_DAY (or, `current` false, do not)."""
        path = "time-away-periods"
        today = dg.iso_date(BALANCE_DAY)
        key = f"{path}?isCurrentPeriod={current}"
        with self._lock:
            table = self._tables.get(key)
            if table is None:
                rows = [
                    r
                    for r in self.data[path]
                    if (r["startDate"] <= today <= r["endDate"]) is current
                ]
                table = self._tables[key] = _Table(rows, self._kinds[path])
        return table

    def _error(
        self,
        status: int,
        message: str | None,
        token: str | None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        err = feathers_error(status, message)
        if self.echo_token_in_errors and token:
            err["message"] = f"{err['message']} (token: {token})"
        return json_response(status, err, headers)

    def handle(self, req: Request) -> Response:
        """The app: auth, rate limit, routing, scopes, then the resource query."""
        auth = req.header("authorization") or ""
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or token not in self.tokens:
            return self._error(401, "Invalid authentication token", token or auth or None)
        if self.rate_limiter is not None:
            ok, _wait = self.rate_limiter.allow(token)
            if not ok:
                return self._error(429, "Too many requests", token, {"Retry-After": "1"})
        path = req.path.rstrip("/")
        if not path.startswith("/api/"):
            return self._error(404, f"Page not found: {req.path}", token)
        parts = path[len("/api/") :].split("/")
        if req.method not in ("GET", "HEAD"):
            return self._error(405, f"Method {req.method} is not supported by this emulator", token)
        scopes = self.tokens[token]
        if parts == ["me"]:
            return json_response(200, self._table("people").blobs[0])
        if parts == ["token-info"]:
            return json_response(
                200,
                {
                    "scopes": sorted(scopes),
                    "personId": self.data["people"][0]["id"],
                    "companyId": self._gen.company_id,
                },
            )
        resource = parts[0]
        if resource not in RESOURCE_SCOPES or len(parts) > 2:
            return self._error(404, f"Page not found: {req.path}", token)
        needed = RESOURCE_SCOPES[resource]
        if not needed & scopes:
            return self._error(403, f"Missing scope {min(needed)}", token)
        public_only = resource == "people" and "private:read" not in scopes
        table = self._table(resource)
        query = req.query
        if resource == "time-away-periods" and "isCurrentPeriod" in query and len(parts) == 1:
            # A computed filter (the public client's): the periods that contain today.
            query = {k: v for k, v in query.items() if k != "isCurrentPeriod"}
            flag = req.query["isCurrentPeriod"][0]
            if flag not in ("true", "false"):
                return self._error(400, f"Invalid value for isCurrentPeriod: {flag}", token)
            table = self._current_periods(flag == "true")
        if len(parts) == 2:
            pos = table.by_id.get(parts[1])
            if pos is None:
                return self._error(404, f"No record found for id '{parts[1]}'", token)
            if public_only:
                return json_response(200, _project(table.records[pos], PUBLIC_PERSON_FIELDS))
            return json_response(200, table.blobs[pos])
        try:
            parsed = self._parse_query(query, table)
        except _BadRequest as exc:
            return self._error(400, str(exc), token)
        return json_response(200, self._list(table, parsed, public_only))

    def _parse_query(self, query: dict[str, list[str]], table: _Table) -> _Query:
        limit, skip = DEFAULT_LIMIT, 0
        filters: list[Filter] = []
        sort: list[tuple[str, int]] = []
        select: tuple[str, ...] | None = None
        kinds = table.kinds
        for key, values in query.items():
            base, parts = _split_key(key)
            if (
                self.reject_updated_filter
                and base in ("updatedAt", "$sort")
                and (base == "updatedAt" or parts == ["updatedAt"])
            ):
                raise _BadRequest(f"Invalid query parameter {key}: updatedAt is not filterable")
            if base == "$limit" and not parts:
                limit = _non_negative(values[0], key)
                if limit > self.max_limit:
                    raise _BadRequest(f"$limit must be at most {self.max_limit}")
            elif base == "$skip" and not parts:
                skip = _non_negative(values[0], key)
            elif base == "$sort" and len(parts) == 1:
                fname = parts[0]
                if kinds.get(fname) not in _SCALAR_KINDS:
                    raise _BadRequest(f"Invalid sort field {fname}")
                if values[0] not in ("1", "-1"):
                    raise _BadRequest(f"Invalid sort direction for {fname}: {values[0]}")
                sort.append((fname, int(values[0])))
            elif base == "$select" and len(parts) <= 1:
                unknown = [v for v in values if v not in kinds]
                if unknown:
                    raise _BadRequest(f"Invalid $select field {unknown[0]}")
                select = (*(select or ()), *values)
            elif base.startswith("$"):
                raise _BadRequest(f"Invalid query parameter {key}")
            else:
                filters.append(self._parse_filter(key, base, parts, values, kinds))
        if select is not None and "id" not in select:
            select = ("id", *select)
        return _Query(limit, skip, tuple(filters), tuple(sort), select)

    @staticmethod
    def _parse_filter(
        key: str, base: str, parts: list[str], values: list[str], kinds: dict[str, str]
    ) -> Filter:
        kind = kinds.get(base)
        if kind is None:
            raise _BadRequest(f"Invalid query parameter {key}: unknown field {base}")
        if kind not in _SCALAR_KINDS:
            raise _BadRequest(f"Invalid query parameter {key}: {base} is not filterable")
        if not parts:
            if len(values) > 1:
                return (base, "$in", tuple(_coerce(v, kind, key) for v in values))
            return (base, "$eq", _coerce(values[0], kind, key))
        op = parts[0]
        if op not in _OPS:
            raise _BadRequest(f"Invalid query parameter {key}: unknown operator {op}")
        if op in _LIST_OPS:
            if len(parts) > 2 or (len(parts) == 2 and parts[1] and not parts[1].isdigit()):
                raise _BadRequest(f"Invalid query parameter {key}")
            return (base, op, tuple(_coerce(v, kind, key) for v in values))
        if len(parts) != 1 or len(values) != 1:
            raise _BadRequest(f"Invalid query parameter {key}")
        return (base, op, _coerce(values[0], kind, key))

    def _list(self, table: _Table, q: _Query, public_only: bool) -> bytes:
        skip = 0 if self.ignore_skip else q.skip
        limit = q.limit
        fast = (
            table.has_updated
            and q.sort in ((("updatedAt", 1),), (("updatedAt", 1), ("id", 1)))
            and all(f == "updatedAt" and op in _RANGE_OPS for f, op, _ in q.filters)
        )
        by_id = q.sort == (("id", 1),) and all(
            f == "id" and op in _RANGE_OPS for f, op, _ in q.filters
        )
        page_records: list[dict[str, Any]] | None = None
        if by_id and not fast:  # a listing by id (a key sweep): a window of the id index
            keys, order = table.by_id_order()
            lo, hi = _window(keys, q.filters)
            total = max(0, hi - lo)
            window = order[lo + skip : min(hi, lo + skip + limit)]
            blobs = [table.blobs[i] for i in window]
            if q.select is not None or public_only:
                page_records = [table.records[i] for i in window]
        elif fast:
            lo, hi = _window(table.upd_keys, q.filters)
            total = max(0, hi - lo)
            start = lo + skip
            end = max(start, min(hi, start + limit))
            blobs = table.upd_blobs[start:end]
            if q.select is not None or public_only:
                page_records = [table.records[i] for i in table.upd_order[start:end]]
        elif not q.filters and not q.sort:
            total = len(table.blobs)
            blobs = table.blobs[skip : skip + limit]
            if q.select is not None or public_only:
                page_records = table.records[skip : skip + limit]
        else:
            pos = table.positions(q.filters, q.sort)
            total = len(pos)
            window = pos[skip : skip + limit]
            blobs = [table.blobs[i] for i in window]
            if q.select is not None or public_only:
                page_records = [table.records[i] for i in window]
        if page_records is not None:
            fields: tuple[str, ...] = q.select or tuple(table.kinds)
            if public_only:
                fields = tuple(f for f in fields if f in PUBLIC_PERSON_FIELDS)
            blobs = [orjson.dumps(_project(r, fields)) for r in page_records]
        return b'{"total":%d,"limit":%d,"skip":%d,"data":[%b]}' % (
            total,
            limit,
            skip,
            b",".join(blobs),
        )


def _window(keys: list[Any], filters: tuple[Filter, ...]) -> tuple[int, int]:
    """[lo, hi) of the sorted `keys` that the range filters on their field keep."""
    lo, hi = 0, len(keys)
    for _, op, value in filters:
        if value is None:
            lo = hi
        elif op == "$gte":
            lo = max(lo, bisect_left(keys, value))
        elif op == "$gt":
            lo = max(lo, bisect_right(keys, value))
        elif op == "$lte":
            hi = min(hi, bisect_right(keys, value))
        else:
            hi = min(hi, bisect_left(keys, value))
    return lo, hi


def _project(record: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {f: record[f] for f in fields if f in record}


def _non_negative(raw: str, key: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"Invalid value for {key}: {raw}") from None
    if value < 0:
        raise _BadRequest(f"{key} must not be negative")
    return value
