"""Hardening of apply and the state store (issue 10, items 2-5 and 13), through the CLI as users meet them.

- recovery adopts only what carries its creation marker, and stops (naming `authctl
  import` and `authctl state settle`) when an old, marker-less intent cannot be proven;
- a delete whose journal intent is written before the reference re-check; a delete the
  platform refuses (guarded) is BLOCKED, and jobs a cascade stopped are reported (exit 3);
- a state store belongs to one workspace (named, or by folder) and one environment;
  `authctl state claim` takes it over on purpose;
- two managed authorizations swapping labels converge through temporary labels.

Interrupted applies are reproduced by writing the journal as a killed apply leaves it (an
intent, no outcome) and making the platform objects it may or may not have made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from apply_support import (
    AUTH,
    JOB,
    PINTEREST_CAPI_VALUES,
    auth_doc,
    documents,
    job_doc,
    open_platform_of,
    open_state_of,
    read_world,
    settings,
)
from reconciler.vocabulary import JournalOp, JournalPhase

ENV = {"HA_ONE": "one-token", "HA_TWO": "two-token"}


def _job_workspace(make_workspace, run_cli, name: str = "hardening") -> Path:  # type: ignore[no-untyped-def]
    root = make_workspace({"main.yaml": documents(auth_doc("one", "First", "HA_ONE"))},
                          settings=settings(name))
    done = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    (root / "main.yaml").write_text(documents(auth_doc("one", "First", "HA_ONE"), job_doc("sync", "one")),
                                    encoding="utf-8")
    return root


def _killed_job_create(root: Path, *, marker: str | None) -> None:
    """The journal a kill -9 leaves right after (or before) the create-job call: an intent, no outcome."""
    detail = {"name": "sync", "workflow": "pinterest-capi-export",
              "applied": {"workflow": "pinterest-capi-export", "authorizations": ["one"], "state": "running"}}
    if marker is not None:
        detail["marker"] = marker
    state = open_state_of(root)
    try:
        state.record("killed-apply", "Job/sync", JournalOp.CREATE_JOB, JournalPhase.INTENT, detail)
    finally:
        state.close()


def _ui_job(root: Path, name: str = "sync", *, marker: str | None = None) -> str:
    """A job made in the platform (by a person in the UI, or by the killed apply when it has the marker)."""
    world = read_world(root)
    platform = open_platform_of(root)
    try:
        return platform.create_job(name=name, workflow="pinterest-capi-export",
                                   auth_ids=[world.managed_ids(AUTH)["one"]], config=PINTEREST_CAPI_VALUES,
                                   owner="someone", marker=marker).id
    finally:
        platform.close()


# -- item 2: recovery adopts by proof only ---------------------------------------------------------
def test_recovery_never_adopts_a_same_named_job_a_person_made(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = _job_workspace(make_workspace, run_cli)
    _killed_job_create(root, marker="authctl-never-reached-the-platform")
    person = _ui_job(root)

    result = run_cli("apply", "--auto-approve", cwd=root, env=ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Job/sync (create-job): was not created" in result.stdout
    world = read_world(root)
    ours = world.managed_ids(JOB)["sync"]
    assert ours != person, "recovery adopted the job a person made"
    assert world.jobs[person].status == "runnable" and world.jobs[person].owner == "someone"
    assert not world.pending


def test_recovery_adopts_the_job_that_carries_its_marker(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = _job_workspace(make_workspace, run_cli)
    _killed_job_create(root, marker="authctl-0123456789abcdef")
    person = _ui_job(root)  # made first: an older id, the one a guess by name would pick
    created = _ui_job(root, marker="authctl-0123456789abcdef")  # what the killed apply made

    result = run_cli("apply", "--auto-approve", cwd=root, env=ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"was created as {created}" in result.stdout
    world = read_world(root)
    assert world.managed_ids(JOB)["sync"] == created
    assert person in world.jobs and person not in world.managed_ids(JOB).values()
    assert len(world.jobs_named("sync")) == 2  # nothing created a third


def test_a_marker_less_intent_with_a_same_named_job_stops_and_says_how_to_settle(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = _job_workspace(make_workspace, run_cli)
    _killed_job_create(root, marker=None)  # journaled by an authctl without creation markers
    person = _ui_job(root)
    before = read_world(root)

    stopped = run_cli("apply", "--auto-approve", cwd=root, env=ENV)

    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "cannot prove it created" in stopped.stderr
    assert f"unmanaged job(s) {person} have its name and workflow" in stopped.stderr
    assert "authctl import Job/sync ID" in stopped.stderr
    assert "authctl state settle Job/sync --not-created" in stopped.stderr
    after = read_world(root)
    assert (after.jobs.keys(), after.managed) == (before.jobs.keys(), before.managed), "something changed"

    shown = run_cli("state", "show", "--format", "json", cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert '"address": "Job/sync"' in shown.stdout

    settled = run_cli("state", "settle", "job/sync", "--not-created", cwd=root)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    applied = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    world = read_world(root)
    assert world.managed_ids(JOB)["sync"] != person
    assert not world.pending


def test_import_settles_an_unprovable_create_as_ours(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = _job_workspace(make_workspace, run_cli)
    _killed_job_create(root, marker=None)
    made = _ui_job(root)

    imported = run_cli("import", "sync", made, cwd=root, env=ENV)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert f"Imported {made} as Job/sync (this settles the interrupted create)" in imported.stdout

    plan = run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    world = read_world(root)
    assert world.managed_ids(JOB)["sync"] == made and not world.pending


def test_import_refuses_what_no_manifest_declares_and_ids_the_platform_lacks(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = _job_workspace(make_workspace, run_cli)
    unknown = run_cli("import", "nope", "x", cwd=root, env=ENV)
    assert unknown.returncode == 1 and "no manifest declares 'nope'" in unknown.stderr
    missing = run_cli("import", "Job/sync", "0" * 32, cwd=root, env=ENV)
    assert missing.returncode == 1 and "no job with id" in missing.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr


# -- item 4: a state store belongs to one workspace --------------------------------------------------
UNNAMED = "backend: {{kind: local, path: {platform}}}\nstate: {{url: {state}}}\n"


def test_an_unnamed_workspace_cannot_use_another_workspaces_state(make_workspace, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = make_workspace({"main.yaml": documents(auth_doc("one", "First", "HA_ONE"))},
                           settings=UNNAMED.format(platform=".authctl/platform.db", state=".authctl/state.db"),
                           name="first")
    assert run_cli("apply", "--auto-approve", cwd=first, env=ENV).returncode == 0
    other = make_workspace({"main.yaml": documents(auth_doc("two", "Second", "HA_TWO"))},
                           settings=UNNAMED.format(platform=first / ".authctl/platform.db",
                                                   state=first / ".authctl/state.db"), name="second")
    before = read_world(first)

    for command in (["plan"], ["apply", "--auto-approve"]):
        refused = run_cli(*command, cwd=other, env=ENV)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"belongs to the unnamed workspace at {first}" in refused.stderr
        assert f"not to the unnamed workspace at {other}" in refused.stderr
        assert "authctl state claim" in refused.stderr
        assert "Traceback" not in refused.stderr
    after = read_world(first)
    assert after.auths.keys() == before.auths.keys() and after.managed == before.managed


def test_named_and_unnamed_workspaces_do_not_share_state_until_claimed(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"main.yaml": documents(auth_doc("one", "First", "HA_ONE"))}, settings=settings("acme"))
    assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
    (root / "authctl.yaml").write_text(settings("acme").replace("name: acme\n", ""), encoding="utf-8")

    refused = run_cli("plan", cwd=root, env=ENV)
    assert refused.returncode == 1
    assert "belongs to workspace 'acme'" in refused.stderr and "unnamed workspace" in refused.stderr

    claimed = run_cli("state", "claim", "--yes", cwd=root)
    assert claimed.returncode == 0, claimed.stdout + claimed.stderr
    assert "now belongs to the unnamed workspace at" in claimed.stdout
    plan = run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    state = open_state_of(root)
    try:
        assert any(e.action == JournalOp.CLAIM for e in state.journal_entries())
    finally:
        state.close()


# -- item 13: environments do not touch each other (a shared store: tests/e2e/test_environment_namespaces.py)
ENVS = """\
name: envs
default_environment: prod
environments:
  prod: {vars: {suffix: prod}}
  staging: {vars: {suffix: staging}%s}
