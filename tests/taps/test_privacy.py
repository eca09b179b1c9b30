"""Issue 19 on every tap: sensitive fields tagged in the schemas (`x-sensitivity`), exposed
in the catalog, and hashed (keyed) or dropped before anything is written.

The proof per tap: a run with every stream selected and `pii_policy=hash`,
`financial_policy=drop`, `health_policy=hash` prints none of the tagged values the same
emulator served to a `keep` run, anywhere in its output.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import typing as t

import pytest
from jsonschema import Draft7Validator

from taps_shared.errors import ConfigError
from taps_shared.privacy import CLASSES, TAG, Policy, tags
from tests.support.helpers import select_only, sync
from tests.support.registry import TAPS

POLICY = {"pii_policy": "hash", "financial_policy": "drop", "health_policy": "hash"}
KEY = "k-one"


def tagged_values(value: t.Any) -> t.Iterator[str]:
    """The plaintexts under a tagged value worth looking for in output: every string leaf
    of five characters or more (shorter ones, like a gender code, appear anywhere)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from tagged_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from tagged_values(item)
    elif isinstance(value, str) and len(value) >= 5:
        yield value


def at(record: t.Any, breadcrumb: tuple[str, ...]) -> t.Iterator[t.Any]:
    """The values at a schema breadcrumb (`properties`/`items` steps) of a record."""
    if not breadcrumb:
        yield record
        return
    step, rest = breadcrumb[0], breadcrumb[1:]
    if step == "items":
        for item in record if isinstance(record, list) else []:
            yield from at(item, rest)
    elif step == "properties" and isinstance(record, dict) and rest[0] in record:
        yield from at(record[rest[0]], rest[1:])


def full_run(spec: t.Any, emulator: t.Any, **settings: t.Any) -> tuple[t.Any, str]:
    config = spec.config(emulator, "engine", **settings)
    tap = spec.tap_class(config=config, validate_config=False)
    catalog = select_only(spec.tap_class, config, set(tap.streams))
    result = sync(spec.tap_class, config, catalog=catalog)
    return result, "\n".join(json.dumps(m) for m in result.messages)


@pytest.fixture(scope="module", params=list(TAPS.values()), ids=lambda spec: spec.name)
def runs(request: pytest.FixtureRequest) -> dict[str, t.Any]:
    """One tap's emulator run three ways: keep, the policy under one key, under another."""
    spec = request.param
    with spec.emulator("engine") as emulator:
        keep, _ = full_run(spec, emulator)
        one, one_text = full_run(spec, emulator, **POLICY, pii_hash_key=KEY)
        two, _ = full_run(spec, emulator, **POLICY, pii_hash_key="k-two")
        tap = spec.tap_class(config=spec.config(emulator, "engine"), validate_config=False)
    schemas = {name: stream.schema for name, stream in tap.streams.items()}
    return {"tap": tap, "keep": keep, "one": one, "text": one_text, "two": two, "schemas": schemas}


def untagged_texts(records: dict[str, list[dict]], schemas: dict[str, dict]) -> set[str]:
    """Every string the records hold outside their tagged fields (a city that is also an
    office's, a date that is also an effective date: public where they stand)."""
    out: set[str] = set()
    for stream, rows in records.items():
        tagged = tags(schemas[stream])
        for row in rows:
            pruned = json.loads(json.dumps(row))
            for breadcrumb in tagged:
                for holder in at(pruned, breadcrumb[:-2]):
                    if isinstance(holder, dict):
                        holder.pop(breadcrumb[-1], None)
                    elif isinstance(holder, list):
                        for item in holder:
                            if isinstance(item, dict):
                                item.pop(breadcrumb[-1], None)
            out.update(tagged_values(pruned))
    return out


def test_every_tagged_value_served_is_absent_from_the_output(runs):
    public = untagged_texts(runs["keep"].records, runs["schemas"])
    for message in runs["one"].messages:  # a property or type named like a value
        if message["type"] == "SCHEMA":
            public.update(re.findall(r'"([^"]*)"', json.dumps(message)))
    leaked, looked = [], 0
    for stream, records in runs["keep"].records.items():
        tagged = tags(runs["schemas"][stream])
        for record in records:
            for breadcrumb in tagged:
                for value in at(record, breadcrumb):
                    for text in tagged_values(value):
                        looked += 1
                        if text not in public and json.dumps(text) in runs["text"]:
                            leaked.append((stream, breadcrumb[-1], text))
    assert looked > 0, "the emulator served no tagged value: the test proves nothing"
    assert sorted(set(leaked)) == [], sorted(set(leaked))[:80]


