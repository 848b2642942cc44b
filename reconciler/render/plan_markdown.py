"""Markdown plan for pull-request comments: summary table, blocked first, details folded.

Rendered from the JSON form; deterministic; truncated with a note beyond 60,000
characters (GitHub refuses comments over 65,536).

Every value from the platform, the state store or a manifest goes through
render/escape.py for the place it lands: code spans in list items, escaped text in
the warnings list, HTML text in ``<summary>``, lines of a fenced block whose fence is
longer than any backtick run inside. Values are shortened to 200 characters (sentences
that embed them to 500); ``--format json`` keeps them whole.
"""

from __future__ import annotations

from typing import Any

from reconciler.plan import Plan
from reconciler.plan_codec import plan_to_dict
from reconciler.render.escape import (
    MARKDOWN_LIMIT,
    MARKDOWN_LINE_LIMIT,
    html_text,
    markdown_code,
    markdown_fence,
    markdown_text,
    shorten,
    terminal_text,
)
from reconciler.render.plan_text import change_line, show_value
from reconciler.render.plan_warnings import warning_lines

MAX_CHARS = 60_000
TITLE = "### authctl plan"


def _show_short(value: Any) -> str:
    return shorten(show_value(value), MARKDOWN_LIMIT)


def _diff_lines(action: dict[str, Any]) -> list[str]:
    """The lines inside the block's ``diff`` fence: shortened and flattened, so each stays one line."""
    lines: list[str] = []
    prefix = {"create": "+", "delete": "-", "update": "!", "replace": "!", "reauthorize": "#"}.get(action["action"], " ")
    for reason in action["reasons"]:
        lines.append(f"# {reason}")
    for change in action["changes"]:
        lines.append(f"{prefix} {change_line(change, show=_show_short)}")
    for blocker in action["blocked_by"]:
        who = "managed" if blocker["managed"] else "unmanaged"
        lines.append(f"- blocked by {blocker['kind']} {shorten(blocker['name'], MARKDOWN_LIMIT)} "
                     f"(id {shorten(blocker['id'], MARKDOWN_LIMIT)}, {blocker['status']}, {who})")
    if action.get("instruction"):
        lines.append(f"# {action['instruction']}")
    for waiting in action["waiting_for"]:
        lines.append(f"# waits for {shorten(waiting, MARKDOWN_LIMIT)} (a person must log in first)")
    for warning in action["warnings"]:
        lines.append(f"# warning: {warning}")
    return [terminal_text(shorten(line, MARKDOWN_LINE_LIMIT)) for line in lines]


def _action_block(action: dict[str, Any]) -> list[str]:
    flag = " **BLOCKED**" if action["blocked"] else ""
    diff = _diff_lines(action)
    fence = markdown_fence(diff)
    return [f"<details><summary><code>{action['symbol']}</code> <code>{html_text(action['address'])}</code> "
            f"{action['action']}{flag}</summary>", "", f"{fence}diff", *diff, fence, "", "</details>"]


def render_markdown(plan: Plan, *, all_warnings: bool = False) -> str:
    data = plan_to_dict(plan)
    s = data["summary"]
    out = [TITLE, "", f"**{data['summary_line']}**", "",
           "| create | update | replace | delete | blocked | reauthorize | unchanged |",
           "|---:|---:|---:|---:|---:|---:|---:|",
           f"| {s['create']} | {s['update']} | {s['replace']} | {s['delete']} | {s['blocked']} | "
           f"{s['reauthorize']} | {s['noop']} |", ""]
    blocked = [a for a in data["actions"] if a["blocked"]]
    if blocked:
        out += ["#### :no_entry: Blocked", ""]
        for action in blocked:
            names = "; ".join(f"{b['kind']} {markdown_code(b['name'])} (id {markdown_code(b['id'])}, "
                              f"{markdown_text(b['status'])}, {'managed' if b['managed'] else 'unmanaged'})"
                              for b in action["blocked_by"])
            out.append(f"- {markdown_code(action['address'])} ({action['action']}) is blocked by {names}")
        out.append("")
    if data["warnings"]:
        lines = warning_lines(data["warning_details"], all_warnings=all_warnings)
        out += ["#### :warning: Warnings", ""] + [f"- {markdown_text(w, limit=MARKDOWN_LINE_LIMIT)}"
                                                  for w in lines] + [""]
    if data["actions"]:
        out += ["#### Changes", ""]
    footer = [f"<sub>{len(data['unmanaged'])} unmanaged objects not changed · environment "
              f"{markdown_code(data['context']['environment'] or 'default')} · manifests "
              f"{markdown_code(data['context']['manifest_digest'][:12])}</sub>", ""]
    size = sum(len(line) + 1 for line in out + [""] + footer)
    for index, action in enumerate(data["actions"]):
        block = _action_block(action)
        block_size = sum(len(line) + 1 for line in block)
        left = len(data["actions"]) - index
        note = ["", f"_… {left} more actions not shown: the comment is limited to {MAX_CHARS:,} characters. "
                    "Run `authctl plan` for the full plan._", ""]
        # Room is kept for the note, so a truncated comment stays within MAX_CHARS too.
        room = 0 if left == 1 else sum(len(line) + 1 for line in note)
        if size + block_size + room > MAX_CHARS:
            out += note
            break
        out += block
        size += block_size
    return "\n".join(out + [""] + footer)
