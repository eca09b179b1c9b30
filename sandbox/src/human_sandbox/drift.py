"""Drift mode, shared by the emulators: records as a later version of an API might send
them, with fields no tap schema declares and values outside the lists the docs give.

Every undeclared field is named ``drift…`` (no API field is), so a test finds each one it
was sent; out-of-vocabulary values keep their field but change case (``Married`` becomes
``married``, ``active`` becomes ``ACTIVE``), so they are outside any list of known values.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

PREFIX = "drift"


@dataclass(frozen=True)
class Drift:
    """What drift mode changes in one resource's records.

    nested: paths of the nested objects (``a.b``) and lists of objects (``a[]``, ``a.b[]``)
    that gain an undeclared field too, in the object or in the list's last item.
    enums: names of the fields with a documented list of values, at any depth; a value is
    a string, or the ``value`` of a wrapper object (as Huma sends them).
    """

    nested: Sequence[str] = ()
    enums: Collection[str] = field(default_factory=frozenset)


def drift_records(records: Sequence[dict[str, Any]], drift: Drift) -> list[dict[str, Any]]:
    """Copies of `records` with drift: every third record (the 2nd, 5th, ...) gains
    ``driftNote`` at the top and in each of its ``nested`` objects, every sixth (the 2nd,
    8th, ...) also an undeclared object ``driftMeta``; and at each path of an ``enums``
    field (list indexes aside), every fourth value (the 1st, 5th, ...) is out of
    vocabulary. Copies, so the objects records share stay as they were."""
    seen: Counter[str] = Counter()
    out = []
    for index, original in enumerate(records):
        record = copy.deepcopy(original)
        if index % 3 == 1:
            record[PREFIX + "Note"] = f"added in a later API version ({index})"
            if index % 6 == 1:
                record[PREFIX + "Meta"] = {"origin": "v2", "labels": ["beta", str(index)]}
            for path in drift.nested:
                target = _find(record, path)
                if target is not None:
                    target[PREFIX + "Note"] = f"nested, added later ({index})"
        _out_of_vocabulary(record, frozenset(drift.enums), seen, "")
        out.append(record)
    return out


def out_of_vocabulary(value: str) -> str:
    """The same value in another case: outside every list of known values."""
    changed = value.lower() if value[:1].isupper() else value.upper()
    return changed if changed != value else value + "_v2"


def _find(record: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The object at `path`; for a list (`[]`), its last item. None where absent."""
    node: Any = record
    for part in path.split("."):
        many = part.endswith("[]")
        node = node.get(part.removesuffix("[]")) if isinstance(node, dict) else None
        if many:
            node = node[-1] if isinstance(node, list) and node else None
    return node if isinstance(node, dict) else None


def _out_of_vocabulary(node: Any, names: frozenset[str], seen: Counter[str], path: str) -> None:
    """Every fourth value of each `names` field at each path, out of vocabulary."""
    if isinstance(node, list):
        for item in node:
            _out_of_vocabulary(item, names, seen, path + "[]")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = f"{path}.{key}"
        holder, slot = (value, "value") if isinstance(value, dict) else (node, key)
        if key in names and isinstance(holder.get(slot), str) and holder[slot]:
            seen[here] += 1
            if seen[here] % 4 == 1:
                holder[slot] = out_of_vocabulary(holder[slot])
        else:
            _out_of_vocabulary(value, names, seen, here)