def test_hashes_are_keyed_hmacs_dropped_fields_leave_no_trace(runs):
    schemas = {m["stream"]: m["schema"] for m in runs["one"].messages if m["type"] == "SCHEMA"}
    for stream, records in runs["keep"].records.items():
        for breadcrumb, tag in tags(runs["schemas"][stream]).items():
            if len(breadcrumb) != 2:
                continue  # nested: covered by the scan above
            name = breadcrumb[1]
            if tag == "financial":
                assert name not in schemas[stream]["properties"], (stream, name)
                assert all(name not in r for r in runs["one"].records.get(stream, []))
                continue
            assert schemas[stream]["properties"][name]["type"] == ["string", "null"]
            digest = Policy.from_config({**POLICY, "pii_hash_key": KEY}).hasher(name, {})
            kept = [r.get(name) for r in records]
            hashed = [r.get(name) for r in runs["one"].records[stream]]
            assert hashed == [digest(value) for value in kept], (stream, name)
            other = [r.get(name) for r in runs["two"].records[stream]]
            assert all(a != b for a, b in zip(hashed, other, strict=True) if a is not None)


def test_records_still_validate_against_the_schema_announced(runs):
    schemas = {m["stream"]: m["schema"] for m in runs["one"].messages if m["type"] == "SCHEMA"}
    for stream, records in runs["one"].records.items():
        validator = Draft7Validator(schemas[stream])
        errors = [e.message for record in records for e in validator.iter_errors(record)]
        assert errors == [], stream


def test_no_key_is_tagged_and_every_tag_is_a_known_class(runs):
    for name, stream in runs["tap"].streams.items():
        found = tags(stream.schema)
        keys = {*stream.primary_keys, *([stream.replication_key] if stream.replication_key else [])}
        assert not {crumb[1] for crumb in found if len(crumb) == 2} & keys, name
        assert set(found.values()) <= set(CLASSES), name


def test_the_catalog_exposes_each_tag_in_the_fields_metadata(runs):
    tap = runs["tap"]
    for entry in tap.catalog_dict["streams"]:
        shown = {
            tuple(m["breadcrumb"]): m["metadata"][TAG]
            for m in entry["metadata"]
            if TAG in m["metadata"]
        }
        schema = tap.streams[entry["tap_stream_id"]].schema
        expected = {crumb: tag for crumb, tag in tags(schema).items() if "items" not in crumb}
        assert shown == expected, entry["tap_stream_id"]


def test_an_email_hashes_alike_in_every_stream_it_appears_in():
    """Huma: a user's email in `users` and in `user_details` gives one hash (and a
    differently cased copy of it would too: emails are trimmed and lowercased)."""
    spec = TAPS["huma"]
    with spec.emulator("engine") as emulator:
        config = spec.config(emulator, "engine", pii_policy="hash", pii_hash_key=KEY)
        catalog = select_only(spec.tap_class, config, {"users", "user_details"})
        result = sync(spec.tap_class, config, catalog=catalog)
    users = {r["id"]: r["email"] for r in result.records["users"]}
    details = {r["id"]: r["email"] for r in result.records["user_details"]}
    assert users == details and len(set(users.values())) == len(users)
    email = next(u for u in emulator.users if u.get("email"))["email"]
    expected = hmac.new(KEY.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()
    assert expected in users.values()
    digest = Policy.from_config({"pii_policy": "hash", "pii_hash_key": KEY}).hasher("email", {})
    assert digest(f"  {email.upper()} ") == expected


def test_hash_without_a_key_is_one_line_naming_the_setting():
    spec = TAPS["humaans"]
    with spec.emulator("engine") as emulator:
        config = spec.config(emulator, "engine", pii_policy="hash", health_policy="hash")
        with pytest.raises(ConfigError) as raised:
            spec.tap_class(config=config)
    assert str(raised.value) == (
        "pii_policy and health_policy is hash: set pii_hash_key, the key of the hashes"
    )


def test_stream_maps_see_the_policys_output():
    spec = TAPS["humaans"]
    with spec.emulator("engine") as emulator:
        config = spec.config(
            emulator,
            "engine",
            pii_policy="hash",
            pii_hash_key=KEY,
            stream_maps={"people": {"email_again": "email"}},
        )
        catalog = select_only(spec.tap_class, config, {"people"})
        people = sync(spec.tap_class, config, catalog=catalog).records["people"]
    assert all(p["email_again"] == p["email"] and len(p["email"]) == 64 for p in people)
