"""Drift: what changed on the platform since authctl last wrote it, by hand or by the platform. Pure.

``authctl plan`` compares the manifests with the platform and proposes changes;
``authctl plan --refresh-only`` compares the **state store** (what the last apply or
import recorded) with the platform and proposes nothing. That tells a scheduled job
"someone changed what we manage outside Git" apart from "the manifests changed and are
not applied yet", which a plan alone cannot: both show up as the same update.

A difference is drift only while the platform differs from the record *and* from the
manifests: someone who edits a label in the UI and then changes the manifest to match
has nothing left to apply, so the difference is *accepted* (counted, not drift). The
manifests are optional here (the unit tests compare without them).

Each difference is a :class:`Drift` with a stable :class:`DriftKind` code (the JSON word):

==========================  =================================================================
kind                        found when
==========================  =================================================================
authorization_deleted       a managed authorization is gone from the platform
authorization_edited        its ``label`` or ``description`` differs from what was applied
job_deleted                 a managed job is gone (or marked deleted)
job_state_changed           a job recorded ``running`` is paused, stopped, failed, ...; or a
                            job recorded ``paused`` runs (or stopped)
job_rebound                 a managed job uses other authorizations than the ones applied
job_edited                  a managed job's name differs from its manifest name
unmanaged_job               an active job no manifest manages uses a managed authorization
==========================  =================================================================

Only what state records is compared, so nothing is guessed: an imported job whose state
was never applied is not checked for a state change; a record written before authctl
kept a job's authorization ids falls back to its authorization names (a rebind that an
unfinished replace still owes is not drift). Not compared, on purpose: secrets and config
(write-only, or not recorded), health (a platform fact, not something authctl applied:
``authctl health --fail-on unhealthy`` is the scheduled check for it) and experiences
(authctl cannot manage them, so they could never be resolved). Deposed authorizations
(the old half of a replace) are on their way out and not checked.

``unmanaged_job`` is drift as long as the job is active, not only when it is new: the
remedy is ``authctl import`` (put it under a manifest) or stopping it, and while it runs
it blocks deleting or replacing the authorization. A scheduled job that accepts such jobs
can filter that kind out of the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.live import LiveJob, Snapshot
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState
from reconciler.state.records import ManagedIndex, ManagedObject
from reconciler.vocabulary import JobStatus, ObjectKind

AUTH, JOB, DEPOSED = ObjectKind.AUTHORIZATION, ObjectKind.JOB, ObjectKind.DEPOSED_AUTHORIZATION


class DriftKind(StrEnum):
    """What kind of out-of-band change one :class:`Drift` is; the value is the stable JSON word."""

    AUTHORIZATION_DELETED = "authorization_deleted"
    AUTHORIZATION_EDITED = "authorization_edited"
    JOB_DELETED = "job_deleted"
    JOB_STATE_CHANGED = "job_state_changed"
    JOB_REBOUND = "job_rebound"
    JOB_EDITED = "job_edited"
    UNMANAGED_JOB = "unmanaged_job"

    @property
    def subject(self) -> str:
        """``authorization`` or ``job``: the kind of managed object the drift is about."""
        return "job" if self.value.startswith("job_") else "authorization"


@dataclass(frozen=True)
class RelatedObject:
    """A live object a drift names besides its subject: a job using it, an authorization a job uses now.

    ``address`` is the managed address when this workspace manages the object, else None.
    ``status`` is a job's status word; "" for an authorization.
    """

    kind: str  # "authorization" | "job"
    id: str
    name: str  # an authorization's label, a job's name ("" when the object is gone)
    address: str | None = None
    status: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "address": self.address, "status": self.status}


@dataclass(frozen=True)
class Drift:
    """One difference between what state recorded and what the platform shows now.

    ``address`` and ``id`` are always the managed object concerned (for ``unmanaged_job``:
    the managed authorization the job uses). ``field`` is the attribute that differs (None
    for a deleted object); ``recorded`` and ``live`` its two values (for a deleted
    object, ``recorded`` holds the facts state kept, ``live`` is None). ``related``: see
    :class:`RelatedObject`. What clears a drift is worded by the renderers
    (render/drift_words.py), which own every display word.
    """

    kind: DriftKind
    address: str
    id: str
    field: str | None = None
    recorded: Any = None
    live: Any = None
    related: tuple[RelatedObject, ...] = ()

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.address, _KIND_ORDER[self.kind], self.field or "", self.related[0].id if self.related else "")


_KIND_ORDER = {kind: index for index, kind in enumerate(DriftKind)}


@dataclass(frozen=True)
class DriftContext:
    """Where a drift report came from. ``state_found`` False: no state store yet (nothing applied)."""

    environment: str | None
    backend: str
    state_serial: int
    state_lineage: str | None
    state_found: bool = True


@dataclass(frozen=True)
class DriftReport:
    """Every drift, in a fixed order, with how many managed objects were checked."""

    drifts: tuple[Drift, ...]
    checked_authorizations: int
    checked_jobs: int
    context: DriftContext
    # Differences from the last apply that the manifests already ask for (someone changed
    # the object by hand and then the manifest to match): not drift, the next plan is a no-op.
    accepted: tuple[Drift, ...] = ()

    @property
    def has_drift(self) -> bool:
        return bool(self.drifts)

    def counts(self) -> dict[str, int]:
        """A count for every kind (zeros included, so the JSON keys are always the same)."""
        counts = {kind.value: 0 for kind in DriftKind}
        for drift in self.drifts:
            counts[drift.kind.value] += 1
        return counts


# -- the comparison -------------------------------------------------------------------------------
def compute_drift(managed: ManagedIndex, snapshot: Snapshot, context: DriftContext,
                  desired: DesiredState | None = None) -> DriftReport:
    """Compare state's managed index with one snapshot of the platform; no I/O, no clock.

    With ``desired`` (the manifests), a difference the manifests already ask for is
    *accepted*, not drift (see :attr:`DriftReport.accepted`).
    """
    index = _Index(managed, snapshot)
    found: list[tuple[Drift, bool]] = []
    auths = jobs = 0
    for obj in managed.values():
        if obj.kind == AUTH:
            auths += 1
            wanted = desired.authorizations.get(obj.name) if desired is not None else None
            found += _authorization_drift(index, obj, wanted, desired is not None)
        elif obj.kind == JOB:
            jobs += 1
            wanted_job = desired.jobs.get(obj.name) if desired is not None else None
            found += _job_drift(index, obj, wanted_job, desired is not None)
    found += [(d, False) for d in _unmanaged_jobs(index)]
    drifts = sorted((d for d, accepted in found if not accepted), key=Drift.sort_key)
    accepted = sorted((d for d, accepted in found if accepted), key=Drift.sort_key)
    return DriftReport(tuple(drifts), auths, jobs, context, tuple(accepted))


class _Index:
    """The lookups every check shares, built once: managed ids and addresses, labels of unmanaged authorizations."""

    def __init__(self, managed: ManagedIndex, snapshot: Snapshot) -> None:
        self.managed = managed
        self.snapshot = snapshot
        self.auth_address = {o.live_id: o.address for o in managed.values() if o.kind == AUTH}
        self.managed_job_ids = {o.live_id for o in managed.values() if o.kind == JOB}
        self.deposed_for = {o.live_id: str(o.applied.get("replaced_by", "")) for o in managed.values()
                            if o.kind == DEPOSED}
        self.unmanaged_by_label: dict[str, list[str]] = {}
        managed_ids = self.auth_address.keys() | self.deposed_for.keys()
        for auth in snapshot.authorizations.values():
            if auth.id not in managed_ids:
                self.unmanaged_by_label.setdefault(auth.label.casefold(), []).append(auth.id)

    def authorization(self, auth_id: str) -> RelatedObject:
        live = self.snapshot.authorizations.get(auth_id)
        return RelatedObject("authorization", auth_id, live.label if live else "", self.auth_address.get(auth_id))

    def live_job(self, job_id: str) -> LiveJob | None:
        job = self.snapshot.jobs.get(job_id)
        return None if job is None or job.status == JobStatus.DELETED else job

    def ids_of(self, names: Any) -> tuple[str, ...] | None:
        """The live ids state records for these authorization names; None when one is not managed."""
        if not isinstance(names, list | tuple):
            return None
        found = [self.managed.get((AUTH, n)) for n in names if isinstance(n, str)]
        if len(found) != len(names) or any(o is None for o in found):
            return None
        return tuple(o.live_id for o in found if o is not None)


def _recorded(obj: ManagedObject, *keys: str) -> dict[str, Any]:
    return {k: obj.applied[k] for k in keys if k in obj.applied}


def _authorization_drift(index: _Index, obj: ManagedObject, wanted: DesiredAuthorization | None,
                         with_manifests: bool) -> list[tuple[Drift, bool]]:
    """(drift, accepted by the manifests) for one managed authorization."""
    live = index.snapshot.authorizations.get(obj.live_id)
    if live is None:
        label = obj.applied.get("label")
        candidates = sorted(index.unmanaged_by_label.get(label.casefold(), [])) if isinstance(label, str) else []
        drift = Drift(DriftKind.AUTHORIZATION_DELETED, obj.address, obj.live_id, None,
                      _recorded(obj, "label", "provider", "method"), None,
                      tuple(index.authorization(c) for c in candidates))
        return [(drift, with_manifests and wanted is None)]  # the manifests dropped it too
    found = []
    for name, now in (("label", live.label), ("description", live.description)):
        before = obj.applied.get(name)
        if isinstance(before, str) and before != now:
            drift = Drift(DriftKind.AUTHORIZATION_EDITED, obj.address, obj.live_id, name, before, now)
            found.append((drift, wanted is not None and getattr(wanted, name) == now))
    return found


def _job_drift(index: _Index, obj: ManagedObject, wanted: DesiredJob | None,
               with_manifests: bool) -> list[tuple[Drift, bool]]:
    """(drift, accepted by the manifests) for one managed job."""
    live = index.live_job(obj.live_id)
    if live is None:
        drift = Drift(DriftKind.JOB_DELETED, obj.address, obj.live_id, None, _recorded(obj, "workflow", "state"))
        return [(drift, with_manifests and wanted is None)]
    found = []
    if live.name != obj.name and not obj.applied.get("imported"):  # (an imported job keeps its name until applied)
        found.append((Drift(DriftKind.JOB_EDITED, obj.address, obj.live_id, "name", obj.name, live.name), False))
    state = obj.applied.get("state")
    now = _state_of(live.status)
    if state in ("running", "paused") and now != state:
        drift = Drift(DriftKind.JOB_STATE_CHANGED, obj.address, obj.live_id, "state", state, live.status.display)
        found.append((drift, wanted is not None and wanted.state == now))
    recorded_ids = _recorded_auth_ids(index, obj, live)
    if recorded_ids is not None and recorded_ids != live.auth_ids:
        related = tuple(index.authorization(i) for i in dict.fromkeys((*recorded_ids, *live.auth_ids)))
        drift = Drift(DriftKind.JOB_REBOUND, obj.address, obj.live_id, "authorizations", list(recorded_ids),
                      list(live.auth_ids), related)
        found.append((drift, wanted is not None and index.ids_of(wanted.authorizations) == live.auth_ids))
    return found


def _state_of(status: JobStatus) -> str:
    """A live status in the words state records: running, paused, or (anything else) stopped."""
    if status.is_running:
        return "running"
    return "paused" if status.is_paused else "stopped"


def _recorded_auth_ids(index: _Index, obj: ManagedObject, live: LiveJob) -> tuple[str, ...] | None:
    """The authorization ids the job was applied with; None when state cannot say.

    Apply records them (``auth_ids``). An older record has only manifest names: they are
    looked up in state, and a live binding to the deposed half of a replace of the same
    name is what an unfinished replace owes, not drift.
    """
    ids = obj.applied.get("auth_ids")
    if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
        return tuple(ids)
    names = obj.applied.get("authorizations")
    mapped = index.ids_of(names)
    if mapped is None or any(index.deposed_for.get(i) in names for i in live.auth_ids):
        return None
    return mapped


def _unmanaged_jobs(index: _Index) -> list[Drift]:
    """One drift per (managed authorization, active unmanaged job that uses it)."""
    drifts = []
    for job in index.snapshot.jobs.values():
        if job.id in index.managed_job_ids or not job.status.is_active:
            continue
        for auth_id in dict.fromkeys(job.auth_ids):
            address = index.auth_address.get(auth_id)
            if address is not None:
                drifts.append(Drift(DriftKind.UNMANAGED_JOB, address, auth_id, "jobs", None, job.id,
                                    (RelatedObject("job", job.id, job.name, None, job.status.display),)))
    return drifts


__all__ = ["Drift", "DriftContext", "DriftKind", "DriftReport", "RelatedObject", "compute_drift"]
