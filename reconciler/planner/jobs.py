"""Deciding each desired job: create, update (rebind, config, pause/resume), or replace (workflow changed)."""

from __future__ import annotations

from reconciler.diff import KNOWN_AFTER_APPLY, FieldChange, value_changes
from reconciler.live import LiveJob
from reconciler.manifest.model import DesiredJob
from reconciler.plan import Action, ActionKind, Phase, Precondition
from reconciler.planner.context import PlanningContext
from reconciler.planner.versions import job_version
from reconciler.vocabulary import JobStatus


def plan_job(ctx: PlanningContext, d: DesiredJob) -> Action:
    targets, depends, waiting = _targets(ctx, d)
    obj, live = ctx.managed_job(d.name)
    if live is None:
        changes = [FieldChange("workflow", None, d.workflow), FieldChange("authorizations", None, list(targets)),
                   FieldChange("state", None, d.state)]
        changes += [FieldChange(f"config.{k}", None, v) for k, v in sorted(d.config.items())]
        reasons = ("in state but gone from the platform",) if obj is not None else ()
        return Action(d.address, ActionKind.CREATE, Phase.APPLY_JOBS, None, tuple(changes), reasons,
                      depends_on=depends, waiting_for=waiting)
    if live.workflow != d.workflow:
        return Action(d.address, ActionKind.REPLACE, Phase.APPLY_JOBS, live.id,
                      (FieldChange("workflow", live.workflow, d.workflow),),
                      ("a job's workflow cannot be changed in place",), depends_on=depends, waiting_for=waiting,
                      preconditions=_precondition(live))
    changes = (value_changes(live.name, d.name, "name") + value_changes(live.description, d.description,
                                                                         "description")
               + value_changes(live.config, d.config, "config"))
    reasons: list[str] = []
    if tuple(targets) != live.auth_ids:
        before = [ctx.auth_name(i) for i in live.auth_ids]
        changes.append(FieldChange("authorizations", before, list(targets)))
        reasons.append(_rebind_reason(ctx, depends))
    state_change = _state_change(live.status, d.state)
    pause_only = bool(state_change) and not changes and d.state == "paused"
    if state_change:
        changes.append(state_change)
    if not changes:
        return Action(d.address, ActionKind.NOOP, Phase.APPLY_JOBS, live.id)
    phase = Phase.RETIRE_JOBS if pause_only else Phase.APPLY_JOBS
    return Action(d.address, ActionKind.UPDATE, phase, live.id, tuple(changes), tuple(reasons),
                  depends_on=depends, waiting_for=waiting, preconditions=_precondition(live))


def _precondition(live: LiveJob) -> tuple[Precondition, ...]:
    """What apply re-checks before changing the job; only changes need one (a digest of 50,000 noops cost 0.5 s)."""
    return (Precondition("job", live.id, job_version(live)),)


def _targets(ctx: PlanningContext, d: DesiredJob) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
    """Live ids (or placeholders) the job should bind to, what it depends on, what it waits for."""
    targets: list[str] = []
    depends: list[str] = []
    waiting: list[str] = []
    for name in d.authorizations:
        action = ctx.auth_actions[name]
        if action.kind in (ActionKind.CREATE, ActionKind.REPLACE):
            targets.append(f"{name} {KNOWN_AFTER_APPLY}")
            depends.append(action.address)
        elif action.kind is ActionKind.REAUTHORIZE and action.live_id is None:
            targets.append(f"{name} (after `authctl login {name}`)")
            waiting.append(action.address)
        else:
            targets.append(action.live_id or name)
    return targets, tuple(depends), tuple(waiting)


def _rebind_reason(ctx: PlanningContext, depends: tuple[str, ...]) -> str:
    if not depends:
        return "authorizations changed"
    done = {ActionKind.REPLACE: "replaced", ActionKind.CREATE: "created"}
    parts = [f"{address} {done.get(ctx.auth_actions[address.split('/', 1)[1]].kind, 'changed')}"
             for address in depends]
    return "rebind: " + ", ".join(parts)


def _state_change(status: JobStatus, wanted: str) -> FieldChange | None:
    """A pause or resume the manifest asks for (a job that is neither running nor paused is left alone)."""
    if wanted == "paused" and status.is_running:
        return FieldChange("state", status.display, "paused")
    if wanted == "running" and not status.is_running:
        return FieldChange("state", status.display, "running")
    return None
