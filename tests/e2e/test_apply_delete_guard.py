"""The delete guard under races: a job started outside the manifests saves its authorization.

Whatever the platform itself would do (``guarded`` refuses such deletes, ``cascade``
behaves like Lytics and stops the jobs), authctl must not delete an authorization an
active job uses: not from a saved plan made before the job started, not from a fresh
plan, and not when the job starts *during* the apply, after the plan was checked (the
apply is frozen with SIGSTOP at that moment to make the race deterministic).

Every test runs on both backends (backend_modes): the embedded platform (``local``) and
the same platform served over HTTP to the ``lytics`` backend (``http``). Jobs "started in
the UI" are started with ``authctl platform jobs create`` through the configured backend,
with the config fields the served platform requires of the workflow.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from apply_support import (
    AUTH,
    DEPOSED,
    JOB,
    PINTEREST_CAPI_VALUES,
    assert_no_duplicates,
    assert_state_consistent,
    auth_doc,
    documents,
    freeze,
    job_doc,
    read_world,
    settings,
    start_cli,
    thaw,
)
from backend_modes import BACKENDS, use_backend

ENV = {"DG_KEEP": "keep-token", "DG_GONE": "gone-token"}
GONE_LABEL = "Going away"
MODES = ["guarded", "cascade"]


def _manifests(with_gone: bool, extra_jobs: int = 0) -> str:
    docs = [auth_doc("keep", "Staying", "DG_KEEP"), job_doc("keep-job", "keep")]
    if with_gone:
        docs += [auth_doc("gone", GONE_LABEL, "DG_GONE"), job_doc("gone-job", "gone")]
        docs += [job_doc(f"gone-extra-{i:02d}", "gone") for i in range(extra_jobs)]
    return documents(*docs)


def _setup(run_cli, root: Path, extra_jobs: int = 0) -> str:
    """Apply keep + gone (with its jobs), then remove gone from the manifests. Returns gone's id."""
    (root / "main.yaml").write_text(_manifests(True, extra_jobs), encoding="utf-8")
    first = run_cli("apply", "--auto-approve", "--parallelism", "8", cwd=root, env=ENV)
    assert first.returncode == 0, first.stdout + first.stderr
    gone_id = read_world(root).managed_ids(AUTH)["gone"]
    (root / "main.yaml").write_text(_manifests(False), encoding="utf-8")
    return gone_id


def _workspace(make_workspace, mode: str = "guarded") -> Path:
    return make_workspace({}, settings=settings(f"guard-{mode}", mode))


def _start_outside_job(run_cli, root: Path, auth: str, name: str = "started-in-the-ui") -> str:
    """Someone starts a job on the authorization (name, id or label) in the platform UI; returns its id."""
    config = [arg for key, value in PINTEREST_CAPI_VALUES.items() for arg in ("--config", f"{key}={json.dumps(value)}")]
    started = run_cli("platform", "jobs", "create", "--name", name, "--workflow", "pinterest-capi-export",
                      "--auth", auth, *config, cwd=root)
    assert started.returncode == 0, started.stdout + started.stderr
    return started.stdout.strip()


def _assert_saved(root: Path, gone_id: str, outside_job: str) -> None:
    world = read_world(root)
    assert gone_id in world.auths, "the authorization in use was deleted"
    job = world.jobs.get(outside_job)
    assert job is not None and job.status == "runnable", f"the outside job was stopped: {job}"
    assert job.auth_ids == (gone_id,)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
def test_saved_plan_then_a_job_starts_the_plan_is_refused_and_the_authorization_stays(
        make_workspace, run_cli, mode: str, backend: str) -> None:
    root = _workspace(make_workspace, mode)
    with use_backend(root, backend, mode):
        gone_id = _setup(run_cli, root)
        planned = run_cli("plan", "-o", "plan.json", cwd=root, env=ENV)
        assert planned.returncode == 0, planned.stdout + planned.stderr  # not blocked: its only job goes too
        assert "Authorization/gone will be deleted" in planned.stdout and "BLOCKED" not in planned.stdout

        outside_job = _start_outside_job(run_cli, root, GONE_LABEL)

        result = run_cli("apply", "plan.json", cwd=root, env=ENV, input="")
        assert result.returncode in (1, 3), result.stdout + result.stderr
        if result.returncode == 1:  # refused as stale: names the authorization
            assert "Authorization/gone" in result.stderr and "blocked" in result.stderr
        else:
            assert "BLOCKED" in result.stdout
        _assert_saved(root, gone_id, outside_job)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
