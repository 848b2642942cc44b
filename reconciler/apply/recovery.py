"""Settle what a killed apply left half-recorded, before planning again.

An intent without an outcome means the process died around a platform call. Either
the call never happened (nothing to do) or it did and state does not know yet. We
look at the platform to tell which: a created authorization is recognised by its
label (labels are unique), a created job by name and workflow among unmanaged jobs,
a delete by the object being gone. Then state is corrected so the next plan neither
duplicates nor orphans anything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.live import Snapshot
from reconciler.planner import AUTH, DEPOSED, JOB
from reconciler.state import JournalEntry, ManagedObject, StateStore


def recover(state: StateStore, snapshot: Snapshot, apply_id: str) -> list[str]:
    """Returns a line per settled intent (for the apply output)."""
    pending = state.pending_intents()
    if not pending:
        return []
    managed = state.managed()
    managed_ids = {o.live_id for o in managed.values()}
    notes: list[str] = []
    for entry in pending:
        note = _settle(state, snapshot, entry, managed_ids)
        state.record(entry.apply_id, entry.address, entry.action, "recovered", {"by": apply_id, "note": note})
        notes.append(f"{entry.address} ({entry.action}): {note}")
    return notes


def _settle(state: StateStore, snapshot: Snapshot, entry: JournalEntry, managed_ids: set[str]) -> str:
    detail = entry.detail
    now = datetime.now(UTC)
    if entry.action in ("create", "replace-create"):
        label = str(detail.get("label", "")).casefold()
        match = next((a for a in snapshot.authorizations.values()
                      if a.label.casefold() == label and a.id not in managed_ids
                      and a.provider == detail.get("provider") and a.method == detail.get("method")), None)
        if match is None:
            return "was not created; the plan will create it"
        puts = [ManagedObject(AUTH, detail["name"], match.id, detail.get("fingerprints", {}), now,
                              detail.get("applied", {}))]
        if detail.get("replaces"):
            puts.append(ManagedObject(DEPOSED, detail["replaces"], detail["replaces"], {}, now,
                                      {"replaced_by": detail["name"]}))
        state.record(entry.apply_id, entry.address, entry.action, "adopted", {"live_id": match.id}, puts=tuple(puts))
        managed_ids.add(match.id)
        return f"was created as {match.id}; recorded in state"
    if entry.action == "create-job":
        match = next((j for j in sorted(snapshot.jobs.values(), key=lambda j: j.id)
                      if j.name == detail.get("name") and j.workflow == detail.get("workflow")
                      and j.id not in managed_ids and j.status != "deleted"), None)
        if match is None:
            return "was not created; the plan will create it"
        state.record(entry.apply_id, entry.address, entry.action, "adopted", {"live_id": match.id},
                     puts=(ManagedObject(JOB, detail["name"], match.id, {}, now, detail.get("applied", {})),))
        managed_ids.add(match.id)
        return f"was created as {match.id}; recorded in state"
    if entry.action in ("delete", "replace-delete"):
        live_id = detail.get("live_id", "")
        if live_id in snapshot.authorizations:
            return "was not deleted; the plan will try again"
        kind, name = detail.get("state_key", [AUTH, entry.address.split("/", 1)[-1]])
        state.record(entry.apply_id, entry.address, entry.action, "forgotten", {"live_id": live_id},
                     removes=((kind, name),))
        return "was deleted; removed from state"
    if entry.action in ("delete-job", "replace-delete-job"):
        live_id = detail.get("live_id", "")
        job = snapshot.jobs.get(live_id)
        if job is not None and job.status != "deleted":
            return "was not deleted; the plan will try again"
        name = entry.address.split("/", 1)[-1]
        current = state.get(JOB, name)
        if current is not None and current.live_id == live_id:
            state.record(entry.apply_id, entry.address, entry.action, "forgotten", {"live_id": live_id},
                         removes=((JOB, name),))
        return "was deleted; removed from state"
    return "in-place change; the plan re-checks it"
