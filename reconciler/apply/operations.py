"""What each kind of step does against the backend and the state store.

Every mutating backend call is bracketed by journal entries: an ``intent`` before (with
what recovery needs to recognise the object on the platform, including the creation
marker the platform keeps on what we create) and a ``done`` after, written in the same
transaction as the state change. Backend calls retry transient errors with exponential
backoff and jitter (stamina), honouring Retry-After.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stamina

from reconciler.apply.results import ResultCode, StepResult
from reconciler.backends.base import AuthorizationRequest, Backend, JobRequest
from reconciler.catalog import Catalog
from reconciler.clock import utc_now
from reconciler.errors import BackendError, DeleteRefusedError, DependencyNotReadyError, TemporaryBackendError
from reconciler.live import Reference, Snapshot
from reconciler.manifest.fingerprints import AuthFingerprints
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState
from reconciler.manifest.secrets import SecretValue
from reconciler.plan import Action, ActionKind, Plan
from reconciler.state.records import ManagedObject
from reconciler.state.store import StateStore
from reconciler.vocabulary import JobStatus, JournalOp, JournalPhase, ObjectKind

AUTH, JOB, DEPOSED = ObjectKind.AUTHORIZATION, ObjectKind.JOB, ObjectKind.DEPOSED_AUTHORIZATION

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded by attempts and a deadline: never retry forever (kopf's lesson)."""

    attempts: int = 5
    timeout: float = 60.0
    wait_initial: float = 0.2
    wait_max: float = 5.0


def _retry_hook(exc: Exception) -> bool | float:
    if isinstance(exc, TemporaryBackendError):
        return exc.delay if exc.delay else True
    return False


def new_marker() -> str:
    """A creation marker: opaque, unique, journaled before the create and kept by the platform."""
    return f"authctl-{uuid.uuid4().hex}"


@dataclass
class ApplyContext:
    """Shared, thread-safe bookkeeping of one apply."""

    apply_id: str
    backend: Backend
    state: StateStore
    desired: DesiredState
    catalog: Catalog
    fingerprints: dict[str, AuthFingerprints]
    secrets: dict[str, dict[str, SecretValue]]
    snapshot: Snapshot
    plan: Plan
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ids: dict[str, str] = field(default_factory=dict)  # authorization name -> live id (updated as we go)
    lock_id: str | None = None  # the apply lock, checked before every change (see StateStore.check_lock)
    renames: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (live id, final label)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        retiring = {a.live_id for a in self.plan.actions
                    if a.resource == AUTH and a.kind in (ActionKind.DELETE, ActionKind.REPLACE) and a.live_id}
        self.retiring_labels = {
            a.label.casefold(): a.id for a in self.snapshot.authorizations.values() if a.id in retiring}
        # Labels that managed authorizations give up in this apply by a label edit (a swap of
        # two labels is two such edits): whoever takes one waits on a temporary label.
        relabeled = {a.live_id for a in self.plan.actions
                     if a.resource == AUTH and a.kind is ActionKind.UPDATE and a.live_id
                     and any(c.path == "label" for c in a.changes)}
        self.released_labels = {
            a.label.casefold(): a.id for a in self.snapshot.authorizations.values() if a.id in relabeled}
        self.live_labels = {a.label.casefold() for a in self.snapshot.authorizations.values()}

    def label_holder(self, label: str, own_id: str | None = None, *, retiring: bool = True) -> str | None:
        """The managed authorization holding ``label`` now that this apply relabels (or, with ``retiring``,
        deletes), if any. A label edit waiting on a delete is already ordered after it by the plan."""
        key = label.casefold()
        holder = (self.retiring_labels.get(key) if retiring else None) or self.released_labels.get(key)
        return holder if holder != own_id else None

    def temporary_label(self, label: str, holder: str, why: str = "replacing") -> str:
        """A label to use while ``holder`` still has the real one; never one already in use.

        A successor from an earlier replace whose old half is still blocked may carry
        ``"<label> (replacing <holder>)"`` already (a second rotation while the first waits).
        """
        candidate, n = f"{label} ({why} {holder[:8]})", 2
        while candidate.casefold() in self.live_labels:
            candidate, n = f"{label} ({why} {holder[:8]}, {n})", n + 1
        return candidate


