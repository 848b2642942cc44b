"""A Plan is data: ordered actions with their changes, blockers and preconditions.

Like Terraform's plans package: the action enum carries its display symbol, every
action says why (``reasons``), what it waits for (``depends_on``), what stops it
(``blocked_by``) and which live versions it relies on (``preconditions``), and the
summary is derived, never stored. Rendering and applying both read this, and nothing
here does I/O. ``planner.make_plan`` builds one; ``plan_codec`` is its versioned JSON form
(saved plan files and ``--format json``).

Phases fix the order apply must follow::

    0  create authorizations (and the create half of a replace)
    1  create/update jobs (rebinds onto new authorizations, resumes)
    2  pause/delete jobs
    3  delete authorizations (and the delete half of a replace)
    4  finalize: label renames that had to wait for a delete (labels are unique)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from reconciler.diff import FieldChange
from reconciler.durations import age_words

FORMAT_VERSION = "1"


class ActionKind(str, Enum):
    """What happens to one object. The value is the stable JSON word."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    REAUTHORIZE = "reauthorize"
    NOOP = "noop"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def is_change(self) -> bool:
        return self is not ActionKind.NOOP


_SYMBOLS = {
    ActionKind.CREATE: "+", ActionKind.UPDATE: "~", ActionKind.REPLACE: "-/+", ActionKind.DELETE: "-",
    ActionKind.REAUTHORIZE: "!", ActionKind.NOOP: " ",
}
SUMMARY_KINDS = ("create", "update", "replace", "delete", "reauthorize")


class Phase(int, Enum):
    CREATE_AUTHORIZATIONS = 0
    APPLY_JOBS = 1
    RETIRE_JOBS = 2
    DELETE_AUTHORIZATIONS = 3
    FINALIZE = 4


@dataclass(frozen=True)
class Blocker:
    """Something that stops an action: a job or experience using an authorization, or a label clash."""

    kind: str  # "job" | "experience" | "authorization"
    name: str
    id: str
    status: str
    managed: bool

    def describe(self) -> str:
        who = "managed" if self.managed else "unmanaged"
        return f"{self.kind} {self.name} (id {self.id}, {self.status}, {who})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "id": self.id, "status": self.status, "managed": self.managed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Blocker:
        return cls(str(data["kind"]), str(data["name"]), str(data["id"]), str(data["status"]), bool(data["managed"]))


@dataclass(frozen=True)
class Precondition:
    """The live version of one object an action relies on; apply refuses if it moved."""

    kind: str  # "authorization" | "job"
    id: str
    version: str  # digest of the fields that matter, or "absent"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "version": self.version}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Precondition:
        return cls(str(data["kind"]), str(data["id"]), str(data["version"]))


