"""The ``lytics`` backend: the Lytics v2 REST API (or authctl's served platform) over HTTP.

:class:`LyticsBackend` says which endpoint each Backend (and PlatformConsole) operation
calls; the rest is one job per module beside it:

- ``http_client.py``: send one call, classify its failure, retry what is safe, count;
- ``lytics_paging.py``: the envelope of one object, every page of a list;
- ``lytics_mapping.py``: wire objects (reconciler/lytics_wire.py) to live models and
  request bodies from wire models (pure);
- ``lytics_create.py``: creates adopted by creation marker when their answer is lost,
  never blindly repeated;
- ``lytics_extensions.py``: the served-only endpoints (``/v2/_authctl/...``) a real
  Lytics lacks: experiences then read as none (said once, in a WARNING on the
  ``reconciler.backends.lytics`` logger, because the delete guard then counts jobs
  only); health, job status and experience imports say "this platform has no ...
  endpoint (authctl's served platform has)"; request counts are None;
- ``lytics_oauth.py``: OAuth connections from ``authctl login`` / ``reauth`` tokens (the
  served platform's extension; a real Lytics makes them in its UI, and says so);
- ``lytics_token.py``: the API token from the workspace's settings;
- ``lytics_health.py``: provider checks and refreshes (``CredentialWorker``), which the
  served platform runs where the credentials are; a real Lytics' own recorded health
  otherwise. A delete's warnings (tokens the provider did not revoke) are logged.

Each id's type or workflow is remembered from reads, so a call by id can build
``/v2/auth/{type}/{id}`` and ``/v2/job/{workflow}/{id}``; an id not seen yet costs one
list call. An authorization whose label is taken by one without our creation marker is
reported, never adopted by label.

Activity metrics: ``requests_made``, ``requests_by_kind`` (per endpoint template) and
``requests_by_auth`` (requests whose path, query or body names an authorization id).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import httpx2
from pydantic import BaseModel

from reconciler.backends import lytics_oauth
from reconciler.backends.base import AuthorizationRequest, JobRequest, Reauthorization
from reconciler.backends.http_client import Answer, Calls, HttpClient, OutcomeUnknown
from reconciler.backends.lytics_health import ServedCredentialWork
from reconciler.backends.lytics_create import MarkedCreates
from reconciler.backends.lytics_extensions import ServedExtensions
from reconciler.backends.lytics_mapping import (
    job_status,
    request_body,
    to_live_authorization,
    to_live_experience,
    to_live_job,
)
from reconciler.backends.lytics_paging import read_all, read_one
from reconciler.backends.lytics_token import resolve_token
from reconciler.catalog import SERVED_TYPE_PREFIX, Catalog
from reconciler.errors import DeleteRefusedError, PermanentBackendError, WorkspaceError
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
from reconciler.lytics_wire import (
    AuthDeletedOut,
    AuthIn,
    AuthOut,
    AuthUpdateIn,
    ErrorCode,
    ExperienceIn,
    ExperienceOut,
    HealthIn,
    JobIn,
    JobOut,
    JobStatusIn,
    RequestCountsOut,
    split_marker,
    with_marker,
)
from reconciler.vocabulary import JobStatus

if TYPE_CHECKING:
    from reconciler.workspace import Workspace

W = TypeVar("W", bound=BaseModel)
log = logging.getLogger(__name__)

_AUTH_LIST, _JOB_LIST, _EXPERIENCES = "/v2/auth", "/v2/job", "/v2/_authctl/experience"


class LyticsBackend:
    """Backend over a Lytics-shaped HTTP API; thread-safe (apply calls it from ``--parallelism`` threads)."""

    name = "lytics"

    def __init__(self, http: HttpClient, catalog: Catalog, *, page_size: int | None = None) -> None:
        self.http = http
        self.catalog = catalog
        self.page_size = page_size  # None: ask for whole arrays (Lytics' way); cursors are followed either way
        self._lock = threading.Lock()
        self._auth_types: dict[str, str] = {}  # id -> type slug
        self._auth_markers: dict[str, str | None] = {}
        self._job_workflows: dict[str, str] = {}  # id -> workflow slug
        self._job_markers: dict[str, str | None] = {}
        self._creates = MarkedCreates(http)
        self._extensions = ServedExtensions()  # which served-only endpoints this platform answered 404
        self._credentials = ServedCredentialWork(http, self._extensions, self._auth_outs)

    def __repr__(self) -> str:
        return f"LyticsBackend({self.http.base_url!r})"

    # -- activity metrics ----------------------------------------------------------------------------
    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    @property
    def requests_by_kind(self) -> Counter[str]:
        return self.http.requests_by_kind

    @property
    def requests_by_auth(self) -> Counter[str]:
        return self.http.requests_by_auth

    # -- plumbing --------------------------------------------------------------------------------------
    def _one(self, answer: Answer, model: type[W]) -> W:
        return read_one(self.http, answer, model)

    def _list(self, path: str, model: type[W], kind: str, params: dict[str, str] | None = None,
              names: Iterable[str] = (), calls: Calls | None = None) -> list[W]:
        return read_all(self.http, path, model, kind, params, names, calls, page_size=self.page_size)

    def _remember_auths(self, outs: Iterable[AuthOut]) -> None:
        with self._lock:
            for out in outs:
                self._auth_types[out.id] = out.type
                self._auth_markers[out.id] = split_marker(out.description)[1]

    def _remember_jobs(self, outs: Iterable[JobOut]) -> None:
        with self._lock:
            for out in outs:
                self._job_workflows[out.id] = out.workflow
                self._job_markers[out.id] = split_marker(out.description)[1]

    def _auth_outs(self, calls: Calls | None = None) -> list[AuthOut]:
        outs = self._list(_AUTH_LIST, AuthOut, "GET /v2/auth", calls=calls)
        self._remember_auths(outs)
        return outs

    def _job_outs(self, params: dict[str, str], names: Iterable[str] = (), calls: Calls | None = None) -> list[JobOut]:
        outs = self._list(_JOB_LIST, JobOut, "GET /v2/job", params, names, calls)
        self._remember_jobs(outs)
        return outs

    def _experience_outs(self, params: dict[str, str] | None = None, names: Iterable[str] = (),
                         calls: Calls | None = None) -> list[ExperienceOut]:
        """Imported experiences; none (said once) on a platform without the served extension."""
        return self._extensions.optional(
            "experience",
            lambda: self._list(_EXPERIENCES, ExperienceOut, "GET /v2/_authctl/experience", params, names, calls), [],
            warning=f"the platform at {self.http.base_url} has no experience endpoint (authctl's served platform "
                    "has): imported experiences cannot be read, so the delete guard counts only the jobs that use "
                    "an authorization; check experiences in the Lytics UI before deleting")

    def _auth_type(self, auth_id: str) -> str:
        """The type slug of ``auth_id``, from what was read (one list call if it was not)."""
        with self._lock:
            slug = self._auth_types.get(auth_id)
        if slug is None:
            self._auth_outs()
            with self._lock:
                slug = self._auth_types.get(auth_id)
        if slug is None:
            raise PermanentBackendError(f"no authorization with id {auth_id!r} on the platform",
                                        status=404, code=ErrorCode.AUTH_NOTFOUND)
        return slug

    # -- reading ---------------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """One list call per collection (plus pages), the three at once."""
        counts = [Calls(), Calls(), Calls()]
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="lytics-snapshot") as pool:
            auths = pool.submit(self._auth_outs, counts[0])
            jobs = pool.submit(self._job_outs, {"show_completed": "true"}, (), counts[1])
            experiences = pool.submit(self._experience_outs, None, (), counts[2])
            auth_outs, job_outs, experience_outs = auths.result(), jobs.result(), experiences.result()
        return Snapshot(
            authorizations={o.id: to_live_authorization(o, self.catalog) for o in auth_outs},
            jobs={o.id: to_live_job(o) for o in job_outs if not o.deleted and o.status != JobStatus.DELETED},
            experiences={o.id: to_live_experience(o) for o in experience_outs},
            taken_at=datetime.now(UTC), calls=sum(c.n for c in counts))

    def references(self, auth_id: str) -> list[Reference]:
        """Jobs (not deleted) and imported experiences using ``auth_id``, read now."""
        outs = self._job_outs({"auth_ids": auth_id, "show_completed": "true"}, (auth_id,))
        jobs = [to_live_job(o) for o in outs if auth_id in o.auth_ids]
        refs = [Reference("job", j.id, j.name, j.status) for j in jobs if j.status != JobStatus.DELETED]
        experiences = self._experience_outs({"auth_ids": auth_id}, (auth_id,))
        refs += [Reference("experience", e.id, e.name, e.status) for e in experiences if auth_id in e.auth_ids]
        return refs

    def find_authorization_by_marker(self, marker: str) -> LiveAuthorization | None:
        out = _marked(self._auth_outs(), marker)
        return None if out is None else to_live_authorization(out, self.catalog)

    def find_job_by_marker(self, marker: str) -> LiveJob | None:
        """The job (not deleted) created with ``marker``, if any."""
        live = (o for o in self._job_outs({"show_completed": "true"})
                if job_status(o.status, o.deleted) != JobStatus.DELETED)
        out = _marked(live, marker)
        return None if out is None else to_live_job(out)

    def get_job(self, job_id: str) -> LiveJob | None:
        """The job as it is now (deleted ones too, with status ``deleted``); None when the platform does not know it."""
        with self._lock:
            workflow = self._job_workflows.get(job_id)
        if workflow is None:
            outs = self._job_outs({"show_completed": "true", "show_deleted": "true"})
            return next((to_live_job(o) for o in outs if o.id == job_id), None)
        try:
            answer = self.http.request("GET", f"/v2/job/{workflow}/{job_id}", kind="GET /v2/job/{workflow}/{id}")
        except PermanentBackendError as exc:
            if exc.status == 404 and exc.code == ErrorCode.JOB_NOTFOUND:
                return None
            raise
        return self._job(answer)

    def request_counts(self, auth_id: str, now: datetime | None = None) -> RequestCounts | None:
        """Requests made with the authorization (served extension); None on a platform without it."""
        params = {"now": now.isoformat()} if now is not None else None
        answer = self._extensions.optional("requests", lambda: self.http.request(
            "GET", f"/v2/_authctl/auth/{auth_id}/requests", kind="GET /v2/_authctl/auth/{id}/requests",
            params=params, names=(auth_id,)), None)
        if answer is None:
            return None
        counts = self._one(answer, RequestCountsOut)
        hourly = tuple(HourCount(h.hour if h.hour.tzinfo else h.hour.replace(tzinfo=UTC), h.count)
                       for h in counts.hourly)
        return RequestCounts(counts.hour, counts.day, counts.week, counts.month, hourly)

    # -- provider checks, run by the served platform where the credentials are (CredentialWorker) -------
    def check_health(self, auth_ids: Sequence[str], concurrency: int = 20) -> list[HealthReport]:
        return self._credentials.check_health(auth_ids, concurrency)

    def refresh_tokens(self, auth_ids: Sequence[str], force: bool = False) -> list[RefreshReport]:
        return self._credentials.refresh_tokens(auth_ids, force)

    # -- authorizations --------------------------------------------------------------------------------
    def create_authorization(self, request: AuthorizationRequest) -> LiveAuthorization:
        spec = self.catalog.method(request.provider, request.method)
        if spec is not None and spec.is_oauth:  # `authctl login`'s tokens: the served extension (lytics_oauth.py)
            path = lytics_oauth.oauth_path(request.provider, request.method)
            return lytics_oauth.create_oauth_authorization(self.http, self._creates, request,
                                                           lookup=self._created_lookup(request, f"POST {path}"),
                                                           convert=self._auth)
        slug = self._type_for(request)
        secrets = {k: v.reveal() for k, v in request.credentials.items()}
        body = request_body(AuthIn, label=request.label,
                            description=with_marker(request.description, request.marker),
                            config={**request.config, **secrets})
        redact = tuple(secrets.values())
        del secrets
        path = f"/v2/auth/{slug}"
        lookup = self._created_lookup(request, f"POST {path}")
        try:
            created = self._creates.create(path, "POST /v2/auth/{type}", body, request.marker, lookup,
                                           redact=redact, convert=self._auth)
        except PermanentBackendError as exc:
            raise self._auth_create_refused(exc, slug, request) from None
        return created

    def _created_lookup(self, request: AuthorizationRequest, call: str) -> Callable[[str], LiveAuthorization | None]:
        """How a create whose answer was lost is settled: found by its marker, never adopted by label."""

        def lookup(marker: str) -> LiveAuthorization | None:
            outs = self._auth_outs()
            mine = _marked(outs, marker)
            if mine is not None:
                return to_live_authorization(mine, self.catalog)
            holder = next((o for o in outs if o.label.casefold() == request.label.casefold()), None)
            if holder is not None:  # a re-POST would be refused; whose it is cannot be proven: never adopt
                raise OutcomeUnknown(
                    f"{call}: the answer was lost, and authorization {holder.id} holds the label "
                    f"{request.label!r} without this apply's creation marker, so authctl cannot prove it made it; "
                    f"if it did: `authctl import NAME {holder.id}`")
            return None

        return lookup

    def _type_for(self, request: AuthorizationRequest) -> str:
        spec = self.catalog.method(request.provider, request.method)
        slug = request.type or (self.catalog.api_type(request.provider, spec) if spec is not None else None)
        if not slug:
            raise PermanentBackendError(f"{request.provider}/{request.method} is not in the provider catalog, so "
                                        "its Lytics auth type is unknown", code=ErrorCode.AUTHTYPE_NOTFOUND)
        return slug

    def _auth_create_refused(self, exc: PermanentBackendError, slug: str,
                             request: AuthorizationRequest) -> PermanentBackendError:
        if exc.code == ErrorCode.AUTHTYPE_NOTFOUND and slug.startswith(SERVED_TYPE_PREFIX):
            return PermanentBackendError(
                f"auth type {slug} does not exist on this platform; the method ({request.provider} "
                f"{request.method}) is made in the Lytics UI: connect it there, then `authctl import NAME ID` "
                f"({exc.message})", status=exc.status, code=exc.code)
        return exc

    def update_authorization(self, auth_id: str, *, label: str, description: str) -> LiveAuthorization:
        slug = self._auth_type(auth_id)
        with self._lock:
            marker = self._auth_markers.get(auth_id)
        body = request_body(AuthUpdateIn, label=label, description=with_marker(description, marker))
        answer = self.http.request("PUT", f"/v2/auth/{slug}/{auth_id}", kind="PUT /v2/auth/{type}/{id}", body=body,
                                   names=(auth_id,))
        return self._auth(answer)

    def reauthorize(self, auth_id: str, reauthorization: Reauthorization) -> LiveAuthorization:
        """New tokens in place (served extension, lytics_oauth.py); a real Lytics says to reconnect in its UI."""
        return lytics_oauth.reauthorize(self.http, auth_id, reauthorization, convert=self._auth)

    def check_oauth_handoff(self, provider: str, method: str) -> None:
        """Before a login's browser step: PermanentBackendError unless this platform takes OAuth tokens."""
        lytics_oauth.check_handoff(self.http, provider, method)

    def record_health(self, auth_id: str, result: HealthResult) -> LiveAuthorization:
        body = request_body(HealthIn, status=result.status.value, reason=result.reason,
                            checked_at=result.checked_at,
                            scopes=list(result.scopes) if result.scopes is not None else None,
                            token_expires_at=result.token_expires_at)
        answer = self._extensions.call("health", lambda: self.http.request(
            "PUT", f"/v2/_authctl/auth/{auth_id}/health", kind="PUT /v2/_authctl/auth/{id}/health", body=body,
            names=(auth_id,)))
        return self._auth(answer)

    def delete_authorization(self, auth_id: str) -> list[str]:
        """Delete; the platform's 409 (something uses it) is a DeleteRefusedError. Returns the jobs it stopped."""
        try:
            answer = self.http.request("DELETE", f"/v2/auth/{auth_id}", kind="DELETE /v2/auth/{id}",
                                       names=(auth_id,), gone_ok=True)
        except PermanentBackendError as exc:
            if exc.status == 409:
                raise DeleteRefusedError(exc.message, status=409, code=exc.code) from None
            raise
        with self._lock:
            self._auth_types.pop(auth_id, None)
            self._auth_markers.pop(auth_id, None)
        if answer.status == 404:  # an earlier attempt whose answer was lost did it
            return []
        deleted = self._one(answer, AuthDeletedOut)
        for warning in deleted.warnings:  # e.g. tokens the provider did not revoke; server text: printable only
            log.warning("warning: authorization %s deleted, but %s", auth_id,
                        "".join(ch if ch.isprintable() else " " for ch in warning[:500]))
        return list(deleted.stopped_job_ids)

    # -- jobs ------------------------------------------------------------------------------------------
    def create_job(self, request: JobRequest) -> LiveJob:
        body = request_body(JobIn, name=request.name, config=dict(request.config),
                            auth_ids=list(request.auth_ids),
                            description=with_marker(request.description, request.marker))
        job = self._creates.create(f"/v2/job/{request.workflow}", "POST /v2/job/{workflow}", body, request.marker,
                                   self.find_job_by_marker, names=request.auth_ids, convert=self._job)
        if request.status.is_paused and not job.status.is_paused:
            job = self.pause_job(job.id)
        return job

    def update_job(self, job_id: str, request: JobRequest) -> LiveJob:
        """A full replace (PUT), keeping the creation-marker line the job carries."""
        with self._lock:
            workflow, marker = self._job_workflows.get(job_id), self._job_markers.get(job_id)
        if workflow is None:  # not read yet: its workflow can only be the request's (it never changes in place)
            current = self.http.request("GET", f"/v2/job/{request.workflow}/{job_id}",
                                        kind="GET /v2/job/{workflow}/{id}")
            out = self._one(current, JobOut)
            self._remember_jobs([out])
            workflow, marker = out.workflow, split_marker(out.description)[1]
        body = request_body(JobIn, name=request.name, config=dict(request.config),
                            auth_ids=list(request.auth_ids), description=with_marker(request.description, marker))
        answer = self.http.request("PUT", f"/v2/job/{workflow}/{job_id}", kind="PUT /v2/job/{workflow}/{id}",
                                   body=body, names=request.auth_ids)
        return self._job(answer)

    def pause_job(self, job_id: str) -> LiveJob:
        return self._job(self.http.request("POST", f"/v2/job/{job_id}/pause", kind="POST /v2/job/{id}/pause"))

    def resume_job(self, job_id: str) -> LiveJob:
        return self._job(self.http.request("POST", f"/v2/job/{job_id}/resume", kind="POST /v2/job/{id}/resume"))

    def kill_job(self, job_id: str) -> LiveJob:
        return self._job(self.http.request("POST", f"/v2/job/{job_id}/kill", kind="POST /v2/job/{id}/kill"))

    def delete_job(self, job_id: str) -> None:
        """Delete (Lytics keeps it with status ``deleted``); an unknown id is a PermanentBackendError, as locally."""
        self.http.request("DELETE", f"/v2/job/{job_id}", kind="DELETE /v2/job/{id}", gone_ok=True)

    # -- the platform console (what people do in the UI; served-only endpoints) --------------------------
    def set_job_status(self, job_id: str, status: JobStatus) -> LiveJob:
        body = request_body(JobStatusIn, status=str(status))
        return self._job(self._extensions.call("job status", lambda: self.http.request(
            "PUT", f"/v2/_authctl/job/{job_id}/status", kind="PUT /v2/_authctl/job/{id}/status", body=body)))

    def create_experience(self, name: str, auth_ids: Sequence[str]) -> LiveExperience:
        ids = list(auth_ids)
        body = request_body(ExperienceIn, name=name, auth_ids=ids)
        answer = self._extensions.call("experience", lambda: self.http.request(
            "POST", _EXPERIENCES, kind="POST /v2/_authctl/experience", body=body, names=ids))
        return to_live_experience(self._one(answer, ExperienceOut))

    def close(self) -> None:
        self.http.close()

    # -- answers -> live models --------------------------------------------------------------------------
    def _auth(self, answer: Answer) -> LiveAuthorization:
        out = self._one(answer, AuthOut)
        self._remember_auths([out])
        return to_live_authorization(out, self.catalog)

    def _job(self, answer: Answer) -> LiveJob:
        out = self._one(answer, JobOut)
        self._remember_jobs([out])
        return to_live_job(out)


