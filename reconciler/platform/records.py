"""Plain records the embedded platform returns (never secrets: those are write-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.vocabulary import Health, JobStatus

# The platform database layout this authctl writes (platform_meta.schema_version); schema.py declares it.
SCHEMA_VERSION = 2


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
    health: Health
    health_reason: str
    health_checked_at: datetime | None
    token_expires_at: datetime | None
    scopes: tuple[str, ...]
    marker: str | None = None  # the creation marker its creator gave, if any


@dataclass(frozen=True)
class JobRecord:
    id: str
    name: str
    workflow: str
    status: JobStatus
    description: str
    config: dict[str, Any]
    auth_ids: tuple[str, ...]
    owner: str
    created: datetime
    updated: datetime
    marker: str | None = None  # the creation marker its creator gave, if any

    @property
    def active(self) -> bool:
        return self.status.is_active


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
