"""Environments that cannot hurt each other, through the real CLI.

Here prod and staging share one state store *and* one platform, the setup in which
`--env staging` used to plan against prod's records (and replace prod's objects). Each
environment now has a namespace of its own in the store: what one manages is unmanaged
to the other, so it is never updated, replaced or deleted by the other's runs.
(Environments with their own store and platform: examples/multi-env and
tests/e2e/test_hardening_apply.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

from apply_support import AUTH, auth_doc, documents, job_doc, open_platform_of

from reconciler.state.store import StateStore
from reconciler.workspace import load_workspace

SHARED = """\
name: envs
environments:
  prod: {vars: {suffix: prod, account: "111111"}}
  staging: {vars: {suffix: staging, account: "222222"}}
backend: {kind: local, path: .authctl/platform.db}
state: {url: .authctl/state.db}
"""
ENV = {"NS_TOKEN": "namespaces-token"}


def _manifests(*names: str) -> str:
    docs = [auth_doc(name, f"{name} {{{{ suffix }}}}", "NS_TOKEN", account="{{ account }}") for name in names]
    return documents(*docs, job_doc("sync", names[0]))


def _managed(root: Path, environment: str) -> dict[tuple[str, str], str]:
    workspace = load_workspace(root, environment)
    state = StateStore.open(workspace.resolve_url(workspace.state.url), workspace=workspace.identity())
    try:
        return {key: obj.live_id for key, obj in state.managed().items()}
    finally:
        state.close()


def _live_labels(root: Path) -> dict[str, str]:
    platform = open_platform_of(root)
    try:
        return {a.id: a.label for a in platform.list_authorizations()}
    finally:
        platform.close()


def test_environments_sharing_one_store_and_platform_never_touch_each_others_objects(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"main.yaml": _manifests("one", "two")}, settings=SHARED)
    applied = run_cli("apply", "--env", "prod", "--auto-approve", cwd=root, env=ENV)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    prod = _managed(root, "prod")
    assert len(prod) == 3

    planned = run_cli("plan", "--env", "staging", "--format", "json", cwd=root, env=ENV)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["summary"]["create"] == 3, plan["summary"]
    assert all(plan["summary"][kind] == 0 for kind in ("update", "replace", "delete")), plan["summary"]

    # Importing prod's object into staging would let staging's plans replace or delete it.
    taken = run_cli("import", "Authorization/one", prod[(AUTH, "one")], "--env", "staging", cwd=root, env=ENV)
    assert taken.returncode == 1, taken.stdout + taken.stderr
    assert f"{prod[(AUTH, 'one')]} is already managed as Authorization/one in namespace 'prod'" in taken.stderr
    assert _managed(root, "staging") == {}

    assert run_cli("apply", "--env", "staging", "--auto-approve", cwd=root, env=ENV).returncode == 0
    for env in ("prod", "staging"):
        again = run_cli("plan", "--env", env, "--detailed-exitcode", cwd=root, env=ENV)
        assert again.returncode == 0, f"{env}:\n{again.stdout}{again.stderr}"
    staging = _managed(root, "staging")
    assert set(staging) == set(prod) and not set(staging.values()) & set(prod.values())

    # staging drops "two": only staging's is deleted; prod's, same manifest name, stays live and managed.
    (root / "main.yaml").write_text(_manifests("one"), encoding="utf-8")
    dropped = run_cli("apply", "--env", "staging", "--auto-approve", cwd=root, env=ENV)
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    labels = _live_labels(root)
    assert staging[(AUTH, "two")] not in labels
    assert {labels[prod[(AUTH, "one")]], labels[prod[(AUTH, "two")]]} == {"one prod", "two prod"}
    assert _managed(root, "prod") == prod

    shown = run_cli("state", "show", "--env", "staging", "--format", "json", cwd=root)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["namespace"], data["environment"]) == ("staging", "staging")
    assert data["managed"] == ["Authorization/one", "Job/sync"]
    assert [(n["namespace"], n["managed"]) for n in data["other_namespaces"]] == [("prod", 3)]


def test_an_unknown_environment_names_the_file_the_line_and_the_known_ones(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"main.yaml": _manifests("one")}, settings="# team settings\n" + SHARED)
    result = run_cli("apply", "--env", "stagin", "--auto-approve", cwd=root, env=ENV)
    assert result.returncode == 1
    assert ("Error: authctl.yaml:3: environments: unknown environment 'stagin' (environments: prod, staging); "
            'did you mean "staging"?') in result.stderr
    assert "Traceback" not in result.stderr and not (root / ".authctl").exists(), "something was created"

    (root / "authctl.yaml").write_text(SHARED + "default_environment: qa\n", encoding="utf-8")
    result = run_cli("plan", cwd=root, env=ENV)
    assert result.returncode == 1
    assert ("Error: authctl.yaml:7: default_environment: unknown environment 'qa' (environments: prod, staging)"
            in result.stderr)
