"""Deterministic fake-data helpers shared by the API emulators.

Everything is driven by an explicit ``random.Random`` and a fixed timeline anchored at
2023-01-01T00:00:00Z, never the wall clock, so the same seed and size always produce
byte-identical data (tests and benchmarks can then compare runs). Times are handled as
integer milliseconds (or whole days) since the anchor because that is cheap to generate
and compare, and only formatted to ISO-8601 at the edge.
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from typing import TypeVar

T = TypeVar("T")

ANCHOR = datetime(2023, 1, 1, tzinfo=UTC)
ANCHOR_DATE = ANCHOR.date()
DAY_MS = 86_400_000
#: Days from the anchor to 2026-01-01: generated activity is spread over 2023-2025.
SPAN_DAYS = (date(2026, 1, 1) - ANCHOR_DATE).days

ALPHANUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Maps each random byte to an id character; 256 % 62 leaves a tiny bias that ids can bear.
_ID_TABLE = bytes(ord(ALPHANUM[i % len(ALPHANUM)]) for i in range(256))

# fmt: off
FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isabella", "Lucas",
    "Mia", "Mateo", "Charlotte", "Leo", "Ava", "Hugo", "Lucía", "Martín", "Sofía", "Pablo",
    "Chloé", "Léa", "Jonas", "Mila", "Finn", "Zoë", "Björn", "Ingrid", "Aarav", "Priya", "Kenji",
    "Yuki", "Chen", "Mei", "Amara", "Kwame", "Fatima", "Omar", "Layla", "Diego", "Valentina",
    "Mohammed", "Aisha", "Niamh", "Seán", "Ewa", "Piotr", "Anaïs", "Tomás", "Inês", "João",
    "Freya", "Arjun", "Nadia", "Ravi", "Elena", "Marco", "Giulia", "Hannah", "Jakob",
)
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "García",
    "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Müller", "Schmidt", "Schneider",
    "Fischer", "Weber", "Meyer", "Dubois", "Lefèvre", "Moreau", "Rossi", "Russo", "Bianchi",
    "Silva", "Santos", "Ferreira", "Kowalski", "Nowak", "Novák", "Jensen", "Hansen", "Nielsen",
    "Andersson", "Johansson", "O'Brien", "Murphy", "Kelly", "Tanaka", "Suzuki", "Kim", "Park",
    "Nguyen", "Patel", "Sharma", "Singh", "Okafor", "Mensah", "Haddad", "Cohen", "Levi", "Ivanova",
    "Popescu", "Horvat", "Van der Berg", "De Vries", "Costa", "Oliveira",
)
# fmt: on


def sub_rng(seed: int, *labels: str) -> random.Random:
    """Independent stream per (seed, labels): adding one resource never shifts another."""
    return random.Random(f"{seed}/{'/'.join(labels)}")


def make_id(rng: random.Random, length: int = 24) -> str:
    """A random ``[A-Za-z0-9]`` id, 24 characters like Humaans/Feathers ids."""
    return rng.randbytes(length).translate(_ID_TABLE).decode("ascii")


def make_ids(rng: random.Random, n: int, length: int = 24) -> list[str]:
    """``n`` ids at once: one ``randbytes`` call is much cheaper than ``n`` for big datasets."""
    blob = rng.randbytes(n * length).translate(_ID_TABLE).decode("ascii")
    return [blob[i : i + length] for i in range(0, n * length, length)]


class IdSource:
    """Endless deterministic id supply drawing ``chunk`` ids per ``randbytes`` call.

    Calling it is several times cheaper than :func:`make_id`, which matters when a dataset
    has a million records. The ids depend only on the rng state and the order of calls.
    """

    def __init__(self, rng: random.Random, chunk: int = 1024, length: int = 24) -> None:
        self._rng = rng
        self._chunk = chunk
        self._length = length
        self._buf: list[str] = []

    def __call__(self) -> str:
        if not self._buf:
            self._buf = make_ids(self._rng, self._chunk, self._length)
            self._buf.reverse()
        return self._buf.pop()


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    """Uniform choice; faster than ``rng.choice`` in hot loops."""
    return seq[int(rng.random() * len(seq))]


def maybe(rng: random.Random, p: float, value: T) -> T | None:
    """``value`` with probability ``p``, else None: how optional fields become null."""
    return value if rng.random() < p else None


def amount(rng: random.Random, lo: int, hi: int, step: int = 1) -> int:
    """Integer in [lo, hi], ``lo`` plus a multiple of ``step`` (salaries, counts).

    Uses ``random()`` arithmetic rather than ``randrange``, which is ~4x slower.
    """
    return lo + int(rng.random() * ((hi - lo) // step + 1)) * step


def person_name(rng: random.Random) -> tuple[str, str]:
    """(first, last) name, including non-ASCII names so clients are tested on UTF-8."""
    return pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)


@lru_cache(maxsize=4096)
def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: 'Müller' -> 'muller', for emails/handles."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.lower() if c.isascii() and c.isalnum())


def email(first: str, last: str, domain: str, n: int = 0) -> str:
    """'first.last@domain', with ``n`` appended when needed to keep addresses unique."""
    suffix = str(n) if n else ""
    return f"{ascii_slug(first)}.{ascii_slug(last)}{suffix}@{domain}"


def phone(rng: random.Random, dial_code: str) -> tuple[str, str]:
    """(E.164, display) phone pair for a dial code such as '44' or '34'."""
    digits = f"{rng.randrange(10**9):09d}"
    e164 = f"+{dial_code}7{digits}"
    return e164, f"+{dial_code} 7{digits[:3]} {digits[3:6]} {digits[6:]}"


@cache
def iso_date(day: int) -> str:
    """'YYYY-MM-DD' of ``day`` days after the anchor (negative: before 2023)."""
    return (ANCHOR_DATE + timedelta(days=day)).isoformat()


@cache
def weekday(day: int) -> int:
    """Weekday (Monday = 0) of ``day`` days after the anchor."""
    return (ANCHOR_DATE + timedelta(days=day)).weekday()


def day_of(iso: str) -> int:
    """Inverse of :func:`iso_date`."""
    return (date.fromisoformat(iso[:10]) - ANCHOR_DATE).days


_HMS: list[str] = []
#: '.mmmZ' suffixes, indexed by millisecond.
MS3 = [f".{i:03d}Z" for i in range(1000)]


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and 'Z' for ``ms`` milliseconds after the anchor."""
    if not _HMS:  # 86,400 'HH:MM:SS' strings, built once: formatting is the hot spot
        _HMS.extend(
            f"T{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
        )
    day, rem = divmod(ms, DAY_MS)
    secs, millis = divmod(rem, 1000)
    return iso_date(day) + _HMS[secs] + MS3[millis]


