"""reconciler.diff: hash first, deepdiff only on a difference; secrets as placeholders."""

from __future__ import annotations

from typing import Any

import pytest

import reconciler.diff as diff_module
from reconciler.diff import (
    SENSITIVE,
    SENSITIVE_ROTATED,
    FieldChange,
    canonical,
    digest,
    secret_change,
    value_changes,
)


def _triples(changes: list[FieldChange]) -> list[tuple[str, Any, Any]]:
    return [(c.path, c.before, c.after) for c in changes]


# -- hashing ---------------------------------------------------------------------------------------

def test_digest_is_short_stable_and_ignores_key_order() -> None:
    a = digest({"b": [1, 2], "a": {"y": 1, "x": None}})
    assert a == digest({"a": {"x": None, "y": 1}, "b": [1, 2]})
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != digest({"a": {"x": None, "y": 1}, "b": [2, 1]})


def test_canonical_is_compact_sorted_json() -> None:
    assert canonical({"b": 1, "a": [True, None]}) == '{"a":[true,null],"b":1}'


@pytest.mark.parametrize(("before", "after"), [
    ({"a": 1, "b": {"c": [1, 2]}}, {"b": {"c": [1, 2]}, "a": 1}),
    ([1, {"x": "y"}], [1, {"x": "y"}]),
    ("same", "same"),
    (None, None),
    ((1, 2), [1, 2]),  # tuples and lists are the same JSON
    ({}, {}),
])
def test_equal_values_short_circuit_without_deepdiff(monkeypatch: pytest.MonkeyPatch, before: Any,
                                                      after: Any) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("deepdiff must not run when the digests are equal")

    monkeypatch.setattr(diff_module, "_deep_diff", explode)
    assert value_changes(before, after, "config") == []


def test_different_values_do_run_deepdiff(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = diff_module._deep_diff

    def counting(t1: Any, t2: Any) -> Any:
        calls.append((t1, t2))
        return real(t1, t2)

    monkeypatch.setattr(diff_module, "_deep_diff", counting)
    assert _triples(value_changes({"a": 1}, {"a": 2}, "config")) == [("config.a", 1, 2)]
    assert len(calls) == 1


# -- paths -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after", "expected"), [
    # scalars at the top: the prefix is the path
    ("old", "new", [("label", "old", "new")]),
    (None, "new", [("label", None, "new")]),
    ("old", None, [("label", "old", None)]),
    # nested mappings
    ({"a": {"b": 1}}, {"a": {"b": 2}}, [("config.a.b", 1, 2)]),
    ({"a": {"b": {"c": "x"}}}, {"a": {"b": {"c": "y"}}}, [("config.a.b.c", "x", "y")]),
    ({"a": 1}, {"a": 1, "b": 2}, [("config.b", None, 2)]),
    ({"a": 1, "b": 2}, {"a": 1}, [("config.b", 2, None)]),
    ({"a": 1, "b": 2}, {"a": 3, "c": 4}, [("config.a", 1, 3), ("config.b", 2, None), ("config.c", None, 4)]),
    # lists
    ({"l": [1, 2]}, {"l": [1, 2, 3]}, [("config.l[2]", None, 3)]),
    ({"l": [1, 2, 3]}, {"l": [1, 2]}, [("config.l[2]", 3, None)]),
    ({"l": ["a", "b"]}, {"l": ["a", "c"]}, [("config.l[1]", "b", "c")]),
    ({"l": [{"x": 1}]}, {"l": [{"x": 2}]}, [("config.l[0].x", 1, 2)]),
    # type changes
    ({"a": 1}, {"a": "1"}, [("config.a", 1, "1")]),
    ({"a": {"b": 1}}, {"a": [1]}, [("config.a", {"b": 1}, [1])]),
    ({"a": True}, {"a": 1}, [("config.a", True, 1)]),
])
def test_value_changes_paths(before: Any, after: Any, expected: list[tuple[str, Any, Any]]) -> None:
    prefix = "label" if not isinstance(before, dict) and not isinstance(after, dict) else "config"
    assert _triples(value_changes(before, after, prefix)) == expected


def test_top_level_type_change_is_one_change() -> None:
    assert _triples(value_changes({"a": 1}, [1], "config")) == [("config", {"a": 1}, [1])]


def test_lists_without_prefix_use_index_paths() -> None:
    assert _triples(value_changes([1, 2], [1, 3])) == [("[1]", 2, 3)]
    assert _triples(value_changes({"a": 1}, {"a": 2})) == [("a", 1, 2)]


def test_changes_are_sorted_by_path_and_never_sensitive() -> None:
    changes = value_changes({"z": 1, "a": 1, "m": [1]}, {"z": 2, "a": 2, "m": [2]}, "config")
    assert [c.path for c in changes] == ["config.a", "config.m[0]", "config.z"]
    assert not any(c.sensitive for c in changes)


# -- secrets ---------------------------------------------------------------------------------------

FP_A = "hmac-sha256:" + "a" * 64
FP_B = "hmac-sha256:" + "b" * 64


@pytest.mark.parametrize(("applied", "desired", "expected"), [
    (FP_A, FP_A, None),  # unchanged
    (FP_A, FP_B, ("credentials.token", SENSITIVE, SENSITIVE_ROTATED, "")),  # rotated
    (None, FP_A, ("credentials.token", None, SENSITIVE, "")),  # new credential
    (FP_A, None, None),  # value not available here: nothing to say for this field
    (None, None, ("credentials.token", None, SENSITIVE, "not compared: TOKEN is not set")),
])
def test_secret_change(applied: str | None, desired: str | None,
                       expected: tuple[str, Any, Any, str] | None) -> None:
    change = secret_change("credentials.token", applied, desired, "TOKEN is not set")
    if expected is None:
        assert change is None
        return
    assert change is not None and change.sensitive
    assert (change.path, change.before, change.after, change.note) == expected


def test_secret_change_never_carries_a_fingerprint() -> None:
    change = secret_change("credentials.token", FP_A, FP_B, "")
    assert change is not None
    assert "hmac" not in repr(change) and "hmac" not in canonical(change.to_json())


def test_field_change_json_adds_note_only_when_present() -> None:
    assert FieldChange("label", "a", "b").to_json() == {"path": "label", "before": "a", "after": "b",
                                                        "sensitive": False}
    with_note = FieldChange("credentials.t", None, SENSITIVE, sensitive=True, note="not compared: T is not set")
    assert with_note.to_json()["note"] == "not compared: T is not set"
