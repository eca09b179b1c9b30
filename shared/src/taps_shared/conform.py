"""Records conformed to their stream's schema by a function compiled once per stream.

The SDK conforms a record by walking the schema value by value and, before that, walks the
selection mask the same way: about as much CPU as the whole HTTP and JSON work of a sync.
Here the schema and the mask are compiled once into a tree of `_ObjectConformer`s, and each
node learns a *plan* per record shape (its keys and their value types, in order). Records
of a shape seen before, nearly all of them, cost one dictionary lookup plus the work the
plan really needs: often none, and the record passes through untouched.

Declared fields come out as the SDK's selection pass plus its recursive conformance would
emit them for JSON-decoded data (`tests/shared/test_conform.py` compares them): deselected
properties are dropped, and an exclusively boolean property becomes `value != 0`. Undeclared
fields, which the SDK drops, go to the record's `_extra` object when the schema declares it
(every tap's does: `taps_shared.schemas`), it is selected and `extra_fields` is `keep`;
otherwise they are dropped (kept in place where a nested schema has `additionalProperties`).
`_extra` holds each undeclared field at its path: an undeclared key of a nested object under
the declared key(s) leading to it, and in a list, a list as long as the one sent with `null`
for the items that had nothing undeclared. So `{"teams": [{"name": "A"}, {"name": "B",
"lead": "x"}]}` gives `_extra: {"teams": [null, {"lead": "x"}]}`, and a record with nothing
undeclared `_extra: null`.

Fields the schema tags as sensitive (`x-sensitivity`) are hashed or dropped there too, as
the privacy settings say (`taps_shared.privacy`), so nothing else ever sees their values.

It also reports schema drift, which the SDK does not: undeclared fields (counted per stream)
and values whose JSON type the schema does not allow (kept, reported once per field). A
record without its primary key is an error naming the stream.
"""

from __future__ import annotations

import typing as t
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat

from taps_shared.errors import ResponseError, SchemaDriftError
from taps_shared.privacy import Policy, tags, with_tags
from taps_shared.sdk import is_exclusive_boolean_type, is_object_type, is_uniform_list

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.singerlib.catalog import SelectionMask

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list,),
    "object": (dict,),
}
_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_TYPE_NAMES.update({type(None): "null", list: "array", dict: "object"})


def allowed_types(schema: dict) -> frozenset[type] | None:
    """The Python types JSON decoding gives for values `schema` allows; None for any."""
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        branches = [allowed_types(branch) for branch in options]
        if any(branch is None for branch in branches):
            return None
        return frozenset().union(*t.cast("list[frozenset[type]]", branches))
    declared = schema.get("type")
    if declared is None:
        return None
    names = [declared] if isinstance(declared, str) else declared
    return frozenset(kind for name in names for kind in _JSON_TYPES.get(name, ()))


@dataclass
class SchemaDrift:
    """What a stream's records said that its schema did not: reported once per stream."""

    stream: str
    #: Undeclared fields (dotted paths) and in how many records each appeared.
    unknown: Counter[str] = field(default_factory=Counter)
    #: Fields whose values had a type the schema does not allow: path -> what was seen.
    mismatched: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.unknown or self.mismatched)

    def summary(self) -> str:
        """One line for the end of the run."""
        parts = []
        if self.unknown:
            fields = ", ".join(f"{path} ({n})" for path, n in sorted(self.unknown.items()))
            parts.append(f"{len(self.unknown)} undeclared field(s) in records: {fields}")
        if self.mismatched:
            fields = ", ".join(f"{path} ({seen})" for path, seen in sorted(self.mismatched.items()))
            parts.append(f"{len(self.mismatched)} field(s) with a type the schema lacks: {fields}")
        return f"Stream {self.stream}: schema drift: " + "; ".join(parts)


