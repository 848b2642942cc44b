"""make_plan: run the planner's steps in order (authorizations, jobs, removals, guard, warnings) into a Plan."""

from __future__ import annotations

from reconciler.plan import Action, ActionKind, Plan
from reconciler.planner.authorizations import plan_authorization
from reconciler.planner.context import PlanInput, PlanningContext
from reconciler.planner.jobs import plan_job
from reconciler.planner.removals import guard, jobs_moved_away, plan_removals
from reconciler.planner.warnings import health_warnings, not_compared_warning, unmanaged_objects, unrecorded_warnings
from reconciler.vocabulary import ObjectKind


def make_plan(inp: PlanInput) -> Plan:
    ctx = PlanningContext(inp)
    for name in sorted(inp.desired.authorizations):
        ctx.auth_actions[name] = plan_authorization(ctx, inp.desired.authorizations[name])
    for name in sorted(inp.desired.jobs):
        ctx.job_actions[name] = plan_job(ctx, inp.desired.jobs[name])
    all_actions = [*ctx.auth_actions.values(), *ctx.job_actions.values(), *plan_removals(ctx)]

    managed_jobs = {o.live_id for (kind, _), o in inp.managed.items() if kind == ObjectKind.JOB}
    moved = jobs_moved_away(ctx, all_actions)
    changes: list[Action] = []
    noops = 0
    for action in all_actions:
        if action.kind in (ActionKind.DELETE, ActionKind.REPLACE) and action.resource == ObjectKind.AUTHORIZATION:
            action = guard(ctx, action, moved, managed_jobs)
        if action.kind is ActionKind.NOOP:
            noops += 1
            continue
        changes.append(action)
    health_warnings(ctx)
    not_compared_warning(ctx)
    unrecorded_warnings(ctx)
    changes.sort(key=Action.sort_key)
    return Plan(actions=tuple(changes), noop_count=noops, warnings=tuple(dict.fromkeys(ctx.warnings)),
                unmanaged=unmanaged_objects(ctx, changes), context=inp.context)
