"""The rows `authctl status` and `authctl show` display, computed from a snapshot and state. Pure.

Rows are derived from data passed in; rendering lives in render/status.py.
"""

from __future__ import annotations

from typing import Any

from reconciler.live import LiveAuthorization, LiveJob, Snapshot
from reconciler.view_rows import AuthorizationRow, JobRow
from reconciler.state.records import ManagedIndex
from reconciler.vocabulary import ObjectKind

AUTH_SORT_KEYS = ("label", "description", "provider", "method", "health", "owner", "created", "updated")
JOB_SORT_KEYS = ("name", "workflow", "status", "created")


def managed_names(managed: ManagedIndex, kind: ObjectKind) -> dict[str, str]:
    """live id -> manifest name for one kind."""
    return {obj.live_id: obj.name for (k, _), obj in managed.items() if k is kind}


def authorization_row(auth: LiveAuthorization, snapshot: Snapshot, names: dict[str, str]) -> AuthorizationRow:
    refs = snapshot.references(auth.id)
    jobs = [r for r in refs if r.kind == "job"]
    return AuthorizationRow(
        id=auth.id, name=names.get(auth.id), label=auth.label, description=auth.description,
        provider=auth.provider, method=auth.method, health=auth.health, health_reason=auth.health_reason,
        owner=auth.owner, created=auth.created, updated=auth.updated, token_expires_at=auth.token_expires_at,
        jobs_active=sum(1 for r in jobs if r.active), jobs_total=len(jobs),
        experiences=sum(1 for r in refs if r.kind == "experience"),
    )


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")
    return (0, value.casefold() if isinstance(value, str) else value)


def authorization_rows(snapshot: Snapshot, managed: ManagedIndex, sort: str = "label",
                       reverse: bool = False) -> list[AuthorizationRow]:
    names = managed_names(managed, ObjectKind.AUTHORIZATION)
    rows = [authorization_row(a, snapshot, names) for a in snapshot.authorizations.values()]
    if sort == "health":  # by severity (healthy, unknown, unhealthy), not alphabetically
        rows.sort(key=lambda r: (r.health.severity, r.label.casefold(), r.id), reverse=reverse)
    else:
        rows.sort(key=lambda r: (_sort_value(getattr(r, sort)), r.label.casefold(), r.id), reverse=reverse)
    return rows


def job_rows(jobs: list[LiveJob], managed: ManagedIndex, sort: str = "name", reverse: bool = False) -> list[JobRow]:
    names = managed_names(managed, ObjectKind.JOB)
    rows = [JobRow(j.id, j.name, j.workflow, j.status.display, j.created, names.get(j.id)) for j in jobs]
    rows.sort(key=lambda r: (_sort_value(getattr(r, sort)), r.name, r.id), reverse=reverse)
    return rows


def resolve_authorization(snapshot: Snapshot, managed: ManagedIndex, name_or_id: str) -> LiveAuthorization | None:
    """Find by manifest name, live id, then label (case-insensitive)."""
    obj = managed.get((ObjectKind.AUTHORIZATION, name_or_id))
    if obj is not None and obj.live_id in snapshot.authorizations:
        return snapshot.authorizations[obj.live_id]
    if name_or_id in snapshot.authorizations:
        return snapshot.authorizations[name_or_id]
    wanted = name_or_id.casefold()
    return next((a for a in snapshot.authorizations.values() if a.label.casefold() == wanted), None)
