"""What one planning run reads (PlanInput) and what it accumulates while deciding (PlanningContext)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from reconciler.catalog import Catalog
from reconciler.live import LiveAuthorization, LiveJob, Snapshot
from reconciler.manifest.fingerprints import AuthFingerprints
from reconciler.manifest.model import DesiredState
from reconciler.plan import Action, PlanContext, PlanWarning
from reconciler.state.records import ManagedIndex, ManagedObject
from reconciler.vocabulary import JobStatus, ObjectKind


@dataclass(frozen=True)
class PlanInput:
    """Everything a plan depends on; time comes in as ``now`` so the planner stays pure."""

    desired: DesiredState
    snapshot: Snapshot
    managed: ManagedIndex
    fingerprints: dict[str, AuthFingerprints]
    catalog: Catalog
    context: PlanContext
    now: datetime
    expiry_warning_days: int = 14


@dataclass(frozen=True)
class Unrecorded:
    """A field of an imported authorization that state has no fingerprint of: not compared (authorizations.py).

    ``supply``: the reference whose value is missing here (``AUTHCTL_X`` or ``file x.json``);
    empty when the value is available and only an import needs to record it.
    """

    address: str
    path: str
    supply: str = ""


@dataclass
class PlanningContext:
    """The decisions so far (authorization and job actions) and the indexes every step shares."""

    inp: PlanInput
    auth_actions: dict[str, Action] = field(default_factory=dict)
    job_actions: dict[str, Action] = field(default_factory=dict)
    warnings: list[PlanWarning] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)
    unrecorded: list[Unrecorded] = field(default_factory=list)

    @property
    def snapshot(self) -> Snapshot:
        return self.inp.snapshot

    def managed_authorization(self, name: str) -> tuple[ManagedObject | None, LiveAuthorization | None]:
        """State's record of an authorization and what the platform shows of it now (None: gone)."""
        obj = self.inp.managed.get((ObjectKind.AUTHORIZATION, name))
        if obj is None:
            return None, None
        live = self.snapshot.authorizations.get(obj.live_id)
        if live is None:
            self._gone(obj)
        return obj, live

    def managed_job(self, name: str) -> tuple[ManagedObject | None, LiveJob | None]:
        """State's record of a job and its live object (None: gone or deleted)."""
        obj = self.inp.managed.get((ObjectKind.JOB, name))
        if obj is None:
            return None, None
        live = self.snapshot.jobs.get(obj.live_id)
        if live is not None and live.status == JobStatus.DELETED:
            live = None
        if live is None:
            self._gone(obj)
        return obj, live

    def _gone(self, obj: ManagedObject) -> None:
        self.warnings.append(PlanWarning(f"{obj.address} was in state (id {obj.live_id}) but is gone from the "
                                         "platform; it will be re-created", "gone-from-platform", item=obj.address))

    @cached_property
    def labels(self) -> dict[str, list[LiveAuthorization]]:
        """Casefolded label -> live authorizations holding it."""
        index: dict[str, list[LiveAuthorization]] = {}
        for auth in self.snapshot.authorizations.values():
            index.setdefault(auth.label.casefold(), []).append(auth)
        return index

    @cached_property
    def retiring(self) -> dict[str, ManagedObject]:
        """Live id -> state entry of every authorization this plan deletes (removed or deposed)."""
        desired = self.inp.desired.authorizations
        return {o.live_id: o for o in self.inp.managed.values()
                if o.kind == ObjectKind.DEPOSED_AUTHORIZATION
                or (o.kind == ObjectKind.AUTHORIZATION and o.name not in desired)}

    @cached_property
    def managed_auth_ids(self) -> set[str]:
        return {o.live_id for o in self.inp.managed.values()
                if o.kind in (ObjectKind.AUTHORIZATION, ObjectKind.DEPOSED_AUTHORIZATION)}

    @cached_property
    def _auth_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for name, action in self.auth_actions.items():  # first match wins, as a scan would
            if action.live_id is not None:
                names.setdefault(action.live_id, name)
        for (kind, name), obj in self.inp.managed.items():
            if kind == ObjectKind.AUTHORIZATION:
                names.setdefault(obj.live_id, name)
        return names

    def auth_name(self, live_id: str) -> str:
        """The manifest name of a live authorization (also one this plan deletes), else its id.

        Asked only once every authorization is decided (while planning jobs); the index is
        built on the first question, not scanned per question.
        """
        return self._auth_names.get(live_id, live_id)


def removal_address(obj: ManagedObject) -> str:
    """How a delete is shown: a deposed object under the name of the authorization that replaced it."""
    if obj.kind == ObjectKind.DEPOSED_AUTHORIZATION:
        return f"{ObjectKind.AUTHORIZATION}/{obj.applied.get('replaced_by', '?')} (deposed {obj.live_id})"
    return obj.address