_ANY = frozenset(_TYPE_NAMES)
_NONE = type(None)
_SEEN_SHAPES = 4096  # value-type shapes remembered as checked, per record shape
_DICTS = {dict}
EXTRA = "_extra"  # the property undeclared fields go to

#: A nested value's conformer: (the value conformed, its undeclared fields or None).
Converter = t.Callable[[t.Any], tuple[t.Any, t.Any]]


class _Plan:
    """What records with one set of keys (in one order) need."""

    __slots__ = (
        "allowed",
        "booleans",
        "checked",
        "extra",
        "identity",
        "keep",
        "nested",
        "unknown",
    )

    def __init__(
        self,
        *,
        keep: tuple[str, ...] | None,
        nested: tuple[tuple[str, Converter], ...],
        booleans: tuple[str, ...],
        unknown: tuple[str, ...],
        extra: tuple[str, ...],
        allowed: tuple[frozenset[type], ...],
    ) -> None:
        self.keep = keep  # the keys to keep, in order; None keeps all
        self.nested = nested  # keys whose values are conformed in turn
        self.booleans = booleans  # keys coerced the SDK's way: value != 0
        self.unknown = unknown  # undeclared paths, counted for each record
        self.extra = extra  # undeclared keys whose values go to `_extra`
        self.allowed = allowed  # the value types each position may hold
        self.checked: set[tuple[type, ...]] = set()  # value-type shapes that passed
        self.identity = keep is None and not nested and not booleans


@dataclass
class _Property:
    types: frozenset[type]
    convert: Converter | None  # for dicts / lists that need conforming
    boolean: bool


