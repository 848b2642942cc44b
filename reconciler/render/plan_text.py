"""Human plan output for terminals and CI logs: summary first, then actions, then warnings.

Renders the JSON form (render/plan_json.py) and computes nothing of its own. The
summary is repeated at the end of long plans so it is never buried. Unmanaged objects
are listed only where they matter (active, and using what the plan changes); the rest
are one counted line (render/plan_warnings.py). Every line is a rich ``Text`` made by
:func:`line` (never a markup string): labels, names and reasons from the platform, the
state store or a manifest print as they are, with control and invisible characters
shown as escapes (render/escape.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from reconciler.plan import Plan
from reconciler.plan_codec import plan_to_dict
from reconciler.render.escape import terminal_text
from reconciler.render.plan_warnings import unmanaged_count_line, unmanaged_line, unmanaged_listed, warning_lines

STYLES = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red", "reauthorize": "cyan"}
VERBS = {"create": "will be created", "update": "will be updated in place",
         "replace": "will be replaced (create new, move jobs, delete old)", "delete": "will be deleted",
         "reauthorize": "needs a person to reauthorize"}
LONG_PLAN_LINES = 40


def show_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value if value.startswith("(") and value.endswith(")") else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def snapshot_sentence(context: dict[str, Any]) -> str:
    """For a plan made against a snapshot file: "Planned against a snapshot taken 3 hours ago (...); ..."; else ""."""
    snapshot = context.get("snapshot")
    if not snapshot:
        return ""
    summary = snapshot["summary"]
    return f"{summary[:1].upper()}{summary[1:]}."


def line(text: str, style: str = "") -> Text:
    """One line of terminal output whose text may hold data: escaped for the terminal, never markup."""
    return Text(terminal_text(text), style=style)


def change_line(change: dict[str, Any], show: Callable[[Any], str] = show_value) -> str:
    """``path: before -> after`` for one field change; ``show`` formats each value (markdown shortens them)."""
    path, before, after = change["path"], change["before"], change["after"]
    if before is None:
        text = f"{path}: {show(after)}"
    elif after is None:
        text = f"{path}: {show(before)} -> (removed)"
    else:
        text = f"{path}: {show(before)} -> {show(after)}"
    if change.get("note"):
        text = f"{path}: (sensitive, {change['note']})" if change["sensitive"] and after is not None and before is None \
            else f"{text} ({change['note']})"
    return text


def action_lines(action: dict[str, Any]) -> list[Text]:
    kind = action["action"]
    head = line(f"{action['symbol']} {action['address']} ", style=STYLES.get(kind, ""))
    verb = "will be replaced" if kind == "replace" and action["address"].startswith("Job/") else VERBS.get(kind, kind)
    head.append(verb, style="")
    if action["blocked"]:
        head.append("  BLOCKED", style="bold red")
    lines = [head]
    for reason in action["reasons"]:
        lines.append(line(f"    # {reason}", style="dim"))
    for change in action["changes"]:
        lines.append(line(f"    {change_line(change)}"))
    for blocker in action["blocked_by"]:
        who = "managed" if blocker["managed"] else "unmanaged"
        lines.append(line(f"    blocked by {blocker['kind']} {blocker['name']} (id {blocker['id']}, "
                          f"{blocker['status']}, {who})", style="red"))
    if action.get("instruction"):
        lines.append(line(f"    -> {action['instruction']}", style="cyan"))
    for waiting in action["waiting_for"]:
        lines.append(line(f"    waits for {waiting} (a person must log in first)", style="cyan"))
    for warning in action["warnings"]:
        lines.append(line(f"    warning: {warning}", style="yellow"))
    return lines


def _unmanaged_lines(unmanaged: list[dict[str, Any]], *, show_all: bool) -> list[Text]:
    """The unmanaged objects that use what the plan changes (all with ``show_all``), then a count of the rest."""
    listed = unmanaged_listed(unmanaged, show_all=show_all)
    count = unmanaged_count_line(unmanaged, show_all=show_all)
    lines: list[Text] = [Text("")] if listed or count else []
    if listed:
        head = "Unmanaged objects (not changed):" if show_all else \
            "Unmanaged objects that use what this plan changes (not changed):"
        lines.append(Text(head, style="bold"))
        lines.extend(line(f"  {unmanaged_line(u)}") for u in listed)
    if count:
        lines.append(line(f"{count}.", style="dim"))
    return lines


def render_text(plan: Plan, *, all_warnings: bool = False, show_unmanaged: bool = False) -> RenderableType:
    """The plan for a terminal; ``show_unmanaged`` lists every unmanaged object, not only those that matter."""
    data = plan_to_dict(plan)
    style = "bold red" if plan.has_blocked else "bold"
    offline = snapshot_sentence(data["context"])
    parts: list[RenderableType] = [Text(data["summary_line"], style=style)]
    if offline:
        parts.append(line(offline, style="yellow"))
    body: list[Text] = []
    for action in data["actions"]:
        body.append(Text(""))
        body.extend(action_lines(action))
    parts.extend(body)
    if data["warnings"]:
        parts.append(Text(""))
        parts.append(Text("Warnings:", style="bold yellow"))
        parts.extend(line(f"  - {w}", style="yellow")
                     for w in warning_lines(data["warning_details"], all_warnings=all_warnings))
    parts.extend(_unmanaged_lines(data["unmanaged"], show_all=show_unmanaged))
    if plan.has_blocked:
        parts.append(Text(""))
        parts.append(Text("Blocked actions cannot be applied until the jobs or experiences named above stop "
                          "using the authorization; apply skips them and exits 3.", style="red"))
    if len(body) > LONG_PLAN_LINES:
        parts.append(Text(""))
        parts.append(Text(data["summary_line"], style=style))
        if offline:
            parts.append(line(offline, style="yellow"))
    return Group(*parts)