backend: {kind: local, path: .authctl/platform.db}
state: {url: .authctl/state.db}
"""
OWN_STATE = ", backend: {kind: local, path: .authctl/staging-platform.db}, state: {url: .authctl/staging-state.db}"


def _env_manifest() -> str:
    return documents(auth_doc("one", "First {{ suffix }}", "HA_ONE"))


def test_environments_with_their_own_state_and_platform_do_not_touch_each_other(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"main.yaml": _env_manifest()}, settings=ENVS % OWN_STATE)
    assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
    staging = run_cli("apply", "--env", "staging", "--auto-approve", cwd=root, env=ENV)
    assert staging.returncode == 0, staging.stdout + staging.stderr
    assert "1 applied" in staging.stdout
    for env in ("prod", "staging"):
        again = run_cli("plan", "--env", env, "--detailed-exitcode", cwd=root, env=ENV)
        assert again.returncode == 0, again.stdout + again.stderr
    assert read_world(root).auth_by_label("First prod") is not None
    assert (root / ".authctl/staging-state.db").exists() and (root / ".authctl/staging-platform.db").exists()


# -- item 5: swapping labels converges ---------------------------------------------------------------
def test_two_managed_authorizations_swap_labels(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"main.yaml": documents(auth_doc("one", "Alpha", "HA_ONE"),
                                                  auth_doc("two", "Beta", "HA_TWO"))}, settings=settings("swap"))
    assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
    ids = read_world(root).managed_ids(AUTH)
    (root / "main.yaml").write_text(documents(auth_doc("one", "Beta", "HA_ONE"), auth_doc("two", "Alpha", "HA_TWO"),
                                              auth_doc("three", "Gamma", "HA_TWO")), encoding="utf-8")

    swapped = run_cli("apply", "--auto-approve", cwd=root, env=ENV)

    assert swapped.returncode == 0, swapped.stdout + swapped.stderr
    world = read_world(root)
    assert world.managed_ids(AUTH)["one"] == ids["one"] and world.managed_ids(AUTH)["two"] == ids["two"]
    assert (world.auths[ids["one"]].label, world.auths[ids["two"]].label) == ("Beta", "Alpha")
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV).returncode == 0


def test_a_new_authorization_takes_a_label_a_managed_one_gives_up(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"main.yaml": documents(auth_doc("one", "Alpha", "HA_ONE"))}, settings=settings("chain"))
    assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
    (root / "main.yaml").write_text(documents(auth_doc("one", "Beta", "HA_ONE"), auth_doc("two", "Alpha", "HA_TWO")),
                                    encoding="utf-8")
    applied = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    world = read_world(root)
    assert {world.auth_of("one").label, world.auth_of("two").label} == {"Beta", "Alpha"}
    assert world.auth_of("two").label == "Alpha"
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV).returncode == 0


@pytest.mark.parametrize("swap_back", [False, True])
def test_three_labels_rotate(make_workspace, run_cli, swap_back: bool) -> None:  # type: ignore[no-untyped-def]
    labels = ["A", "B", "C"]
    names = ["one", "two", "three"]
    root = make_workspace({"main.yaml": documents(*(auth_doc(n, lbl, "HA_ONE") for n, lbl in zip(names, labels)))},
                          settings=settings("rotate"))
    assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
    rotated = labels[1:] + labels[:1] if not swap_back else labels[::-1]
    (root / "main.yaml").write_text(documents(*(auth_doc(n, lbl, "HA_ONE") for n, lbl in zip(names, rotated))),
                                    encoding="utf-8")
    applied = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    world = read_world(root)
    assert [world.auth_of(n).label for n in names] == rotated
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV).returncode == 0


def test_a_damaged_state_record_is_a_clean_error_naming_it(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    root = make_workspace({"main.yaml": documents(auth_doc("one", "Alpha", "HA_ONE"))}, settings=settings("damaged"))
    assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
    with sqlite3.connect(root / ".authctl/state.db") as db:
        db.execute("UPDATE managed_objects SET fingerprints = '{not json' WHERE name = 'one'")
    for command in ("plan", "status"):
        result = run_cli(command, cwd=root, env=ENV)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "the state store holds a damaged record for 'Authorization'/'one'" in result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_a_lost_platform_key_is_reported_by_plan_which_writes_no_new_one(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"main.yaml": documents(auth_doc("one", "Alpha", "HA_ONE"))}, settings=settings("lostkey"))
    assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
    key = root / ".authctl/platform.db.key"
    key.unlink()
    for command in ("plan", "status"):
        result = run_cli(command, cwd=root, env=ENV)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "platform key file" in result.stderr and "is missing" in result.stderr
        assert not key.exists(), f"{command} wrote a new key file"
