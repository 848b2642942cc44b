"""The plan page's content: the plan's JSON form (``plan --format json``) arranged for a reviewer, with links.

What a reviewer needs first comes first: the summary line, then every **blocked** action
(it cannot be applied; what blocks it is listed with a link to that job's or
authorization's page, so the next click shows who owns it), then the other actions in
apply order. A **replace** lists the jobs it moves (the job updates that wait for it and
rebind onto the new authorization), and a ``reauthorize`` shows the command a person must
run. Every value comes from the plan's JSON document (plan_codec.plan_to_dict) or from the
render helpers the text and markdown plans use, so the page says what ``authctl plan``
says; links are only added where the object is on the platform now. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.render.plan_text import change_line
from reconciler.render.plan_warnings import unmanaged_count_line, unmanaged_line, unmanaged_listed, warning_lines
from reconciler.ui.dataset import Dataset

_COMMAND = re.compile(r"`(authctl [^`]+)`")


def object_href(dataset: Dataset | None, kind: str, live_id: str | None) -> str | None:
    """The dashboard page of a live object (``authorization`` or ``job``), None when it has none."""
    if dataset is None or not live_id:
        return None
    if kind.casefold() == "authorization" and dataset.authorization(live_id) is not None:
        return f"/authorizations/{live_id}"
    if kind.casefold() == "job" and dataset.job(live_id) is not None:
        return f"/jobs/{live_id}"
    return None


@dataclass(frozen=True)
class BlockerView:
    """Something that stops an action (a job or experience using the authorization, a label clash)."""

    kind: str
    name: str
    id: str
    status: str
    managed: bool
    href: str | None


@dataclass(frozen=True)
class MovedJob:
    """A job a replace moves onto the new authorization: the job's own update action."""

    address: str
    href: str | None
    change: str  # "authorizations: [...] -> [...]"


@dataclass(frozen=True)
class ActionView:
    address: str
    action: str  # the JSON word: create, update, replace, delete, reauthorize
    symbol: str
    blocked: bool
    href: str | None  # the live object's page
    reasons: list[str]
    changes: list[str]
    blockers: list[BlockerView]
    moves: list[MovedJob] = field(default_factory=list)
    instruction: str = ""
    commands: list[str] = field(default_factory=list)
    waiting_for: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanView:
    summary_line: str
    summary: dict[str, int]
    blocked: list[ActionView]
    others: list[ActionView]
    warnings: list[str]
    unmanaged: list[str]  # the unmanaged objects that matter, one line each
    unmanaged_more: str  # "N other unmanaged objects ..." ("" when none)

    @property
    def has_changes(self) -> bool:
        return bool(self.blocked or self.others)


def _kind_of(address: str) -> str:
    return address.split("/", 1)[0]


def _moves(action: dict[str, Any], actions: list[dict[str, Any]], dataset: Dataset | None) -> list[MovedJob]:
    if action["action"] != "replace" or _kind_of(action["address"]) != "Authorization":
        return []
    moved = []
    for other in actions:
        if action["address"] not in other.get("depends_on", ()) or _kind_of(other["address"]) != "Job":
            continue
        rebinds = [c for c in other["changes"] if c["path"] == "authorizations"]
        if rebinds:
            moved.append(MovedJob(other["address"], object_href(dataset, "job", other.get("live_id")),
                                  change_line(rebinds[0])))
    return moved


def _action_view(action: dict[str, Any], actions: list[dict[str, Any]], dataset: Dataset | None) -> ActionView:
    blockers = [BlockerView(b["kind"], b["name"], b["id"], b["status"], b["managed"],
                            object_href(dataset, b["kind"], b["id"])) for b in action["blocked_by"]]
    instruction = str(action.get("instruction") or "")
    return ActionView(
        address=action["address"], action=action["action"], symbol=action["symbol"], blocked=action["blocked"],
        href=object_href(dataset, _kind_of(action["address"]), action.get("live_id")),
        reasons=[str(r) for r in action["reasons"]], changes=[change_line(c) for c in action["changes"]],
        blockers=blockers, moves=_moves(action, actions, dataset), instruction=instruction,
        commands=_COMMAND.findall(instruction), waiting_for=[str(w) for w in action["waiting_for"]],
        warnings=[str(w) for w in action["warnings"]])


def plan_view(document: dict[str, Any], dataset: Dataset | None) -> PlanView:
    """``document`` is ``plan --format json``'s; ``dataset`` (the dashboard's snapshot) supplies the links."""
    actions = document["actions"]
    views = [_action_view(a, actions, dataset) for a in actions]
    unmanaged = document["unmanaged"]
    return PlanView(
        summary_line=document["summary_line"], summary=document["summary"],
        blocked=[v for v in views if v.blocked], others=[v for v in views if not v.blocked],
        warnings=warning_lines(document["warning_details"]),
        unmanaged=[unmanaged_line(u) for u in unmanaged_listed(unmanaged)],
        unmanaged_more=unmanaged_count_line(unmanaged))


def plan_action_for(document: dict[str, Any] | None, auth_id: str) -> dict[str, Any] | None:
    """The plan's action on the live authorization ``auth_id`` (for its page's fix command), if any."""
    if document is None:
        return None
    for action in document["actions"]:
        if action.get("live_id") == auth_id and _kind_of(action["address"]) == "Authorization":
            return action
    return None


__all__ = ["ActionView", "BlockerView", "MovedJob", "PlanView", "object_href", "plan_action_for", "plan_view"]
