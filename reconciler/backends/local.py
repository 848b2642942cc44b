"""The ``local`` backend: the embedded platform, in process, opened from the workspace's settings.

It translates platform records into live models and platform refusals into backend
errors (a locked database is temporary; a broken rule is permanent), so the engine
treats it exactly like a remote API.

It holds the credentials, so it is also a ``CredentialWorker``: provider health checks and
token refreshes run here, in process (``reconciler.oauth.worker``, with the workspace's
``oauth_clients`` and ``provider_overrides``), and deleting an OAuth authorization first
revokes its tokens at the provider; a revocation that fails is a warning on the
``reconciler.backends`` logger, never a reason to keep the authorization.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.backends.base import DEFAULT_CHECK_CONCURRENCY, AuthorizationRequest, JobRequest, Reauthorization
from reconciler.catalog import Catalog
from reconciler.db import existing_database_file, sqlite_path
from reconciler.errors import (
    DatabaseError,
    DeleteRefusedError,
    NotFoundError,
    PermanentBackendError,
    PlatformError,
    ReferencedError,
    TemporaryBackendError,
    WorkspaceError,
)
from reconciler.live import (
    HealthReport,
    HealthResult,
    HourCount,
    LiveAuthorization,
    LiveExperience,
    LiveJob,
    Reference,
    RefreshReport,
    RequestCounts,
    Snapshot,
)
from reconciler.paused_gc import paused_gc
from reconciler.platform import AuthRecord, ExperienceRecord, JobRecord
from reconciler.vocabulary import Access, JobStatus
from reconciler.workspace import DATA_DIR, Workspace

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported only when a command needs more than a snapshot
    from reconciler.oauth.worker import ProviderWorker
    from reconciler.platform import Platform

T = TypeVar("T")
log = logging.getLogger("reconciler.backends")


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
    except ReferencedError as exc:
        raise DeleteRefusedError(exc.message, code=type(exc).__name__) from None
    except PlatformError as exc:
        raise PermanentBackendError(exc.message, code=type(exc).__name__) from None
    except Exception as exc:
        sa = sys.modules.get("sqlalchemy.exc")  # no SQLAlchemy error without SQLAlchemy loaded
        if sa is None or not isinstance(exc, sa.SQLAlchemyError):
            raise
        if isinstance(exc, sa.OperationalError):  # a database hiccup the platform did not classify: retry
            raise TemporaryBackendError(_first_line(exc), code="DATABASE") from None
        raise PermanentBackendError(_first_line(exc), code="DATABASE") from None  # retrying cannot help


def _first_line(exc: Exception) -> str:
    """The driver's message without SQLAlchemy's statement and parameters (they can hold data)."""
    return f"platform database error: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"


class LocalBackend:
    """Backend over an open :class:`Platform`; the caller owns the platform's lifetime."""

    name = "local"

    def __init__(self, platform: Platform | Any, *, owner: str = "authctl", workspace: Workspace | None = None,
                 catalog: Catalog | None = None) -> None:
        self.platform = platform
        self.owner = owner
        self.workspace = workspace  # with catalog: what provider checks, refreshes and revocations need
        self.catalog = catalog
        self._worker: ProviderWorker | None = None

    def _provider_worker(self) -> ProviderWorker:
        if self.workspace is None or self.catalog is None:
            raise PermanentBackendError("provider checks need the workspace's settings: open the backend with "
                                        "open_backend(workspace, ...)", code="NO_WORKSPACE")
        if self._worker is None:
            from reconciler.oauth.worker import ProviderWorker  # httpx2 and authlib, only when needed

            self._worker = ProviderWorker(self.platform, self.catalog, self.workspace)
        return self._worker

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
        refs = [Reference("job", j.id, j.name, j.status) for j in jobs]
        refs += [Reference("experience", e.id, e.name, e.status) for e in experiences]
        return refs

    def find_authorization_by_marker(self, marker: str) -> LiveAuthorization | None:
        record = self._call(lambda: self.platform.find_authorization_by_marker(marker))
        return None if record is None else to_live_authorization(record)

    def find_job_by_marker(self, marker: str) -> LiveJob | None:
        record = self._call(lambda: self.platform.find_job_by_marker(marker))
        return None if record is None else to_live_job(record)

    def create_authorization(self, request: AuthorizationRequest) -> LiveAuthorization:
        credentials = {k: v.reveal() for k, v in request.credentials.items()}
        record = self._call(lambda: self.platform.create_authorization(
            provider=request.provider, method=request.method, type=request.type, label=request.label,
            description=request.description, config=request.config, credentials=credentials, owner=self.owner,
            marker=request.marker, scopes=request.scopes, token_expires_at=request.token_expires_at))
        return to_live_authorization(record)

    def update_authorization(self, auth_id: str, *, label: str, description: str) -> LiveAuthorization:
        record = self._call(lambda: self.platform.update_authorization(auth_id, label=label, description=description))
        return to_live_authorization(record)

    def reauthorize(self, auth_id: str, reauthorization: Reauthorization) -> LiveAuthorization:
        credentials = {k: v.reveal() for k, v in reauthorization.credentials.items()}
        record = self._call(lambda: self.platform.reauthorize(
            auth_id, credentials=credentials, token_expires_at=reauthorization.token_expires_at,
            scopes=reauthorization.scopes))
        return to_live_authorization(record)

    def record_health(self, auth_id: str, result: HealthResult) -> LiveAuthorization:
        record = self._call(lambda: self.platform.record_health(
            auth_id, status=result.status, reason=result.reason, checked_at=result.checked_at, scopes=result.scopes,
            token_expires_at=result.token_expires_at))
        return to_live_authorization(record)

    def delete_authorization(self, auth_id: str) -> list[str]:
        """Delete (guarded as the platform is); an OAuth grant's tokens are revoked at the provider first."""
        warning = self._revoke_before_delete(auth_id)
        stopped = [job.id for job in self._call(lambda: self.platform.delete_authorization(auth_id))]
        if warning:
            log.warning("warning: authorization %s deleted, but %s", auth_id, warning)
        return stopped

    def _revoke_before_delete(self, auth_id: str) -> str | None:
        """Revoke the tokens of an OAuth 2 authorization the platform will let go; a warning if that fails.

        Not when the platform would refuse the delete (an active job or an experience uses it
        and the mode is guarded): the authorization stays, so must its tokens.
        """
        if self.workspace is None or self.catalog is None:
            return None
        with _translated():
            try:
                record = self.platform.get_authorization(auth_id)
            except NotFoundError:
                return None  # the delete says so
            spec = self.catalog.method(record.provider, record.method)
            if spec is None or spec.oauth is None or not spec.is_oauth:
                return None
            jobs, experiences = self.platform.references(auth_id)
            if self.platform.mode == "guarded" and (experiences or any(j.active for j in jobs)):
                return None
            return self._provider_worker().revoke_tokens(auth_id)

    def get_job(self, job_id: str) -> LiveJob | None:
        try:
            return to_live_job(self._call(lambda: self.platform.get_job(job_id)))
        except PermanentBackendError as exc:
            if exc.code == NotFoundError.__name__:
                return None
            raise

    def create_job(self, request: JobRequest) -> LiveJob:
        record = self._call(lambda: self.platform.create_job(
            name=request.name, workflow=request.workflow, auth_ids=request.auth_ids, config=request.config,
            status=request.status, description=request.description, owner=self.owner, marker=request.marker))
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

    def request_counts(self, auth_id: str, now: datetime | None = None) -> RequestCounts | None:
        counts = self._call(lambda: self.platform.request_counts(auth_id, now))
        series = self._call(lambda: self.platform.request_series(auth_id, now))
        return RequestCounts(counts.hour, counts.day, counts.week, counts.month,
                             tuple(HourCount(hour, count) for hour, count in series))

    # -- provider checks, where the credentials are (CredentialWorker) ------------------------------------
    def check_health(self, auth_ids: Sequence[str],
                     concurrency: int = DEFAULT_CHECK_CONCURRENCY) -> list[HealthReport]:
        worker = self._provider_worker()
        return self._call(lambda: worker.check_health(auth_ids, concurrency))

    def refresh_tokens(self, auth_ids: Sequence[str], force: bool = False) -> list[RefreshReport]:
        worker = self._provider_worker()
        return self._call(lambda: worker.refresh_tokens(auth_ids, force))

    # -- the platform console (what people do in the UI) ------------------------------------------
    def set_job_status(self, job_id: str, status: JobStatus) -> LiveJob:
        return to_live_job(self._call(lambda: self.platform.set_job_status(job_id, status)))

    def create_experience(self, name: str, auth_ids: Sequence[str]) -> LiveExperience:
        ids = tuple(auth_ids)
        return to_live_experience(self._call(lambda: self.platform.create_experience(name=name, auth_ids=ids)))

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
        self.platform.close()


