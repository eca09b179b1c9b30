"""Partition state found by its context in O(1), and STATE messages whose cost does not grow
faster than the records: what every tap emits is what the SDK's own bookkeeping emits."""

from __future__ import annotations

import itertools
import json
import signal
import typing as t

import pytest
from singer_sdk.helpers._state import StateWriter as SDKStateWriter
from singer_sdk.helpers._state import get_state_if_exists
from singer_sdk.streams.core import Stream

from taps_shared import state_writer
from taps_shared.errors import Terminated
from taps_shared.partition_index import PartitionIndex, SharedContexts
from taps_shared.sdk import SDKStream, SDKTap
from taps_shared.state_writer import StateWriter
from tests.shared.test_conform import records_and_states
from tests.shared.widgets import TOKEN, TapWidgets
from tests.support.helpers import sync
from tests.support.registry import TAPS


def sdk_bookkeeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own state manager (a scan of the partitions per lookup), bookmark moved on
    every record (none held back) and STATE writer."""

    def every_record(self: SDKStream, latest_record: dict, *, context: t.Any = None) -> None:
        record = self.state_record(latest_record, context)
        if record is not None:
            Stream._increment_stream_state(self, record, context=context)

    monkeypatch.setattr(SDKStream, "state_manager", Stream.state_manager)
    monkeypatch.setattr(SDKStream, "_increment_stream_state", every_record)
    monkeypatch.setattr(
        SDKStream,
        "partition_state_if_exists",
        lambda self, context: get_state_if_exists(self.tap_state, self.name, context),
    )
    monkeypatch.setattr(
        SDKTap, "build_state_writer", lambda self: SDKStateWriter(self.message_writer)
    )


CASES = [(case, {}) for case in TAPS.values()]
CASES.append((TAPS["humanapi"], {"wellness_mode": "per_user"}))


@pytest.mark.parametrize(
    ("case", "settings"),
    CASES,
    ids=[case.name + "-".join(("", *settings.values())) for case, settings in CASES],
)
def test_every_tap_emits_the_records_and_states_of_the_sdks_bookkeeping(
    case, settings, monkeypatch
):
    with case.emulator("engine") as emulator:
        config = case.config(emulator, "engine", page_size=5, **settings)
        if case.name == "huma":
            config["page_size"] = 10
        ours = sync(case.tap_class, config)
        sdk_bookkeeping(monkeypatch)
        theirs = sync(case.tap_class, config)
    assert sum(map(len, ours.records.values())) > 50
    assert len(ours.states) > 5
    assert records_and_states(ours) == records_and_states(theirs)


def test_a_stop_signal_during_a_bookmark_move_leaves_it_to_the_final_state(monkeypatch):
    """A stop signal raises `Terminated` wherever the run is: inside the move of a held
    bookmark, the final STATE (`flush_bookmarks`) still makes the move."""
    stream = widgets_stream()
    written = "2024-01-01T00:00:07.000Z"
    stream._increment_stream_state({"id": "w007", "updatedAt": written}, context=None)
    assert "replication_key_value" not in stream.stream_state  # held until a STATE

    def stopped(self: Stream, latest_record: dict, *, context: t.Any = None) -> None:
        raise Terminated(signal.SIGTERM)

    with monkeypatch.context() as patch:
        patch.setattr(Stream, "_increment_stream_state", stopped)
        with pytest.raises(Terminated):
            stream.flush_bookmark()  # as the SDK's STATE does, stopped inside the move
    t.cast("SDKTap", stream._tap).flush_bookmarks()  # as the final STATE does
    assert stream.stream_state["replication_key_value"] == written


# -- the lookup -------------------------------------------------------------------------


class Id(str):
    """A partition's id that counts how often it is compared with another."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        Id.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def widgets_stream() -> SDKStream:
    tap = TapWidgets(config={"api_token": TOKEN, "api_url": "http://127.0.0.1:9"})
    return t.cast("SDKStream", tap.streams["widgets"])


