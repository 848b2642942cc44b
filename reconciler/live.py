"""Live state as every backend reports it: authorizations, jobs, experiences, references, counts, health.

A :class:`Snapshot` is one consistent read of a platform, taken with a constant number
of calls. Its reference index answers "who uses this authorization?" without any
further I/O, which is what the planner's delete guard needs for every object. The
value types the views and the health checks share (:class:`RequestCounts`,
:class:`HealthResult`) live here too, so renderers need no backend.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from reconciler.vocabulary import Health, JobStatus

__all__ = ["Health", "HealthReport", "HealthResult", "HourCount", "JobStatus", "LiveAuthorization", "LiveExperience",
           "LiveJob", "Reference", "RefreshReport", "RequestCounts", "Snapshot"]


@dataclass(frozen=True)
class LiveAuthorization:
    id: str
    provider: str
    method: str
    type: str | None
    label: str
    description: str
    health: Health = Health.UNKNOWN
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
    status: JobStatus
    auth_ids: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    owner: str = ""
    created: datetime | None = None
    updated: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status.is_active


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
    status: JobStatus | str  # a job's JobStatus; an experience's own word ("imported")

    @property
    def active(self) -> bool:
        """An imported experience always counts; a job while its status is active."""
        return self.kind == "experience" or (isinstance(self.status, JobStatus) and self.status.is_active)

    @property
    def display_status(self) -> str:
        return self.status.display if isinstance(self.status, JobStatus) else self.status


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
            if job.status == JobStatus.DELETED:
                continue
            ref = Reference("job", job.id, job.name, job.status)
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


@dataclass(frozen=True)
class HourCount:
    """Requests made with one authorization in one UTC hour (``hour`` is the start of the hour)."""

    hour: datetime
    count: int


@dataclass(frozen=True)
class RequestCounts:
    """Requests made with one authorization in the last hour, day, week and month (UTC buckets).

    ``hourly``: the hours of the last 30 days that saw requests, oldest first (sparse: an
    hour without requests is absent); empty when the platform does not report them.
    """

    hour: int = 0
    day: int = 0
    week: int = 0
    month: int = 0
    hourly: tuple[HourCount, ...] = ()


@dataclass(frozen=True)
class HealthResult:
    """The outcome of one health check, as a backend records it on the authorization.

    ``scopes`` and ``token_expires_at`` are recorded only when the check learnt them (None:
    unknown, keep what is recorded).
    """

    status: Health
    reason: str = ""
    checked_at: datetime | None = None
    scopes: tuple[str, ...] | None = None
    token_expires_at: datetime | None = None


@dataclass(frozen=True)
class HealthReport:
    """What one provider check found (``authctl health``), as recorded on the authorization.

    ``scopes_missing``: required scopes (the catalog's) the grant lacks; ``refreshed``: the
    access token was refreshed before the check; ``requests``: provider requests it made.
    """

    auth_id: str
    status: Health
    reason: str = ""
    checked_at: datetime | None = None
    scopes_missing: tuple[str, ...] = ()
    refreshed: bool = False
    requests: int = 0


@dataclass(frozen=True)
class RefreshReport:
    """What ``authctl refresh`` did to one authorization's tokens.

    ``outcome``: ``refreshed``, ``not_needed`` (not close to expiry), ``skipped`` (not an
    OAuth 2 grant with a refresh token, or no OAuth app) or ``failed`` (``reason`` says why;
    a refused refresh token also makes the authorization unhealthy).
    """

    auth_id: str
    outcome: Literal["refreshed", "not_needed", "skipped", "failed"]
    reason: str = ""
    token_expires_at: datetime | None = None
    rotated: bool = False  # the provider issued a new refresh token (stored in the same transaction)
    requests: int = 0
