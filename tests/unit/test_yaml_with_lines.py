"""YAML loading with duplicate-key refusal and lazily recovered line numbers."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from reconciler.yaml_with_lines import SourceMap, load_all, nesting_line, yaml_error_line

TEXT = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Job
    metadata:
      name: j
    spec:
      authorizations:
        - a
        - b
      config: {x: 1}
    ---
    ---
    kind: Authorization
    """)


def test_load_all_keeps_empty_documents_as_none() -> None:
    docs = load_all(TEXT)
    assert len(docs) == 3
    assert docs[0]["spec"]["authorizations"] == ["a", "b"]
    assert docs[1] is None
    assert docs[2] == {"kind": "Authorization"}


@pytest.mark.parametrize(("document", "path", "line"), [
    (0, (), 1),
    (0, ("kind",), 2),
    (0, ("metadata", "name"), 4),
    (0, ("spec", "authorizations", 1), 8),
    (0, ("spec", "authorizations", 5), 6),  # out of range: the list's key
    (0, ("spec", "config", "x"), 9),
    (0, ("spec", "missing", "deeper"), 5),  # missing: where the user must add it
    (2, ("kind",), 12),
    (7, ("kind",), 0),
])
def test_source_map_lines(document: int, path: tuple[object, ...], line: int) -> None:
    assert SourceMap(TEXT).line(document, path) == line


@pytest.mark.parametrize("text", [
    "a: 1\nb: 2\na: 3\n",
    "a:\n  b: 1\n  b: 1\n",
    "- {x: 1, x: 2}\n",
    "base: &b {k: 1}\nother: {<<: *b, j: 1, j: 2}\n",
])
def test_duplicate_keys_are_refused(text: str) -> None:
    with pytest.raises(yaml.YAMLError, match="duplicate key"):
        load_all(text)


def test_merge_keys_and_aliases_still_work() -> None:
    docs = load_all("base: &b {k: 1, v: 2}\nother:\n  <<: *b\n  v: 3\nlist: &l [1, 2]\ncopy: *l\n")
    assert docs[0]["other"] == {"k": 1, "v": 3}
    assert docs[0]["copy"] == [1, 2]


def test_scalars_resolve_like_safe_load() -> None:
    text = "a: 1\nb: 1.5\nc: true\nd: null\ne: '1'\nf: 2020-01-02\ng: 0x10\nh: ~\ni: yes\nj: .inf\n"
    assert load_all(text) == [yaml.safe_load(text)]


def test_reader_error_is_located_without_echoing_input() -> None:
    text = "a: 1\nb: 2\nc: \x07secret\n"
    with pytest.raises(yaml.YAMLError) as info:
        load_all(text)
    line, problem = yaml_error_line(info.value, text)
    assert line == 3
    assert "secret" not in problem and "#x0007" in problem


def test_parser_error_mentions_where_the_collection_started() -> None:
    text = "a: {b: 1\nc: 2\n"
    with pytest.raises(yaml.YAMLError) as info:
        load_all(text)
    line, problem = yaml_error_line(info.value, text)
    assert line == 2
    assert "that starts on line 1" in problem


def test_nesting_line() -> None:
    assert nesting_line("a: 1\nb: " + "[" * 5 + "]" * 5 + "\n", limit=3) == 2
    assert nesting_line("a: [[1]]\n", limit=3) == 0
    assert nesting_line("a: [\n", limit=3) == 0  # broken YAML: no answer, no exception


@pytest.mark.parametrize("text", ["[", "[\n", "a: 1\nb: [\n", "a: 'open\n"])
def test_errors_at_the_end_point_at_the_last_line(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        load_all(text)
    line, problem = yaml_error_line(info.value, text)
    assert line == max(1, len(text.splitlines()))
    assert "at the end of the file" in problem or "end of stream" in problem
    assert "starts on line" not in problem  # libyaml's context mark is past the end too
