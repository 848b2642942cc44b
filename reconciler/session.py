"""The I/O shell around the pure planner: open the backend and the state store, snapshot, plan.

Plan and apply share it, so they can never disagree about what the manifests mean:
validate the manifests first (no I/O beyond files) and check the workspace's policy
(reconciler/policy), open state and the backend, take one snapshot, compute the desired
fingerprints with the state's key once, and call
``planner.make_plan``. :func:`open_snapshot_session` is the offline variant (``plan
--snapshot``): the live state and the state records come from a saved snapshot file and
neither the backend nor the state store is opened.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reconciler.backends import Backend, open_backend
from reconciler.catalog import Catalog, load_catalog
from reconciler.diagnostics import Diagnostic
from reconciler.live import Snapshot
from reconciler.manifest import LoadResult, load_desired
from reconciler.manifest.fingerprints import AuthFingerprints, fingerprint_desired
from reconciler.paused_gc import paused_gc
from reconciler.plan import Plan, PlanContext
from reconciler.planner import PlanInput, make_plan
from reconciler.policy.enforce import check_manifests, check_plan
from reconciler.snapshot_file import (
    SavedSnapshot,
    check_snapshot_fits,
    fingerprints_without_secrets,
    read_snapshot_file,
)
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
    backend: Backend | None  # None only for a plan against a snapshot file (see ``saved``)
    state: StateView | None  # the full StateStore for Access.WRITE; None: read-only and no state store yet
    meta: StateMeta | None
    hmac_key: bytes
    _fingerprints: dict[str, AuthFingerprints] | None = field(default=None, repr=False)
    _early: EarlySnapshot | None = field(default=None, repr=False)
    _policy_warnings: list[Diagnostic] | None = field(default=None, repr=False)  # from check_manifests
    saved: SavedSnapshot | None = None  # plan --snapshot: the file planned against (live state and state records)

    @property
    def fingerprints(self) -> dict[str, AuthFingerprints]:
        """Desired fingerprints under the state's key: computed on first use, then reused by apply."""
        if self._fingerprints is None:
            if self.saved is not None:  # no secret is read: a snapshot holds nothing to compare them with
                self._fingerprints = fingerprints_without_secrets(self.loaded.desired, self.hmac_key)
            else:
                self._fingerprints = fingerprint_desired(self.loaded.desired, self.hmac_key, self.workspace.root)
        return self._fingerprints

    def live_snapshot(self) -> Snapshot:
        """The snapshot taken while the manifests loaded (once), else a fresh one (``plan --refresh-only``)."""
        if self._early is not None:
            early, self._early = self._early, None
            return early.snapshot()
        assert self.backend is not None, "plan --refresh-only reads the live platform, never a snapshot file"
        return self.backend.snapshot()

    def refresh_meta(self) -> None:
        """Re-read the serial and lineage (apply does, after recovery may have written state)."""
        if self.state is not None:
            self.meta = self.state.meta()

    def plan(self, snapshot: Snapshot | None = None, now: datetime | None = None) -> Plan:
        """Plan against ``snapshot`` (default: the one taken while the manifests loaded, else a fresh one)."""
        now = now or datetime.now(UTC)
        with paused_gc():
            if snapshot is None and self._early is not None:
                early, self._early = self._early, None
                snapshot = early.snapshot()
            if snapshot is None and self.saved is not None:
                snapshot = self.saved.live
            if snapshot is None:
                assert self.backend is not None, "a session without a backend plans against its snapshot file"
                snapshot = self.backend.snapshot()
            managed = self.state.managed() if self.state else {}
            desired = self.loaded.desired
            context = PlanContext(
                environment=desired.environment, manifest_digest=desired.digest,
                state_serial=self.meta.serial if self.meta else 0,
                state_lineage=self.meta.lineage if self.meta else None,
                backend=self.saved.backend_kind if self.saved else self.backend.name,
                snapshot=self.saved.origin(now) if self.saved else None,
            )
            plan = make_plan(PlanInput(
                desired=desired, snapshot=snapshot, managed=managed, fingerprints=self.fingerprints,
                catalog=self.catalog, context=context, now=now,
                expiry_warning_days=self.workspace.settings.policy.expiry_warning_days,
            ))
            if self._policy_warnings is None:  # a session open_session did not open: its manifests' policy
                self._policy_warnings = check_manifests(self.workspace, self.catalog, desired)
            # Token ages against this snapshot; the policy's warnings join the plan's (reconciler/policy).
            return check_plan(self.workspace, self.catalog, plan, desired=desired, snapshot=snapshot,
                              managed=managed, now=now, warnings=self._policy_warnings)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
        if self.state is not None:
            self.state.close()