def open_local_platform(workspace: Workspace, catalog: Catalog, access: Access) -> Platform:
    """The workspace's embedded platform, with the catalog's method/workflow rule.

    For :attr:`Access.READ` (plan, status, show: commands that only read) a platform that
    does not exist yet is not created. The default location inside the workspace's
    ``.authctl/`` folder then reads as an empty platform (nothing applied yet, like
    Terraform's missing local state); any other path is a configuration mistake and an
    error, so a typo in ``backend.path`` never plans against nothing. An existing SQLite
    platform opened for reading is read without SQLAlchemy (``SqliteSnapshotReader``): the
    full platform opens only if the command needs more than a snapshot.
    """
    settings = workspace.backend
    if settings.kind != "local":
        raise WorkspaceError(f"authctl.yaml: backend.kind is {settings.kind!r}; "
                             "this command needs the embedded platform (backend.kind: local)")

    def workflow_rule(provider: str, method: str, workflow: str) -> bool | None:
        if workflow not in catalog.workflows:
            return None
        spec = catalog.method(provider, method)
        return None if spec is None else spec.supports(workflow)

    url = workspace.resolve_url(settings.path)
    path = sqlite_path(url)
    exists = path is not None and existing_database_file(
        path, url, what="the platform database", example=f"{DATA_DIR}/platform.db", error=DatabaseError,
        setting=f"{workspace.backend_setting}.path")

    def open_full() -> Platform:
        from reconciler.platform import open_platform

        return open_platform(url, mode=settings.mode, workflow_rule=workflow_rule)

    if access is Access.READ and path is not None and not exists:
        if not path.resolve().is_relative_to(workspace.data_dir.resolve()):
            raise DatabaseError(f"the platform database {path} does not exist; check backend.path in "
                                f"{workspace.settings_path.name} (apply creates it inside {DATA_DIR}/)")
        # Nothing applied yet: an empty in-memory platform, created by the same code.
        from cryptography.fernet import Fernet

        from reconciler.platform import open_platform

        return open_platform("sqlite://", mode=settings.mode, workflow_rule=workflow_rule,
                             key=Fernet.generate_key())
    if access is Access.READ and path is not None:
        from reconciler.platform.crypto import Sealer, load_or_create_key
        from reconciler.platform.snapshot import SqliteSnapshotReader

        def verify_key(key_check: str) -> None:
            Sealer(load_or_create_key(path.with_name(path.name + ".key"), create=False)).verify(key_check, url)

        reader = SqliteSnapshotReader.open(path, url, verify_key, open_full)
        if reader is not None:
            return reader  # type: ignore[return-value]
    return open_full()
