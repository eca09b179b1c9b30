"""What a newcomer meets on a first run (issue 22): a typo in a setting name, a catalog
selecting nothing, a `start_date` in the future, and a run with nothing new that must still
end with a STATE (the README's incremental loop hands that STATE to the next run)."""

from __future__ import annotations

import logging

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_humanos.tap import TapHumanos
from taps_shared import settings
from taps_shared.errors import one_line
from tests.shared.widgets import TOKEN, TapWidgets, WidgetsApi, widgets_server
from tests.support.helpers import select_only, sync


@pytest.fixture
def widgets():
    server = widgets_server(WidgetsApi(n=5))
    yield {"api_token": TOKEN, "api_url": server.base_url}
    server.stop()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_unknown_settings_name_the_setting_they_are_likely_a_typo_of():
    known = ["api_token", "api_url", "page_size", "start_date"]
    given = ["api_tokn", "pagesize", "colour", "api_url"]
    assert settings.unknown_settings(given, known) == [
        "api_tokn (did you mean api_token?)",
        "colour",
        "pagesize (did you mean page_size?)",
    ]


def test_a_typo_of_a_required_setting_says_did_you_mean(widgets):
    config = {"api_tokn": TOKEN, "api_url": widgets["api_url"]}
    with pytest.raises(ConfigValidationError) as caught:
        TapWidgets(config=config)
    assert one_line(caught.value) == (
        "invalid config: 'api_token' is a required property; "
        "unknown setting api_tokn (did you mean api_token?)"
    )


def test_a_typo_of_an_optional_setting_is_a_warning_with_the_likely_name(widgets, caplog):
    with caplog.at_level(logging.WARNING):
        TapWidgets(config={**widgets, "pagesize": 3})
    assert warnings(caplog) == [
        "Ignoring unknown settings (not settings of tap-widgets; check the spelling): "
        "pagesize (did you mean page_size?)"
    ]


def test_a_catalog_selecting_nothing_warns_and_ends_with_the_state(widgets, caplog):
    catalog = select_only(TapWidgets, widgets, set())
    with caplog.at_level(logging.WARNING):
        result = sync(TapWidgets, widgets, catalog=catalog)
    assert warnings(caplog) == ["The catalog selects no stream of tap-widgets: nothing to sync"]
    assert result.messages == [{"type": "STATE", "value": {}}]


def test_a_future_start_date_names_the_full_table_streams_that_ignore_it(caplog):
    config = {"api_key": "key1", "signature_secret": "secret1", "start_date": "2999-01-01"}
    with caplog.at_level(logging.WARNING):
        TapHumanos(config=config)
    assert warnings(caplog) == [
        "start_date 2999-01-01 is in the future: no records from incremental streams; "
        "full-table streams ignore it and emit every record: credential_details, "
        "credential_evidence, credentials, resource_groups, resources, webhooks"
    ]


def test_a_future_start_date_of_incremental_streams_only_means_no_records(widgets, caplog):
    with caplog.at_level(logging.WARNING):
        result = sync(TapWidgets, {**widgets, "start_date": "2999-01-01"})
    assert warnings(caplog) == ["start_date 2999-01-01 is in the future: no records"]
    assert result.records == {}


def test_a_run_with_nothing_new_still_ends_with_its_state(widgets):
    first = sync(TapWidgets, widgets)
    state = first.final_state
    assert state["bookmarks"]["widgets"]["replication_key_value"] == "2024-01-01T00:00:04.000Z"

    again = sync(TapWidgets, widgets, state=state)
    # The inclusive bookmark sends its boundary record again; the STATE still comes last.
    assert again.records == {"widgets": [first.records["widgets"][-1]]}
    assert again.messages[-1] == {"type": "STATE", "value": state}