class _ObjectConformer:
    """Conforms one object schema (the record, or a nested object)."""

    def __init__(
        self,
        schema: dict,
        *,
        drift: SchemaDrift,
        on_drift: str,
        collect: bool,
        mask: SelectionMask | None = None,
        breadcrumb: tuple[str, ...] = (),
        path: str = "",
        required: tuple[str, ...] = (),
        policy: Policy | None = None,
    ) -> None:
        self.drift = drift
        self.on_drift = on_drift
        self.collect = collect  # undeclared fields are returned, for `_extra`
        self.path = path
        self.required = required
        self.extra_allowed = bool(schema.get("additionalProperties"))
        self.properties: dict[str, _Property] = {}
        self.deselected: set[str] = set()
        for name, sub in schema.get("properties", {}).items():
            crumb = (*breadcrumb, "properties", name)
            action = policy.action(sub) if policy is not None else "keep"
            if (mask is not None and not mask[crumb]) or action == "drop":
                self.deselected.add(name)
                continue
            if action == "hash":
                digest = t.cast("Policy", policy).hasher(name, sub)
                self.properties[name] = _Property(_ANY, _hashing(digest), boolean=False)
                continue
            self.properties[name] = _Property(
                types=allowed_types(sub) or _ANY,
                convert=_compile_value(
                    sub,
                    drift,
                    on_drift,
                    collect=collect,
                    mask=mask,
                    breadcrumb=crumb,
                    path=path + name,
                    policy=policy,
                ),
                boolean=is_exclusive_boolean_type(sub),
            )
        self._plans: dict[tuple[str, ...], _Plan] = {}
        #: (keys, value types) of items seen to need nothing, for `split_list`'s one pass.
        self._plain: set[tuple[tuple[str, ...], tuple[type, ...]]] = set()

    def split(self, record: dict) -> tuple[dict, dict | None]:
        """The record conformed, and its undeclared fields (None when there are none)."""
        keys = tuple(record)
        plan = self._plans.get(keys) or self._learn(keys)
        types = tuple(map(type, record.values()))
        if types not in plan.checked:
            self._check(plan, keys, types)
        if plan.unknown:
            self.drift.unknown.update(plan.unknown)
        if plan.identity:
            return record, None
        out = record if plan.keep is None else {key: record[key] for key in plan.keep}
        extra = {key: record[key] for key in plan.extra} if plan.extra else None
        for key, convert in plan.nested:
            out[key], inner = convert(out[key])
            if inner is not None:
                if extra is None:
                    extra = {}
                extra[key] = inner
        for key in plan.booleans:
            value = out[key]
            if value is not None and type(value) is not bool:
                out[key] = value != 0
        return out, extra

    def split_list(self, values: t.Any) -> tuple[t.Any, list | None]:
        """A list of these objects (the same list when no item changes, the usual case),
        and the undeclared fields of its items by position (None when there are none)."""
        if type(values) is not list or not values:
            return values, None
        if set(map(type, values)) == _DICTS:  # the usual list: one pass, in C
            shapes = map(tuple, map(map, repeat(type), map(dict.values, values)))
            if self._plain.issuperset(zip(map(tuple, values), shapes, strict=True)):
                return values, None  # every item of a shape seen to need nothing
        out: list | None = None
        extras: list[dict | None] | None = None
        plans = self._plans
        for index, item in enumerate(values):
            if type(item) is dict:
                # An item whose keys and value types were seen before and need nothing is
                # looked at here, not through `split`, and remembered for the pass above.
                keys, types = tuple(item), tuple(map(type, item.values()))
                plan = plans.get(keys)
                if (
                    plan is not None
                    and plan.identity
                    and not plan.unknown
                    and types in plan.checked
                ):
                    if len(self._plain) < _SEEN_SHAPES:
                        self._plain.add((keys, types))
                    continue
                conformed, extra = self.split(item)
                if conformed is not item:
                    if out is None:
                        out = list(values)
                    out[index] = conformed
                if extra is not None:
                    if extras is None:
                        extras = [None] * len(values)
                    extras[index] = extra
        return (values if out is None else out), extras

    def split_object(self, value: t.Any) -> tuple[t.Any, dict | None]:
        return self.split(value) if type(value) is dict else (value, None)

    def _learn(self, keys: tuple[str, ...]) -> _Plan:
        """What records with these keys need; undeclared keys are drift."""
        for key in self.required:
            if key not in keys:
                msg = f"Stream {self.drift.stream}: a record has no primary key {key!r}"
                raise ResponseError(msg)
        keep: list[str] = []
        nested = []
        booleans = []
        unknown = []
        extra = []
        allowed = []
        for key in keys:
            spec = self.properties.get(key)
            if spec is None:
                allowed.append(_ANY)
                if key in self.deselected:
                    continue
                unknown.append(self.path + key)
                self._drifted(self.path + key, None)
                if self.extra_allowed:
                    keep.append(key)
                elif self.collect:
                    extra.append(key)
                continue
            keep.append(key)
            allowed.append(spec.types - {_NONE} if key in self.required else spec.types)
            if spec.convert is not None:
                nested.append((key, spec.convert))
            elif spec.boolean:
                booleans.append(key)
        plan = self._plans[keys] = _Plan(
            keep=None if len(keep) == len(keys) else tuple(keep),
            nested=tuple(nested),
            booleans=tuple(booleans),
            unknown=tuple(unknown),
            extra=tuple(extra),
            allowed=tuple(allowed),
        )
        return plan

    def _check(self, plan: _Plan, keys: tuple[str, ...], types: tuple[type, ...]) -> None:
        """Check value types against the schema (once per shape of value types)."""
        if not all(map(frozenset.__contains__, plan.allowed, types)):
            for key, kind, allowed in zip(keys, types, plan.allowed, strict=True):
                if kind in allowed:
                    continue
                if key in self.required:
                    msg = f"Stream {self.drift.stream}: a record has no primary key {key!r}"
                    raise ResponseError(msg)
                self._drifted(self.path + key, kind)
        if len(plan.checked) < _SEEN_SHAPES:
            plan.checked.add(types)

    def _drifted(self, path: str, kind: type | None) -> None:
        """An undeclared field (kind None) or a value of a type the schema lacks."""
        seen = "" if kind is None else _TYPE_NAMES.get(kind, kind.__name__)
        if self.on_drift == "fail":
            what = "is not in the schema" if kind is None else f"has a {seen} value"
            msg = f"Stream {self.drift.stream}: field {path!r} {what} (on_schema_drift=fail)"
            raise SchemaDriftError(msg)
        if kind is not None:
            self.drift.mismatched.setdefault(path, seen)


