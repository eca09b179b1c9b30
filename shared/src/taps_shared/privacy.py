"""Sensitive fields: tagged in the schemas, kept, hashed or dropped before anything is written.

A property's schema says what it holds with `"x-sensitivity"`:

- `pii`: about a person: names, emails, phones, addresses, birth dates, identity and tax
  document numbers, photos, message content;
- `financial`: money tied to a person: compensation amounts, bank details;
- `health`: medical and wellness values.

Each class has a setting (`pii_policy`, `financial_policy`, `health_policy`): `keep` (the
default), `hash` or `drop`. `hash` replaces the value with HMAC-SHA256 under `pii_hash_key`
(lowercase hex), so equal inputs give equal outputs across streams and runs (a hashed email
still joins) while a dictionary attack without the key learns nothing; emails are trimmed
and lowercased first, since their meaning is case-insensitive. Objects and lists under a
tag are hashed whole (their canonical JSON), undeclared fields inside them included, so
nothing under a tag escapes to `_extra`. `drop` removes the property from the SCHEMA and
every RECORD. Hashed properties are strings in the SCHEMA. Keys (primary and replication)
are never tagged (the schema tests check it).

The catalog carries a tag in each tagged field's metadata (`"x-sensitivity"`), so that
downstream tools can read it.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import typing as t
from dataclasses import dataclass

import orjson
from singer_sdk.singerlib.catalog import Metadata, MetadataMapping

from taps_shared.errors import ConfigError

TAG = "x-sensitivity"
CLASSES = ("pii", "financial", "health")
ACTIONS = ("keep", "hash", "drop")

#: The schema of a hashed value: a string, or null for null.
HASHED = {"type": ["string", "null"]}


@dataclass(frozen=True)
class Policy:
    """What to do with each class of sensitive field, and the key hashes are made with."""

    actions: t.Mapping[str, str]
    key: bytes = b""

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Policy:
        actions = {name: str(config.get(f"{name}_policy") or "keep") for name in CLASSES}
        return cls(actions, str(config.get("pii_hash_key") or "").encode())

    def check(self) -> None:
        """A `hash` policy needs a key: without one, a ConfigError naming pii_hash_key."""
        hashing = [f"{name}_policy" for name, action in self.actions.items() if action == "hash"]
        if hashing and not self.key:
            msg = f"{' and '.join(hashing)} is hash: set pii_hash_key, the key of the hashes"
            raise ConfigError(msg)

    @property
    def keeps_all(self) -> bool:
        return all(action == "keep" for action in self.actions.values())

    def action(self, schema: t.Mapping[str, t.Any]) -> str:
        """What happens to a property with this schema: keep, hash or drop."""
        tag = schema.get(TAG)
        return self.actions.get(tag, "keep") if isinstance(tag, str) else "keep"

    def hasher(self, name: str, schema: t.Mapping[str, t.Any]) -> t.Callable[[t.Any], t.Any]:
        """The function hashing values of the property `name` (None stays None)."""
        email = schema.get("format") == "email" or "email" in name.lower()
        keyed = hmac.new(self.key, digestmod=hashlib.sha256)  # copied per value: the pads once

        def digest(value: t.Any) -> t.Any:
            if value is None:
                return None
            if isinstance(value, str):
                text = value.strip().lower() if email else value
                data = text.encode()
            else:
                data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
            mac = keyed.copy()
            mac.update(data)
            return mac.hexdigest()

        return digest

    def schema(self, schema: dict) -> dict:
        """The schema as the records leave the tap: dropped properties gone, hashed ones
        strings (the tag kept)."""
        if self.keeps_all:
            return schema
        out = copy.deepcopy(schema)
        _apply(out, self)
        return out


def _apply(node: dict, policy: Policy) -> None:
    properties = node.get("properties")
    if isinstance(properties, dict):
        for name, sub in list(properties.items()):
            action = policy.action(sub)
            if action == "drop":
                del properties[name]
            elif action == "hash":
                properties[name] = {**HASHED, TAG: sub[TAG]}
            else:
                _apply(sub, policy)
    items = node.get("items")
    if isinstance(items, dict):
        _apply(items, policy)


def tags(schema: t.Mapping[str, t.Any], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Every tagged property of a schema, by breadcrumb (`("properties", "email")`; list
    items add `"items"`), with its class."""
    found: dict[tuple[str, ...], str] = {}
    for name, sub in (schema.get("properties") or {}).items():
        here = (*path, "properties", name)
        if isinstance(sub.get(TAG), str):
            found[here] = sub[TAG]
        found.update(tags(sub, here))
    items = schema.get("items")
    if isinstance(items, dict):
        found.update(tags(items, (*path, "items")))
    return found


def with_tags(schema: dict, tagged: t.Mapping[tuple[str, ...], str]) -> dict:
    """A copy of `schema` (a catalog's, whose tags a round trip through the SDK lost) with
    the tags at their breadcrumbs, where the property is still there."""
    out = copy.deepcopy(schema)
    for breadcrumb, tag in tagged.items():
        node: t.Any = out
        for step in breadcrumb:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[TAG] = tag
    return out


@dataclass(slots=True)
class TaggedMetadata(Metadata):
    """A field's catalog metadata with its class: `"x-sensitivity": "pii"`."""

    x_sensitivity: str | None = None


def tag_metadata(mapping: MetadataMapping, schema: t.Mapping[str, t.Any]) -> MetadataMapping:
    """`mapping` with each tagged field's metadata carrying its tag (in place)."""
    for breadcrumb, tag in tags(schema).items():
        entry = mapping.get(breadcrumb)
        if entry is not None and not isinstance(entry, TaggedMetadata):
            mapping[breadcrumb] = TaggedMetadata(
                inclusion=entry.inclusion,
                selected=entry.selected,
                selected_by_default=entry.selected_by_default,
                x_sensitivity=tag,
            )
    return mapping
