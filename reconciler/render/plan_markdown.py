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
from reconciler.render.markdown_fit import MAX_CHARS, fit_blocks, size_of
from reconciler.render.plan_text import change_line, show_value, snapshot_sentence
from reconciler.render.plan_warnings import unmanaged_count_line, unmanaged_line, unmanaged_listed, warning_lines

TITLE = "### authctl plan"
UNMANAGED_SHOWN = 50  # unmanaged objects listed in a comment (the rest are counted)


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


def _unmanaged_block(unmanaged: list[dict[str, Any]], *, show_all: bool) -> list[str]:
    """The unmanaged objects that use what the plan changes (all with ``show_all``): a list under a bold line.

    At most ``UNMANAGED_SHOWN`` items, so the comment keeps room for the changes; the rest are counted.
    """
    listed = unmanaged_listed(unmanaged, show_all=show_all)
    if not listed:
        return []
    head = "**Unmanaged objects** (not changed):" if show_all else \
        "**Unmanaged objects that use what this plan changes** (not changed):"
    items = [f"- {unmanaged_line(u, code=markdown_code, text=markdown_text)}" for u in listed[:UNMANAGED_SHOWN]]
    if len(listed) > UNMANAGED_SHOWN:
        items.append(f"- _… and {len(listed) - UNMANAGED_SHOWN:,} more: run `authctl plan --show-unmanaged`._")
    return [head, "", *items, ""]


def render_markdown(plan: Plan, *, all_warnings: bool = False, show_unmanaged: bool = False) -> str:
    """The plan as a pull-request comment; ``show_unmanaged`` lists every unmanaged object (up to a limit)."""
    data = plan_to_dict(plan)
    s = data["summary"]
    offline = snapshot_sentence(data["context"])
    out = [TITLE, "", f"**{data['summary_line']}**", "", *([f"_{markdown_text(offline)}_", ""] if offline else []),
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
    out += _unmanaged_block(data["unmanaged"], show_all=show_unmanaged)
    if data["actions"]:
        out += ["#### Changes", ""]
    count = unmanaged_count_line(data["unmanaged"], show_all=show_unmanaged)
    snapshot = data["context"].get("snapshot")
    source = f" · snapshot of {markdown_code(snapshot['source'])}" if snapshot else ""
    footer = [f"<sub>{markdown_text(count) + ' · ' if count else ''}environment "
              f"{markdown_code(data['context']['environment'] or 'default')} · manifests "
              f"{markdown_code(data['context']['manifest_digest'][:12])}{source}</sub>", ""]
    out += fit_blocks(map(_action_block, data["actions"]), len(data["actions"]), size_of(out + [""] + footer),
                      lambda left: ["", f"_… {left} more actions not shown: the comment is limited to {MAX_CHARS:,} "
                                        "characters. Run `authctl plan` for the full plan._", ""])
    return "\n".join(out + [""] + footer)


def render_markdown_error(message: str, *, hint: str = "", details: list[str] | None = None,
                          command: str = "authctl plan") -> str:
    """A failed plan as a pull-request comment: the error, its hint, and the details in a fenced block.

    ``details`` are lines such as the validation errors (``file:line: Kind/name: field:
    message``); each is flattened to one line, shortened to 500 characters and kept in a
    fence longer than any backtick run inside, so no line of data can end the block. The
    message and hint are markdown-escaped. Capped at ``MAX_CHARS`` like a plan comment.
    """
    out = [f"### {command} failed", "", f":x: **Error:** {markdown_text(message, limit=MARKDOWN_LINE_LIMIT)}", ""]
    if hint:
        out += [f"**Hint:** {markdown_text(hint, limit=MARKDOWN_LINE_LIMIT)}", ""]
    lines = [terminal_text(shorten(line, MARKDOWN_LINE_LIMIT)) for line in details or []]
    size = sum(len(line) + 1 for line in out) + 200  # room for the fence and the note
    shown: list[str] = []
    for line in lines:
        if size + len(line) + 1 > MAX_CHARS:
            break
        shown.append(line)
        size += len(line) + 1
    if shown:
        fence = markdown_fence(shown)
        out += [f"{fence}text", *shown, fence, ""]
    if len(shown) < len(lines):
        out += [f"_… {len(lines) - len(shown):,} more lines not shown: run `{command}` for all of them._", ""]
    return "\n".join(out)
