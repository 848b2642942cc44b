"""The platform's rules (DESIGN.md section 1): unique labels and markers, bindings, edits, guarded deletes.

Each check runs inside the caller's write transaction (on SQLite: BEGIN IMMEDIATE), so
what it checked still holds when the caller writes. A broken rule raises a
:class:`ConflictError` (or :class:`ReferencedError`) that names the objects involved and
never echoes a config or credential value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from sqlalchemy import Connection, Table, bindparam, select

from reconciler.errors import ConflictError, NotFoundError, ReferencedError
from reconciler.platform import schema as t
from reconciler.platform.records import ExperienceRecord, JobRecord
from reconciler.vocabulary import JobStatus

DeleteMode = Literal["guarded", "cascade"]
# (provider, method, workflow) -> supported? None means "no opinion" (unknown workflow).
WorkflowRule = Callable[[str, str, str], bool | None]
EDITABLE_AUTH_FIELDS = ("label", "description")
MARKER_LENGTH = t.authorizations.c.marker.type.length

_a = t.authorizations.c
LABEL_HOLDER = select(_a.id).where(_a.label_key == bindparam("label_key"))
LABEL_HOLDER_EXCEPT = LABEL_HOLDER.where(_a.id != bindparam("exclude"))
AUTH_KIND_FOR_BINDING = select(_a.provider, _a.method).where(_a.id == bindparam("auth_id")).with_for_update()
_KIND_OF_TABLE = {t.authorizations.name: "authorization", t.jobs.name: "job"}


def require_label(label: str) -> None:
    if not isinstance(label, str) or not label.strip():
        raise ConflictError("an authorization needs a non-empty label")


def require_status(status: str) -> JobStatus:
    """The job status for an API word (or ``running``); ConflictError listing the statuses otherwise."""
    try:
        return JobStatus.parse(status)
    except ValueError as exc:
        raise ConflictError(str(exc)) from None


def require_marker(marker: str | None) -> None:
    if marker is not None and (not isinstance(marker, str) or not 0 < len(marker) <= MARKER_LENGTH):
        raise ConflictError(f"a creation marker is a string of 1 to {MARKER_LENGTH} characters")


def check_label_free(conn: Connection, label: str, exclude: str | None = None) -> None:
    """Labels are unique per account, case-insensitively (``exclude``: the authorization being renamed)."""
    if exclude:
        other = conn.execute(LABEL_HOLDER_EXCEPT, {"label_key": label.casefold(), "exclude": exclude}).scalar()
    else:
        other = conn.execute(LABEL_HOLDER, {"label_key": label.casefold()}).scalar()
    if other is not None:
        raise ConflictError(f"label {label!r} is already used by authorization {other}; labels must be unique")


def check_marker_free(conn: Connection, table: Table, marker: str | None) -> None:
    """A creation marker names one object for good: a deleted job keeps its marker."""
    if marker is None:
        return
    other = conn.execute(select(table.c.id).where(table.c.marker == marker)).scalar()
    if other is not None:
        raise ConflictError(f"creation marker {marker!r} is already used by {_KIND_OF_TABLE[table.name]} {other}")


def refuse_immutable(auth_id: str, changes: Mapping[str, Any]) -> None:
    """Only label and description are edited in place; anything else means a new authorization."""
    immutable = sorted(k for k in changes if k not in EDITABLE_AUTH_FIELDS)
    if immutable:
        raise ConflictError(
            f"cannot edit {', '.join(immutable)} of authorization {auth_id}: only label and "
            "description can be edited; create a new authorization to change anything else")


def edited_values(conn: Connection, current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The column values a label/description edit changes (empty when nothing changes), checked."""
    values: dict[str, Any] = {}
    if "label" in changes and changes["label"] != current["label"]:
        require_label(changes["label"])
        check_label_free(conn, changes["label"], exclude=current["id"])
        values.update(label=changes["label"], label_key=changes["label"].casefold())
    if "description" in changes and changes["description"] != current["description"]:
        values["description"] = changes["description"] or ""
    return values


def check_binding(conn: Connection, workflow: str, auth_ids: list[str] | tuple[str, ...],
                  workflow_rule: WorkflowRule | None) -> None:
    """A job needs existing authorizations whose methods support its workflow (locks them)."""
    if not auth_ids:
        raise ConflictError("a job needs at least one authorization")
    for auth_id in auth_ids:
        row = conn.execute(AUTH_KIND_FOR_BINDING, {"auth_id": auth_id}).mappings().first()
        if row is None:
            raise NotFoundError(f"no authorization with id {auth_id!r}")
        supported = workflow_rule(row["provider"], row["method"], workflow) if workflow_rule else None
        if supported is False:
            raise ConflictError(f"workflow {workflow} does not work with {row['provider']}/{row['method']} "
                                f"(authorization {auth_id})")


def jobs_to_stop(auth_id: str, jobs: list[JobRecord], experiences: list[ExperienceRecord],
                 mode: DeleteMode) -> list[JobRecord]:
    """Whether an authorization may be deleted given what uses it, and which jobs that stops.

    Guarded: any active job or imported experience refuses the delete, naming each one.
    Cascade (what Lytics does): the active jobs are stopped instead; returns them.
    """
    active = [j for j in jobs if j.active]
    if (active or experiences) and mode == "guarded":
        names = [f"job {j.name} ({j.id}, {j.status})" for j in active]
        names += [f"experience {e.name} ({e.id})" for e in experiences]
        raise ReferencedError(f"authorization {auth_id} is in use and was not deleted: " + "; ".join(names),
                              references=[*active, *experiences])
    return active
