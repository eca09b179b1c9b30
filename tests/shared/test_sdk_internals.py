"""The SDK internals taps_shared leans on, pinned: an SDK upgrade that changes any of them
fails here, loudly and by name, instead of quietly changing what the taps emit."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from singer_sdk import RESTStream, Tap
from singer_sdk.helpers import _state, _typing
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.plugin_base import PluginBase, _ConfigInput
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage, SchemaMessage, StateMessage
from singer_sdk.streams._state import StreamStateManager
from singer_sdk.streams.core import Stream
from singer_sdk.tap_base import Tap as TapBase

from tests.support.helpers import ROOT


def source(function: object) -> str:
    return inspect.getsource(function)  # type: ignore[arg-type]


PINS = {
    # SDKStream._write_record_message: the compiled conformer and the writer's write_record
    # replace the SDK's selection pass, conformance pass and message object.
    "records are written by _write_record_message": lambda: (
        "self._write_record_message(record)" in source(Stream._sync_records)
        and "self._generate_record_messages(record)" in source(Stream._write_record_message)
        and "self.state_manager.is_flushed = False" in source(Stream._write_record_message)
        and "pop_deselected_record_properties" in source(Stream._generate_record_messages)
        and "conform_record_data_types" in source(Stream._generate_record_messages)
    ),
    "RecordMessage.to_dict is type, stream, record, version, time_extracted": lambda: (
        '"type": "RECORD"' in source(RecordMessage.to_dict)
        and 'result["version"] = self.version' in source(RecordMessage.to_dict)
        and 'result["time_extracted"] = self.time_extracted' in source(RecordMessage.to_dict)
    ),
    # SDKStream._process_record: skipped when there are no children and no context.
    "_process_record only adds partition keys and syncs children": lambda: (
        list(inspect.signature(Stream._process_record).parameters)
        == ["self", "record", "child_context", "partition_context"]
        and "self._process_record(" in source(Stream._sync_records)
    ),
    # SDKStream._increment_stream_state: the bookmark moves on the canonical value.
    "bookmarks move in _increment_stream_state, once per record": lambda: (
        "self._increment_stream_state(record, context=current_context)"
        in source(Stream._sync_records)
        and "self.state_manager.increment_state(" in source(Stream._increment_stream_state)
    ),
    # SDKRecords.stream_version / set_stream_version / announce_version: records carry the
    # version from the start of the sync (the SDK asks emit_activate_version_messages then,
    # where FullTableVersion starts it), ACTIVATE_VERSION comes at the end.
    "the stream version is kept in _stream_version": lambda: (
        "self._write_activate_version_message(self._stream_version)" in source(Stream.sync)
        and "and self.emit_activate_version_messages" in source(Stream.sync)
        and list(inspect.signature(Stream._write_activate_version_message).parameters)
        == ["self", "full_table_version"]
    ),
    # SDKStream.partition_state_if_exists reads a partition's state without creating it.
    "get_state_if_exists reads partition state": lambda: (
        list(inspect.signature(_state.get_state_if_exists).parameters)[:3]
        == ["tap_state", "tap_stream_id", "state_partition_context"]
    ),
    # SDKStream.forget_sort_order resets `_state_manager` so is_sorted is read again.
    "the state manager is cached in _state_manager": lambda: (
        "self._state_manager" in source(Stream.state_manager.fget)  # type: ignore[attr-defined]
    ),
    # SDKStream.state_manager builds an IndexedStateManager as the SDK builds its manager.
    "the state manager is built from these arguments": lambda: (
        all(
            f"{name}=" in source(Stream.state_manager.fget)  # type: ignore[attr-defined]
            for name in (
                "tap_name",
                "stream_name",
                "tap_state",
                "state_partitioning_keys",
                "is_sorted",
                "check_sorted",
            )
        )
        and "StreamStateManager(" in source(Stream.state_manager.fget)  # type: ignore[attr-defined]
    ),
    # IndexedStateManager.get_context_state: every state read and write of the manager
    # finds its partition there (once per record in increment_state).
    "the state manager finds every partition's state through get_context_state": lambda: (
        all(
            "self.get_context_state(" in source(getattr(StreamStateManager, name))
            for name in (
                "increment_state",
                "write_starting_replication_value",
                "write_replication_key_signpost",
                "get_starting_replication_value",
                "is_state_non_resumable",
                "finalize_progress_markers",
            )
        )
        and "self.state_manager.get_context_state(context)" in source(Stream.get_context_state)
        and "get_writeable_state_dict(self.tap_state, self.stream_name)"
        in source(StreamStateManager.stream_state.fget)  # type: ignore[attr-defined]
    ),
    # IndexedStateManager makes a new partition's entry as the SDK does, at the end of the
    # stream's list, and finds one by comparing contexts with `==`.
    "a new partition's state is {'context': context}, appended": lambda: (
        _state._create_in_partitions_list(partitions := [{}], {"a": 1}) is partitions[-1]
        and partitions == [{}, {"context": {"a": 1}}]
        and 'partition_state["context"] == state_partition_context'
        in source(_state._find_in_partitions_list)
    ),
    # SDKTap.__init__ replaces the StateWriter every STATE of the run goes through.
    "STATE messages go through the tap's _state_writer": lambda: (
        "self._state_writer: StateWriter = StateWriter(self.message_writer)"
        in source(TapBase.__init__)
        and "return self._state_writer" in source(TapBase.state_writer.fget)  # type: ignore[attr-defined]
        and "self._tap.state_writer.write_state(self.tap_state)"
        in source(Stream._write_state_message)
        and "self._state_writer.write_state(self.state)" in source(TapBase.sync_all)
    ),
    # BufferedMsgSpecWriter.write_message encodes STATE and SCHEMA without `to_dict`.
    "STATE and SCHEMA messages are their fields without nulls": lambda: (
        "asdict(self, dict_factory=exclude_null_dict)" in source(Message.to_dict)
        and StateMessage.to_dict is Message.to_dict
        and SchemaMessage.to_dict is Message.to_dict
    ),
    # set_paginator_token sets the token the SDK keeps in `_value`.
    "paginators keep their token in _value": lambda: (
        "return self._value" in source(BaseAPIPaginator.current_value.fget)  # type: ignore[attr-defined]
    ),
    # SDKTap._validate_config: secrets are registered before validation.
    "PluginBase.__init__ validates the config through _validate_config": lambda: (
        "self._validate_config(raise_errors=validate_config)" in source(PluginBase.__init__)
    ),
    # SDKTap._setup_signal_handlers: the SDK's handlers are not installed.
    "PluginBase.__init__ installs signal handlers through _setup_signal_handlers": lambda: (
        "self._setup_signal_handlers()" in source(PluginBase.__init__)
    ),
    # config_input: the --config callback's result, built from files read once.
    "cb_config returns a _ConfigInput of the merged files and parse_env": lambda: (
        "_ConfigInput.from_cli_args(*value)" in source(PluginBase.cb_config)
        and list(inspect.signature(_ConfigInput).parameters) == ["config", "parse_env"]
    ),
    # SDKTap.setup_mapper: the plugin's mapper, then the catalog's streams registered.
    "Tap.setup_mapper registers the catalog's streams on the plugin's mapper": lambda: (
        "super().setup_mapper()" in source(Tap.setup_mapper)
        and "self.mapper.register_raw_streams_from_catalog(self.catalog)"
        in source(Tap.setup_mapper)
    ),
    # taps_shared.conform uses the SDK's own schema tests.
    "schema helpers the conformer shares": lambda: all(
        callable(getattr(_typing, name, None))
        for name in ("_is_exclusive_boolean_type", "is_object_type", "is_uniform_list")
    ),
}


ADAPTER = ROOT / "shared/src/taps_shared/sdk.py"
SOURCES = sorted(
    path
    for folder in (
        "shared/src",
        "tap-huma",
        "tap-humaans",
        "tap-humanapi",
        "tap-humanos",
        "tap-openhuman",
    )
    for path in (ROOT / folder).rglob("*.py")
)


def private_sdk_names() -> set[str]:
    """Every `_name` (not dunder) the SDK's base classes define or set on `self`."""
    names: set[str] = set()
    for cls in (RESTStream, Stream, Tap, PluginBase, BaseAPIPaginator):
        for klass in cls.__mro__:
            if klass.__module__.startswith("singer_sdk"):
                names.update(vars(klass))
                names.update(re.findall(r"self\.(_\w+)", inspect.getsource(klass)))
    return {name for name in names if name.startswith("_") and not name.endswith("__")}


def private_uses(path: Path, private: set[str]) -> list[str]:
    """Where a file imports from a private SDK module, or defines or touches a private
    SDK name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            parts = (node.module or "").split(".") + [alias.name for alias in node.names]
            if any(part.startswith("_") for part in parts):
                found.append(f"line {node.lineno}: from {node.module} import ...")
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = node.name
        if name in private:
            found.append(f"line {node.lineno}: {name}")
    return found


@pytest.mark.parametrize("pin", PINS, ids=list(PINS))
def test_the_sdk_still_works_the_way_taps_shared_assumes(pin):
    assert PINS[pin](), f"singer-sdk changed: {pin}; review taps_shared before upgrading"


def test_private_sdk_names_are_used_only_in_the_adapter_module():
    private = private_sdk_names()
    assert "_write_record_message" in private and "_stream_version" in private
    assert private_uses(ADAPTER, private), "the adapter should use private names"
    offenders = {
        str(path.relative_to(ROOT)): uses
        for path in SOURCES
        if path != ADAPTER and (uses := private_uses(path, private))
    }
    assert not offenders, f"private Singer SDK names outside taps_shared/sdk.py: {offenders}"
