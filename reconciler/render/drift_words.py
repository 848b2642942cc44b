"""How a drift report reads, for text, markdown and the JSON ``hint``: one wording, formatters passed in.

Renders the JSON form (render/drift_json.py). Every value from the platform or the state
store (ids, labels, job names, statuses) goes through the ``code`` or ``value`` formatter
the caller passes (markdown: code spans; the terminal: as is, the whole line escaped
after), never straight into markup; the words around them are authctl's own and hold no
markup characters.

What each hint promises matches what the planner does: apply resumes a job the manifest
wants running, pauses one it wants paused, and leaves a stopped job it wants paused alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reconciler.vocabulary import JobStatus

Format = Callable[[Any], str]

SYMBOLS = {"authorization_deleted": "-", "job_deleted": "-", "unmanaged_job": "+"}  # the rest: "~"
TITLES = {
    "authorization_deleted": "deleted outside authctl",
    "authorization_edited": "{field} edited outside authctl",
    "job_deleted": "deleted outside authctl",
    "job_state_changed": "state changed outside authctl",
    "job_rebound": "moved to other authorizations outside authctl",
    "job_edited": "{field} edited outside authctl",
    "unmanaged_job": "used by a job no manifest manages",
}
# (one, many) for the summary line, in the order of reconciler.drift.DriftKind.
NOUNS = {
    "authorization_deleted": ("authorization deleted", "authorizations deleted"),
    "authorization_edited": ("authorization edit", "authorization edits"),
    "job_deleted": ("job deleted", "jobs deleted"),
    "job_state_changed": ("job state change", "job state changes"),
    "job_rebound": ("job moved", "jobs moved"),
    "job_edited": ("job edit", "job edits"),
    "unmanaged_job": ("unmanaged job on a managed authorization", "unmanaged jobs on managed authorizations"),
}


def backticks(value: Any) -> str:
    """The JSON hint's (and the terminal's) way of quoting a command or an id: as the README does."""
    return f"`{value}`"


def plain_value(value: Any) -> str:
    """A recorded or live value for people: strings JSON-quoted (so spaces and emptiness show), None as (none)."""
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _plural(count: int, kind: str) -> str:
    one, many = NOUNS[kind]
    return f"{count:,} {one if count == 1 else many}"


def summary_line(data: dict[str, Any]) -> str:
    """``Drift: 3 changes outside authctl (1 authorization edit, ...).`` or what was found to match."""
    summary = data["summary"]
    if summary["drift"]:
        parts = [_plural(summary[kind], kind) for kind in NOUNS if summary[kind]]
        noun = "change" if summary["drift"] == 1 else "changes"
        return f"Drift: {summary['drift']:,} {noun} outside authctl ({', '.join(parts)})."
    if not data["context"]["state_found"]:
        return "No drift: nothing has been applied yet (no state store), so there is nothing to compare."
    return (f"No drift: the platform matches what authctl last applied ({summary['checked_authorizations']:,} "
            f"authorizations, {summary['checked_jobs']:,} jobs checked).")


def accepted_line(data: dict[str, Any]) -> str:
    """The differences the manifests already ask for, counted; "" when there are none."""
    count = data["summary"]["accepted"]
    if not count:
        return ""
    what = "difference" if count == 1 else "differences"
    verb = "is" if count == 1 else "are"
    return (f"{count:,} {what} from the last apply {verb} what the manifests ask for now: not drift "
            "(--format json lists them under accepted).")


def head(entry: dict[str, Any], code: Format = str) -> str:
    """``Authorization/fb-ads (id A1): label edited outside authctl``."""
    title = TITLES[entry["kind"]].format(field=entry["field"])
    return f"{code(entry['address'])} (id {code(entry['id'])}): {title}"


def _related(item: dict[str, Any], code: Format, value: Format) -> str:
    who = code(item["address"]) if item["address"] else "unmanaged"
    if item["kind"] == "job":
        return f"job {value(item['name'])} (id {code(item['id'])}, {item['status']}, {who})"
    label = f", label {value(item['name'])}" if item["name"] else ", gone"
    return f"{code(item['id'])} ({who}{label})"


def details(entry: dict[str, Any], code: Format = str, value: Format = plain_value) -> list[str]:
    """The lines under the head: the field's two values, or what was recorded, or the objects it names."""
    kind, related = entry["kind"], entry["related"]
    if kind in ("authorization_deleted", "job_deleted"):
        recorded = ", ".join(f"{key} {value(v)}" for key, v in sorted(entry["recorded"].items()))
        lines = [f"recorded at the last apply: {recorded}"] if recorded else []
        return lines + [f"an unmanaged authorization now has the recorded label: {_related(r, code, value)}"
                        for r in related]
    if kind == "unmanaged_job":
        return [_related(r, code, value) for r in related]
    if kind == "job_rebound":
        by_id = {r["id"]: r for r in related}

        def side(ids: list[str]) -> str:
            return "; ".join(_related(by_id[i], code, value) if i in by_id else code(i) for i in ids) or "(none)"

        return [f"recorded: {side(entry['recorded'])}", f"live:     {side(entry['live'])}"]
    shown = str if kind == "job_state_changed" else value  # (job states are our own words)
    return [f"{entry['field']}: {shown(entry['recorded'])} -> {shown(entry['live'])}"]


def hint(entry: dict[str, Any], code: Format = backticks) -> str:
    """What clears this drift; commands and ids through ``code``."""
    kind = entry["kind"]
    name = entry["address"].split("/", 1)[1]
    if kind == "authorization_deleted":
        again = "the next apply creates it again (and moves its jobs onto it)"
        if not entry["related"]:
            return again
        command = code(f"authctl import {name} {entry['related'][0]['id']}")
        return f"if the unmanaged one is the same connection made again, {command} adopts it; otherwise {again}"
    if kind == "authorization_edited":
        return f"the next apply puts the manifest's value back; to keep this one, change spec.{entry['field']}"
    if kind == "job_deleted":
        return "the next apply creates it again"
    if kind == "job_state_changed":
        return _state_hint(entry["recorded"], entry["live"])
    if kind == "job_rebound":
        return "the next apply binds it to the manifest's authorizations again"
    if kind == "job_edited":
        return "the next apply puts the manifest's name back"
    command = code(f"authctl import NAME {entry['live']}")
    return (f"{command} puts the job under a manifest, or stop it; while it is active, authctl cannot delete "
            "this authorization (nor finish replacing it)")


def _state_hint(recorded: str, live: str) -> str:
    try:
        status = JobStatus.parse(live)
    except ValueError:
        status = JobStatus.UNKNOWN
    if recorded == "running":
        keep = "; to keep it paused, set spec.state: paused" if status.is_paused else ""
        return f"the next apply resumes it{keep}"
    if status.is_running:
        return "the next apply pauses it again; to keep it running, set spec.state: running"
    return "apply leaves a stopped job alone: set spec.state: running to start it, or remove the job from the manifests"
