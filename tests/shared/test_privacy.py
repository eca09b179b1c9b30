"""taps_shared.privacy with the compiled conformer: tags at any depth, objects and lists
under a tag hashed or dropped whole (undeclared fields inside them too), untagged data and
`_extra` otherwise untouched."""

from __future__ import annotations

import hashlib
import hmac

import orjson

from taps_shared.conform import compile_conformer
from taps_shared.privacy import Policy

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": ["string", "null"], "x-sensitivity": "pii"},
        "salary": {"type": ["number", "null"], "x-sensitivity": "financial"},
        "home": {
            "type": ["object", "null"],
            "x-sensitivity": "pii",
            "properties": {"city": {"type": ["string", "null"]}},
        },
        "contacts": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": ["string", "null"], "x-sensitivity": "pii"},
                    "relation": {"type": ["string", "null"]},
                },
            },
        },
        "_extra": {"type": ["object", "null"], "additionalProperties": True},
    },
}
RECORD = {
    "id": "p1",
    "email": " Ada@Example.COM",
    "salary": 50000,
    "home": {"city": "Oslo", "street": "Karl Johans gate 1"},  # street is undeclared
    "contacts": [{"name": "Bo", "relation": "friend", "phone": "+47 1"}],
    "nickname": "ace",
}


def mac(data: bytes, key: bytes = b"k") -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def conform(**config: str) -> dict:
    policy = Policy.from_config({"pii_hash_key": "k", **config})
    conformer, _ = compile_conformer("people", SCHEMA, primary_keys=["id"], policy=policy)
    return conformer(orjson.loads(orjson.dumps(RECORD)))


def test_hash_covers_every_depth_and_whole_tagged_objects():
    home = orjson.dumps(RECORD["home"], option=orjson.OPT_SORT_KEYS)
    assert conform(pii_policy="hash") == {
        "id": "p1",
        "email": mac(b"ada@example.com"),  # trimmed and lowercased: an email
        "salary": 50000,
        "home": mac(home),  # the undeclared street inside is hashed with it, not in _extra
        "contacts": [{"name": mac(b"Bo"), "relation": "friend"}],
        "_extra": {"contacts": [{"phone": "+47 1"}], "nickname": "ace"},
    }


def test_drop_leaves_nothing_and_keep_changes_nothing():
    assert conform(pii_policy="drop", financial_policy="drop") == {
        "id": "p1",
        "contacts": [{"relation": "friend"}],
        "_extra": {"contacts": [{"phone": "+47 1"}], "nickname": "ace"},
    }
    kept = conform()
    assert kept["email"] == RECORD["email"] and kept["home"] == {"city": "Oslo"}
    assert kept["_extra"]["home"] == {"street": "Karl Johans gate 1"}


def test_the_schema_written_matches_the_records():
    policy = Policy.from_config({"pii_policy": "hash", "financial_policy": "drop"})
    written = policy.schema(SCHEMA)
    assert "salary" not in written["properties"]
    assert written["properties"]["home"] == {"type": ["string", "null"], "x-sensitivity": "pii"}
    assert written["properties"]["contacts"]["items"]["properties"]["name"]["type"] == [
        "string",
        "null",
    ]
    assert SCHEMA["properties"]["salary"]  # the stream's own schema is left as it was
