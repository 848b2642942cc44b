"""The versioned JSON form of a plan: the one format the others are rendered from.

Contract (format_version "1"): fields may be added, never removed or renamed::

    {"format_version": "1",
     "summary": {"create", "update", "replace", "delete", "blocked", "reauthorize", "noop"},
     "actions": [{"address", "action", "blocked", "blocked_by": [{kind, name, id, status, managed}],
                  "changes": [{path, before, after, sensitive}], "warnings": [], ...}],
     "warnings": [], "unmanaged": [...], "context": {...}}

No-op objects are counted in the summary, not listed. Output is deterministic: the
same plan gives byte-identical JSON (no timestamps, sorted keys where order is free).
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.plan import FORMAT_VERSION, Action, Plan


def action_json(action: Action, *, with_preconditions: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "address": action.address,
        "action": action.kind.value,
        "symbol": action.kind.symbol,
        "blocked": action.blocked,
        "blocked_by": [b.to_json() for b in action.blocked_by],
        "changes": [c.to_json() for c in action.changes],
        "warnings": list(action.warnings),
        "reasons": list(action.reasons),
        "phase": action.phase.value,
        "live_id": action.live_id,
        "depends_on": list(action.depends_on),
        "waiting_for": list(action.waiting_for),
    }
    if action.instruction:
        data["instruction"] = action.instruction
    if action.forget_only:
        data["forget_only"] = True
    if with_preconditions:
        data["preconditions"] = [p.to_json() for p in action.preconditions]
    return data


def plan_to_dict(plan: Plan, *, with_preconditions: bool = False) -> dict[str, Any]:
    ctx = plan.context
    return {
        "format_version": FORMAT_VERSION,
        "summary": plan.summary(),
        "summary_line": plan.summary_line(),
        "actions": [action_json(a, with_preconditions=with_preconditions) for a in plan.actions],
        "warnings": list(plan.warnings),
        "unmanaged": [u.to_json() for u in plan.unmanaged],
        "context": {"environment": ctx.environment, "manifest_digest": ctx.manifest_digest,
                    "state_serial": ctx.state_serial, "state_lineage": ctx.state_lineage, "backend": ctx.backend},
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False, default=str) + "\n"
