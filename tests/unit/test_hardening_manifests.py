"""Issue 10, below the CLI: discovery, bounded reads, secret references, template budgets,
YAML alias budgets (libyaml and pure-Python loaders) and JSON-only config values.

The CLI-level regressions (exit codes, messages, timing) are in
tests/e2e/test_hardening_manifests_cli.py; these pin the rules of each module.
"""

from __future__ import annotations

import datetime
import errno
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.catalog import load_catalog
from reconciler.discovery import discover
from reconciler.errors import DiagnosticSink, ManifestError, SecretError
from reconciler.file_reads import FileRefused, read_regular_file
from reconciler.manifest import SecretRef, load_desired
from reconciler.manifest.fingerprints import fingerprint_authorization
from reconciler.manifest.redact import redact
from reconciler.manifest.templating import jinja_environment, render
from reconciler.manifest.values import json_value
from reconciler.workspace import MANIFEST_SUFFIXES, SKIPPED_DIRS, load_workspace
from reconciler.yaml_with_lines import PureStrictLoader, StrictLoader, load_documents, yaml_error_line

CATALOG = load_catalog()
TOKEN = "EAABs3cr3tCanary91"
AUTH = """\
apiVersion: authctl/v1
kind: Authorization
metadata: {name: NAME}
spec:
  provider: facebook
  method: system_user
  label: NAME
  config: {ads_account_id: act_1234567890}
  credentials: {access_token: {env: FB_TOKEN}}
"""


def auth(name: str) -> str:
    return AUTH.replace("NAME", name)


def found(root: Path) -> list[str]:
    result = discover(root, suffixes=MANIFEST_SUFFIXES, skipped_names=SKIPPED_DIRS, excluded_files=("authctl.yaml",))
    assert not result.problems, result.problems
    return [p.relative_to(root).as_posix() for p in result.files]


# -- 1. discovery --------------------------------------------------------------------------------

