"""Check a saved plan against the world before applying it, object by object."""

from __future__ import annotations

from reconciler.errors import StalePlanError
from reconciler.live import Snapshot
from reconciler.plan import Plan
from reconciler.planner import auth_version, job_version
from reconciler.vocabulary import JobStatus


def refuse_snapshot_plan(saved: Plan, name: str = "the saved plan") -> None:
    """A plan made against a snapshot file (``plan --snapshot``) is for review only: StalePlanError, always.

    It compared no secret and saw the platform as it was when the snapshot was taken, so
    even a plan that still matches the world object by object was never reviewed as a
    whole. Refused before anything is opened or locked.
    """
    origin = saved.context.snapshot
    if origin is not None:
        raise StalePlanError(
            f"{name} was made against the snapshot {origin.file or '(unnamed)'} taken "
            f"{origin.taken_at:%Y-%m-%d %H:%M} UTC, not against the platform, so it is not applied: it compared "
            "no secrets and the platform may have changed since",
            hint="plan where the platform's credentials are (`authctl plan -o FILE`) and apply that plan")


def stale_reasons(saved: Plan, fresh: Plan, snapshot: Snapshot) -> list[str]:
    """Every reason the saved plan cannot be applied as reviewed (empty: it still holds)."""
    reasons: list[str] = []
    was, now = saved.context, fresh.context
    if was.state_lineage and now.state_lineage and was.state_lineage != now.state_lineage:
        reasons.append(f"the state store is another one (lineage {now.state_lineage}, plan made for "
                       f"{was.state_lineage})")
    if was.state_serial != now.state_serial:
        reasons.append(f"state serial moved from {was.state_serial} to {now.state_serial}: "
                       "another apply ran since the plan was made")
    if was.manifest_digest != now.manifest_digest:
        reasons.append("the manifests changed since the plan was made")
    if was.environment != now.environment:
        reasons.append(f"the plan was made for environment {was.environment!r}, not {now.environment!r}")
    for action in saved.actions:
        for pre in action.preconditions:
            if pre.kind == "authorization":
                live = snapshot.authorizations.get(pre.id)
                current = auth_version(live) if live else "absent"
            else:
                job = snapshot.jobs.get(pre.id)
                current = job_version(job) if job and job.status != JobStatus.DELETED else "absent"
            if current != pre.version:
                what = "is gone" if current == "absent" else "changed on the platform"
                reasons.append(f"{action.address}: {pre.kind} {pre.id} {what} since the plan was made")
    saved_actions = {(a.address, a.kind.value, a.blocked) for a in saved.actions}
    fresh_actions = {(a.address, a.kind.value, a.blocked) for a in fresh.actions}
    for address, kind, blocked in sorted(saved_actions - fresh_actions):
        reasons.append(f"{address}: the plan said {kind}{' (blocked)' if blocked else ''}; that no longer holds")
    for address, kind, blocked in sorted(fresh_actions - saved_actions):
        reasons.append(f"{address}: would now {kind}{' (blocked)' if blocked else ''}, which the plan did not show")
    return reasons
