"""Plan warnings for people: many warnings of one rule about one subject read as one line with a count.

The group line is worded by ``diagnostic_report.group_text``, as manifest warnings are.
"""

from __future__ import annotations

from typing import Any

from reconciler.diagnostic_report import SHOWN_LOCATIONS, group_text
from reconciler.plan import WARNING_GROUPS


def warning_lines(details: list[dict[str, Any]], *, all_warnings: bool = False) -> list[str]:
    """One line per warning, except that a rule's warnings about one subject group into one line.

    ``details`` is the JSON plan's ``warning_details``. A group of one reads exactly as the
    warning itself; with ``all_warnings`` every warning gets its own line.
    """
    if all_warnings:
        return [d["message"] for d in details]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for detail in details:
        key = (detail["rule"], detail["subject"]) if detail["rule"] in WARNING_GROUPS else ("", detail["message"])
        groups.setdefault(key, []).append(detail)
    lines = []
    for (rule, subject), members in groups.items():
        if len(members) == 1:
            lines.append(members[0]["message"])
            continue
        head = WARNING_GROUPS[rule].format(subject=subject)
        lines.append(group_text(len(members), head, [m["item"] for m in members[:SHOWN_LOCATIONS]]))
    return lines