@dataclass(frozen=True)
class Action:
    """One object's change. ``address`` is for people; apply reads the typed fields, never the address."""

    address: str  # "Authorization/fb-ads-prod", or "Authorization/fb-ads-prod (deposed ID)"
    kind: ActionKind
    phase: Phase
    live_id: str | None = None  # the object acted on (for replace: the old one)
    changes: tuple[FieldChange, ...] = ()
    reasons: tuple[str, ...] = ()
    blocked_by: tuple[Blocker, ...] = ()
    depends_on: tuple[str, ...] = ()
    waiting_for: tuple[str, ...] = ()  # authorizations that need a person (login) first
    preconditions: tuple[Precondition, ...] = ()
    warnings: tuple[str, ...] = ()
    instruction: str = ""  # for reauthorize: what the person must run
    forget_only: bool = False  # delete of an object already gone: only state is cleaned up
    # The old half of an earlier replace still waiting for its delete: its live id, which
    # is also its state key (state keeps it as a deposed authorization, not under a name).
    deposed_id: str | None = None

    @property
    def resource(self) -> str:
        return self.address.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The manifest name (for a deposed object: the name of the authorization that replaced it)."""
        name = self.address.split("/", 1)[1]
        return name.split(" ", 1)[0] if self.deposed_id else name

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_by)

    def sort_key(self) -> tuple[int, str, str]:
        return (self.phase.value, self.resource, self.name)


@dataclass(frozen=True)
class UnmanagedObject:
    """A live object no manifest of this workspace manages: shown, never changed.

    ``related`` are the addresses of this plan's actions it is tied to: for a job, the
    changed authorizations it uses; for an authorization, the changed jobs that use it
    and the actions it blocks (a label clash). ``active`` is false for a job that no
    longer runs (completed, failed, killed, ...). An object :attr:`matters` to a reviewer
    when it is active and related; plans list those and count the rest.
    """

    kind: str
    id: str
    name: str
    status: str = ""  # a job's status word; "" for an authorization
    active: bool = True
    related: tuple[str, ...] = ()

    @property
    def matters(self) -> bool:
        return self.active and bool(self.related)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "status": self.status, "active": self.active,
                "related": list(self.related)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnmanagedObject:
        return cls(str(data["kind"]), str(data["id"]), str(data["name"]), str(data.get("status", "")),
                   bool(data.get("active", True)), tuple(str(r) for r in data.get("related", ())))


@dataclass(frozen=True)
class PlanWarning:
    """Something a reviewer should know that is not a change.

    Warnings of one ``rule`` about one ``subject`` (e.g. running jobs on one unhealthy
    authorization) are shown as one line with a count when there are many; ``item`` is
    the object this one names. ``message`` always reads on its own.
    """

    message: str
    rule: str = ""
    subject: str = ""
    item: str = ""

    def to_json(self) -> dict[str, str]:
        return {"message": self.message, "rule": self.rule, "subject": self.subject, "item": self.item}

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> PlanWarning:
        if isinstance(data, str):
            return cls(data)
        return cls(str(data["message"]), str(data.get("rule", "")), str(data.get("subject", "")),
                   str(data.get("item", "")))


# How a group of warnings of one rule reads after its count (the subject goes in; the items follow).
# A rule id FAMILY:NAME without its own entry reads as its family's ("policy:require_owner").
WARNING_GROUPS = {
    "job-on-unhealthy-authorization": "running jobs use {subject}",
    "gone-from-platform": "objects in state are gone from the platform and will be re-created",
    "token-expired": "authorizations have expired tokens",
    "token-expiring": "authorizations have tokens expiring within {subject}",
    "policy": "{subject}",  # the subject is the whole text: "authorizations have no owner (policy rule ...)"
}


def warning_group(rule: str) -> str | None:
    """How a group of ``rule``'s warnings reads after its count, or None when they are listed one by one."""
    if not rule:
        return None
    return WARNING_GROUPS.get(rule) or WARNING_GROUPS.get(rule.partition(":")[0])


@dataclass(frozen=True)
class SnapshotOrigin:
    """The saved snapshot a plan was made against (``plan --snapshot FILE``) instead of the live platform.

    Such a plan is for review only: it compares no secret (that takes the state's key,
    which a snapshot never holds) and it is ``age_seconds`` behind the platform. Apply
    refuses it; renderers show :meth:`describe` right under the summary.
    """

    file: str
    taken_at: datetime
    age_seconds: int  # at planning time
    source: str  # the backend it was read from, e.g. "lytics https://api.lytics.io"

    def describe(self) -> str:
        return (f"planned against a snapshot taken {age_words(self.age_seconds)} ago "
                f"({self.taken_at:%Y-%m-%d %H:%M} UTC); secrets not compared")


@dataclass(frozen=True)
class PlanContext:
    """Where a plan came from; saved plans are checked against it at apply."""

    environment: str | None
    manifest_digest: str
    state_serial: int
    state_lineage: str | None
    backend: str
    snapshot: SnapshotOrigin | None = None  # plan --snapshot: not the live platform (never applied)


@dataclass(frozen=True)
class Plan:
    """Every change in apply order, with the no-op count, plan-wide warnings and where it came from."""

    actions: tuple[Action, ...]  # every change, in apply order (noops excluded)
    noop_count: int
    warnings: tuple[PlanWarning, ...]
    unmanaged: tuple[UnmanagedObject, ...]
    context: PlanContext
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        counts = {kind: 0 for kind in SUMMARY_KINDS}
        for action in self.actions:
            counts[action.kind.value] += 1
        counts["blocked"] = sum(1 for a in self.actions if a.blocked)
        counts["noop"] = self.noop_count
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    @property
    def has_blocked(self) -> bool:
        return any(a.blocked for a in self.actions)

    def summary_line(self) -> str:
        counts = self.summary()
        if not self.actions:
            return "No changes. Live state matches the manifests."
        parts = [f"{counts['create']} to create", f"{counts['update']} to update",
                 f"{counts['replace']} to replace", f"{counts['delete']} to delete"]
        text = "Plan: " + ", ".join(parts)
        if counts["blocked"]:
            text += f" ({counts['blocked']} BLOCKED)"
        if counts["reauthorize"]:
            text += f", {counts['reauthorize']} to reauthorize"
        return text + "."