@pytest.mark.parametrize("partitions", [100, 2_000])
def test_finding_a_partitions_state_costs_the_same_with_many_partitions(partitions):
    stream = widgets_stream()
    for i in range(partitions):
        stream.get_context_state({"owner": Id(f"u{i}")})["n"] = i
    Id.compared = 0
    asked = range(0, partitions, partitions // 50)
    found = []
    for i in asked:  # fresh contexts: equal to the state's, not the same objects
        found.append(stream.get_context_state({"owner": Id(f"u{i}")}))
        found.append(stream.partition_state_if_exists({"owner": Id(f"u{i}")}))
    # one comparison to find the key, one to check the entry; the SDK compares with every
    # partition before it (a scan)
    assert Id.compared <= len(found) * 2
    assert [entry["n"] for entry in found] == [i for i in asked for _ in "ab"]


def test_the_state_is_what_the_sdk_writes_in_the_same_order():
    ours, theirs = widgets_stream(), widgets_stream()
    theirs_manager = Stream.state_manager.fget(theirs)  # type: ignore[attr-defined]
    contexts = [
        {"owner": "b"},
        {"owner": "a", "team": 1},
        {"owner": "b"},
        {"team": 1, "owner": "a"},
    ]
    for n, context in enumerate(contexts * 2):
        ours.get_context_state(context)[f"k{n % 3}"] = n
        theirs_manager.get_context_state(context)[f"k{n % 3}"] = n
    assert ours.tap_state == theirs.tap_state
    assert list(ours.tap_state["bookmarks"]["widgets"]["partitions"][1]["context"]) == [
        "owner",
        "team",
    ]
    assert ours.partition_state_if_exists({"owner": "c"}) is None
    assert len(ours.tap_state["bookmarks"]["widgets"]["partitions"]) == 2  # not created


def test_entries_added_or_replaced_by_others_are_found():
    stream = widgets_stream()
    first = stream.get_context_state({"owner": "a"})
    partitions = stream.tap_state["bookmarks"]["widgets"]["partitions"]
    partitions.append({"context": {"owner": "b"}, "x": 1})  # written around the index
    assert stream.get_context_state({"owner": "b"}) == {"context": {"owner": "b"}, "x": 1}
    partitions[0] = {"context": {"owner": "a"}, "y": 2}  # replaced in place
    assert stream.get_context_state({"owner": "a"}) == {"context": {"owner": "a"}, "y": 2}
    assert first not in partitions
    replacement = [{"context": {"owner": "c"}}]
    stream.tap_state["bookmarks"]["widgets"]["partitions"] = replacement  # a new list
    assert stream.get_context_state({"owner": "c"}) is replacement[0]
    stream.get_context_state({"owner": "a"})
    assert [p["context"]["owner"] for p in replacement] == ["c", "a"]


def test_contexts_the_index_cannot_key_go_through_the_sdks_scan():
    stream = widgets_stream()
    listed = {"owner": "a", "teams": [1, 2]}
    stream.get_context_state(listed)["x"] = 1
    assert stream.get_context_state({"owner": "a", "teams": [1, 2]})["x"] == 1
    partitions = stream.tap_state["bookmarks"]["widgets"]["partitions"]
    partitions += [{"context": {"owner": "d"}}, {"context": {"owner": "d"}}]
    with pytest.raises(ValueError, match="duplicate entries"):  # the SDK's own error
        stream.get_context_state({"owner": "d"})


def test_streams_of_one_parent_share_its_context_object():
    contexts = SharedContexts()
    one, other = contexts.get({"humanId": "h1"}), contexts.get({"humanId": "h1"})
    assert one is other and one == {"humanId": "h1"}
    assert contexts.get({"humanId": "h2"}) is not one
    # and the indexes of every stream hold one key object per context
    indexes = [PartitionIndex(contexts), PartitionIndex(contexts)]
    for index in indexes:
        index.find([{"context": {"humanId": "h1"}}, {"context": {"humanId": "h2"}}], {})
    first, second = (list(index._positions) for index in indexes)
    assert first == second == [("humanId", "h1"), ("humanId", "h2")]
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_an_index_follows_a_list_that_shrinks():
    index = PartitionIndex()
    partitions = [{"context": {"id": 1}}, {"context": {"id": 2}}]
    assert index.find(partitions, {"id": 2}) is partitions[1]
    del partitions[0]
    assert index.find(partitions, {"id": 2}) is partitions[0]
    assert index.find(partitions, {"id": 1}) is None


# -- STATE messages -----------------------------------------------------------------------


class Lines:
    """A message writer that keeps what it was given."""

    def __init__(self) -> None:
        self.record_bytes = 0
        self.lines: list[bytes] = []

    @staticmethod
    def state_pieces(state: dict) -> t.Iterator[bytes]:
        text = repr(state).encode()
        return iter((text[:5], text[5:]))

    def write_line(self, pieces: t.Iterable[bytes]) -> None:
        self.lines.append(b"".join(pieces))


def big_state(partitions: int, value: int = 0) -> dict:
    entries = [{"context": {"id": i}, "v": value} for i in range(partitions)]
    return {"bookmarks": {"s": {"partitions": entries}, "t": {}}}


def test_a_small_state_is_written_whenever_it_changes():
    lines = Lines()
    writer = StateWriter(t.cast("t.Any", lines), small_state=10_000)
    for value in (0, 0, 1, 1, 2):
        writer.write_state(big_state(10, value))
    assert len(lines.lines) == 3 and writer.deferred == 0


def test_a_large_state_waits_for_as_many_record_bytes_as_it_has():
    lines = Lines()
    writer = StateWriter(t.cast("t.Any", lines), small_state=10)
    size = len(repr(big_state(11, 10)))  # every state here has this size
    for value in range(10, 100):
        lines.record_bytes = value * 40
        writer.write_state(big_state(11, value))
    written = [v for v in range(10, 100) if repr(big_state(11, v)).encode() in lines.lines]
    assert written[0] * 40 >= size  # the first once as many record bytes were written
    # then each once at least `size` bytes of records followed the one before
    assert all((b - a) * 40 >= size > (b - a - 1) * 40 for a, b in itertools.pairwise(written))
    assert writer.deferred == 90 - len(written)
    writer.write_state(big_state(11, 99), now=True)  # the run's last: at once, unchanged
    assert lines.lines[-1] == repr(big_state(11, 99)).encode()


def test_a_run_with_a_large_state_writes_fewer_states_and_ends_with_the_same(monkeypatch):
    case = TAPS["humanapi"]
    with case.emulator("engine") as emulator:
        config = case.config(emulator, "engine", page_size=5, wellness_mode="per_user")
        every = sync(case.tap_class, config)
        monkeypatch.setattr(state_writer, "SMALL_STATE", 2_000)
        budgeted = sync(case.tap_class, config)
    assert records_and_states(budgeted)[0] == records_and_states(every)[0]
    states = records_and_states(budgeted)[1]
    assert states[-1] == records_and_states(every)[1][-1]
    assert len(every.states) > 2 * len(states) > 2
    # every STATE written is one the unbudgeted run wrote (after the same records), and
    # a large one only after at least as many bytes of records as it has
    assert all(state in records_and_states(every)[1] for state in states)
    record_bytes = 0
    for message in budgeted.messages[:-1]:  # the run's closing STATE is always written
        size = len(json.dumps(message, separators=(",", ":")))
        if message["type"] == "RECORD":
            record_bytes += size
        elif message["type"] == "STATE":
            if size > 2_000:
                assert record_bytes >= size * 0.9  # (JSON spacing aside)
            record_bytes = 0