def test_fresh_plan_sees_the_job_and_blocks_the_delete(make_workspace, run_cli, mode: str, backend: str) -> None:
    root = _workspace(make_workspace, mode)
    with use_backend(root, backend, mode):
        _fresh_plan_blocks(run_cli, root)


def _fresh_plan_blocks(run_cli, root: Path) -> None:
    gone_id = _setup(run_cli, root)
    outside_job = _start_outside_job(run_cli, root, gone_id)

    result = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert result.returncode == 3, result.stdout + result.stderr
    assert re.search(r"delete Authorization/gone \.\.\. BLOCKED.*started-in-the-ui", result.stdout)
    assert "Exit code 3" in result.stdout
    assert "delete Job/gone-job ... ok" in result.stdout  # the managed job went; independent work goes on
    _assert_saved(root, gone_id, outside_job)
    world = read_world(root)
    assert set(world.managed_ids(JOB)) == {"keep-job"}
    assert world.managed_ids(AUTH) == {"keep": world.managed_ids(AUTH)["keep"], "gone": gone_id}

    plan = run_cli("plan", cwd=root, env=ENV)
    assert plan.returncode == 3 and "BLOCKED" in plan.stdout and "started-in-the-ui" in plan.stdout


# Every mode x plan kind on the embedded platform; over HTTP two of them (one per mode, one per plan
# kind), which cover the same code paths in the client and the served platform at half the suite time.
RACES = [pytest.param(mode, saved, "local", id=f"{mode}-{'saved' if saved else 'fresh'}-plan-local")
         for mode in MODES for saved in (False, True)]
RACES += [pytest.param("guarded", True, "http", id="guarded-saved-plan-http"),
          pytest.param("cascade", False, "http", id="cascade-fresh-plan-http")]


@pytest.mark.parametrize(("mode", "saved_plan", "backend"), RACES)
def test_a_job_started_during_the_apply_is_seen_right_before_the_delete(
        make_workspace, run_cli, mode: str, saved_plan: bool, backend: str) -> None:
    """The plan (and its check) said "delete"; the job starts after that, while jobs are retired."""
    root = _workspace(make_workspace, mode)
    with use_backend(root, backend, mode):
        _job_started_during_the_apply(run_cli, root, saved_plan)


