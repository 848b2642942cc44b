"""Plain records the embedded platform returns (never secrets: those are write-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The Lytics vocabulary; the UI shows "runnable" as "running".
JOB_STATUSES = (
    "runnable", "sleeping", "paused", "pausing", "initializing", "resuming",
    "completed", "fault", "failed", "killed", "deleted", "unknown",
)
# Statuses in which a job still uses its authorizations: deleting one would break it.
ACTIVE_JOB_STATUSES = frozenset({"runnable", "sleeping", "paused", "pausing", "initializing", "resuming"})
HEALTH_STATUSES = ("healthy", "unhealthy", "unknown")
EDITABLE_AUTH_FIELDS = ("label", "description")


@dataclass(frozen=True)
class AuthRecord:
    id: str
    provider: str
    method: str
    type: str | None
    label: str
    description: str
    owner: str
    created: datetime
    updated: datetime
    health: str
    health_reason: str
    health_checked_at: datetime | None
    token_expires_at: datetime | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class JobRecord:
    id: str
    name: str
    workflow: str
    status: str
    description: str
    config: dict[str, Any]
    auth_ids: tuple[str, ...]
    owner: str
    created: datetime
    updated: datetime

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


@dataclass(frozen=True)
class ExperienceRecord:
    id: str
    name: str
    status: str
    auth_ids: tuple[str, ...]
    created: datetime


@dataclass(frozen=True)
class PlatformSnapshot:
    authorizations: list[AuthRecord]
    jobs: list[JobRecord]
    experiences: list[ExperienceRecord]
    queries: int = 0  # how many SELECTs it took; tests assert it stays constant


@dataclass(frozen=True)
class RequestCounts:
    hour: int = 0
    day: int = 0
    week: int = 0
    month: int = 0
