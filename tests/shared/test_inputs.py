"""taps_shared against bad input, in-process and fast: each check the CLI suite
(test_reliability_inputs.py) relies on, one unit at a time."""

from __future__ import annotations

import io
import json
import logging
import socket

import pytest
import requests

from taps_shared import redact
from taps_shared.errors import ConfigError, RetriesExhaustedError, describe_transport_error
from taps_shared.urls import check_base_url, without_userinfo
from tests.shared.widgets import TOKEN, TapWidgets, WidgetsApi, widgets_server
from tests.support.helpers import select_only, sync

PASSWORD = "pw_canary_0b9d2e"


@pytest.fixture
def widgets():
    server = widgets_server(WidgetsApi(n=5))
    yield {"api_token": TOKEN, "api_url": server.base_url}
    server.stop()


# -- URLs and transport errors ---------------------------------------------------------


def test_a_url_with_credentials_is_refused_without_showing_them():
    with pytest.raises(ConfigError, match="api_url must not carry credentials") as caught:
        check_base_url(f"https://me:{PASSWORD}@api.example.com/v1", "api_url")
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"htps://me:{PASSWORD}@host/x", "htps://****@host/x"),
        (f"me:{PASSWORD}@host", "****@host"),
        ("https://host/a@b", "https://host/a@b"),
    ],
)
def test_a_malformed_url_is_quoted_without_its_user_info(url, shown):
    assert without_userinfo(url) == shown
    with pytest.raises(ConfigError) as caught:
        check_base_url(url.replace("https", "ftp"), "api_url")
    assert PASSWORD not in str(caught.value)


def _failed_request(url: str, reason: BaseException) -> requests.exceptions.ConnectionError:
    error = requests.exceptions.ConnectionError(reason)
    error.request = requests.Request("GET", url).prepare()
    return error


def test_transport_errors_name_the_host_never_the_user_info():
    error = _failed_request(
        f"https://me:{PASSWORD}@api.example.com:8443/v1?sig=abc",
        ConnectionRefusedError("[Errno 111] Connection refused"),
    )
    assert describe_transport_error(error) == "connection refused (api.example.com:8443)"


@pytest.mark.parametrize(
    "reason",
    [
        socket.gaierror(-3, "Temporary failure in name resolution"),
        socket.gaierror(-2, "Name or service not known"),
        OSError("Failed to resolve 'x.invalid' ([Errno -5] No address associated with hostname)"),
    ],
)
def test_every_kind_of_dns_failure_is_named_so(reason):
    error = _failed_request("https://x.invalid/v1", reason)
    assert describe_transport_error(error) == "DNS lookup failed (x.invalid)"


def test_an_unreachable_api_url_says_which_setting_to_check(widgets):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tap = TapWidgets(config={**widgets, "api_url": f"http://127.0.0.1:{port}", "max_retries": 0})
    with pytest.raises(RetriesExhaustedError) as caught:
        tap.get_json("/widgets")
    assert str(caught.value) == (
        f"connection check: GET /widgets: connection refused (127.0.0.1:{port}); "
        "not retried; check api_url"
    )


# -- settings --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [987654321012345, [f"{PASSWORD}-in-a-list"]])
def test_a_secret_of_the_wrong_type_is_never_quoted(value, widgets):
    from singer_sdk.exceptions import ConfigValidationError

    from taps_shared.errors import one_line

    with pytest.raises(ConfigValidationError) as caught:
        TapWidgets(config={**widgets, "api_token": value})
    line = one_line(caught.value)
    assert "config['api_token']" in line
    assert str(value if not isinstance(value, list) else value[0]) not in line
    assert redact.MASK in line


def test_unknown_settings_are_a_warning_naming_them_not_their_values(widgets, caplog):
    with caplog.at_level(logging.WARNING):
        TapWidgets(config={**widgets, "pagesize": PASSWORD, "stream_maps": {}})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Ignoring unknown settings (not settings of tap-widgets; check the spelling): "
        "pagesize (did you mean page_size?)"
    ]


# -- catalog and state -----------------------------------------------------------------


def _catalog_with(widgets: dict, name: str, *, selected: bool) -> dict:
    catalog = select_only(TapWidgets, widgets, {"widgets"})
    extra = json.loads(json.dumps(catalog["streams"][0]))
    extra["tap_stream_id"] = extra["stream"] = name
    for meta in extra["metadata"]:
        if meta["breadcrumb"] == []:
            meta["metadata"]["selected"] = selected
    catalog["streams"].append(extra)
    return catalog


