"""Live state as every backend reports it: authorizations, jobs, experiences, references.

A :class:`Snapshot` is one consistent read of a platform, taken with a constant number
of calls. Its reference index answers "who uses this authorization?" without any
further I/O, which is what the planner's delete guard needs for every object.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

# Statuses in which a job still uses its authorizations (Lytics "runnable" = running).
ACTIVE_JOB_STATUSES = frozenset({"runnable", "running", "sleeping", "paused", "initializing", "pausing",
                                 "resuming"})
HEALTH_ORDER = {"healthy": 0, "unknown": 1, "unhealthy": 2}  # worse is larger


def display_status(status: str) -> str:
    """The UI word for a job status: Lytics' API says runnable, people say running."""
    return "running" if status == "runnable" else status


@dataclass(frozen=True)
class LiveAuthorization:
    id: str
    provider: str
    method: str
    type: str | None
    label: str
    description: str
    health: str = "unknown"
    health_reason: str = ""
    owner: str = ""
    created: datetime | None = None
    updated: datetime | None = None
    health_checked_at: datetime | None = None
    token_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveJob:
    id: str
    name: str
    workflow: str
    status: str
    auth_ids: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    owner: str = ""
    created: datetime | None = None
    updated: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


@dataclass(frozen=True)
class LiveExperience:
    id: str
    name: str
    auth_ids: tuple[str, ...]
    status: str = "imported"


@dataclass(frozen=True)
class Reference:
    """Something that uses an authorization: a job (with its status) or an imported experience."""

    kind: Literal["job", "experience"]
    id: str
    name: str
    status: str

    @property
    def active(self) -> bool:
        return self.kind == "experience" or self.status in ACTIVE_JOB_STATUSES


@dataclass(frozen=True)
class Snapshot:
    """One read of a platform: objects by id plus a reference index built on demand."""

    authorizations: dict[str, LiveAuthorization]
    jobs: dict[str, LiveJob]
    experiences: dict[str, LiveExperience] = field(default_factory=dict)
    taken_at: datetime | None = None
    calls: int = 0  # backend calls (queries or HTTP requests) it took

    @cached_property
    def _reference_index(self) -> dict[str, list[Reference]]:
        index: dict[str, list[Reference]] = defaultdict(list)
        for job in self.jobs.values():
            if job.status == "deleted":
                continue
            ref = Reference("job", job.id, job.name, display_status(job.status))
            for auth_id in job.auth_ids:
                index[auth_id].append(ref)
        for exp in self.experiences.values():
            ref = Reference("experience", exp.id, exp.name, exp.status)
            for auth_id in exp.auth_ids:
                index[auth_id].append(ref)
        return dict(index)

    def references(self, auth_id: str) -> list[Reference]:
        """Every job (not deleted) and experience that uses ``auth_id``."""
        return list(self._reference_index.get(auth_id, ()))

    def active_references(self, auth_id: str) -> list[Reference]:
        return [r for r in self.references(auth_id) if r.active]
