"""The catalog's value rules (reconciler/config_rules.py): one implementation for manifests and the served platform.

Each rule the Lytics v2 models state (type, enum, list item type and enum, minimum and
maximum, required) has a test that breaks it and one that keeps it; a secret's value is
never quoted; unknown fields are a problem only when asked (the served platform's auth
types), never for manifests' job configs.
"""

from __future__ import annotations

import pytest

from reconciler.catalog import FieldSpec
from reconciler.config_rules import (
    CONFIG_ENUM,
    CONFIG_PATTERN,
    CONFIG_RANGE,
    CONFIG_TYPE,
    MISSING_CONFIG_FIELD,
    UNKNOWN_CONFIG_FIELD,
    check_value,
    config_problems,
    enum_words,
)

EVENTS = FieldSpec(name="audience_events", title="Audience events", enum=["enters_only", "exits_only"])
LIST_ID = FieldSpec(name="adwords_list_id", title="List", type="integer")
AGE = FieldSpec(name="message_age", title="Age", type="integer", minimum=0, maximum=90)
SEGMENTS = FieldSpec(name="segment_ids", title="Segments", type="list", items="string")
MAPPINGS = FieldSpec(name="identifier_mapping", title="Mapping", type="list", items="mapping", required=True)
COUNTRIES = FieldSpec(name="country_codes", title="Countries", type="list", items="string",
                      enum=[f"C{i}" for i in range(40)])
BACKFILL = FieldSpec(name="withbackfill", title="Backfill", type="boolean")
TOKEN = FieldSpec(name="token", title="Token", secret=True, pattern="^[a-z]+$")
PIXEL = FieldSpec(name="pixel", title="Pixel", pattern="^[0-9]{5,20}$", example="123456789012345")


@pytest.mark.parametrize(("spec", "value", "rule", "message"), [
    (EVENTS, "both", CONFIG_ENUM, '"both" is not one of: enters_only, exits_only'),
    (LIST_ID, "42", CONFIG_TYPE, "must be a whole number, got text (a string)"),
    (LIST_ID, 4.5, CONFIG_TYPE, "must be a whole number, got a number"),
    (LIST_ID, True, CONFIG_TYPE, "must be a whole number, got true/false"),
    (AGE, -1, CONFIG_RANGE, "-1 is less than the minimum, 0"),
    (AGE, 91, CONFIG_RANGE, "91 is more than the maximum, 90"),
    (SEGMENTS, "vip", CONFIG_TYPE, "must be a list, got text (a string)"),
    (SEGMENTS, ["vip", {"a": 1}], CONFIG_TYPE, "item 2 must be text (a string), got a mapping"),
    (MAPPINGS, ["email"], CONFIG_TYPE, "item 1 must be a mapping (key: value), got text (a string)"),
    (COUNTRIES, ["C1", "UK"], CONFIG_ENUM, 'item 2 "UK" is not one of: C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, '
                                           "C10, C11 and 28 more (see `authctl providers`)"),
    (BACKFILL, "yes", CONFIG_TYPE, "must be true or false, got text (a string)"),
    (PIXEL, "12", CONFIG_PATTERN, '"12" does not match the pattern ^[0-9]{5,20}$ (e.g. 123456789012345)'),
])
def test_each_rule_names_what_is_wrong(spec: FieldSpec, value: object, rule: str, message: str) -> None:
    assert check_value(spec, value) == (rule, message)


@pytest.mark.parametrize(("spec", "value"), [
    (EVENTS, "exits_only"), (LIST_ID, 42), (AGE, 0), (AGE, 90), (SEGMENTS, ["vip", "churn"]), (SEGMENTS, []),
    (MAPPINGS, [{"lytics": "email", "pinterest": "em"}]), (COUNTRIES, ["C39"]), (BACKFILL, False),
    (PIXEL, 123456789012345),  # YAML reads an unquoted id as a number; text fields take it as its digits
])
def test_values_that_keep_the_rules_pass(spec: FieldSpec, value: object) -> None:
    assert check_value(spec, value) is None


def test_a_secret_value_is_never_quoted() -> None:
    rule, message = check_value(TOKEN, "CANARY-Secret-9") or ("", "")
    assert rule == CONFIG_PATTERN and "CANARY" not in message and message.startswith("the value does not match")


def test_config_problems_lists_every_problem_in_field_order_then_missing_required() -> None:
    fields = {f.name: f for f in (EVENTS, LIST_ID, MAPPINGS)}
    problems = config_problems(fields, {"adwords_list_id": "x", "audience_events": "both", "extra": 1})
    assert [(p.field, p.rule) for p in problems] == [
        ("adwords_list_id", CONFIG_TYPE), ("audience_events", CONFIG_ENUM), ("identifier_mapping", MISSING_CONFIG_FIELD)]
    assert problems[2].message == 'required config field "identifier_mapping" (Mapping) is missing'


def test_unknown_fields_are_problems_only_when_asked() -> None:
    fields = {EVENTS.name: EVENTS}
    assert config_problems(fields, {"segment_idz": "a"}) == []
    [problem] = config_problems(fields, {"segment_idz": "a"}, unknown_allowed=False)
    assert (problem.field, problem.rule) == ("segment_idz", UNKNOWN_CONFIG_FIELD)


def test_short_enums_are_shown_whole() -> None:
    assert enum_words(["a", "b", 3]) == "a, b, 3"
