"""The names `authctl export` invents (reconciler/export/names.py) and its --select (selection.py)."""

from __future__ import annotations

import re

import pytest
from plan_fixtures import catalog

from reconciler.errors import UsageError
from reconciler.export.names import (
    NameAllocator,
    VariableAllocator,
    base_name,
    could_be_export_name,
    job_base_name,
    secret_variable,
    with_suffix,
)
from reconciler.export.selection import parse_selection
from reconciler.live import LiveAuthorization
from reconciler.manifest.model import NAME_PATTERN

VALID = re.compile(NAME_PATTERN)
VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")


@pytest.mark.parametrize(("label", "name"), [
    ("Facebook Ads (prod)", "facebook-ads-prod"),
    ("  --Weird__label--  ", "weird-label"),
    ("Café Müller", "cafe-muller"),
    ('Ads "main"\n{{ env }} !!python/object:os.system', "ads-main-env-python-object-os-system"),
    ("fb-ads-main", "fb-ads-main"),
    ("A" * 200, "a" * 63),
    ("x" * 62 + "-y", "x" * 62),  # cut at 63 characters, never ending in "-"
])
def test_a_label_folds_to_a_valid_stable_manifest_name(label: str, name: str) -> None:
    assert base_name(label, "authorization") == name
    assert VALID.fullmatch(name)


@pytest.mark.parametrize("label", ["日本語の広告", "!!!", "", "\u202e\u200b"])
def test_a_label_with_nothing_left_gets_a_hash_name_that_is_stable_and_distinct(label: str) -> None:
    name = base_name(label, "authorization")
    assert re.fullmatch(r"authorization-[0-9a-f]{8}", name) and VALID.fullmatch(name)
    assert base_name(label, "authorization") == name
    assert base_name(label + "x!", "authorization") != name


def test_names_that_fold_together_get_suffixes_in_the_given_order_and_never_a_taken_one() -> None:
    names = NameAllocator(taken={"ads", "ads-3"})
    assert [names.allocate("ads") for _ in range(3)] == ["ads-2", "ads-4", "ads-5"]
    assert names.allocate("other") == "other"
    long = "l" * 63
    first, second = NameAllocator().allocate(long), None
    allocator = NameAllocator(taken={long})
    second = allocator.allocate(long)
    assert first == long and second == "l" * 61 + "-2" and VALID.fullmatch(second)


def test_a_job_keeps_its_platform_name_when_it_is_a_manifest_name() -> None:
    assert job_base_name("fb-audiences-main") == "fb-audiences-main"
    assert job_base_name("a--b") == "a--b"  # valid as it is: not folded, so no rename
    assert job_base_name("Weekly churn export") == "weekly-churn-export"
    assert job_base_name("???") .startswith("job-")


@pytest.mark.parametrize(("manifest", "live", "expected"), [
    ("weekly-churn", "Weekly churn", True),
    ("weekly-churn-2", "Weekly churn", True),
    ("weekly-churn-1", "Weekly churn", False),
    ("weekly-churn-02", "Weekly churn", False),
    ("weekly", "Weekly churn", False),
    ("sync", "sync", True),
    (with_suffix("j" * 70, 12), "J" * 70, True),  # shortened to fit its suffix
    ("other-2", "Weekly churn", False),
])
def test_import_recognises_a_job_under_the_name_export_gave_it(manifest: str, live: str, expected: bool) -> None:
    assert could_be_export_name(manifest, live) is expected


def test_secret_variables_are_valid_upper_case_and_collision_free() -> None:
    assert secret_variable("facebook", "fb-ads-main", "access_token") == "AUTHCTL_FACEBOOK_FB_ADS_MAIN_ACCESS_TOKEN"
    assert secret_variable("google_cloud", "gcp-1", "cert_json") == "AUTHCTL_GOOGLE_CLOUD_GCP_1_CERT_JSON"
    # Two different (name, field) pairs that spell the same variable are told apart.
    first, second = secret_variable("p", "a", "b_c"), secret_variable("p", "a-b", "c")
    assert first == second
    variables = VariableAllocator()
    assert [variables.allocate(first), variables.allocate(second), variables.allocate(first)] == \
        [first, f"{first}_2", f"{first}_3"]
    for variable in (first, f"{first}_2", secret_variable("x", "9-lives", "token")):
        assert VARIABLE.fullmatch(variable)


def _auth(provider: str, method: str, label: str) -> LiveAuthorization:
    return LiveAuthorization("id", provider, method, None, label, "")


def test_select_keys_combine_one_key_as_or_and_keys_as_and() -> None:
    selection = parse_selection(["provider=facebook", "provider=tiktok", "label=*prod*"], catalog())
    assert selection.admits(_auth("facebook", "system_user", "Ads (PROD)"))  # globs ignore case
    assert selection.admits(_auth("tiktok", "events_token", "web prod"))
    assert not selection.admits(_auth("facebook", "system_user", "Ads (staging)"))
    assert not selection.admits(_auth("pinterest", "capi_token", "prod"))
    assert parse_selection([], catalog()).admits(_auth("anything", "at-all", "x"))
    assert selection.describe() == "provider=facebook, provider=tiktok, label=*prod*"


@pytest.mark.parametrize(("selector", "message"), [
    ("provider=facbook", 'unknown provider; did you mean "facebook"?'),
    ("method=sytem_user", 'no provider has a method \'sytem_user\'; did you mean "system_user"?'),
    ("labell=x", 'unknown key \'labell\'; did you mean "label"?'),
    ("provider", "write KEY=VALUE"),
    ("label=", "write KEY=VALUE"),
])
def test_a_wrong_selector_is_an_error_naming_it(selector: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_selection([selector], catalog())
    assert selector in caught.value.message and message in caught.value.message
