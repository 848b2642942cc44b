"""Check a saved plan against the world before applying it, object by object."""

from __future__ import annotations

from reconciler.live import Snapshot
from reconciler.plan import Plan
from reconciler.planner import auth_version, job_version
from reconciler.vocabulary import JobStatus


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
