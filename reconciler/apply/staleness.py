"""Check a saved plan against the world before applying it, object by object."""

from __future__ import annotations

from typing import Any

from reconciler.errors import AuthctlError
from reconciler.live import Snapshot
from reconciler.plan import Plan
from reconciler.planner import auth_version, job_version


class StalePlanError(AuthctlError):
    """A saved plan no longer matches the manifests, the state or the platform."""


def stale_reasons(saved: dict[str, Any], fresh: Plan, snapshot: Snapshot) -> list[str]:
    """Every reason the saved plan cannot be applied as reviewed (empty: it still holds)."""
    reasons: list[str] = []
    ctx = saved.get("context", {})
    now = fresh.context
    if ctx.get("state_lineage") and now.state_lineage and ctx["state_lineage"] != now.state_lineage:
        reasons.append(f"the state store is another one (lineage {now.state_lineage}, plan made for "
                       f"{ctx['state_lineage']})")
    if ctx.get("state_serial") != now.state_serial:
        reasons.append(f"state serial moved from {ctx.get('state_serial')} to {now.state_serial}: "
                       "another apply ran since the plan was made")
    if ctx.get("manifest_digest") != now.manifest_digest:
        reasons.append("the manifests changed since the plan was made")
    if ctx.get("environment") != now.environment:
        reasons.append(f"the plan was made for environment {ctx.get('environment')!r}, not {now.environment!r}")
    for action in saved.get("actions", []):
        for pre in action.get("preconditions", []):
            kind, live_id, version = pre["kind"], pre["id"], pre["version"]
            if kind == "authorization":
                live = snapshot.authorizations.get(live_id)
                current = auth_version(live) if live else "absent"
            else:
                job = snapshot.jobs.get(live_id)
                current = job_version(job) if job and job.status != "deleted" else "absent"
            if current != version:
                what = "is gone" if current == "absent" else "changed on the platform"
                reasons.append(f"{action['address']}: {kind} {live_id} {what} since the plan was made")
    saved_actions = {(a["address"], a["action"], bool(a.get("blocked"))) for a in saved.get("actions", [])}
    fresh_actions = {(a.address, a.kind.value, a.blocked) for a in fresh.actions}
    for address, kind, blocked in sorted(saved_actions - fresh_actions):
        reasons.append(f"{address}: the plan said {kind}{' (blocked)' if blocked else ''}; that no longer holds")
    for address, kind, blocked in sorted(fresh_actions - saved_actions):
        reasons.append(f"{address}: would now {kind}{' (blocked)' if blocked else ''}, which the plan did not show")
    return reasons
