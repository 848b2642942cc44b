"""What is wrong with an authorization, and the exact command that fixes it, for its dashboard page.

The words are the CLI's: a broken OAuth connection is re-authorized in place with
``authctl reauth NAME`` (same id: its jobs keep working), one that must be connected anew
with ``authctl login NAME``, exactly as the plan's ``reauthorize`` actions say
(planner/authorizations.py). When the dashboard has a plan in hand and the plan has an
instruction for this authorization, that instruction wins: it was decided with the
manifests, which this page does not read. Otherwise the advice follows from the
authorization itself (its method's kind from the catalog, its health, whether this
workspace manages it). NAME is always the manifest name; an unmanaged authorization gets
the `authctl import` step first. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import MethodSpec
from reconciler.view_rows import AuthorizationRow
from reconciler.vocabulary import Health

_COMMAND = re.compile(r"`(authctl [^`]+)`")


@dataclass(frozen=True)
class Fix:
    """One problem and what to run; ``commands`` are shown as copyable code, in order."""

    problem: str
    commands: tuple[str, ...]
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "commands": list(self.commands), "note": self.note}


def _from_plan(action: dict[str, Any]) -> Fix | None:
    instruction = str(action.get("instruction") or "")
    commands = tuple(_COMMAND.findall(instruction))
    if not commands:
        return None
    reasons = [str(r) for r in action.get("reasons") or ()]
    return Fix(reasons[0] if reasons else "the plan needs a person", commands, note=instruction)


def _adopt_first(row: AuthorizationRow, command: str) -> tuple[str, ...]:
    """The command for a managed authorization; for an unmanaged one, `authctl import` first."""
    if row.name is not None:
        return (command.format(name=row.name),)
    return (f"authctl import NAME {row.id}", command.format(name="NAME"))


def fixes_for(row: AuthorizationRow, method: MethodSpec | None, *, plan_action: dict[str, Any] | None = None,
              missing_scopes: tuple[str, ...] = ()) -> list[Fix]:
    """What to run for ``row``: none when nothing is wrong. ``plan_action``: the current plan's action for it."""
    if plan_action is not None and (fix := _from_plan(plan_action)) is not None:
        return [fix]
    oauth = method is not None and method.is_oauth
    why = row.health_reason or "its credentials no longer work"
    unmanaged_note = "" if row.managed else \
        "Not managed by this workspace: adopt it under a manifest name of yours first (NAME)."
    fixes: list[Fix] = []
    if row.health is Health.UNHEALTHY and oauth:
        fixes.append(Fix(f"OAuth connection is unhealthy: {why}", _adopt_first(row, "authctl reauth {name}"),
                         note=unmanaged_note or "Same id: its jobs keep working."))
    elif missing_scopes and oauth:
        fixes.append(Fix(f"the grant lacks required scopes: {', '.join(missing_scopes)}",
                         _adopt_first(row, "authctl reauth {name}"),
                         note=unmanaged_note or "Grant the missing scopes when the provider asks."))
    elif row.health is Health.UNHEALTHY:
        fixes.append(Fix(f"credentials are unhealthy: {why}",
                         ("authctl plan", "authctl apply") if row.managed else
                         (f"authctl import NAME {row.id}", "authctl plan", "authctl apply"),
                         note="Put new credentials where its manifest's secret reference points, then plan and "
                              "apply: a credential change replaces the authorization and moves its jobs."))
    elif row.health is Health.UNKNOWN and row.health_checked_at is None:
        fixes.append(Fix("health never checked", (f"authctl health {row.name}" if row.name else
                                                  f"authctl health {row.id}",)))
    return fixes


__all__ = ["Fix", "fixes_for"]
