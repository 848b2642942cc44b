"""What the manifests dropped (deletes, deposed halves of replaces) and the delete guard that blocks them."""

from __future__ import annotations

from dataclasses import replace

from reconciler.diff import FieldChange
from reconciler.live import LiveAuthorization, LiveJob
from reconciler.plan import Action, ActionKind, Blocker, Phase, Precondition
from reconciler.planner.context import PlanningContext, removal_address
from reconciler.planner.versions import auth_version, job_version
from reconciler.state.records import ManagedObject
from reconciler.vocabulary import JobStatus, ObjectKind


def plan_removals(ctx: PlanningContext) -> list[Action]:
    """A delete for every managed object the manifests no longer declare, and for every deposed one."""
    desired = ctx.inp.desired
    gone_from_manifests = [
        obj for (kind, name), obj in ctx.inp.managed.items()
        if kind == ObjectKind.DEPOSED_AUTHORIZATION
        or name not in (desired.jobs if kind == ObjectKind.JOB else desired.authorizations)
    ]
    gone_from_manifests.sort(key=lambda o: (o.kind.value, o.name))  # (kind, name) keys are unique
    return [_removal(ctx, obj) for obj in gone_from_manifests]


def _removal(ctx: PlanningContext, obj: ManagedObject) -> Action:
    deposed = obj.kind == ObjectKind.DEPOSED_AUTHORIZATION
    is_job = obj.kind == ObjectKind.JOB
    live: LiveAuthorization | LiveJob | None
    if is_job:
        job = ctx.snapshot.jobs.get(obj.live_id)
        live = None if job is None or job.status == JobStatus.DELETED else job
    else:
        live = ctx.snapshot.authorizations.get(obj.live_id)
    phase = Phase.RETIRE_JOBS if is_job else Phase.DELETE_AUTHORIZATIONS
    deposed_id = obj.live_id if deposed else None
    address = removal_address(obj)
    if live is None:
        return Action(address, ActionKind.DELETE, phase, obj.live_id,
                      reasons=("already gone from the platform; only state is cleaned up",), forget_only=True,
                      deposed_id=deposed_id)
    if isinstance(live, LiveJob):
        pre = Precondition("job", live.id, job_version(live))
        change = FieldChange("name", live.name, None)
    else:
        pre = Precondition("authorization", live.id, auth_version(live))
        change = FieldChange("label", live.label, None)
    reason = "the old half of a replace, still to be deleted" if deposed else "removed from the manifests"
    return Action(address, ActionKind.DELETE, phase, obj.live_id, (change,), (reason,), preconditions=(pre,),
                  deposed_id=deposed_id)


def jobs_moved_away(ctx: PlanningContext, actions: list[Action]) -> set[str]:
    """Live ids of jobs that stop using their current authorizations in this apply.

    A job only stops using an authorization in this apply if its own action can run now:
    not when it waits for a person's login, nor when it needs a create that is blocked.
    """
    blocked_creates = {a.address for a in actions if a.blocked and a.live_id is None}

    def can_run(action: Action) -> bool:
        return not action.waiting_for and not blocked_creates.intersection(action.depends_on)

    moved: set[str] = set()
    for action in actions:
        if action.live_id and action.resource == ObjectKind.JOB and (
                action.kind is ActionKind.DELETE or (action.kind is ActionKind.REPLACE and can_run(action))):
            moved.add(action.live_id)
    for name, action in ctx.job_actions.items():
        if action.kind is ActionKind.UPDATE and action.live_id and can_run(action):
            live = ctx.snapshot.jobs[action.live_id]
            kept = {ctx.auth_actions[a].live_id for a in ctx.inp.desired.jobs[name].authorizations
                    if ctx.auth_actions[a].kind is not ActionKind.REPLACE}
            if set(live.auth_ids) - kept:
                moved.add(action.live_id)  # it is rebound away from what it uses now
    return moved


def guard(ctx: PlanningContext, action: Action, moved_jobs: set[str], managed_jobs: set[str]) -> Action:
    """Block the delete of an authorization still used by anything this plan does not move away."""
    if action.live_id is None or action.forget_only:
        return action
    blockers = list(action.blocked_by)
    for ref in ctx.snapshot.references(action.live_id):
        if not ref.active or ref.id in moved_jobs:
            continue
        blockers.append(Blocker(ref.kind, ref.name, ref.id, ref.display_status, ref.id in managed_jobs))
    if not blockers:
        return action
    blockers.sort(key=lambda b: (b.kind, b.name, b.id))
    what = "the old authorization" if action.kind is ActionKind.REPLACE else "it"
    reason = f"{what} cannot be deleted while active jobs or imported experiences use it"
    return replace(action, blocked_by=tuple(blockers), reasons=(*action.reasons, reason))
