"""The Backend protocol: the only way the reconciler reads or changes a platform.

Backends do all the I/O. They return live models (``reconciler.live``) and raise
``BackendError`` subclasses: ``TemporaryBackendError`` when a retry may help,
``PermanentBackendError`` when it cannot (apply classifies with isinstance alone).
Secret values cross this boundary only as ``SecretValue`` and are revealed by the
backend at the moment they are sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from reconciler.live import LiveAuthorization, LiveJob, Reference, Snapshot


class Secret(Protocol):
    def reveal(self) -> str: ...


@dataclass(frozen=True)
class AuthorizationRequest:
    """What creating an authorization needs; credentials stay redacted until sent."""

    provider: str
    method: str
    type: str | None
    label: str
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Secret] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class JobRequest:
    """A job's full desired shape (PUT replaces the whole job, as on Lytics)."""

    name: str
    workflow: str
    auth_ids: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    status: str = "runnable"


@dataclass(frozen=True)
class UsageCounts:
    hour: int
    day: int
    week: int
    month: int


@runtime_checkable
class Backend(Protocol):
    name: str

    def snapshot(self) -> Snapshot: ...

    def references(self, auth_id: str) -> list[Reference]: ...

    def create_authorization(self, request: AuthorizationRequest) -> LiveAuthorization: ...

    def update_authorization(self, auth_id: str, *, label: str, description: str) -> LiveAuthorization: ...

    def delete_authorization(self, auth_id: str) -> None: ...

    def create_job(self, request: JobRequest) -> LiveJob: ...

    def update_job(self, job_id: str, request: JobRequest) -> LiveJob: ...

    def pause_job(self, job_id: str) -> LiveJob: ...

    def resume_job(self, job_id: str) -> LiveJob: ...

    def delete_job(self, job_id: str) -> None: ...

    def usage(self, auth_id: str, now: datetime | None = None) -> UsageCounts | None: ...

    def close(self) -> None: ...
