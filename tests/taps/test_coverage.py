"""Each tap's API coverage table (`<package>/coverage.py`, shown in its README) names every
stream the tap has, under every setting that changes its streams, and no other."""

from __future__ import annotations

import importlib

import pytest

from taps_shared.coverage import Coverage, Endpoint
from tests.support.registry import TAPS


def streams_of(tap_class: type) -> set[str]:
    tables = importlib.import_module(tap_class.__module__).STREAMS
    tables = tables.values() if isinstance(tables, dict) else [tables]
    return {spec.name for table in tables for spec in table.specs}


@pytest.mark.parametrize("spec", TAPS.values(), ids=lambda spec: spec.name)
def test_the_coverage_table_names_exactly_the_taps_streams(spec):
    package = spec.tap_class.__module__.split(".")[0]
    coverage = importlib.import_module(f"{package}.coverage").COVERAGE
    assert coverage.problems(sorted(streams_of(spec.tap_class))) == []


def test_a_stream_without_a_row_and_a_row_without_a_stream_are_both_reported():
    coverage = Coverage([Endpoint("GET /a", "a"), Endpoint("GET /gone", "gone")])
    assert coverage.problems(["a", "b"]) == [
        "stream b has no row",
        "a row names stream gone, which the tap lacks",
    ]


def test_a_row_gives_its_streams_or_why_it_is_left_out_never_both_nor_neither():
    with pytest.raises(ValueError, match="GET /x"):
        Endpoint("GET /x", "x", left_out="write endpoint")
    with pytest.raises(ValueError, match="GET /x"):
        Endpoint("GET /x")


def test_the_table_counts_what_is_extracted_and_says_why_the_rest_is_not():
    table = Coverage(
        [Endpoint("GET /a", ("a", "b")), Endpoint("POST /a", left_out="write | endpoint")]
    ).table()
    assert table.splitlines() == [
        "1 of 2 documented read endpoints are extracted.",
        "",
        "| endpoint | extracted by |",
        "|---|---|",
        "| `GET /a` | `a`, `b` |",
        "| `POST /a` | left out: write \\| endpoint |",
    ]