def ts_prefix(iso: str | None) -> str | None:
    """Timestamp without its '.mmmZ', for cheap variation of cloned records; None for
    bulk instants (and nulls), which are kept as they are so duplicate timestamps survive.

    Giving a createdAt/updatedAt pair the same new suffix keeps updatedAt >= createdAt.
    """
    if iso is None or iso in _BULK_ISO:
        return None
    return iso[:-5]


def ms_suffixes(rng: random.Random, n: int) -> list[str]:
    """``n`` random '.mmmZ' suffixes (see :func:`ts_prefix`)."""
    return [MS3[int(x * 1000)] for x in (rng.random() for _ in range(n))]


def ms_of(iso: str) -> int:
    """Inverse of :func:`iso_ms` (accepts any ISO-8601 string with an offset or 'Z')."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return round((moment - ANCHOR).total_seconds() * 1000)


def timestamp_ms(rng: random.Random, lo_day: int = 0, hi_day: int = SPAN_DAYS) -> int:
    """Random instant (ms after the anchor) in [lo_day, hi_day) days."""
    return lo_day * DAY_MS + int(rng.random() * (hi_day - lo_day) * DAY_MS)


#: Fixed instants of "bulk operations" (imports, migrations): records created or updated
#: together share a timestamp, as on real APIs, which keyset/offset paging must survive.
BULK_INSTANTS_MS = tuple(d * DAY_MS + 9 * 3_600_000 for d in range(5, SPAN_DAYS - 30, 61))


def created_updated(
    rng: random.Random,
    lo_day: int = 0,
    hi_day: int = SPAN_DAYS,
    *,
    bulk_p: float = 0.08,
    untouched_p: float = 0.3,
) -> tuple[int, int]:
    """(createdAt, updatedAt) in ms with updatedAt >= createdAt, both within [lo, hi) days.

    With probability ``bulk_p`` both equal a shared bulk instant (duplicate timestamps
    across records); with ``untouched_p`` the record was never edited (updated == created).
    """
    lo_day = max(0, min(lo_day, hi_day - 1))
    r = rng.random()
    if r < bulk_p:
        first = bisect_left(BULK_INSTANTS_MS, lo_day * DAY_MS)
        last = bisect_left(BULK_INSTANTS_MS, hi_day * DAY_MS)
        if last > first:
            t = BULK_INSTANTS_MS[first + int(rng.random() * (last - first))]
            return t, t
    created = timestamp_ms(rng, lo_day, hi_day)
    if r < bulk_p + untouched_p:
        return created, created
    return created, created + int(rng.random() * (hi_day * DAY_MS - created))


_BULK_ISO = frozenset(iso_ms(t) for t in BULK_INSTANTS_MS)
