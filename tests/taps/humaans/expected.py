"""What tap-humaans' `people_custom` must emit for an emulator, pivoted here from the
emulator's custom fields and values independently of the tap (its own tests and the
PostgreSQL end-to-end test compare against it)."""

from __future__ import annotations

import typing as t

from human_sandbox.humaans import HumaansEmulator
from tests.support.helpers import as_emitted

#: The emulator's custom fields by name: their column and how a value (as the API sends
#: it: a string, or a multi-select's list of strings) reads as the column's type.
COLUMNS: dict[str, tuple[str, t.Callable[[t.Any], t.Any]]] = {
    "T-shirt size": ("t_shirt_size", str),
    "Desk number": ("desk_number", str),
    "Laptop OS preference": ("laptop_os_preference", str),
    "Security clearance date": ("security_clearance_date", str),
    "Years of prior experience": ("years_of_prior_experience", int),
    "Remote worker": ("remote_worker", {"true": True, "false": False}.__getitem__),
    "Languages spoken": ("languages_spoken", list),
}


def people_custom(
    emulator: HumaansEmulator,
    columns: t.Mapping[str, tuple[str, t.Callable[[t.Any], t.Any]]] = COLUMNS,
    persons: t.Container[str] | None = None,
) -> list[dict]:
    """One row per person with custom values (of `persons` only, when given), oldest
    change first: every column, null where the person has no value."""
    name = {f["id"]: f["name"] for f in emulator.data["custom-fields"]}
    rows: dict[str, dict] = {}
    for value in emulator.data["custom-values"]:
        person = value["personId"]
        if persons is not None and person not in persons:
            continue
        row = rows.setdefault(
            person,
            {"personId": person, "updatedAt": ""} | {c: None for c, _ in columns.values()},
        )
        column, read = columns[name[value["customFieldId"]]]
        row[column] = None if value["value"] is None else read(value["value"])
        row["updatedAt"] = max(row["updatedAt"], value["updatedAt"])
    return as_emitted(sorted(rows.values(), key=lambda r: (r["updatedAt"], r["personId"])))