class EarlySnapshot:
    """A remote backend opened and snapshotted on a thread while the manifests load.

    Over HTTP a plan's snapshot is mostly waiting (the server's work and the network); loading
    60,000 manifest documents is mostly CPU. Done at once, the wait hides behind the parsing.
    What a person sees does not change: manifest errors still come first (the thread's
    results are only looked at once the manifests are valid), an error opening the backend
    is raised where it was, and a snapshot error where the snapshot was taken. When the
    manifests fail, the thread closes the backend itself once done and nothing is waited for.
    """

    def __init__(self, workspace: Workspace, catalog: Catalog, access: Access) -> None:
        import threading

        self._opened: Backend | None = None
        self._taken: Snapshot | None = None
        self._open_error: BaseException | None = None
        self._snapshot_error: BaseException | None = None
        self._discarded = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(workspace, catalog, access),
                                        name="early-snapshot", daemon=True)
        self._thread.start()

    def _run(self, workspace: Workspace, catalog: Catalog, access: Access) -> None:
        try:
            self._opened = open_backend(workspace, catalog, access)
        except BaseException as exc:  # re-raised on the main thread by backend()
            self._open_error = exc
            return
        try:
            self._taken = self._opened.snapshot()
        except BaseException as exc:  # re-raised on the main thread by snapshot()
            self._snapshot_error = exc
        with self._lock:
            if self._discarded:
                self._opened.close()

    def backend(self) -> Backend:
        self._thread.join()
        if self._open_error is not None:
            raise self._open_error
        assert self._opened is not None
        return self._opened

    def snapshot(self) -> Snapshot:
        self._thread.join()
        if self._snapshot_error is not None:
            raise self._snapshot_error
        assert self._taken is not None
        return self._taken

    def discard(self) -> None:
        """The manifests failed: nobody will use the backend; it is closed when the thread ends."""
        with self._lock:
            self._discarded = True
            done = not self._thread.is_alive()
        if done and self._opened is not None:
            self._opened.close()


def open_session(workspace: Workspace, access: Access, *, early_snapshot: bool = False) -> Session:
    """Validate manifests first (cheap, no I/O beyond files), then open state and backend.

    ``early_snapshot`` (plan, over a remote backend only): take the snapshot while the
    manifests load (:class:`EarlySnapshot`). Apply never does: it snapshots under its lock.
    """
    catalog = load_catalog(workspace.provider_dirs())
    early: EarlySnapshot | None = None

    def start_early_snapshot() -> None:
        # Started by the loader once its reader process (if any) is forked: never fork with threads.
        nonlocal early
        early = EarlySnapshot(workspace, catalog, access)

    wants_early = early_snapshot and workspace.backend.kind != "local"
    try:
        loaded = load_desired(workspace, catalog, on_started=start_early_snapshot if wants_early else None)
        policy_warnings = check_manifests(workspace, catalog, loaded.desired)  # refused before state or a lock
    except BaseException:
        if early is not None:
            early.discard()
        raise
    state = None
    try:
        state = open_state_store(workspace, access)
        meta = state.meta() if state else None
        key = state.hmac_key() if state else secrets.token_bytes(32)
        backend = early.backend() if early is not None else open_backend(workspace, catalog, access)
    except BaseException:
        if state is not None:
            state.close()
        if early is not None:
            early.discard()
        raise
    return Session(workspace, catalog, loaded, backend, state, meta, key, _early=early,
                   _policy_warnings=policy_warnings)


def open_snapshot_session(workspace: Workspace, file: Path, *, now: datetime, max_age_seconds: float,
                          max_age_text: str) -> Session:
    """A session that plans against a saved snapshot (``plan --snapshot FILE``), offline.

    The file is read and checked first (this workspace and environment, this platform,
    not older than ``max_age_seconds`` at ``now``), then the manifests load; neither the
    backend nor the state store is opened, so a fork's CI with no credentials plans too.
    """
    saved = read_snapshot_file(file)
    check_snapshot_fits(saved, file, workspace, now, max_age_seconds, max_age_text)
    catalog = load_catalog(workspace.provider_dirs())
    loaded = load_desired(workspace, catalog)
    return Session(workspace, catalog, loaded, None, saved.state_view(), saved.meta, saved.config_fingerprint_key,
                   saved=saved)
