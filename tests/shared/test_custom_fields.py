"""`taps_shared.custom_fields`: column names, kinds, conversions, the sensitivity setting
and the description a catalog keeps, apart from any vendor."""

from __future__ import annotations

import pytest

from taps_shared import custom_fields as cf
from taps_shared.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("T-shirt size", "t_shirt_size"),
        ("Years of prior experience", "years_of_prior_experience"),
        ("  Badge #  ", "badge"),
        ("Café / Kantine", "cafe_kantine"),
        ("costCenter", "cost_center"),
        ("2nd language", "field_2nd_language"),
        ("!!!", "field"),
        ("", "field"),
    ],
)
def test_a_column_is_the_snake_case_slug_of_the_name(name, column):
    assert cf.slug(name) == column


def test_a_name_taken_by_an_older_field_or_a_fixed_column_gets_the_field_id():
    fields = [("AbC1", "Team"), ("xYz2", "team"), ("Q3", "Person Id"), ("AbC1x", "TEAM")]
    names = cf.column_names(fields, {"person_id", "updated_at"})
    assert names == {
        "AbC1": "team",  # the oldest keeps the name
        "xYz2": "team_xyz2",
        "Q3": "person_id_q3",
        "AbC1x": "team_abc1x",
    }
    # a field added later never renames an older one's column
    assert cf.column_names([*fields, ("new", "Team")], {"person_id"})["AbC1"] == "team"


def test_ids_equal_but_for_case_still_get_distinct_columns():
    names = cf.column_names([("a", "x"), ("Ab", "x"), ("aB", "x")], ())
    assert names == {"a": "x", "Ab": "x_ab", "aB": "x_ab_"}


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("integer", "7", (7, True)),
        ("integer", 7.0, (7, True)),
        ("integer", "7.5", (None, False)),
        ("number", "7.5", (7.5, True)),
        ("number", " 12 ", (12, True)),
        ("number", "n/a", (None, False)),
        ("number", "nan", (None, False)),
        ("number", True, (None, False)),
        ("boolean", "true", (True, True)),
        ("boolean", "No", (False, True)),
        ("boolean", False, (False, True)),
        ("boolean", "maybe", (None, False)),
        ("date", "2024-02-29", ("2024-02-29", True)),
        ("date", "2024-02-29T10:00:00Z", ("2024-02-29", True)),
        ("date", "29/02/2024", (None, False)),
        ("strings", ["a", "b"], (["a", "b"], True)),
        ("strings", "a", (["a"], True)),
        ("strings", [1], (None, False)),
        ("string", "x", ("x", True)),
        ("string", 3, ("3", True)),
        ("string", True, ("true", True)),
        ("string", {"a": 1}, (None, False)),
        ("number", None, (None, True)),
        ("string", "", (None, True)),
    ],
)
def test_values_convert_to_their_column_kind_or_say_they_do_not_fit(kind, value, expected):
    assert cf.convert(kind, value) == expected


def test_a_column_schema_is_described_typed_and_tagged():
    description = cf.describe('Size "EU"', "f1", "select", "the value")
    column = cf.column_schema("date", description, "pii")
    assert column == {
        "type": ["string", "null"],
        "format": "date",
        "description": 'Custom field "Size "EU"" (id f1, type select): the value',
        "x-sensitivity": "pii",
    }
    assert cf.parse_description(column) == ('Size "EU"', "f1", "select")
    assert cf.kind_of(column) == "date"
    assert "x-sensitivity" not in cf.column_schema("string", description, "none")
    assert cf.parse_description({"description": "something else"}) is None
    for kind, schema in cf.KINDS.items():
        assert cf.kind_of(schema) == kind


def test_sensitivity_is_pii_unless_the_setting_names_the_field():
    config = {cf.SETTING: {"Salary band": "financial", "sizeKey": "none"}}
    assert cf.sensitivity_of(config, "Salary band") == "financial"
    assert cf.sensitivity_of(config, "Size", "sizeKey") == "none"  # by label, then key
    assert cf.sensitivity_of(config, "Desk") == "pii"
    assert cf.sensitivity_of({}, "Desk") == "pii"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"A": "secret", "B": "pii", "C": "PII"}, "custom_field_sensitivity: 'A', 'C' must be"),
        (["A"], "custom_field_sensitivity must be an object"),
    ],
)
def test_a_bad_sensitivity_setting_is_one_error_naming_it(given, message):
    with pytest.raises(ConfigError) as raised:
        cf.sensitivities({cf.SETTING: given})
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