_Marked = TypeVar("_Marked", AuthOut, JobOut)


def _marked(outs: Iterable[_Marked], marker: str) -> _Marked | None:
    """The first object whose description ends with ``marker``'s line (what a create wrote), or None."""
    return next((out for out in outs if split_marker(out.description)[1] == marker), None)


# -- opening from the workspace's settings -------------------------------------------------------------------
def open_lytics_backend(workspace: Workspace, catalog: Catalog, *, parallelism: int = 16,
                        transport: httpx2.BaseTransport | None = None) -> LyticsBackend:
    """The workspace's ``backend: {kind: lytics, ...}``; a missing or unusable token is an error naming the setting.

    ``transport`` is for tests of the client's own error handling (``httpx2.MockTransport``).
    """
    settings = workspace.backend
    prefix = workspace.backend_setting
    if settings.url is None:  # the settings refuse this; kept for a BackendSettings built in code
        raise WorkspaceError(f"{workspace.settings_path.name}: {prefix}.url is required with kind: lytics")
    token = resolve_token(workspace, prefix)
    http = HttpClient(settings.url, token, timeout=settings.timeout_seconds, parallelism=parallelism,
                      account_id=settings.account_id, transport=transport)
    return LyticsBackend(http, catalog)


__all__ = ["LyticsBackend", "job_status", "open_lytics_backend", "to_live_authorization", "to_live_job"]
