"""Bring the state records of objects an apply left alone up to date with what it would record now.

Why: apply calls nothing for a no-op object, so its state record keeps what the last change
wrote. When a person edits a label in the UI and the team then changes the manifest to
match, the object is a no-op, and its record still holds the old label: `plan
--refresh-only` would list that difference as *accepted* after every apply, and miss the
label being edited back to the old value (it would equal the stale record). Terraform
refreshes state on apply for the same reason.

Only the fields drift compares are refreshed (an authorization's label and description; a
job's state, authorizations and authorization ids), only where the live object already
matches the manifests (that is what no-op means), and only where the record holds the
field: older records without ``auth_ids`` are left as they are (drift falls back to names
for them) so that the first apply after an upgrade does not rewrite every job. Nothing
here calls the platform; fingerprints and every other recorded key are kept.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from reconciler.live import Snapshot
from reconciler.manifest.model import DesiredState
from reconciler.plan import Plan
from reconciler.state.records import ManagedIndex, ManagedObject
from reconciler.vocabulary import ObjectKind

AUTH, JOB = ObjectKind.AUTHORIZATION, ObjectKind.JOB


def refreshed_records(plan: Plan, managed: ManagedIndex, desired: DesiredState, snapshot: Snapshot,
                      now: datetime) -> list[ManagedObject]:
    """The records of the plan's no-op objects whose drift-relevant fields are stale, rewritten.

    A no-op is a managed object of the manifests that no action of the plan names (a plan
    lists changes only).
    """
    acted = {action.address for action in plan.actions}
    refreshed = []
    for (kind, name), record in managed.items():
        if kind not in (AUTH, JOB) or record.address in acted:
            continue
        updates = (_authorization_updates(record, desired, snapshot) if kind == AUTH
                   else _job_updates(record, desired, snapshot))
        if updates:
            refreshed.append(replace(record, applied={**record.applied, **updates}, applied_at=now))
    return refreshed


def _authorization_updates(record: ManagedObject, desired: DesiredState, snapshot: Snapshot) -> dict[str, Any]:
    wanted, live = desired.authorizations.get(record.name), snapshot.authorizations.get(record.live_id)
    if wanted is None or live is None:
        return {}
    updates = {}
    for field in ("label", "description"):
        now, recorded = getattr(wanted, field), record.applied.get(field)
        if field in record.applied and recorded != now and getattr(live, field) == now:
            updates[field] = now
    return updates


def _job_updates(record: ManagedObject, desired: DesiredState, snapshot: Snapshot) -> dict[str, Any]:
    wanted, live = desired.jobs.get(record.name), snapshot.jobs.get(record.live_id)
    if wanted is None or live is None:
        return {}
    current: dict[str, Any] = {"state": wanted.state, "authorizations": list(wanted.authorizations),
                               "auth_ids": list(live.auth_ids)}
    return {k: v for k, v in current.items() if k in record.applied and record.applied[k] != v}
