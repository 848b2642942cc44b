"""Gather what a plan needs (manifests, state, a live snapshot) and make one.

This is the I/O shell around the pure planner: it opens the backend and the state
store, takes one snapshot, computes desired fingerprints with the state's key, and
calls ``planner.make_plan``. ``apply`` uses the same path, so plan and apply can
never disagree about what the manifests mean.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.backends import Backend, open_backend
from reconciler.bulk import paused_gc
from reconciler.catalog import Catalog, load_catalog
from reconciler.live import Snapshot
from reconciler.manifest import LoadResult, load_desired
from reconciler.manifest.fingerprints import AuthFingerprints, fingerprint_desired
from reconciler.plan import Plan, PlanContext
from reconciler.planner import PlanInput, make_plan
from reconciler.state import StateMeta, StateStore, open_state_store
from reconciler.workspace import Workspace


@dataclass
class PlanningSession:
    """Everything loaded for one plan (and reused by apply); close() releases it."""

    workspace: Workspace
    catalog: Catalog
    loaded: LoadResult
    backend: Backend
    state: StateStore | None
    meta: StateMeta | None
    hmac_key: bytes
    fingerprints: dict[str, AuthFingerprints] | None = None  # computed once, reused by apply

    def close(self) -> None:
        self.backend.close()
        if self.state is not None:
            self.state.close()


def open_session(workspace: Workspace, *, create_state: bool = False) -> PlanningSession:
    """Validate manifests first (cheap, no I/O beyond files), then open state and backend."""
    catalog = load_catalog(workspace.provider_dirs())
    loaded = load_desired(workspace, catalog)
    state = open_state_store(workspace, create=create_state)
    try:
        meta = state.meta() if state else None
        key = state.hmac_key() if state else secrets.token_bytes(32)
        backend = open_backend(workspace, catalog, create=create_state)
    except BaseException:
        if state is not None:
            state.close()
        raise
    return PlanningSession(workspace, catalog, loaded, backend, state, meta, key)


def plan_with(session: PlanningSession, snapshot: Snapshot | None = None, now: datetime | None = None) -> Plan:
    with paused_gc():
        return _plan_with(session, snapshot, now)


def _plan_with(session: PlanningSession, snapshot: Snapshot | None, now: datetime | None) -> Plan:
    snapshot = snapshot if snapshot is not None else session.backend.snapshot()
    managed = session.state.managed() if session.state else {}
    desired = session.loaded.desired
    if session.fingerprints is None:
        session.fingerprints = fingerprint_desired(desired, session.hmac_key, session.workspace.root)
    fingerprints = session.fingerprints
    context = PlanContext(
        environment=desired.environment, manifest_digest=desired.digest,
        state_serial=session.meta.serial if session.meta else 0,
        state_lineage=session.meta.lineage if session.meta else None, backend=session.backend.name,
    )
    return make_plan(PlanInput(
        desired=desired, snapshot=snapshot, managed=managed, fingerprints=fingerprints, catalog=session.catalog,
        context=context, now=now or datetime.now(UTC),
        expiry_warning_days=session.workspace.settings.policy.expiry_warning_days,
    ))
