"""The plan's versioned JSON form and its inverse: one codec for ``--format json`` and saved plan files.

Contract (format_version "1"): fields may be added, never removed or renamed::

    {"format_version": "1",
     "summary": {"create", "update", "replace", "delete", "blocked", "reauthorize", "noop"},
     "actions": [{"address", "action", "blocked", "blocked_by": [{kind, name, id, status, managed}],
                  "changes": [{path, before, after, sensitive}], "warnings": [], ...}],
     "warnings": [], "warning_details": [{message, rule, subject, item}], "unmanaged": [...], "context": {...}}

``context.snapshot`` ({file, taken_at, age_seconds, source, secrets_compared, summary}) is
there only for a plan made against a saved snapshot (``plan --snapshot``), which apply refuses.
No-op objects are counted in the summary, not listed. Output is deterministic: the
same plan gives byte-identical JSON (no clock of its own, sorted keys where order is free).
A saved plan file (``plan_file_dict``) is the same document plus ``kind`` and every
action's ``preconditions``, which is all :func:`plan_from_dict` needs to rebuild the Plan.
:func:`check_plan_document` checks a document's shape first (every field the reader uses,
and every field apply relies on, with its JSON type), so a damaged or hand-edited file
is refused naming the first bad field (``actions[0].address: expected a string, got an
integer``) instead of being half-read.
"""

from __future__ import annotations

from datetime import datetime
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
    SnapshotOrigin,
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
    context: dict[str, Any] = {"environment": ctx.environment, "manifest_digest": ctx.manifest_digest,
                               "state_serial": ctx.state_serial, "state_lineage": ctx.state_lineage,
                               "backend": ctx.backend}
    if ctx.snapshot is not None:  # plan --snapshot: only then (a live plan's document is unchanged)
        context["snapshot"] = snapshot_origin_to_dict(ctx.snapshot)
    return {
        "format_version": FORMAT_VERSION,
        "summary": plan.summary(),
        "summary_line": plan.summary_line(),
        "actions": [action_to_dict(a) for a in plan.actions],
        "warnings": [w.message for w in plan.warnings],
        "warning_details": [w.to_json() for w in plan.warnings],
        "unmanaged": [u.to_json() for u in plan.unmanaged],
        "context": context,
    }


def snapshot_origin_to_dict(origin: SnapshotOrigin) -> dict[str, Any]:
    """``context.snapshot``: the file, when it was taken, its age at planning, where from, and the line shown."""
    return {"file": origin.file, "taken_at": origin.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "age_seconds": origin.age_seconds, "source": origin.source, "secrets_compared": False,
            "summary": origin.describe()}


def plan_file_dict(plan: Plan) -> dict[str, Any]:
    """A saved plan: the JSON document plus ``kind`` and each action's preconditions."""
    data = plan_to_dict(plan)
    for action, entry in zip(plan.actions, data["actions"], strict=True):
        entry["preconditions"] = [p.to_json() for p in action.preconditions]
    data["kind"] = PLAN_FILE_KIND
    return data


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """The inverse of :func:`plan_file_dict`; raises PlanFileError naming what is wrong (``path: problem``)."""
    check_plan_document(data)
    try:
        ctx = data["context"]
        origin = ctx.get("snapshot")
        context = PlanContext(environment=ctx.get("environment"), manifest_digest=str(ctx["manifest_digest"]),
                              state_serial=int(ctx["state_serial"]), state_lineage=ctx.get("state_lineage"),
                              backend=str(ctx["backend"]),
                              snapshot=None if origin is None else SnapshotOrigin(
                                  str(origin.get("file", "")), datetime.fromisoformat(origin["taken_at"]),
                                  int(origin["age_seconds"]), str(origin["source"])))
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


# -- the shape of a saved plan ---------------------------------------------------------------------
# A field spec is (JSON type, required); a type is "string", "integer", "boolean", "object",
# "list", "any", several joined by "|" ("string|null"), a nested spec (an object with these
# fields) or ("list", item type or spec). Fields a later authctl adds are allowed, never required.
_Spec = dict[str, tuple[Any, bool]]

_CHANGE: _Spec = {"path": ("string", True), "before": ("any", False), "after": ("any", False),
                  "sensitive": ("boolean", False), "note": ("string", False)}
_BLOCKER: _Spec = {"kind": ("string", True), "name": ("string", True), "id": ("string", True),
                   "status": ("string", True), "managed": ("boolean", True)}
