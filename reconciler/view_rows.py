"""The rows status, show and the dashboard display: plain values that views build and renderers draw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.vocabulary import Health


@dataclass(frozen=True)
class AuthorizationRow:
    id: str
    name: str | None  # manifest name when this workspace manages it
    label: str
    description: str
    provider: str
    method: str
    health: Health
    health_reason: str
    owner: str
    created: datetime | None
    updated: datetime | None
    token_expires_at: datetime | None
    jobs_active: int
    jobs_total: int
    experiences: int
    health_checked_at: datetime | None = None  # when the health was last checked (or set)

    @property
    def managed(self) -> bool:
        return self.name is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "label": self.label, "description": self.description,
            "provider": self.provider, "method": self.method, "health": self.health,
            "health_reason": self.health_reason, "health_checked_at": _iso(self.health_checked_at),
            "owner": self.owner, "created": _iso(self.created),
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


@dataclass(frozen=True)
class BoundAuthorization:
    """An authorization a job uses, as `authctl show JOB` lists it (label None: gone from the platform)."""

    id: str
    label: str | None
    managed_name: str | None
    provider: str | None
    method: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "managed_name": self.managed_name, "provider": self.provider,
                "method": self.method}


@dataclass(frozen=True)
class JobDetail:
    """One job for `authctl show`: its platform fields, its config and the authorizations it is bound to.

    A job's config is never secret (workflows declare no secret fields: credentials
    live on authorizations), so it is shown as the platform returns it.
    """

    id: str
    name: str
    managed_name: str | None
    workflow: str
    status: str
    description: str
    owner: str
    created: datetime | None
    updated: datetime | None
    config: dict[str, Any]
    authorizations: tuple[BoundAuthorization, ...]

    @property
    def managed(self) -> bool:
        return self.managed_name is not None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "managed_name": self.managed_name, "managed": self.managed,
                "workflow": self.workflow, "status": self.status, "description": self.description,
                "owner": self.owner, "created": _iso(self.created), "updated": _iso(self.updated),
                "config": self.config, "authorizations": [a.to_json() for a in self.authorizations]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
