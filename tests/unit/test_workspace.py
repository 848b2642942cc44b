"""Workspace discovery and authctl.yaml settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import WorkspaceError
from reconciler.workspace import load_workspace


def test_manifest_files_are_found_recursively_and_sorted(make_workspace) -> None:
    root = make_workspace({
        "b.yaml": "", "a/z.yml": "", "a/b/c.yaml": "", "notes.txt": "", ".hidden.yaml": "",
        ".git/x.yaml": "", ".venv/lib/x.yaml": "", "venv/x.yaml": "", "node_modules/x.yaml": "",
        "__pycache__/x.yaml": "", "sub/authctl.yaml": "", "providers/acme.yaml": "",
        "more/vendor/v.yaml": "",
    }, settings="providers: [providers, ./more/vendor/]\n")
    ws = load_workspace(root)
    found = [ws.display_path(p) for p in ws.manifest_files()]
    assert found == ["a/b/c.yaml", "a/z.yml", "b.yaml", "sub/authctl.yaml"]


def test_environment_selection_and_template_vars(make_workspace) -> None:
    settings = ("default_environment: prod\nvars: {team: growth, region: us}\n"
                "environments:\n  prod: {vars: {region: eu}}\n  staging: {}\n")
    root = make_workspace({}, settings=settings)
    prod = load_workspace(root)
    assert prod.environment == "prod"
    assert prod.template_vars() == {"team": "growth", "region": "eu", "env": "prod"}
    staging = load_workspace(root, "staging")
    assert staging.template_vars() == {"team": "growth", "region": "us", "env": "staging"}
    with pytest.raises(WorkspaceError, match=r"unknown environment 'qa' \(environments: prod, staging\)"):
        load_workspace(root, "qa")


def test_empty_settings_file_is_fine(make_workspace) -> None:
    ws = load_workspace(make_workspace({}, settings=""))
    assert ws.environment is None
    assert ws.template_vars() == {"env": None}
    assert ws.settings.backend.kind == "local"


def test_paths_and_urls_resolve_under_the_root(make_workspace) -> None:
    ws = load_workspace(make_workspace({}))
    assert ws.resolve_url(".authctl/state.db") == f"sqlite:///{ws.root}/.authctl/state.db"
    assert ws.resolve_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert ws.resolve_path("/abs/x") == Path("/abs/x")
    assert ws.display_path(ws.root / "a" / "b.yaml") == "a/b.yaml"
    assert ws.display_path(Path("/elsewhere/x.yaml")) == "/elsewhere/x.yaml"


@pytest.mark.parametrize(("settings", "expected"), [
    ("backend:\n  kind: cloud\n", "authctl.yaml:2: backend.kind: Input should be 'local' or 'lytics'"),
    ("name: x\nbakend: {}\n", 'authctl.yaml:2: bakend: unknown field "bakend"; did you mean "backend"?'),
    ("environments:\n  prod:\n    varz: {}\n",
     'authctl.yaml:3: environments.prod.varz: unknown field "varz"; did you mean "vars"?'),
    ("policy: {expiry_warning_days: -1}\n",
     "authctl.yaml:1: policy.expiry_warning_days: must be a number of days from 0 to 3650 (ten years), not -1"),
    ("- a\n", "authctl.yaml:1: expected a mapping of settings"),
    ("a: 1\na: 2\n", "authctl.yaml:2: invalid YAML: duplicate key 'a'"),
    ("a: [\n", "authctl.yaml:1: invalid YAML: did not find expected node content at the end of the file"),
    ("version: 2\n", "authctl.yaml:1: version: Input should be 1"),
    ("a: \x01\n", "authctl.yaml:1: invalid YAML: character #x0001 is not allowed"),
])
def test_settings_errors_name_line_and_field(make_workspace, settings: str, expected: str) -> None:
    root = make_workspace({}, settings=settings)
    with pytest.raises(WorkspaceError) as info:
        load_workspace(root)
    assert expected in str(info.value)


def test_settings_not_utf8(make_workspace) -> None:
    root = make_workspace({"authctl.yaml": b"name: x\n# caf\xe9\n"}, settings=None)
    with pytest.raises(WorkspaceError, match=r"authctl.yaml:2: not UTF-8 text \(invalid byte 0xe9\)"):
        load_workspace(root)


def test_missing_folder_and_missing_settings(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="workspace folder not found"):
        load_workspace(tmp_path / "nope")
    with pytest.raises(WorkspaceError) as info:
        load_workspace(tmp_path)
    assert "authctl.yaml not found" in str(info.value)
    assert "--workspace" in info.value.hint
