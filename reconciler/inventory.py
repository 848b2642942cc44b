"""What `authctl status` and `authctl show` display, computed from a snapshot and state.

Pure functions: rows are derived from data passed in; rendering lives in render/status.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.live import HEALTH_ORDER, LiveAuthorization, LiveJob, Snapshot, display_status
from reconciler.state_records import ManagedObject

AUTH_SORT_KEYS = ("label", "description", "provider", "method", "health", "owner", "created", "updated")
JOB_SORT_KEYS = ("name", "workflow", "status", "created")


@dataclass(frozen=True)
class AuthorizationRow:
    id: str
    name: str | None  # manifest name when this workspace manages it
    label: str
    description: str
    provider: str
    method: str
    health: str
    health_reason: str
    owner: str
    created: datetime | None
    updated: datetime | None
    token_expires_at: datetime | None
    jobs_active: int
    jobs_total: int
    experiences: int

    @property
    def managed(self) -> bool:
        return self.name is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "label": self.label, "description": self.description,
            "provider": self.provider, "method": self.method, "health": self.health,
            "health_reason": self.health_reason, "owner": self.owner, "created": _iso(self.created),
            "updated": _iso(self.updated), "token_expires_at": _iso(self.token_expires_at),
            "jobs_active": self.jobs_active, "jobs_total": self.jobs_total, "experiences": self.experiences,
            "managed": self.managed,
        }


@dataclass(frozen=True)
class JobRow:
    id: str
    name: str
    workflow: str
    status: str
    created: datetime | None
    managed_name: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "workflow": self.workflow, "status": self.status,
                "created": _iso(self.created), "managed_name": self.managed_name}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def managed_names(managed: dict[tuple[str, str], ManagedObject], kind: str) -> dict[str, str]:
    """live id -> manifest name for one kind."""
    return {obj.live_id: obj.name for (k, _), obj in managed.items() if k == kind}


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


def authorization_rows(snapshot: Snapshot, managed: dict[tuple[str, str], ManagedObject],
                       sort: str = "label", reverse: bool = False) -> list[AuthorizationRow]:
    names = managed_names(managed, "Authorization")
    rows = [authorization_row(a, snapshot, names) for a in snapshot.authorizations.values()]
    if sort == "health":  # by severity (healthy, unknown, unhealthy), not alphabetically
        rows.sort(key=lambda r: (HEALTH_ORDER.get(r.health, len(HEALTH_ORDER)), r.label.casefold(), r.id),
                  reverse=reverse)
    else:
        rows.sort(key=lambda r: (_sort_value(getattr(r, sort)), r.label.casefold(), r.id), reverse=reverse)
    return rows


def job_rows(jobs: list[LiveJob], managed: dict[tuple[str, str], ManagedObject], sort: str = "name",
             reverse: bool = False) -> list[JobRow]:
    names = managed_names(managed, "Job")
    rows = [JobRow(j.id, j.name, j.workflow, display_status(j.status), j.created, names.get(j.id)) for j in jobs]
    rows.sort(key=lambda r: (_sort_value(getattr(r, sort)), r.name, r.id), reverse=reverse)
    return rows


def resolve_authorization(snapshot: Snapshot, managed: dict[tuple[str, str], ManagedObject],
                          name_or_id: str) -> LiveAuthorization | None:
    """Find by manifest name, live id, then label (case-insensitive)."""
    obj = managed.get(("Authorization", name_or_id))
    if obj is not None and obj.live_id in snapshot.authorizations:
        return snapshot.authorizations[obj.live_id]
    if name_or_id in snapshot.authorizations:
        return snapshot.authorizations[name_or_id]
    wanted = name_or_id.casefold()
    return next((a for a in snapshot.authorizations.values() if a.label.casefold() == wanted), None)