def _job_started_during_the_apply(run_cli, root: Path, saved_plan: bool) -> None:
    gone_id = _setup(run_cli, root, extra_jobs=150)
    args = ["apply", "--parallelism", "1"]
    if saved_plan:
        assert run_cli("plan", "-o", "plan.json", cwd=root, env=ENV).returncode == 0
        args.append("plan.json")
    else:
        args.append("--auto-approve")
    apply = start_cli(*args, cwd=root, env=ENV)
    assert apply.wait_for_output("delete Job/", timeout=120), apply.output()
    freeze(apply, root)
    try:
        # Phase by phase: the authorization's delete starts only after every job delete was reported.
        assert apply.stdout().count("] delete Job/") < 151, "too late: the apply may have reached the delete"
        outside_job = _start_outside_job(run_cli, root, gone_id)
    finally:
        thaw(apply)
    assert apply.wait() == 3, apply.output()
    out = apply.stdout()
    assert re.search(r"delete Authorization/gone \.\.\. BLOCKED: not deleted: still used by job "
                     r"started-in-the-ui \(\w+, running\)", out), out
    _assert_saved(root, gone_id, outside_job)
    world = read_world(root)
    assert gone_id == world.managed_ids(AUTH)["gone"], "state must keep managing the authorization it did not delete"
    assert set(world.managed_ids(JOB)) == {"keep-job"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_replace_blocked_by_an_outside_job_keeps_the_old_one_until_the_job_stops(
        make_workspace, run_cli, backend: str) -> None:
    docs = documents(auth_doc("rot", "Rotating", "DG_ROT"), job_doc("rot-job", "rot"),
                     auth_doc("keep", "Staying", "DG_KEEP"), job_doc("keep-job", "keep"))
    root = make_workspace({"main.yaml": docs}, settings=settings("replace-blocked"))
    with use_backend(root, backend):
        _replace_blocked(run_cli, root)


def _replace_blocked(run_cli, root: Path) -> None:
    env = {"DG_KEEP": "keep-token", "DG_ROT": "v1"}
    assert run_cli("apply", "--auto-approve", cwd=root, env=env).returncode == 0
    old_id = read_world(root).managed_ids(AUTH)["rot"]
    outside_job = _start_outside_job(run_cli, root, old_id, name="manual-export")

    env["DG_ROT"] = "v2"  # rotate the secret: a replace
    plan = run_cli("plan", cwd=root, env=env)
    assert plan.returncode == 3 and "replaced" in plan.stdout and "manual-export" in plan.stdout
    result = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    world = read_world(root, with_secrets=True)
    new_id = world.managed_ids(AUTH)["rot"]
    assert new_id != old_id
    assert world.managed[(DEPOSED, old_id)].live_id == old_id  # remembered: deleted once it is free
    assert world.auths[old_id].label == "Rotating"  # the old one stays, untouched
    assert world.auths[new_id].label.startswith("Rotating (replacing ")  # labels are unique: temporary
    assert world.secrets[new_id]["credentials"] == {"token": "v2"}
    assert world.job_of("rot-job").auth_ids == (new_id,), "the managed job was not moved"
    assert world.job_of("rot-job").status == "runnable", "the managed job was stopped"
    assert world.jobs[outside_job].auth_ids == (old_id,) and world.jobs[outside_job].status == "runnable"
    assert_no_duplicates(world)

    again = run_cli("apply", "--auto-approve", cwd=root, env=env)  # nothing changed: still blocked
    assert again.returncode == 3
    assert read_world(root).managed_ids(AUTH)["rot"] == new_id

    stopped = run_cli("platform", "jobs", "set-status", outside_job, "completed", cwd=root)
    assert stopped.returncode == 0, stopped.stderr
    final = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    world = read_world(root)
    assert old_id not in world.auths
    assert world.auth_of("rot").id == new_id and world.auth_of("rot").label == "Rotating"
    assert_state_consistent(world)
    plan = run_cli("plan", "--detailed-exitcode", cwd=root, env=env)
    assert plan.returncode == 0, plan.stdout
    assert "No changes" in plan.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotating_again_while_the_old_one_is_still_blocked_converges(make_workspace, run_cli, backend: str) -> None:
    """Two rotations while the first replace waits: the temporary labels must not clash."""
    root = make_workspace({"main.yaml": documents(auth_doc("rot", "Rotating", "DG_ROT"), job_doc("rot-job", "rot"))},
                          settings=settings("double-rotation"))
    with use_backend(root, backend):
        _rotating_twice(run_cli, root)


def _rotating_twice(run_cli, root: Path) -> None:
    env = {"DG_ROT": "v1"}
    assert run_cli("apply", "--auto-approve", cwd=root, env=env).returncode == 0
    old_id = read_world(root).managed_ids(AUTH)["rot"]
    outside_job = _start_outside_job(run_cli, root, old_id)

    env["DG_ROT"] = "v2"
    assert run_cli("apply", "--auto-approve", cwd=root, env=env).returncode == 3
    second_id = read_world(root).managed_ids(AUTH)["rot"]

    env["DG_ROT"] = "v3"
    result = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert result.returncode == 3, result.stdout + result.stderr  # only the first old one is still blocked
    world = read_world(root, with_secrets=True)
    third_id = world.managed_ids(AUTH)["rot"]
    assert third_id not in (old_id, second_id)
    assert second_id not in world.auths, "the unused intermediate authorization was not deleted"
    assert world.secrets[third_id]["credentials"] == {"token": "v3"}
    assert world.job_of("rot-job").auth_ids == (third_id,)
    assert_no_duplicates(world)

    stopped = run_cli("platform", "jobs", "set-status", outside_job, "completed", cwd=root)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    final = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    world = read_world(root)
    assert set(world.auths) == {third_id} and world.auths[third_id].label == "Rotating"
    assert_state_consistent(world)
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=env).returncode == 0