_PRECONDITION: _Spec = {"kind": ("string", True), "id": ("string", True), "version": ("string", True)}
_UNMANAGED: _Spec = {"kind": ("string", True), "id": ("string", True), "name": ("string", True)}
_WARNING: _Spec = {"message": ("string", True), "rule": ("string", False), "subject": ("string", False),
                   "item": ("string", False)}
_ACTION: _Spec = {
    "address": ("string", True), "action": ("action", True), "phase": ("phase", True),
    "changes": (("list", _CHANGE), True), "preconditions": (("list", _PRECONDITION), True),
    "live_id": ("string|null", False), "symbol": ("string", False), "blocked": ("boolean", False),
    "blocked_by": (("list", _BLOCKER), False), "reasons": (("list", "string"), False),
    "depends_on": (("list", "string"), False), "waiting_for": (("list", "string"), False),
    "warnings": (("list", "string"), False), "instruction": ("string", False), "forget_only": ("boolean", False),
    "deposed_id": ("string|null", False),
}
_SNAPSHOT_ORIGIN: _Spec = {"file": ("string", False), "taken_at": ("string", True), "age_seconds": ("integer", True),
                           "source": ("string", True)}
_CONTEXT: _Spec = {"environment": ("string|null", False), "manifest_digest": ("string", True),
                   "state_serial": ("integer", True), "state_lineage": ("string|null", False),
                   "backend": ("string", True), "snapshot": (_SNAPSHOT_ORIGIN, False)}
_PLAN: _Spec = {
    "format_version": ("string", True), "kind": ("string", False), "summary": ("summary", True),
    "summary_line": ("string", False), "actions": (("list", _ACTION), True),
    "warnings": (("list", "string|object"), False), "warning_details": (("list", _WARNING), False),
    "unmanaged": (("list", _UNMANAGED), False), "context": (_CONTEXT, True),
}
_ACTION_WORDS = tuple(kind.value for kind in ActionKind if kind.is_change)
_TYPE_NAMES = {"string": "a string", "integer": "an integer", "boolean": "a boolean", "object": "an object",
               "list": "a list", "null": "null"}


def check_plan_document(data: Any) -> None:
    """Raise PlanFileError("<path>: <problem>") for the first missing field or field of the wrong type."""
    problem = _check(data, _PLAN, "")
    if problem is not None:
        raise PlanFileError(problem)


def _check(value: Any, spec: Any, path: str) -> str | None:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return _wrong(path, "object", value)
        for name, (field_spec, required) in spec.items():
            inner = f"{path}.{name}" if path else name
            if name not in value:
                if required:
                    return f"{inner}: missing"
                continue
            problem = _check(value[name], field_spec, inner)
            if problem is not None:
                return problem
        return None
    if isinstance(spec, tuple):  # ("list", item spec)
        if not isinstance(value, list):
            return _wrong(path, "list", value)
        for index, item in enumerate(value):
            problem = _check(item, spec[1], f"{path}[{index}]")
            if problem is not None:
                return problem
        return None
    if spec == "action":
        if not isinstance(value, str):
            return _wrong(path, "string", value)
        if value not in _ACTION_WORDS:
            return f"{path}: {_shown(value)} is not one of {', '.join(_ACTION_WORDS)}"
        return None
    if spec == "phase":
        if _json_type(value) != "integer":
            return _wrong(path, "integer", value)
        if value not in {phase.value for phase in Phase}:
            return f"{path}: {value} is not a phase (0 to {max(phase.value for phase in Phase)})"
        return None
    if spec == "summary":
        if not isinstance(value, dict):
            return _wrong(path, "object", value)
        for name, count in value.items():
            if _json_type(count) != "integer":
                return _wrong(f"{path}.{name}", "integer", count)
        return None
    if spec == "any" or _json_type(value) in spec.split("|"):
        return None
    return _wrong(path, spec, value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object" if isinstance(value, dict) else type(value).__name__


def _wrong(path: str, expected: str, value: Any) -> str:
    wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in expected.split("|"))
    got = _json_type(value)
    return f"{path or 'the document'}: expected {wanted}, got {_TYPE_NAMES.get(got, 'a ' + got)}"


def _shown(value: str) -> str:
    """A value from the file, quoted and cut short (it is echoed in an error)."""
    return repr(value if len(value) <= 40 else value[:40] + "...")
