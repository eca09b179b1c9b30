"""The SDK internals taps_shared leans on, pinned: an SDK upgrade that changes any of them
fails here, loudly and by name, instead of quietly changing what the taps emit."""

from __future__ import annotations

import inspect

import pytest
from singer_sdk.helpers import _state, _typing
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.plugin_base import PluginBase
from singer_sdk.singerlib.encoding.simple import RecordMessage
from singer_sdk.streams import rest
from singer_sdk.streams.core import Stream


def source(function: object) -> str:
    return inspect.getsource(function)  # type: ignore[arg-type]


PINS = {
    # HumanRESTStream._write_record_message: the compiled conformer and the writer's
    # write_record replace the SDK's selection pass, conformance pass and message object.
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
    # HumanRESTStream._process_record: skipped when there are no children and no context.
    "_process_record only adds partition keys and syncs children": lambda: (
        list(inspect.signature(Stream._process_record).parameters)
        == ["self", "record", "child_context", "partition_context"]
        and "self._process_record(" in source(Stream._sync_records)
    ),
    # HumanRESTStream._starting_bookmark_hint reads a partition's state without creating it.
    "get_state_if_exists reads partition state": lambda: (
        list(inspect.signature(_state.get_state_if_exists).parameters)[:3]
        == ["tap_state", "tap_stream_id", "state_partition_context"]
    ),
    # GuardedPaginator.resume sets the token the SDK keeps in `_value`.
    "paginators keep their token in _value": lambda: (
        "return self._value" in source(BaseAPIPaginator.current_value.fget)  # type: ignore[attr-defined]
    ),
    # HumanRESTStream._prepare_page builds what the SDK's _prepare_request builds.
    "requests are prepared from get_http_request": lambda: (
        "self.get_http_request(" in source(rest._HTTPStream._prepare_request)
        and "build_prepared_request(**prepare_kwargs)" in source(rest._HTTPStream._prepare_request)
    ),
    # HumanRESTStream._recover resets `_state_manager` so is_sorted is read again.
    "the state manager is cached in _state_manager": lambda: (
        "self._state_manager" in source(Stream.state_manager.fget)  # type: ignore[attr-defined]
    ),
    # HumanTap._validate_config: secrets are registered before validation.
    "PluginBase.__init__ validates the config through _validate_config": lambda: (
        "self._validate_config(raise_errors=validate_config)" in source(PluginBase.__init__)
    ),
    # taps_shared.conform uses the SDK's own schema tests.
    "schema helpers the conformer shares": lambda: all(
        callable(getattr(_typing, name, None))
        for name in ("_is_exclusive_boolean_type", "is_object_type", "is_uniform_list")
    ),
}


@pytest.mark.parametrize("pin", PINS, ids=list(PINS))
def test_the_sdk_still_works_the_way_taps_shared_assumes(pin):
    assert PINS[pin](), f"singer-sdk changed: {pin}; review taps_shared before upgrading"