class Operations:
    def __init__(self, ctx: ApplyContext) -> None:
        self.ctx = ctx
        self._open: dict[str, JournalOp] = {}  # address -> operation of its intent still awaiting an outcome

    # -- plumbing ----------------------------------------------------------------------------------
    def call(self, func: Callable[[], T]) -> T:
        policy = self.ctx.retry
        for attempt in stamina.retry_context(on=_retry_hook, attempts=policy.attempts, timeout=policy.timeout,
                                             wait_initial=policy.wait_initial, wait_max=policy.wait_max):
            with attempt:
                return func()
        raise AssertionError("unreachable")  # pragma: no cover

    def intent(self, address: str, operation: JournalOp, detail: dict[str, Any]) -> None:
        """Journal what is about to be called, once sure the apply still holds its lock."""
        if self.ctx.lock_id is not None:
            self.ctx.state.check_lock(self.ctx.lock_id)
        self.ctx.state.record(self.ctx.apply_id, address, operation, JournalPhase.INTENT, detail)
        with self.ctx.lock:
            self._open[address] = operation

    def done(self, address: str, operation: JournalOp, detail: dict[str, Any], *,
             puts: tuple[ManagedObject, ...] = (), removes: tuple[tuple[ObjectKind, str], ...] = ()) -> None:
        self.ctx.state.record(self.ctx.apply_id, address, operation, JournalPhase.DONE, detail, puts=puts,
                              removes=removes)
        with self.ctx.lock:
            if self._open.get(address) == operation:
                del self._open[address]

    def refused(self, address: str, step: str, message: str) -> None:
        """Journal a step the platform refused: nothing happened, so its open intent is closed.

        The intent's operation (e.g. ``create-job``) need not be the step's display name.
        """
        with self.ctx.lock:
            pending = self._open.pop(address, None)
        self.ctx.state.record(self.ctx.apply_id, address, pending or JournalOp.ERROR, JournalPhase.FAILED,
                              {"message": message, "step": step, "settled": True})

    def failed_uncertain(self, address: str, step: str, message: str) -> None:
        """Journal a step whose call may have happened (retries ran out on a timeout or 5xx, an unknown error).

        The intent stays open: the next apply's recovery looks at the platform, so that an
        object created after all is adopted, not duplicated or orphaned.
        """
        with self.ctx.lock:
            self._open.pop(address, None)
        self.ctx.state.record(self.ctx.apply_id, address, JournalOp.ERROR, JournalPhase.FAILED,
                              {"message": message, "step": step, "settled": False})

    # -- authorizations ----------------------------------------------------------------------------
    def applied_authorization(self, d: DesiredAuthorization, label: str) -> dict[str, Any]:
        return {"provider": d.provider, "method": d.method, "label": label, "description": d.description,
                "config": d.config, "credentials": {k: r.describe() for k, r in sorted(d.credentials.items())}}

    def create_authorization(self, action: Action) -> StepResult:
        """Create (or, for a replace, create the successor and depose the old one)."""
        d = self.ctx.desired.authorizations[action.name]
        method = self.ctx.catalog.method(d.provider, d.method)
        replacing = action.live_id if action.kind is ActionKind.REPLACE else None
        label = d.label
        holder = self.ctx.label_holder(d.label)
        if holder is not None:
            label = self.ctx.temporary_label(d.label, holder)
        operation = JournalOp.REPLACE_CREATE if replacing else JournalOp.CREATE
        fingerprints = self.ctx.fingerprints[d.name].recorded()
        applied = self.applied_authorization(d, label)
        marker = new_marker()
        self.intent(action.address, operation, {"name": d.name, "label": label, "provider": d.provider,
                                                "method": d.method, "fingerprints": fingerprints,
                                                "applied": applied, "replaces": replacing, "marker": marker})
        request = AuthorizationRequest(
            provider=d.provider, method=d.method, type=method.lytics_type if method else None, label=label,
            description=d.description, config=dict(d.config), credentials=dict(self.ctx.secrets.get(d.name, {})),
            marker=marker)
        live = self.call(lambda: self.ctx.backend.create_authorization(request))
        puts = [ManagedObject(AUTH, d.name, live.id, fingerprints, utc_now(), applied)]
        if replacing:
            puts.append(ManagedObject(DEPOSED, replacing, replacing, {}, utc_now(), {"replaced_by": d.name}))
        self.done(action.address, operation, {"live_id": live.id}, puts=tuple(puts))
        with self.ctx.lock:
            self.ctx.ids[d.name] = live.id
            if label != d.label:
                self.ctx.renames[d.name] = (live.id, d.label)
        note = f" with temporary label {label!r}" if label != d.label else ""
        return StepResult(action.address, operation.value, ResultCode.APPLIED, f"id {live.id}{note}",
                          live_id=live.id)

    def update_authorization(self, action: Action) -> StepResult:
        """A label/description edit. A label another managed authorization gives up in this apply
        (two swapping labels, or a chain) is taken through a temporary label, renamed at the end."""
        d = self.ctx.desired.authorizations[action.name]
        assert action.live_id is not None
        label = d.label
        holder = self.ctx.label_holder(d.label, action.live_id, retiring=False)
        if holder is not None:
            label = self.ctx.temporary_label(d.label, holder, why="relabeling from")
        self.intent(action.address, JournalOp.UPDATE, {"label": label})
        live = self.call(lambda: self.ctx.backend.update_authorization(
            action.live_id or "", label=label, description=d.description))
        current = self.ctx.state.get(AUTH, d.name)
        puts = ()
        if current is not None:
            applied = {**current.applied, "label": label, "description": d.description}
            puts = (ManagedObject(AUTH, d.name, live.id, current.fingerprints, utc_now(), applied),)
        self.done(action.address, JournalOp.UPDATE, {"live_id": live.id}, puts=puts)
        if label != d.label:
            with self.ctx.lock:
                self.ctx.renames[d.name] = (live.id, d.label)
            return StepResult(action.address, "update", ResultCode.APPLIED,
                              f"temporary label {label!r} until {holder} gives up {d.label!r}", live_id=live.id)
        return StepResult(action.address, "update", ResultCode.APPLIED, "label/description edited", live_id=live.id)

    def delete_authorization(self, action: Action) -> StepResult:
        """The guarded delete of an authorization the manifests dropped (or a deposed one)."""
        if action.deposed_id:
            return self._guarded_delete(action, JournalOp.DELETE, (DEPOSED, action.deposed_id))
        return self._guarded_delete(action, JournalOp.DELETE, (AUTH, action.name))

    def delete_replaced_authorization(self, action: Action) -> StepResult:
        """The second half of a replace: the old authorization, deposed in state by the create half."""
        live_id = action.live_id or ""
        return self._guarded_delete(action, JournalOp.REPLACE_DELETE, (DEPOSED, live_id))

    def _guarded_delete(self, action: Action, operation: JournalOp, state_key: tuple[ObjectKind, str]) -> StepResult:
        """Re-read the references right before the delete; skip it if anything active uses it.

        The journal intent is written *before* the re-check, so that nothing but the delete
        call follows it: a job started after the re-check is the only thing that can slip
        through, and only on a platform that deletes in cascade (Lytics stops such jobs).
        After the delete the jobs that used the authorization are read again and any job
        the platform stopped is reported (exit 3). A platform that refuses the delete
        because of references is a BLOCKED delete, as our own re-check is.
        """
        live_id = action.live_id or ""
        if action.forget_only:
            self.done(action.address, JournalOp.FORGET, {"live_id": live_id}, removes=(state_key,))
            return StepResult(action.address, JournalOp.FORGET.value, ResultCode.APPLIED,
                              "already gone; removed from state")
        self.intent(action.address, operation, {"live_id": live_id, "state_key": list(state_key)})
        refs = self.call(lambda: self.ctx.backend.references(live_id))
        active = [r for r in refs if r.active]
        if active:
            names = "; ".join(f"{r.kind} {r.name} ({r.id}, {r.display_status})" for r in active)
            return self._blocked(action, operation, names, f"not deleted: still used by {names}")
        try:
            stopped = self.call(lambda: self.ctx.backend.delete_authorization(live_id))
        except DeleteRefusedError as exc:
            return self._blocked(action, operation, exc.message, f"not deleted: the platform refused: {exc.message}")
        self.done(action.address, operation, {"live_id": live_id}, removes=(state_key,))
        stopped_jobs = self._stopped_jobs(stopped, refs)
        if stopped_jobs:
            self.ctx.state.record(self.ctx.apply_id, action.address, operation, JournalPhase.DISRUPTED,
                                  {"live_id": live_id, "stopped_jobs": stopped_jobs})
            return StepResult(action.address, operation.value, ResultCode.DISRUPTED,
                              f"deleted {live_id}, and the platform stopped job(s) that started using it "
                              f"after the re-check: {', '.join(stopped_jobs)}; resume them on another "
                              "authorization", live_id=live_id)
        return StepResult(action.address, operation.value, ResultCode.APPLIED, f"deleted {live_id}", live_id=live_id)

    def _blocked(self, action: Action, operation: JournalOp, references: str, message: str) -> StepResult:
        """Close the delete's intent as BLOCKED: nothing was deleted."""
        with self.ctx.lock:
            self._open.pop(action.address, None)
        self.ctx.state.record(self.ctx.apply_id, action.address, operation, JournalPhase.BLOCKED,
                              {"references": references})
        return StepResult(action.address, operation.value, ResultCode.BLOCKED, message, live_id=action.live_id)

    def _stopped_jobs(self, reported: list[str], refs: list[Reference]) -> list[str]:
        """Jobs the platform says it stopped, and jobs that used the authorization and are now stopped."""
        stopped = set(reported)
        for ref in refs:
            if ref.kind != "job" or ref.id in stopped:
                continue
            job = self.call(lambda ref=ref: self.ctx.backend.get_job(ref.id))
            if job is not None and job.status != ref.status and job.status in (JobStatus.KILLED, JobStatus.FAILED):
                stopped.add(ref.id)
        return sorted(stopped)

    def finalize_label(self, name: str) -> StepResult:
        """Give a successor its real label once the holder is gone."""
        live_id, label = self.ctx.renames[name]
        address = f"{AUTH}/{name}"
        holder = self.ctx.retiring_labels.get(label.casefold())
        if holder is not None and any(r.active for r in self.call(lambda: self.ctx.backend.references(holder))):
            return StepResult(address, "rename", ResultCode.BLOCKED,
                              f"keeps its temporary label until {holder} can be deleted", live_id=live_id)
        d = self.ctx.desired.authorizations[name]
        self.intent(address, JournalOp.RENAME, {"label": label})
        try:
            self.call(lambda: self.ctx.backend.update_authorization(live_id, label=label, description=d.description))
        except BackendError as exc:  # the old one is still there (blocked): keep the temporary label
            self.refused(address, "rename", exc.message)  # a rename is in place: nothing to recover either way
            return StepResult(address, "rename", ResultCode.BLOCKED, f"keeps its temporary label: {exc.message}")
        current = self.ctx.state.get(AUTH, name)
        puts = ()
        if current is not None:
            puts = (ManagedObject(AUTH, name, live_id, current.fingerprints, utc_now(),
                                  {**current.applied, "label": label}),)
        self.done(address, JournalOp.RENAME, {"live_id": live_id}, puts=puts)
        return StepResult(address, "rename", ResultCode.APPLIED, f"label {label!r}", live_id=live_id)

    # -- jobs ----------------------------------------------------------------------------------------
    def _job_request(self, d: DesiredJob, *, marker: str | None = None) -> JobRequest:
        """The job's full shape with live authorization ids; raises DependencyNotReadyError if one is missing."""
        with self.ctx.lock:
            missing = [n for n in d.authorizations if n not in self.ctx.ids]
            ids = tuple(self.ctx.ids[n] for n in d.authorizations if n in self.ctx.ids)
        if missing:
            raise DependencyNotReadyError("authorization(s) not available: " + ", ".join(missing))
        status = JobStatus.RUNNABLE if d.state == "running" else JobStatus.PAUSED
        return JobRequest(name=d.name, workflow=d.workflow, auth_ids=ids, config=dict(d.config),
                          description=d.description, status=status, marker=marker)

    def _job_applied(self, d: DesiredJob, request: JobRequest) -> dict[str, Any]:
        """What state keeps of an applied job; ``auth_ids`` lets ``plan --refresh-only`` see a rebind made by hand."""
        return {"workflow": d.workflow, "authorizations": list(d.authorizations), "state": d.state,
                "auth_ids": list(request.auth_ids)}

    def create_job(self, action: Action) -> StepResult:
        d = self.ctx.desired.jobs[action.name]
        marker = new_marker()
        request = self._job_request(d, marker=marker)
        if action.kind is ActionKind.REPLACE and action.live_id:
            # Delete first: a crash in between leaves "gone, re-create", never an orphan.
            self.intent(action.address, JournalOp.REPLACE_DELETE_JOB, {"live_id": action.live_id})
            self.call(lambda: self.ctx.backend.delete_job(action.live_id or ""))
            self.done(action.address, JournalOp.REPLACE_DELETE_JOB, {"live_id": action.live_id},
                      removes=((JOB, d.name),))
        self.intent(action.address, JournalOp.CREATE_JOB, {"name": d.name, "workflow": d.workflow,
                                                           "applied": self._job_applied(d, request), "marker": marker})
        live = self.call(lambda: self.ctx.backend.create_job(request))
        self.done(action.address, JournalOp.CREATE_JOB, {"live_id": live.id},
                  puts=(ManagedObject(JOB, d.name, live.id, {}, utc_now(), self._job_applied(d, request)),))
        return StepResult(action.address, "create", ResultCode.APPLIED, f"id {live.id}", live_id=live.id)

    def update_job(self, action: Action) -> StepResult:
        d = self.ctx.desired.jobs[action.name]
        request = self._job_request(d)
        job_id = action.live_id or ""
        self.intent(action.address, JournalOp.UPDATE_JOB, {"live_id": job_id})
        live = self.call(lambda: self.ctx.backend.update_job(job_id, request))
        if d.state == "paused" and live.status.is_running:
            live = self.call(lambda: self.ctx.backend.pause_job(job_id))
        elif d.state == "running" and not live.status.is_running:
            live = self.call(lambda: self.ctx.backend.resume_job(job_id))
        self.done(action.address, JournalOp.UPDATE_JOB, {"live_id": job_id, "status": live.status.value},
                  puts=(ManagedObject(JOB, d.name, job_id, {}, utc_now(), self._job_applied(d, request)),))
        return StepResult(action.address, "update", ResultCode.APPLIED, f"status {live.status.value}",
                          live_id=job_id)

    def delete_job(self, action: Action) -> StepResult:
        job_id = action.live_id or ""
        if action.forget_only:
            self.done(action.address, JournalOp.FORGET, {"live_id": job_id}, removes=((JOB, action.name),))
            return StepResult(action.address, JournalOp.FORGET.value, ResultCode.APPLIED,
                              "already gone; removed from state")
        self.intent(action.address, JournalOp.DELETE_JOB, {"live_id": job_id})
        self.call(lambda: self.ctx.backend.delete_job(job_id))
        self.done(action.address, JournalOp.DELETE_JOB, {"live_id": job_id}, removes=((JOB, action.name),))
        return StepResult(action.address, "delete", ResultCode.APPLIED, f"deleted {job_id}", live_id=job_id)


def timed(func: Callable[[], StepResult]) -> StepResult:
    start = time.perf_counter()
    result = func()
    return StepResult(result.address, result.operation, result.code, result.message,
                      round(time.perf_counter() - start, 4), result.live_id)


__all__ = ["ApplyContext", "Operations", "RetryPolicy", "new_marker", "timed"]