def _compile_value(
    schema: dict,
    drift: SchemaDrift,
    on_drift: str,
    *,
    collect: bool,
    mask: SelectionMask | None,
    breadcrumb: tuple[str, ...],
    path: str,
    policy: Policy | None = None,
) -> Converter | None:
    """The conformer of a nested object or list value; None when values pass as they are."""
    if is_object_type(schema) and "properties" in schema:
        node = _ObjectConformer(
            schema,
            drift=drift,
            on_drift=on_drift,
            collect=collect,
            mask=mask,
            breadcrumb=breadcrumb,
            path=path + ".",
            policy=policy,
        )
        return node.split_object
    if is_uniform_list(schema):
        items = schema["items"]
        if is_object_type(items) and "properties" in items:
            item_node = _ObjectConformer(
                items,
                drift=drift,
                on_drift=on_drift,
                collect=collect,
                path=path + "[].",
                policy=policy,
            )
            return item_node.split_list
        if is_exclusive_boolean_type(items):
            return _booleans
    return None


def _hashing(digest: t.Callable[[t.Any], t.Any]) -> Converter:
    """A tagged value hashed whole: nothing under it reaches `_extra`."""
    return lambda value: (digest(value), None)


def _booleans(values: t.Any) -> tuple[t.Any, None]:
    """A list of booleans the SDK's way: each item, unless null, becomes `item != 0`."""
    if type(values) is not list:
        return values, None
    return [item if item is None or type(item) is bool else item != 0 for item in values], None


def compile_conformer(
    stream: str,
    schema: dict,
    *,
    mask: SelectionMask | None = None,
    primary_keys: t.Sequence[str] = (),
    on_drift: str = "warn",
    extra_fields: str = "keep",
    policy: Policy | None = None,
) -> tuple[t.Callable[[dict], dict], SchemaDrift]:
    """The record conformer of a stream, and the drift report it fills in.

    Undeclared fields go to `_extra` when `extra_fields` is `keep` and the schema declares
    `_extra` and the mask selects it; otherwise they are dropped. Fields the schema tags as
    sensitive are hashed or dropped as `policy` says (`taps_shared.privacy`).
    """
    drift = SchemaDrift(stream)
    collect = extra_fields == "keep" and EXTRA in schema.get("properties", {})
    collect = collect and (mask is None or bool(mask[("properties", EXTRA)]))
    root = _ObjectConformer(
        schema,
        drift=drift,
        on_drift=on_drift,
        collect=collect,
        mask=mask,
        required=tuple(primary_keys),
        policy=None if policy is None or policy.keeps_all else policy,
    )
    if not collect:
        return (lambda record: root.split(record)[0]), drift

    def conform(record: dict) -> dict:
        out, extra = root.split(record)
        out[EXTRA] = extra
        return out

    return conform, drift


def stream_conformer(stream: Stream) -> tuple[t.Callable[[dict], dict], SchemaDrift]:
    """The conformer of an SDK stream: its schema (with the tags of its own schema, which a
    catalog's lacks), selection, keys and settings."""
    return compile_conformer(
        stream.name,
        with_tags(stream.effective_schema, tags(stream.schema)),
        mask=stream.mask,
        primary_keys=stream.primary_keys or (),
        on_drift=stream.config.get("on_schema_drift", "warn"),
        extra_fields=stream.config.get("extra_fields", "keep"),
        policy=Policy.from_config(stream.config),
    )
