"""What tap-huma must emit for an emulator, derived from the emulator's data (its own tests
and the PostgreSQL end-to-end test compare against it)."""

from __future__ import annotations

from human_sandbox.huma import HumaEmulator
from tap_huma.client import unwrap_fields
from tests.support.helpers import as_emitted
from tests.support.registry import HUMA_HOLIDAYS


def expected_records(emulator: HumaEmulator) -> dict[str, list[dict]]:
    """A full sync with the holiday settings of `HUMA_HOLIDAYS`."""
    users = emulator.users
    details = [unwrap_fields(emulator.details[u["id"]]) for u in users]

    def nested(key: str) -> list[dict]:
        return [{**item, "userId": d["id"]} for d in details for item in d.get(key) or []]

    start, end = HUMA_HOLIDAYS["holiday_start_date"], HUMA_HOLIDAYS["holiday_end_date"]
    expected = {
        "users": users,
        "user_details": details,
        "user_children": nested("children"),
        "user_emergency_contacts": nested("emergencyContacts"),
        "user_identifications": nested("identifications"),
        "positions": [{**p, "userId": u["id"]} for u in users for p in emulator.positions[u["id"]]],
        "position_details": [
            {**unwrap_fields(emulator.position_details[u["id"], p["id"]]), "userId": u["id"]}
            for u in users
            for p in emulator.positions[u["id"]]
        ],
        "work_schedules": [
            {**emulator.work_schedules[u["id"]], "userId": u["id"]}
            for u in users
            if u["id"] in emulator.work_schedules  # the others get a 404: no schedule
        ],
        "groups": emulator.groups,
        "group_details": [emulator.group_details[g["id"]] for g in emulator.groups],
        "job_titles": emulator.job_titles,
        "job_title_details": [emulator.job_title_detail(t["id"]) for t in emulator.job_titles],
        "holidays": [
            {"countryCode": c, "date": d}
            for c in HUMA_HOLIDAYS["holiday_countries"]
            for d in emulator.holidays(c, start, end)
        ],
    }
    return {stream: as_emitted(records) for stream, records in expected.items()}
