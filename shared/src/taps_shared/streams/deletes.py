"""Deletes reach the target: a tombstone for every key the source no longer has.

A full-table stream needs none of this: its whole listing carries a version, and
ACTIVATE_VERSION lets the target drop what the listing lacked (`streams.versions`). An
incremental stream reads only what changed, so a delete leaves no trace in what it reads.
Its partition keeps a *ledger* in the Singer state instead, the keys the source had at the
last look, and a tombstone (the key, `_sdc_deleted_at`, every other field null) goes out
for each key that is gone. A key is gone when:

- a *key sweep* (the resource's listing, keys only where the API allows it) no longer has
  it; the `delete_sweep` setting says how often a sweep runs (`every_run`, `off`, or an
  interval such as `7d`);
- the API says so itself (`deletion_signals`: canceled requests, say);
- its parent went: a partition of a child stream (one user's records) is tombstoned whole
  when the parent's key is gone, and its state dropped.

Nothing is tombstoned on a guess. A sweep counts only when it read the listing to the end:
a run stopped or failed part-way emits no tombstone and keeps the ledger it had (plus the
keys it emitted). A sweep that pages by offset can miss a key when rows move under it, so
its misses are confirmed by a second sweep; keyset paging (`KeySweep.after`) cannot miss.

The ledger is the keys themselves, not digests: a tombstone must carry the primary key,
and a digest cannot give it back. Sorted one per line, deflated and base64-encoded, they
cost about 18 bytes each for random 24-character ids (measured in the taps' READMEs).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import typing as t
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from taps_shared.dates import parse_datetime, to_iso_z
from taps_shared.errors import ConfigError

#: The column a tombstone sets, as Singer SDK targets expect it.
TOMBSTONE = "_sdc_deleted_at"
#: Where a partition's state keeps its ledger.
LEDGER = "deletes"
#: A record's primary key values, in the order of the stream's primary keys.
Key = tuple[t.Any, ...]

_INTERVAL = re.compile(r"([1-9][0-9]*)([hdw])")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
#: The `delete_sweep` values a setting's schema accepts.
CADENCE_PATTERN = r"^(every_run|off|[1-9][0-9]*[hdw])$"


@dataclass(frozen=True)
class KeySweep:
    """How an incremental stream lists the keys its resource has now.

    `params` ask for keys only (a field selection, an order by key) in place of the
    incremental listing's parameters; None reads the listing as the stream reads it, from
    the start. `after` is the parameter that takes the last key seen (`id[$gt]`): keyset
    paging, which rows inserted or deleted meanwhile cannot make skip a key. Without it,
    the sweep pages as the stream does, and a key it misses is confirmed gone by a second
    sweep before it is tombstoned. `key` is the field `after` takes its value from: the
    stream's first primary key unless said (a stream that pivots its resource's records
    sweeps them by their own id).
    """

    params: t.Mapping[str, t.Any] | None = None
    after: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Cadence:
    """The `delete_sweep` setting: sweep on every run, never, or once per `interval`."""

    interval: timedelta | None = timedelta(0)

    @classmethod
    def parse(cls, value: str | None) -> Cadence:
        """The setting's value; a tap without the setting (None) detects no deletes."""
        if value == "every_run":
            return cls()
        if value in (None, "off"):
            return cls(None)
        match = _INTERVAL.fullmatch(str(value))
        if match is None:
            msg = f"delete_sweep must be every_run, off or an interval such as 7d, got {value!r}"
            raise ConfigError(msg)
        return cls(timedelta(**{_UNITS[match[2]]: int(match[1])}))

    @property
    def off(self) -> bool:
        return self.interval is None

    @property
    def every_run(self) -> bool:
        return self.interval == timedelta(0)

    def due(self, ledger: t.Mapping[str, t.Any] | None, now: datetime) -> bool:
        """Whether a partition whose ledger is `ledger` sweeps now."""
        if self.interval is None:
            return False
        swept_at = (ledger or {}).get("swept_at")
        if self.every_run or not swept_at:
            return True
        return now - parse_datetime(str(swept_at), "the state's swept_at") >= self.interval


def encode_ledger(keys: t.Iterable[Key]) -> dict[str, t.Any]:
    """The state entry holding `keys`: sorted, one per line (the id itself when keys are
    single strings, else a JSON list), deflated, base64."""
    keys = set(keys)
    plain = all(len(k) == 1 and isinstance(k[0], str) and "\n" not in k[0] for k in keys)
    if plain:
        lines = sorted(k[0] for k in keys)
    else:
        lines = sorted(json.dumps(list(k), separators=(",", ":")) for k in keys)
    packed = zlib.compress("\n".join(lines).encode(), 9)
    return {
        "format": "lines" if plain else "json-lines",
        "count": len(lines),
        "keys": base64.b64encode(packed).decode("ascii"),
    }


def decode_ledger(entry: t.Any, where: str) -> set[Key] | None:
    """The keys of a ledger entry (None if it keeps none); a malformed one is an error
    naming `where`."""
    if isinstance(entry, dict) and "keys" not in entry:
        return None
    try:
        text = zlib.decompress(base64.b64decode(entry["keys"], validate=True)).decode()
        lines = text.split("\n") if text else []
        if entry["format"] == "lines":
            return {(line,) for line in lines}
        if entry["format"] == "json-lines":
            return {tuple(json.loads(line)) for line in lines}
    except (KeyError, TypeError, ValueError, binascii.Error, zlib.error):
        pass
    msg = f"the state's {where} delete ledger is not valid; remove its '{LEDGER}' entry"
    raise ConfigError(msg)


def tombstone(
    properties: t.Iterable[str],
    key_names: t.Sequence[str],
    key: Key,
    context: t.Mapping[str, t.Any] | None,
    when: str,
) -> dict[str, t.Any]:
    """A deleted record: its key (and its parent's, from `context`), `_sdc_deleted_at`,
    and every other property null."""
    record: dict[str, t.Any] = dict.fromkeys(properties)
    record.update((k, v) for k, v in (context or {}).items() if k in record)
    record.update(zip(key_names, key, strict=True))
    record[TOMBSTONE] = when
    return record


def now_iso() -> str:
    """The time a deletion is noticed, in the canonical form (UTC, milliseconds, Z)."""
    return to_iso_z(datetime.now(UTC))


def sorted_keys(keys: t.Iterable[Key]) -> list[Key]:
    """Keys in a stable order, whatever the types of their values."""
    return sorted(keys, key=lambda key: json.dumps(list(key), default=str))
