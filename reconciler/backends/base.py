"""The Backend protocol: the only way the reconciler reads or changes a platform.

Backends do all the I/O. They return live models (``reconciler.live``) and raise
``BackendError`` subclasses: ``TemporaryBackendError`` when a retry may help,
``PermanentBackendError`` when it cannot (apply classifies with isinstance alone).
Secret values cross this boundary only as ``Secret`` objects and are revealed by the
backend at the moment they are sent.

Creation markers: every create carries a ``marker`` (an opaque token apply journals
before the call) that the platform keeps on the object, so that crash recovery can
find what it created by marker, proving authorship instead of guessing by name.

``PlatformConsole`` is the other boundary: what a person does in a platform's UI and
reconciliation never does (``authctl platform ...``). It is a protocol of its own so that
apply, which is handed a Backend, has no way to reach it.

``CredentialWorker`` is the third: work that needs the stored credentials (provider health
checks, token refreshes), which only the side holding them can do (``authctl health``,
``authctl refresh``). Revoking an OAuth grant's tokens needs no method of its own: a
backend that holds the credentials does it inside ``delete_authorization``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from reconciler.live import (
    HealthReport,
    HealthResult,
    LiveAuthorization,
    LiveExperience,
    LiveJob,
    Reference,
    RefreshReport,
    RequestCounts,
    Snapshot,
)
from reconciler.vocabulary import JobStatus

DEFAULT_CHECK_CONCURRENCY = 20


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
    marker: str | None = None
    # An OAuth grant (``authctl login``): what the provider granted and when the access token expires.
    scopes: tuple[str, ...] = ()
    token_expires_at: datetime | None = None


@dataclass(frozen=True)
class JobRequest:
    """A job's full desired shape (PUT replaces the whole job, as on Lytics)."""

    name: str
    workflow: str
    auth_ids: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    status: JobStatus = JobStatus.RUNNABLE
    marker: str | None = None


@dataclass(frozen=True)
class Reauthorization:
    """New tokens for an existing OAuth connection: same id, so the jobs using it keep working."""

    credentials: dict[str, Secret] = field(repr=False)
    scopes: tuple[str, ...] = ()
    token_expires_at: datetime | None = None


@runtime_checkable
class Backend(Protocol):
    name: str

    # -- reading ---------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot: ...

    def references(self, auth_id: str) -> list[Reference]: ...

    def find_authorization_by_marker(self, marker: str) -> LiveAuthorization | None: ...

    def find_job_by_marker(self, marker: str) -> LiveJob | None: ...

    def get_job(self, job_id: str) -> LiveJob | None:
        """One job as it is now; None when the platform does not know it."""
        ...

    def request_counts(self, auth_id: str, now: datetime | None = None) -> RequestCounts | None: ...

    # -- authorizations --------------------------------------------------------------------------
    def create_authorization(self, request: AuthorizationRequest) -> LiveAuthorization: ...

    def update_authorization(self, auth_id: str, *, label: str, description: str) -> LiveAuthorization: ...

    def reauthorize(self, auth_id: str, reauthorization: Reauthorization) -> LiveAuthorization: ...

    def record_health(self, auth_id: str, result: HealthResult) -> LiveAuthorization: ...

    def delete_authorization(self, auth_id: str) -> list[str]:
        """Delete; returns the ids of jobs the platform says it stopped (a cascade), if it says.

        Raises DeleteRefusedError when the platform refuses because something uses it.
        """
        ...

    # -- jobs ------------------------------------------------------------------------------------
    def create_job(self, request: JobRequest) -> LiveJob: ...

    def update_job(self, job_id: str, request: JobRequest) -> LiveJob: ...

    def pause_job(self, job_id: str) -> LiveJob: ...

    def resume_job(self, job_id: str) -> LiveJob: ...

    def delete_job(self, job_id: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class OAuthHandoff(Protocol):
    """A backend that may refuse OAuth tokens, and says so before ``authctl login`` sends anyone to a browser.

    ``LyticsBackend``: authctl's served platform takes them, a real Lytics cannot (its OAuth
    connections are made in its UI): a PermanentBackendError saying so. A backend without
    this method (the embedded platform) always takes them.
    """

    def check_oauth_handoff(self, provider: str, method: str) -> None: ...


@runtime_checkable
class PlatformConsole(Protocol):
    """Operator actions: what a person does in a platform's UI and reconciliation never does.

    ``authctl platform ...`` acts through a backend that is also a console (check with
    ``isinstance(backend, PlatformConsole)``): the embedded platform (``LocalBackend``) and
    authctl's served platform (``LyticsBackend``, over its ``/v2/_authctl/`` endpoints; a
    real Lytics has none, and says so in a PermanentBackendError). The rest of what those
    commands do is the Backend protocol: listing is ``snapshot()``, a health check by hand
    is ``record_health(auth_id, HealthResult(...))``, and a job started with a status is
    ``create_job()`` then ``set_job_status()`` when the status is not ``runnable``.

    Errors are those of Backend; an unknown id is a PermanentBackendError naming the id.
    """

    def set_job_status(self, job_id: str, status: JobStatus) -> LiveJob:
        """Set the job's status to any status word (``runnable`` is what people call running), as its UI would."""
        ...

    def create_experience(self, name: str, auth_ids: Sequence[str]) -> LiveExperience:
        """Import an experience that uses ``auth_ids``; guarded deletes of those authorizations then refuse."""
        ...


@runtime_checkable
class CredentialWorker(Protocol):
    """Provider-side work on stored credentials, run where they are stored (never copied out).

    The embedded platform (``LocalBackend``) runs it in process; authctl's served platform
    (``LyticsBackend``) runs it server-side behind ``/v2/_authctl/health-check`` and
    ``/v2/_authctl/refresh``. A platform without those endpoints (a real Lytics) reports
    its own recorded health instead (reason ``as reported by the platform``) and refuses
    refreshes with a PermanentBackendError. Results are recorded on the platform
    (``checked_at``, requests counted) before they are returned, in the order of ``auth_ids``;
    an id the platform does not know is left out.
    """

    def check_health(self, auth_ids: Sequence[str],
                     concurrency: int = DEFAULT_CHECK_CONCURRENCY) -> list[HealthReport]:
        """Run each authorization's provider check (refreshing an expiring OAuth token first)."""
        ...

    def refresh_tokens(self, auth_ids: Sequence[str], force: bool = False) -> list[RefreshReport]:
        """Refresh OAuth 2 tokens close to expiry (all of them with ``force``), storing rotated ones atomically."""
        ...
