"""kill -9 an apply at random moments, then apply again: it must always converge.

A workspace of 200 objects (100 Pinterest token authorizations with ``{env: VAR}``
credentials + 100 jobs) plus one authorization and one running job made outside the
manifests. Each iteration (``AUTHCTL_KILL_ITERATIONS``, default 20; seed
``AUTHCTL_KILL_SEED``) may change the manifests first (rotate secrets -> replaces with
temporary labels and job moves, edit labels, remove objects -> deletes, restore them,
pause/resume jobs, move jobs to other authorizations), starts ``authctl apply
--auto-approve``, kills it (and anything it forked) with SIGKILL after a random delay,
then runs a new apply to completion and checks:

- live == desired: every desired authorization and job exists exactly once, with the
  right label, config, stored credential, state and bindings;
- labels unique, no orphans (every live object is managed, except the outside ones,
  which are untouched), state consistent (every managed id is live, no deposed object,
  no open journal intent);
- ``authctl plan --detailed-exitcode`` exits 0;
- a job a person made in the UI with the same name and workflow as a job the killed
  apply was creating (made just before the apply starts) is never adopted by recovery:
  it stays unmanaged and untouched, and authctl's own job exists beside it.

The delay is 0.05-1.5 s from the start of the process, or (three iterations in five on
average) 0-0.2 s after the first progress line, so that kills also land in the middle
of execution and not only during start-up. On a failure the message gives the seed,
the iteration, the mutation and the killed apply's output.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from apply_support import (
    AUTH,
    JOB,
    World,
    assert_no_duplicates,
    assert_no_orphans,
    assert_state_consistent,
    auth_doc,
    documents,
    job_doc,
    kill_group,
    open_platform_of,
    open_state_of,
    read_world,
    settings,
    start_cli,
)

N = 100
ITERATIONS = int(os.environ.get("AUTHCTL_KILL_ITERATIONS", "20"))
SEED = int(os.environ.get("AUTHCTL_KILL_SEED", "6061"))


@dataclass
class Item:
    index: int
    present: bool = True
    label_v: int = 0
    token_v: int = 0
    running: bool = True
    bound: int = -1  # index of the authorization the job uses; -1: its own

    @property
    def name(self) -> str:
        return f"pin-{self.index:03d}"

    @property
    def job(self) -> str:
        return f"job-{self.index:03d}"

    @property
    def label(self) -> str:
        return f"Kill test {self.index:03d} v{self.label_v}"

    @property
    def env_var(self) -> str:
        return f"KILL_TOKEN_{self.index:03d}"

    @property
    def token(self) -> str:
        return f"tok-{self.index:03d}-v{self.token_v}"

    @property
    def account(self) -> str:
        return str(100000 + self.index)

    def target(self) -> int:
        return self.index if self.bound < 0 else self.bound


class Model:
    """What the manifests say; the test's own idea of desired state."""

    def __init__(self) -> None:
        self.items = [Item(i) for i in range(N)]

    def present(self) -> list[Item]:
        return [i for i in self.items if i.present]

    def write(self, root: Path) -> None:
        auths = [auth_doc(i.name, i.label, i.env_var, account=i.account) for i in self.present()]
        jobs = [job_doc(i.job, self.items[i.target()].name, "running" if i.running else "paused")
                for i in self.present()]
        (root / "auths.yaml").write_text(documents(*auths), encoding="utf-8")
        (root / "jobs.yaml").write_text(documents(*jobs), encoding="utf-8")

    def env(self) -> dict[str, str]:
        return {i.env_var: i.token for i in self.present()}

    # -- mutations (each returns a description) -------------------------------------------------
    def mutate(self, rng: random.Random) -> str:
        kind = rng.choices(["none", "rotate", "relabel", "remove", "restore", "pause", "rebind", "mixed"],
                           weights=[1, 4, 3, 3, 2, 2, 2, 3])[0]
        if kind == "restore" and not [i for i in self.items if not i.present]:
            kind = "remove"
        if kind == "mixed":
            return "mixed: " + "; ".join(self._one(k, rng, small=True)
                                         for k in ("rotate", "relabel", "remove", "restore", "pause", "rebind"))
        return self._one(kind, rng)

    def _pick(self, rng: random.Random, low: int, high: int) -> list[Item]:
        pool = self.present()
        return rng.sample(pool, min(len(pool), rng.randint(low, high)))

    def _one(self, kind: str, rng: random.Random, small: bool = False) -> str:
        low, high = (3, 10) if small else (20, 60)  # large enough that an apply takes a while
        if kind == "rotate":  # a new secret value: replace, jobs moved over, temporary label
            items = self._pick(rng, low, high)
            for item in items:
                item.token_v += 1
        elif kind == "relabel":  # in-place update
            items = self._pick(rng, low, high)
            for item in items:
                item.label_v += 1
        elif kind == "remove":  # delete the job and the authorization
            items = self._pick(rng, max(1, low // 2), high // 2)
            for item in items:
                item.present = False
                for other in self.items:  # jobs bound to it go back to their own authorization
                    if other.bound == item.index:
                        other.bound = -1
        elif kind == "restore":  # create them again
            items = [i for i in self.items if not i.present]
            for item in items:
                item.present, item.bound = True, -1
        elif kind == "pause":
            items = self._pick(rng, low, high)
            for item in items:
                item.running = not item.running
        elif kind == "rebind":  # a job moves to another authorization (its own stays)
            items = self._pick(rng, low, high)
            targets = self.present()
            for item in items:
                item.bound = rng.choice(targets).index
        else:
            return "none"
        return f"{kind} {len(items)}"


def make_ui_twins(root: Path, job_names: list[str], auth_id: str) -> dict[str, str]:
    """Jobs made in the platform's UI with the names (and workflow) of jobs authctl is about to create."""
    platform = open_platform_of(root)
    try:
        return {platform.create_job(name=name, workflow="pinterest-capi-export", auth_ids=[auth_id]).id: name
                for name in job_names}
    finally:
        platform.close()


def check_converged(root: Path, model: Model, outside: dict[str, Any], context: str) -> World:
    world = read_world(root, with_secrets=True)
    twins: dict[str, str] = outside["twins"]
    try:
        assert_state_consistent(world)
        assert_no_duplicates(world, twin_names=list(twins.values()))
        assert_no_orphans(world, unmanaged_auths={outside["auth"]}, unmanaged_jobs={outside["job"], *twins})
        present = model.present()
        assert set(world.managed_ids(AUTH)) == {i.name for i in present}
        assert set(world.managed_ids(JOB)) == {i.job for i in present}
        adopted = sorted(set(twins) & set(world.managed_ids(JOB).values()))
        assert not adopted, f"recovery adopted jobs a person made in the UI: {adopted}"
        for twin_id, name in twins.items():
            twin = world.jobs[twin_id]
            assert (twin.name, twin.status, twin.auth_ids) == (name, "runnable", (outside["auth"],)), twin
        assert len(world.auths) == len(present) + 1
        assert len(world.jobs) == len(present) + 1 + len(twins)
        for item in present:
            auth = world.auth_of(item.name)
            assert (auth.label, auth.provider, auth.method) == (item.label, "pinterest", "capi_token"), item.name
            stored = world.secrets[auth.id]
            assert stored["credentials"] == {"token": item.token}, f"{item.name}: credential not the desired one"
            assert stored["config"] == {"account_id": item.account}, item.name
            assert len([j for j in world.jobs_named(item.job) if j.id not in twins]) == 1, item.job
            job = world.job_of(item.job)
            target = world.managed_ids(AUTH)[model.items[item.target()].name]
            assert job.auth_ids == (target,), f"{item.job} is bound to {job.auth_ids}, not {target}"
            assert job.status == ("runnable" if item.running else "paused"), f"{item.job}: {job.status}"
            assert job.workflow == "pinterest-capi-export"
        out_auth, out_job = world.auths[outside["auth"]], world.jobs[outside["job"]]
        assert out_auth.label == "Outside the manifests"
        assert (out_job.status, out_job.auth_ids) == ("runnable", (outside["auth"],))
    except AssertionError as exc:
        raise AssertionError(f"{context}\n{exc}") from None
    return world


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_9_at_random_moments_then_apply_converges(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    root = tmp_path / "ws"
    root.mkdir()
    (root / "authctl.yaml").write_text(settings("kill-resume"), encoding="utf-8")
    model = Model()
    model.write(root)
    logs = tmp_path / "logs"

    # Something made in the platform UI: never touched, never counted as an orphan.
    platform = open_platform_of(root)
    try:
        outside_auth = platform.create_authorization(provider="pinterest", method="capi_token",
                                                     label="Outside the manifests", config={"account_id": "1"},
                                                     credentials={"token": "outside"})
        outside_job = platform.create_job(name="outside-export", workflow="pinterest-capi-export",
                                          auth_ids=[outside_auth.id])
    finally:
        platform.close()
    outside: dict[str, Any] = {"auth": outside_auth.id, "job": outside_job.id, "twins": {}}

    stats = {"killed": 0, "finished_before_kill": 0, "killed_mid_execution": 0, "open_intents_after_kill": 0,
             "recovered_notes": 0}
    started = time.monotonic()
    for iteration in range(ITERATIONS):
        mutation = "initial: 200 creates" if iteration == 0 else model.mutate(rng)
        model.write(root)
        env = model.env()
        anchored = rng.random() < 0.6
        delay = rng.uniform(0.0, 0.2) if anchored else rng.uniform(0.05, 1.5)
        context = (f"seed {SEED}, iteration {iteration}, mutation {mutation!r}, "
                   f"kill {delay:.2f} s after {'the first progress line' if anchored else 'start'}")

        state = open_state_of(root)
        try:
            journal_before = len(state.journal_entries())
            managed_jobs = {name for (kind, name) in state.managed() if kind == JOB}
        finally:
            state.close()
        # A person makes jobs named like ones this apply is about to create (the UI allows it).
        to_create = [i.job for i in model.present() if i.job not in managed_jobs]
        outside["twins"].update(make_ui_twins(root, rng.sample(to_create, min(3, len(to_create))),
                                              outside["auth"]))

        victim = start_cli("apply", "--auto-approve", cwd=root, env=env, logs=logs, tag=f"it{iteration:02d}")
        if anchored:
            victim.wait_for_output("\n[1/", timeout=60)
        time.sleep(delay)
        if victim.proc.poll() is None:
            kill_group(victim)
            stats["killed"] += 1
        else:
            stats["finished_before_kill"] += 1
            assert victim.proc.returncode == 0, f"{context}: the apply failed on its own:\n{victim.output()}"

        state = open_state_of(root)
        try:
            written = len(state.journal_entries()) - journal_before
            open_intents = len(state.pending_intents())
        finally:
            state.close()
        if victim.proc.returncode and written:
            stats["killed_mid_execution"] += 1
        if open_intents:
            stats["open_intents_after_kill"] += 1
        context += f"; killed apply wrote {written} journal entries, left {open_intents} open intents"

        resume = run_cli("apply", "--auto-approve", cwd=root, env=env, input="", timeout=300)
        context += f"\n--- killed apply output:\n{victim.output()[-3000:]}\n--- resuming apply output:\n" \
                   f"{resume.stdout[-6000:]}{resume.stderr}"
        assert resume.returncode == 0, context
        assert "Traceback" not in resume.stderr, context
        stats["recovered_notes"] += resume.stdout.count("Recovered from an interrupted apply")

        check_converged(root, model, outside, context)
        plan = run_cli("plan", "--detailed-exitcode", cwd=root, env=env, input="")
        assert plan.returncode == 0, f"{context}\n--- plan:\n{plan.stdout}{plan.stderr}"
        assert "No changes" in plan.stdout

    elapsed = time.monotonic() - started
    print(f"\nkill/resume: {ITERATIONS} iterations in {elapsed:.1f} s, seed {SEED}: {stats}")
    if ITERATIONS >= 10:
        # The test must actually interrupt applies mid-way, not only kill them while starting up.
        assert stats["killed_mid_execution"] >= ITERATIONS // 10, stats


def test_kill_between_the_halves_of_replaces_then_rotate_again(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """Killed after some successors exist (temporary labels, old ones deposed), then rotated again.

    The second replace of each authorization must pick a temporary label that the first
    successor does not already hold, and the next apply must clean up both generations.
    """
    root = tmp_path / "ws"
    root.mkdir()
    (root / "authctl.yaml").write_text(settings("kill-mid-replace"), encoding="utf-8")
    model = Model()
    model.items = model.items[:30]
    model.write(root)
    first = run_cli("apply", "--auto-approve", cwd=root, env=model.env(), input="")
    assert first.returncode == 0, first.stdout + first.stderr

    for item in model.items:
        item.token_v += 1
    model.write(root)
    victim = start_cli("apply", "--auto-approve", "--parallelism", "1", cwd=root, env=model.env(),
                       logs=tmp_path / "logs")
    assert victim.wait_for_output("replace-create Authorization/", timeout=120), victim.output()
    kill_group(victim)
    world = read_world(root)
    deposed = [k for k in world.managed if k[0] == "DeposedAuthorization"]
    assert deposed, f"the kill did not land between the halves of a replace:\n{victim.output()}"

    for item in model.items:  # rotate every one again before any apply finishes the first rotation
        item.token_v += 1
    for item in model.items[::3]:
        item.label_v += 1
    model.write(root)
    result = run_cli("apply", "--auto-approve", cwd=root, env=model.env(), input="")
    assert result.returncode == 0, result.stdout + result.stderr
    world = read_world(root, with_secrets=True)
    assert_state_consistent(world)
    assert_no_duplicates(world)
    assert_no_orphans(world)
    assert len(world.auths) == 30 and len(world.jobs) == 30
    for item in model.items:
        auth = world.auth_of(item.name)
        assert auth.label == item.label
        assert world.secrets[auth.id]["credentials"] == {"token": item.token}
        assert world.job_of(item.job).auth_ids == (auth.id,)
    plan = run_cli("plan", "--detailed-exitcode", cwd=root, env=model.env(), input="")
    assert plan.returncode == 0, plan.stdout
