"""Plan warnings for people: many warnings of one rule about one subject read as one line with a count.

The group line is worded by ``diagnostic_report.group_text``, as manifest warnings are.
Unmanaged objects are worded here too, for text and markdown alike: a plan lists the
active ones tied to what it changes and counts the rest in one line (``--show-unmanaged``
lists every one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.diagnostic_report import SHOWN_LOCATIONS, group_text
from reconciler.plan import warning_group

RELATED_SHOWN = 5  # plan actions named beside one unmanaged object


def warning_lines(details: list[dict[str, Any]], *, all_warnings: bool = False) -> list[str]:
    """One line per warning, except that a rule's warnings about one subject group into one line.

    ``details`` is the JSON plan's ``warning_details``. A group of one reads exactly as the
    warning itself; with ``all_warnings`` every warning gets its own line.
    """
    if all_warnings:
        return [d["message"] for d in details]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for detail in details:
        key = (detail["rule"], detail["subject"]) if warning_group(detail["rule"]) else ("", detail["message"])
        groups.setdefault(key, []).append(detail)
    lines = []
    for (rule, subject), members in groups.items():
        if len(members) == 1:
            lines.append(members[0]["message"])
            continue
        head = str(warning_group(rule)).format(subject=subject)
        lines.append(group_text(len(members), head, [m["item"] for m in members[:SHOWN_LOCATIONS]]))
    return lines


def _matters(item: dict[str, Any]) -> bool:
    return bool(item.get("active", True) and item.get("related"))


def unmanaged_listed(unmanaged: list[dict[str, Any]], *, show_all: bool = False) -> list[dict[str, Any]]:
    """The unmanaged objects a plan lists: the active ones tied to its actions, or all with ``show_all``.

    ``unmanaged`` is the JSON plan's ``unmanaged`` (its entries' ``active`` and ``related``).
    """
    return list(unmanaged) if show_all else [u for u in unmanaged if _matters(u)]


def unmanaged_count_line(unmanaged: list[dict[str, Any]], *, show_all: bool = False) -> str:
    """The line that counts the unmanaged objects a plan does not list; "" when it lists every one.

    ``12 unmanaged objects not shown, 9 of them completed or killed: --show-unmanaged lists them``
    (``other`` when some are listed above it).
    """
    rest = [] if show_all else [u for u in unmanaged if not _matters(u)]
    if not rest:
        return ""
    other = "other " if len(rest) < len(unmanaged) else ""
    text = f"{len(rest):,} {other}unmanaged {'object' if len(rest) == 1 else 'objects'} not shown"
    inactive = [u for u in rest if not u.get("active", True)]
    if inactive:
        statuses = sorted({u.get("status") or "inactive" for u in inactive})
        words = statuses[0] if len(statuses) == 1 else f"{', '.join(statuses[:-1])} or {statuses[-1]}"
        text += f", {len(inactive):,} of them {words}" if len(rest) > 1 else f" ({words})"
    return f"{text}: --show-unmanaged lists {'it' if len(rest) == 1 else 'them'}"


def unmanaged_line(item: dict[str, Any], *, code: Callable[[str], str] = str,
                   text: Callable[[str], str] = str) -> str:
    """``job legacy-sync (id J, paused) uses Authorization/fb-legacy``: one unmanaged object, for people.

    ``code`` formats names, ids and addresses, ``text`` the status (markdown puts them in
    code spans and escapes them; the terminal shows them as they are).
    """
    status = f", {text(item['status'])}" if item.get("status") else ""
    line = f"{item['kind']} {code(item['name'])} (id {code(item['id'])}{status})"
    related = item.get("related") or []
    if related:
        more = f" and {len(related) - RELATED_SHOWN:,} more" if len(related) > RELATED_SHOWN else ""
        line += (f" {'uses' if item['kind'] == 'job' else 'tied to'} "
                 f"{', '.join(code(r) for r in related[:RELATED_SHOWN])}{more}")
    return line