def test_a_catalog_selecting_an_unknown_stream_is_an_error(widgets):
    catalog = _catalog_with(widgets, "gizmos", selected=True)
    with pytest.raises(ConfigError, match="the catalog selects gizmos, which tap-widgets does"):
        sync(TapWidgets, widgets, catalog=catalog)


def test_an_unselected_unknown_stream_in_the_catalog_is_a_warning(widgets, caplog):
    with caplog.at_level(logging.WARNING):
        result = sync(TapWidgets, widgets, catalog=_catalog_with(widgets, "gizmos", selected=False))
    assert len(result.records["widgets"]) == 5
    assert "The catalog lists streams tap-widgets does not have; ignored: gizmos" in caplog.text


def test_state_of_a_removed_stream_is_a_warning_and_carried_along(widgets, caplog):
    state = {"bookmarks": {"gizmos": {"replication_key_value": "2024-01-01"}}}
    with caplog.at_level(logging.WARNING):
        result = sync(TapWidgets, widgets, state=state)
    assert len(result.records["widgets"]) == 5
    assert "The state has bookmarks of streams tap-widgets does not have; ignored: gizmos" in (
        caplog.text
    )
    assert result.final_state["bookmarks"]["gizmos"] == state["bookmarks"]["gizmos"]


def test_a_bookmark_in_the_future_is_a_warning_and_no_records(widgets, caplog):
    future = "2999-01-01T00:00:00.000Z"
    state = {"bookmarks": {"widgets": {"replication_key_value": future}}}
    with caplog.at_level(logging.WARNING):
        result = sync(TapWidgets, widgets, state=state)
    assert result.records == {}
    assert f"Stream widgets: the state's bookmark {future} is in the future" in caplog.text
    assert result.bookmark("widgets") == future


def test_a_bookmark_that_is_no_date_fails_before_any_request(widgets):
    state = {"bookmarks": {"widgets": {"replication_key_value": "last tuesday"}}}
    with pytest.raises(ConfigError, match="the state's widgets bookmark 'last tuesday' is not"):
        sync(TapWidgets, widgets, state=state)


@pytest.mark.parametrize(
    ("what", "text", "message"),
    [
        ("state", '{"bookmarks": ', "state file in.json is not valid JSON (Expecting value at"),
        ("state", "[]", "state file in.json must hold a JSON object, not a list"),
        ("state", '{"bookmarks": {"a": 1}}', "'bookmarks' must map stream names to objects"),
        ("catalog", "{", "catalog file in.json is not valid JSON (Expecting property name"),
        ("catalog", "{}", "catalog file in.json is not a Singer catalog: no 'streams' list"),
        ("catalog", '{"streams": [{}]}', "is not a Singer catalog (missing 'tap_stream_id')"),
    ],
)
def test_state_and_catalog_files_are_checked_before_use(what, text, message, widgets):
    file = io.StringIO(text)
    file.name = "in.json"
    with pytest.raises(ConfigError) as caught:
        TapWidgets.invoke(config=None, **{what: file})
    assert message in str(caught.value)


def test_a_hand_written_bookmark_without_its_key_is_taken_as_one_on_the_streams_key(widgets):
    state = {"bookmarks": {"widgets": {"replication_key_value": "2024-01-01T00:00:03.000Z"}}}
    result = sync(TapWidgets, widgets, state=state)
    assert [r["id"] for r in result.records["widgets"]] == ["w003", "w004"]


def test_a_bookmark_on_another_replication_key_is_dropped_with_a_warning(widgets, caplog):
    old = {"replication_key": "createdAt", "replication_key_value": "2999-01-01T00:00:00Z"}
    with caplog.at_level(logging.WARNING):
        result = sync(TapWidgets, widgets, state={"bookmarks": {"widgets": old}})
    assert len(result.records["widgets"]) == 5  # not "Unsorted data detected"
    assert "Stream widgets: the state's bookmark is on createdAt, not updatedAt; ignored" in (
        caplog.text
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "config file {path} cannot be read (No such file or directory)"),
        ('{"api_token": "x",', "config file {path} is not valid JSON (Expecting property name"),
        ('["api_token"]', "config file {path} must hold a JSON object, not a list"),
    ],
)
def test_config_files_are_checked_before_use(text, message, tmp_path):
    path = tmp_path / "config.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        TapWidgets.cb_config(None, None, (str(path),))  # type: ignore[arg-type]
    assert message.format(path=path) in str(caught.value)