def test_unreadable_folder_is_reported_by_load_desired(make_workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_workspace({"a.yaml": auth("fb-a"), "team-b/b.yaml": auth("fb-b")})
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if str(path).endswith("team-b"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(ManifestError) as info:
        load_desired(load_workspace(root), CATALOG)
    messages = [d.format() for d in info.value.diagnostics]
    assert any(m.startswith("team-b: cannot read folder: permission denied") for m in messages), messages


def test_unreadable_entry_and_manifest_files_raise(make_workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_workspace({"a.yaml": auth("fb-a")})
    (root / "gone").symlink_to(root / "nowhere")
    workspace = load_workspace(root)
    problems = workspace.discover_manifests().problems
    assert [(p.display, p.rule) for p in problems] == [("gone", "unreadable-entry")]
    with pytest.raises(Exception, match="gone: cannot read symbolic link: its target does not exist"):
        workspace.manifest_files()


def test_real_paths_win_over_linked_ones_and_each_file_is_listed_once(tmp_path: Path) -> None:
    (tmp_path / "z" / "inner").mkdir(parents=True)
    (tmp_path / "z" / "x.yaml").write_text("")
    (tmp_path / "z" / "inner" / "y.yml").write_text("")
    (tmp_path / "a").symlink_to("z")  # sorts first, but is a link
    (tmp_path / "z" / "inner" / "up").symlink_to("..")  # a loop
    (tmp_path / "b.yaml").symlink_to("z/x.yaml")
    (tmp_path / "z" / "inner" / "again.yaml").symlink_to("../x.yaml")
    assert found(tmp_path) == ["z/inner/y.yml", "z/x.yaml"]


def test_files_are_ordered_by_relative_path_text_as_before(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a.b").mkdir()
    (tmp_path / "a" / "b.yaml").write_text("")
    (tmp_path / "a.b" / "c.yaml").write_text("")
    assert found(tmp_path) == ["a.b/c.yaml", "a/b.yaml"]


def test_special_files_are_problems_and_never_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    os.mkfifo(tmp_path / "pipe.txt")  # not named like a manifest: not looked at
    (tmp_path / "zero.yml").symlink_to("/dev/zero")
    opened: list[str] = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    result = discover(tmp_path, suffixes=MANIFEST_SUFFIXES, skipped_names=SKIPPED_DIRS)
    assert [(p.display, p.message.split(";")[0]) for p in result.problems] == [
        ("pipe.yaml", "is a FIFO (named pipe), not a regular file"),
        ("zero.yml", "is a character device, not a regular file")]
    assert opened == [] and result.files == []


def test_entry_budget_is_a_problem(tmp_path: Path) -> None:
    for n in range(5):
        (tmp_path / f"{n}.yaml").write_text("")
    result = discover(tmp_path, suffixes=MANIFEST_SUFFIXES, skipped_names=SKIPPED_DIRS, max_entries=3)
    assert [p.rule for p in result.problems] == ["too-many-entries"]


_NAMES = ["a", "b", "c.yaml", "d.yml", "e.txt", "f.yaml"]


@st.composite
def trees(draw: st.DrawFn) -> list[tuple[str, int, str, int]]:
    """Operations building a tree: (kind, parent folder index, name, target index)."""
    operations = []
    for _ in range(draw(st.integers(1, 14))):
        operations.append((draw(st.sampled_from(["dir", "file", "file", "link-dir", "link-file"])),
                           draw(st.integers(0, 50)), draw(st.sampled_from(_NAMES)), draw(st.integers(0, 50))))
    return operations


def _build(root: Path, operations: list[tuple[str, int, str, int]]) -> None:
    folders, files = [root], []
    for kind, parent_index, name, target_index in operations:
        parent = folders[parent_index % len(folders)]
        path = parent / name
        if os.path.lexists(path):
            continue
        if kind == "dir":
            path.mkdir()
            folders.append(path)
        elif kind == "file":
            path.write_text("")
            files.append(path)
        elif kind == "link-dir":
            path.symlink_to(os.path.relpath(folders[target_index % len(folders)], parent), target_is_directory=True)
        elif files:
            path.symlink_to(os.path.relpath(files[target_index % len(files)], parent))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_discovery_finds_what_find_follows(operations: list[tuple[str, int, str, int]]) -> None:
    """Property: the files discovery lists are the regular *.yaml/*.yml files `find -L` reaches,
    each once (compared by real path, since find lists a file once per path to it)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder).resolve()
        _build(root, operations)
        listed = subprocess.run(["find", "-L", str(root), "-type", "f", "(", "-name", "*.yaml", "-o",
                                 "-name", "*.yml", ")", "-print0"], capture_output=True, check=False)
        expected = {os.path.realpath(p) for p in listed.stdout.decode().split("\0") if p}
        result = discover(root, suffixes=MANIFEST_SUFFIXES, skipped_names=SKIPPED_DIRS)
        assert not result.problems
        reals = [os.path.realpath(p) for p in result.files]
        assert len(reals) == len(set(reals)), "a file listed twice"
        assert set(reals) == expected


# -- bounded reads -------------------------------------------------------------------------------

def test_bounded_read_never_blocks_nor_reads_past_the_cap(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    started = time.monotonic()
    with pytest.raises(FileRefused, match="is a FIFO"):
        read_regular_file(tmp_path / "pipe", 10)
    assert time.monotonic() - started < 5
    with pytest.raises(FileRefused, match="is a character device"):
        read_regular_file("/dev/zero", 10)
    (tmp_path / "big").write_bytes(b"x" * 11)
    with pytest.raises(FileRefused) as info:
        read_regular_file(tmp_path / "big", 10)
    assert info.value.too_large and info.value.size == 11
    assert read_regular_file(tmp_path / "big", 11) == b"x" * 11
    if os.path.exists("/proc/self/status"):  # procfs says size 0: only reading tells
        with pytest.raises(FileRefused) as info:
            read_regular_file("/proc/self/status", 10)
        assert info.value.too_large and info.value.size is None


# -- 2. secret files -----------------------------------------------------------------------------

def test_file_reference_swapped_for_a_link_out_after_validation_is_refused_when_read(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "secrets").mkdir(parents=True)
    (tmp_path / "outside").write_text(TOKEN)
    (root / "secrets" / "k").write_text("inside")
    ref = SecretRef("file", "secrets/k")
    assert ref.resolve(root).reveal() == "inside"
    (root / "secrets" / "k").unlink()
    (root / "secrets" / "k").symlink_to(tmp_path / "outside")
    with pytest.raises(SecretError) as info:
        ref.resolve(root)
    assert "leads outside the workspace" in info.value.message and TOKEN not in info.value.message
    for name in ("/proc/self/environ", "../outside", "/etc/hostname"):
        with pytest.raises(SecretError, match="path not shown"):
            SecretRef("file", name).resolve(root)
    allowed = SecretRef("file", str(tmp_path / "outside"), (str(tmp_path),))
    assert allowed.resolve(root).reveal() == TOKEN


def test_fingerprint_reports_why_a_secret_file_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "huge").write_bytes(b"x" * (300 * 1024))
    status = fingerprint_authorization(_desired({"token": SecretRef("file", "huge")}), b"k", tmp_path, {})
    assert "limited to 256 KiB" in status.credentials["token"].unavailable


def _desired(credentials: dict[str, SecretRef]):  # type: ignore[no-untyped-def]
    from reconciler.manifest.model import DesiredAuthorization, SourceLocation

    return DesiredAuthorization(name="a", provider="p", method="m", label="l", description="", config={},
                                credentials=credentials, source=SourceLocation("m.yaml", 1))


# -- 4. non-UTF-8 environment values -------------------------------------------------------------

def test_non_utf8_environment_value_is_a_secret_error_naming_the_variable(tmp_path: Path) -> None:
    environ = {"FB_TOKEN": b"\xff\xfe".decode("utf-8", "surrogateescape")}
    with pytest.raises(SecretError, match="environment variable FB_TOKEN holds bytes that are not UTF-8"):
        SecretRef("env", "FB_TOKEN").resolve(tmp_path, environ)
    status = fingerprint_authorization(_desired({"access_token": SecretRef("env", "FB_TOKEN")}), b"k", tmp_path,
                                       environ)
    assert "not UTF-8" in status.credentials["access_token"].unavailable


# -- 3. redaction --------------------------------------------------------------------------------

def test_errors_on_secret_lines_quote_nothing_and_long_pieces_are_left_out() -> None:
    text = f'label: "{{{{ x }}}}"\ncredentials: {{access_token: {{env: "{{{{ y {TOKEN} }}}}"}}}}\n'
    sink = DiagnosticSink()
    sink.error(f"template error: expected token 'end of print statement', got '{TOKEN}'", file="m.yaml", line=2)
    sink.error("invalid YAML: duplicate key 'access_token'", file="m.yaml", line=2)
    sink.error(f"template error: '{'t' * 80}' is undefined", file="m.yaml", line=1)
    redact(sink.items, text, frozenset({"access_token"}), "template error")
    assert [d.message for d in sink.items] == [
        "template error on a line with the secret field access_token; the details are not shown because "
        "they would quote that line",
        "invalid YAML: duplicate key 'access_token'",
        "template error: '(a long piece, not shown)' is undefined"]


# -- 5. bounded templates ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "more than 1,000,000"),
    ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}", "more than 1,000,000"),
    ("{{ '%999999999s'|format('x') }}", "a formatted value would be larger than 4 MiB"),
    ("{{ '%.999999999f' % 1.5 }}", "a formatted value would be larger than 4 MiB"),
    ("{{ '%*s' % (999999999, 'x') }}", "'*' widths are not allowed"),
    ("{{ '{:>999999999}'.format('x') }}", "a formatted value would be larger than 4 MiB"),
    ("{{ '{:>{w}}'.format('x', w=999999999) }}", "nested fields"),
    ("{{ 'x' * 999999999 }}", "a repeated value"),
    ("{{ 10 ** 999999 }}", "a number"),
    ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     "a joined value (~)"),
    ("{{ 'x'|center(999999999) }}", "a padded value"),
    ("{{ 'x'.ljust(999999999) }}", "a padded value"),
    ("{{ ('a' * 1000000)|replace('', 'bbbbbbbbbb') }}", "after replace"),
    ("{{ range(100000)|join('x' * 100000) }}", "a joined value"),
    ("{{ range(3)|slice(999999999)|list }}", "slice: at most 100,000 items"),
    ("{% for i in range(100000) %}" + "x" * 1000 + "{% endfor %}", "rendered file would be larger than 16 MiB"),
    ("{% set a = ['xxxxxxxxxx'] %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b,b,b] %}"
     "{% set d = [c,c,c,c,c,c,c,c,c,c] %}{% set e = [d,d,d,d,d,d,d,d,d,d] %}{% set f = [e,e,e,e,e,e,e,e,e,e] %}"
     "{% set g = [f,f,f,f,f,f,f,f,f,f] %}{{ g }}", "the text of a value"),
    ("{{ lipsum(999999999) }}", "'lipsum' is undefined"),
])
def test_template_budgets(text: str, message: str) -> None:
    sink = DiagnosticSink()
    assert render(jinja_environment(), text, "t.yaml", {}, sink) is None  # a budget ran out (pytest-timeout: no hang)
    assert [d.file for d in sink.items] == ["t.yaml"] and message in sink.items[0].message, sink.items


def test_ordinary_templates_render_as_before() -> None:
    text = ("{% for i in range(3) %}- {{ '%03d'|format(i) }} {{ '{:>4}'.format(i) }} {{ 'ab' * 2 }}"
            " {{ [i, i]|join(',') }} {{ 'x'|center(5) }}|{{ ('a' ~ i)|upper }}\n{% endfor %}{{ 2 ** 10 }}")
    sink = DiagnosticSink()
    assert render(jinja_environment(), text, "t.yaml", {}, sink) == (
        "- 000    0 abab 0,0   x  |A0\n- 001    1 abab 1,1   x  |A1\n- 002    2 abab 2,2   x  |A2\n1024")
    assert sink.items == []


# -- 5. YAML alias budget and constructor errors, on both loaders -------------------------------

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))

# The same through merge keys, which PyYAML's own constructor builds (not the fast path).
MERGED_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} {{<<: {{k: 1}}, v: [{', '.join(['*' + chr(97 + i)] * 10)}]}}\n" for i in range(8))


@pytest.mark.parametrize("loader", [StrictLoader, PureStrictLoader], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(("text", "line", "problem"), [
    (LAUGHS, 6, "aliases expand this file to more than 1,000,000 values"),
    (MERGED_LAUGHS, 6, "aliases expand this file to more than 1,000,000 values"),
    ("a: &a [*a]\n", 1, "refers to a collection that contains it"),
    ("a: &a {x: *a}\n", 1, "refers to a collection that contains it"),
    (f"a: !{TOKEN} x\n", 1, "unknown YAML tag"),
    (f"a: !!int {TOKEN}\n", 1, "not valid as an integer"),
    (f"a: !!float {TOKEN}\n", 1, "not valid as a number"),
    (f"a: !!bool {TOKEN}\n", 1, "not valid as a boolean"),
    (f"a: !!timestamp {TOKEN}\n", 1, "not valid as a date or timestamp"),
    ("a: 2024-02-30\n", 1, "not valid as a date or timestamp"),
    (f"a: !!set [{TOKEN}]\n", 1, "not valid as the type its tag names"),
    (f"a: *{TOKEN}\n", 1, "found undefined alias"),
])
def test_yaml_bounds_and_errors_without_the_value(loader: type, text: str, line: int, problem: str) -> None:
    started = time.monotonic()
    with pytest.raises(yaml.YAMLError) as info:
        load_documents(text, loader)
    assert time.monotonic() - started < 5
    got_line, got_problem = yaml_error_line(info.value, text)
    assert (got_line, problem in got_problem) == (line, True), got_problem
    assert TOKEN not in got_problem


@pytest.mark.parametrize("loader", [StrictLoader, PureStrictLoader], ids=["libyaml", "pure-python"])
def test_ordinary_aliases_and_merge_keys_still_load(loader: type) -> None:
    text = "base: &b {x: 1, y: [1, 2]}\nuse: {<<: *b, z: 3}\nboth: [*b, *b]\n"
    [(data, _)] = load_documents(text, loader)
    assert data == {"base": {"x": 1, "y": [1, 2]}, "use": {"x": 1, "y": [1, 2], "z": 3},
                    "both": [{"x": 1, "y": [1, 2]}, {"x": 1, "y": [1, 2]}]}


# -- 6. JSON values ------------------------------------------------------------------------------

def test_json_values_dates_become_text_and_the_rest_is_refused() -> None:
    problems: list[tuple[tuple[object, ...], str]] = []
    value = {"d": datetime.date(2024, 1, 31), "t": datetime.datetime(2024, 1, 31, 10, tzinfo=datetime.UTC),
             "ok": [1, "a", True, None, 1.5, {"k": "v"}], "b": b"x", "s": {1, 2}, "o": [("a", 1)],
             "n": float("nan"), "keys": {1: "x", "fine": "y"}}
    result = json_value(value, ("spec", "config"), problems)
    assert result["d"] == "2024-01-31" and result["t"] == "2024-01-31T10:00:00+00:00"
    assert result["ok"] == [1, "a", True, None, 1.5, {"k": "v"}] and result["keys"] == {"fine": "y"}
    assert sorted((".".join(map(str, path)), message.split(" ")[0]) for path, message in problems) == [
        ("spec.config.b", "binary"), ("spec.config.keys", "a"), ("spec.config.n", "not"),
        ("spec.config.o.0", "an"), ("spec.config.s", "a")]

