"""Apply: execute a plan safely. Lock, recover, (re)plan, check, resolve secrets, run, record.

The order matters and is the whole safety story:

1. take the state lock (one apply at a time; a dead holder on this host is taken over) and
   record the workspace and environment in a state that does not know them yet;
2. settle any half-recorded calls of a killed apply (recovery.py), so nothing is duplicated;
3. plan against a fresh snapshot; a saved plan must still hold object by object;
4. resolve every secret the plan needs before the first change (missing -> nothing changes);
5. run the steps in phase order with bounded concurrency; every delete re-reads the
   authorization's references right before it;
6. bump the state serial when anything changed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from reconciler.apply.executor import Executor
from reconciler.apply.hooks import ApplyHook, SilentHook
from reconciler.apply.operations import ApplyContext, RetryPolicy
from reconciler.apply.records_refresh import refreshed_records
from reconciler.apply.recovery import recover
from reconciler.apply.results import ApplyReport, ResultCode, StepResult
from reconciler.apply.staleness import refuse_snapshot_plan, stale_reasons
from reconciler.clock import utc_now
from reconciler.errors import LockLostError, SecretError, StalePlanError
from reconciler.live import Snapshot
from reconciler.manifest.secrets import SecretValue
from reconciler.plan import ActionKind, Plan
from reconciler.session import Session
from reconciler.state.records import ManagedIndex
from reconciler.state.store import StateStore
from reconciler.vocabulary import ObjectKind

__all__ = ["ApplyHook", "ApplyOptions", "ApplyReport", "PreparedApply", "ResultCode", "StepResult", "execute",
           "prepare", "refresh_records"]


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = 4
    lock_timeout: float = 0.0
    holder: str = "authctl"
    retry: RetryPolicy = RetryPolicy()


@dataclass
class PreparedApply:
    """A locked, recovered and checked apply, ready to run (or to be shown and confirmed)."""

    session: Session
    plan: Plan
    lock_id: str
    apply_id: str
    recovered: list[str]
    secrets: dict[str, dict[str, SecretValue]]
    snapshot: Snapshot

    def release(self) -> None:
        assert isinstance(self.session.state, StateStore)
        self.session.state.release_lock(self.lock_id)


def prepare(session: Session, options: ApplyOptions, saved: Plan | None = None) -> PreparedApply:
    """Steps 1-4. On any error the lock is released and nothing has changed on the platform."""
    if saved is not None:
        refuse_snapshot_plan(saved)
    state = session.state
    assert isinstance(state, StateStore), "apply opens the state store with Access.WRITE"
    lock = state.acquire_lock("apply", holder=options.holder, timeout=options.lock_timeout)
    apply_id = str(uuid.uuid4())
    try:
        state.record_identity(session.workspace.identity())
        snapshot = session.backend.snapshot()
        recovered = recover(state, session.backend, snapshot, apply_id)
        session.refresh_meta()
        plan = session.plan(snapshot)
        if saved is not None:
            reasons = stale_reasons(saved, plan, snapshot)
            if reasons:
                raise StalePlanError("the saved plan is stale and was not applied:\n  - " + "\n  - ".join(reasons),
                                     hint="run `authctl plan -o FILE` again and review the new plan")
        secrets = resolve_secrets(session, plan)
    except BaseException:
        state.release_lock(lock.lock_id)
        raise
    return PreparedApply(session, plan, lock.lock_id, apply_id, recovered, secrets, snapshot)


def resolve_secrets(session: Session, plan: Plan) -> dict[str, dict[str, SecretValue]]:
    """Every credential a create or replace needs, read now; all missing ones reported at once."""
    values: dict[str, dict[str, SecretValue]] = {}
    problems: list[str] = []
    for action in plan.actions:
        if action.resource != ObjectKind.AUTHORIZATION or action.kind not in (ActionKind.CREATE, ActionKind.REPLACE):
            continue
        desired = session.loaded.desired.authorizations.get(action.name)
        if desired is None:
            continue
        resolved: dict[str, SecretValue] = {}
        for field, ref in sorted(desired.credentials.items()):
            try:
                resolved[field] = ref.resolve(session.workspace.root)
            except SecretError as exc:
                problems.append(f"{action.address}: credentials.{field}: {exc.message}")
        values[action.name] = resolved
    if problems:
        raise SecretError("secrets needed by this apply are missing; nothing was changed:\n  - "
                          + "\n  - ".join(problems))
    return values


def refresh_records(prepared: PreparedApply, managed: ManagedIndex | None = None) -> int:
    """Rewrite the stale records of objects the plan leaves alone; how many (state only, under the lock).

    A label edited by hand and then matched in the manifest is a no-op for the platform, but
    its record would keep the old label and drift would compare with that
    (reconciler/apply/records_refresh.py). Called by every apply, a no-change one included.
    """
    state = prepared.session.state
    assert isinstance(state, StateStore)
    try:
        state.check_lock(prepared.lock_id)
    except LockLostError:  # another apply may hold it now: leave the records to the next apply
        return 0
    records = refreshed_records(prepared.plan, state.managed() if managed is None else managed,
                                prepared.session.loaded.desired, prepared.snapshot, utc_now())
    state.put_many(records)
    return len(records)


def execute(prepared: PreparedApply, options: ApplyOptions, hook: ApplyHook | None = None) -> ApplyReport:
    """Steps 5-6; always releases the lock."""
    session = prepared.session
    state = session.state
    assert isinstance(state, StateStore)
    try:
        managed = state.managed()
        ids = {name: obj.live_id for (kind, name), obj in managed.items() if kind == ObjectKind.AUTHORIZATION}
        ctx = ApplyContext(
            apply_id=prepared.apply_id, backend=session.backend, state=state, desired=session.loaded.desired,
            catalog=session.catalog,
            fingerprints=session.fingerprints, secrets=prepared.secrets, snapshot=prepared.snapshot,
            plan=prepared.plan, retry=options.retry, ids=ids, lock_id=prepared.lock_id,
        )
        results = Executor(ctx, hook or SilentHook(), options.parallelism).run()
        refresh_records(prepared, managed)
        changed = any(r.code is ResultCode.APPLIED for r in results)
        serial = state.bump_serial() if changed else None
        report = ApplyReport(prepared.apply_id, tuple(results), serial, tuple(prepared.recovered))
        (hook or SilentHook()).on_finish(report)
        return report
    finally:
        prepared.release()
