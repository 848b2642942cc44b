"""The ``local`` backend: the embedded platform, in process.

It translates platform records into live models and platform refusals into backend
errors (a locked database is temporary; a broken rule is permanent), so the engine
treats it exactly like a remote API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from reconciler.backends.base import AuthorizationRequest, JobRequest, UsageCounts
from reconciler.bulk import paused_gc
from reconciler.errors import DatabaseError, PermanentBackendError, PlatformError, TemporaryBackendError
from reconciler.live import LiveAuthorization, LiveExperience, LiveJob, Reference, Snapshot, display_status
from reconciler.platform import AuthRecord, ExperienceRecord, JobRecord, Platform

T = TypeVar("T")


# The two converters below run once per object in every snapshot, so they pass fields
# positionally (about twice as fast as keywords); _FIELD_ORDER pins the order they assume.
def to_live_authorization(r: AuthRecord) -> LiveAuthorization:
    return LiveAuthorization(r.id, r.provider, r.method, r.type, r.label, r.description, r.health, r.health_reason,
                             r.owner, r.created, r.updated, r.health_checked_at, r.token_expires_at, r.scopes)


def to_live_job(r: JobRecord) -> LiveJob:
    return LiveJob(r.id, r.name, r.workflow, r.status, r.auth_ids, r.config, r.description, r.owner, r.created,
                   r.updated)


_FIELD_ORDER = {
    LiveAuthorization: ("id", "provider", "method", "type", "label", "description", "health", "health_reason",
                        "owner", "created", "updated", "health_checked_at", "token_expires_at", "scopes"),
    LiveJob: ("id", "name", "workflow", "status", "auth_ids", "config", "description", "owner", "created",
              "updated"),
}
for _cls, _names in _FIELD_ORDER.items():
    if tuple(f.name for f in fields(_cls)) != _names:  # live.py changed: update the converters
        raise ImportError(f"reconciler.backends.local builds {_cls.__name__} positionally from {_names}; "
                          "its fields changed")


def to_live_experience(record: ExperienceRecord) -> LiveExperience:
    return LiveExperience(id=record.id, name=record.name, auth_ids=record.auth_ids, status=record.status)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:
        raise TemporaryBackendError(exc.message, code="DATABASE") from None
    except PlatformError as exc:
        raise PermanentBackendError(exc.message, code=type(exc).__name__) from None
    except OperationalError as exc:  # a database hiccup the platform did not classify: retry
        raise TemporaryBackendError(_first_line(exc), code="DATABASE") from None
    except SQLAlchemyError as exc:  # an integrity or programming error: retrying cannot help
        raise PermanentBackendError(_first_line(exc), code="DATABASE") from None


def _first_line(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's statement and parameters (they can hold data)."""
    return f"platform database error: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"


class LocalBackend:
    """Backend over an open :class:`Platform`; the caller owns the platform's lifetime."""

    name = "local"

    def __init__(self, platform: Platform, *, owner: str = "authctl") -> None:
        self.platform = platform
        self.owner = owner

    def _call(self, func: Callable[[], T]) -> T:
        with _translated():
            return func()

    def snapshot(self) -> Snapshot:
        with paused_gc():  # tens of thousands of records: see paused_gc
            with _translated():
                raw = self.platform.snapshot()
            snapshot = Snapshot(
                authorizations={r.id: to_live_authorization(r) for r in raw.authorizations},
                jobs={r.id: to_live_job(r) for r in raw.jobs},
                experiences={r.id: to_live_experience(r) for r in raw.experiences},
                taken_at=datetime.now(UTC), calls=raw.queries,
            )
            del raw  # freed now, so the collector's next pass does not walk the platform records
        return snapshot

    def references(self, auth_id: str) -> list[Reference]:
        with _translated():
            jobs, experiences = self.platform.references(auth_id)
        refs = [Reference("job", j.id, j.name, display_status(j.status)) for j in jobs]
        refs += [Reference("experience", e.id, e.name, e.status) for e in experiences]
        return refs

    def create_authorization(self, request: AuthorizationRequest) -> LiveAuthorization:
        credentials = {k: v.reveal() for k, v in request.credentials.items()}
        record = self._call(lambda: self.platform.create_authorization(
            provider=request.provider, method=request.method, type=request.type, label=request.label,
            description=request.description, config=request.config, credentials=credentials, owner=self.owner))
        return to_live_authorization(record)

    def update_authorization(self, auth_id: str, *, label: str, description: str) -> LiveAuthorization:
        record = self._call(lambda: self.platform.update_authorization(auth_id, label=label, description=description))
        return to_live_authorization(record)

    def delete_authorization(self, auth_id: str) -> None:
        self._call(lambda: self.platform.delete_authorization(auth_id))

    def create_job(self, request: JobRequest) -> LiveJob:
        record = self._call(lambda: self.platform.create_job(
            name=request.name, workflow=request.workflow, auth_ids=request.auth_ids, config=request.config,
            status=request.status, description=request.description, owner=self.owner))
        return to_live_job(record)

    def update_job(self, job_id: str, request: JobRequest) -> LiveJob:
        record = self._call(lambda: self.platform.update_job(
            job_id, name=request.name, config=request.config, auth_ids=request.auth_ids,
            description=request.description))
        return to_live_job(record)

    def pause_job(self, job_id: str) -> LiveJob:
        return to_live_job(self._call(lambda: self.platform.pause_job(job_id)))

    def resume_job(self, job_id: str) -> LiveJob:
        return to_live_job(self._call(lambda: self.platform.resume_job(job_id)))

    def delete_job(self, job_id: str) -> None:
        self._call(lambda: self.platform.delete_job(job_id))

    def usage(self, auth_id: str, now: datetime | None = None) -> UsageCounts | None:
        counts = self._call(lambda: self.platform.request_counts(auth_id, now))
        return UsageCounts(counts.hour, counts.day, counts.week, counts.month)

    def close(self) -> None:
        self.platform.close()
