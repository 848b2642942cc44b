"""The I/O shell around the pure planner: open the backend and the state store, snapshot, plan.

Plan and apply share it, so they can never disagree about what the manifests mean:
validate the manifests first (no I/O beyond files), open state and the backend, take
one snapshot, compute the desired fingerprints with the state's key once, and call
``planner.make_plan``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconciler.backends import Backend, open_backend
from reconciler.catalog import Catalog, load_catalog
from reconciler.live import Snapshot
from reconciler.manifest import LoadResult, load_desired
from reconciler.manifest.fingerprints import AuthFingerprints, fingerprint_desired
from reconciler.paused_gc import paused_gc
from reconciler.plan import Plan, PlanContext
from reconciler.planner import PlanInput, make_plan
from reconciler.state.access import StateView, open_state_store
from reconciler.state.records import StateMeta
from reconciler.vocabulary import Access
from reconciler.workspace import Workspace


@dataclass
class Session:
    """Everything loaded for one plan (and reused by apply); close() releases it."""

    workspace: Workspace
    catalog: Catalog
    loaded: LoadResult
    backend: Backend
    state: StateView | None  # the full StateStore for Access.WRITE; None: read-only and no state store yet
    meta: StateMeta | None
    hmac_key: bytes
    _fingerprints: dict[str, AuthFingerprints] | None = field(default=None, repr=False)

    @property
    def fingerprints(self) -> dict[str, AuthFingerprints]:
        """Desired fingerprints under the state's key: computed on first use, then reused by apply."""
        if self._fingerprints is None:
            self._fingerprints = fingerprint_desired(self.loaded.desired, self.hmac_key, self.workspace.root)
        return self._fingerprints

    def refresh_meta(self) -> None:
        """Re-read the serial and lineage (apply does, after recovery may have written state)."""
        if self.state is not None:
            self.meta = self.state.meta()

    def plan(self, snapshot: Snapshot | None = None, now: datetime | None = None) -> Plan:
        """Plan against ``snapshot`` (default: a fresh one from the backend)."""
        with paused_gc():
            snapshot = snapshot if snapshot is not None else self.backend.snapshot()
            managed = self.state.managed() if self.state else {}
            desired = self.loaded.desired
            context = PlanContext(
                environment=desired.environment, manifest_digest=desired.digest,
                state_serial=self.meta.serial if self.meta else 0,
                state_lineage=self.meta.lineage if self.meta else None, backend=self.backend.name,
            )
            return make_plan(PlanInput(
                desired=desired, snapshot=snapshot, managed=managed, fingerprints=self.fingerprints,
                catalog=self.catalog, context=context, now=now or datetime.now(UTC),
                expiry_warning_days=self.workspace.settings.policy.expiry_warning_days,
            ))

    def close(self) -> None:
        self.backend.close()
        if self.state is not None:
            self.state.close()


def open_session(workspace: Workspace, access: Access) -> Session:
    """Validate manifests first (cheap, no I/O beyond files), then open state and backend."""
    catalog = load_catalog(workspace.provider_dirs())
    loaded = load_desired(workspace, catalog)
    state = open_state_store(workspace, access)
    try:
        meta = state.meta() if state else None
        key = state.hmac_key() if state else secrets.token_bytes(32)
        backend = open_backend(workspace, catalog, access)
    except BaseException:
        if state is not None:
            state.close()
        raise
    return Session(workspace, catalog, loaded, backend, state, meta, key)
