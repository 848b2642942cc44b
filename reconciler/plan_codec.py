"""The plan's versioned JSON form and its inverse: one codec for ``--format json`` and saved plan files.

Contract (format_version "1"): fields may be added, never removed or renamed::

    {"format_version": "1",
     "summary": {"create", "update", "replace", "delete", "blocked", "reauthorize", "noop"},
     "actions": [{"address", "action", "blocked", "blocked_by": [{kind, name, id, status, managed}],
                  "changes": [{path, before, after, sensitive}], "warnings": [], ...}],
     "warnings": [], "warning_details": [{message, rule, subject, item}], "unmanaged": [...], "context": {...}}

No-op objects are counted in the summary, not listed. Output is deterministic: the
same plan gives byte-identical JSON (no timestamps, sorted keys where order is free).
A saved plan file (``plan_file_dict``) is the same document plus ``kind`` and every
action's ``preconditions``, which is all :func:`plan_from_dict` needs to rebuild the Plan.
"""

from __future__ import annotations

from typing import Any

from reconciler.diff import FieldChange
from reconciler.errors import PlanFileError
from reconciler.plan import (
    FORMAT_VERSION,
    Action,
    ActionKind,
    Blocker,
    Phase,
    Plan,
    PlanContext,
    PlanWarning,
    Precondition,
    UnmanagedObject,
)

PLAN_FILE_KIND = "authctl-plan"


def action_to_dict(action: Action) -> dict[str, Any]:
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
    if action.deposed_id:
        data["deposed_id"] = action.deposed_id
    return data


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The ``--format json`` document (no preconditions: they are for apply, not for people)."""
    ctx = plan.context
    return {
        "format_version": FORMAT_VERSION,
        "summary": plan.summary(),
        "summary_line": plan.summary_line(),
        "actions": [action_to_dict(a) for a in plan.actions],
        "warnings": [w.message for w in plan.warnings],
        "warning_details": [w.to_json() for w in plan.warnings],
        "unmanaged": [u.to_json() for u in plan.unmanaged],
        "context": {"environment": ctx.environment, "manifest_digest": ctx.manifest_digest,
                    "state_serial": ctx.state_serial, "state_lineage": ctx.state_lineage, "backend": ctx.backend},
    }


def plan_file_dict(plan: Plan) -> dict[str, Any]:
    """A saved plan: the JSON document plus ``kind`` and each action's preconditions."""
    data = plan_to_dict(plan)
    for action, entry in zip(plan.actions, data["actions"], strict=True):
        entry["preconditions"] = [p.to_json() for p in action.preconditions]
    data["kind"] = PLAN_FILE_KIND
    return data


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """The inverse of :func:`plan_file_dict`; raises PlanFileError naming what is wrong."""
    try:
        ctx = data["context"]
        context = PlanContext(environment=ctx.get("environment"), manifest_digest=str(ctx["manifest_digest"]),
                              state_serial=int(ctx["state_serial"]), state_lineage=ctx.get("state_lineage"),
                              backend=str(ctx["backend"]))
        actions = tuple(_action_from_dict(a) for a in data["actions"])
        return Plan(actions=actions, noop_count=int(data["summary"].get("noop", 0)),
                    warnings=tuple(PlanWarning.from_json(w)
                                   for w in data.get("warning_details", data.get("warnings", []))),
                    unmanaged=tuple(UnmanagedObject.from_json(u) for u in data.get("unmanaged", [])),
                    context=context)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(_decode_problem(exc)) from None


def _action_from_dict(data: dict[str, Any]) -> Action:
    return Action(
        address=str(data["address"]), kind=ActionKind(data["action"]), phase=Phase(int(data["phase"])),
        live_id=data.get("live_id"),
        changes=tuple(FieldChange.from_json(c) for c in data.get("changes", [])),
        reasons=tuple(str(r) for r in data.get("reasons", [])),
        blocked_by=tuple(Blocker.from_json(b) for b in data.get("blocked_by", [])),
        depends_on=tuple(str(d) for d in data.get("depends_on", [])),
        waiting_for=tuple(str(w) for w in data.get("waiting_for", [])),
        preconditions=tuple(Precondition.from_json(p) for p in data.get("preconditions", [])),
        warnings=tuple(str(w) for w in data.get("warnings", [])),
        instruction=str(data.get("instruction", "")),
        forget_only=bool(data.get("forget_only", False)),
        deposed_id=data.get("deposed_id"),
    )


def _decode_problem(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return f"a field has the wrong shape ({type(exc).__name__}: {exc})"
