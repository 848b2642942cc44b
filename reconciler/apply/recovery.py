"""Settle what a killed apply left half-recorded, before planning again.

An intent without an outcome means the process died around a platform call. Either
the call never happened (nothing to do) or it did and state does not know yet. We
look at the platform to tell which: a created authorization is recognised by its
label (labels are unique), a created job by name and workflow among unmanaged jobs,
a delete by the object being gone. Then state is corrected so the next plan neither
duplicates nor orphans anything.
"""

from __future__ import annotations

from reconciler.clock import utc_now
from reconciler.live import Snapshot
from reconciler.state.records import JournalEntry, ManagedObject
from reconciler.state.store import StateStore
from reconciler.vocabulary import JobStatus, JournalOp, JournalPhase, ObjectKind

AUTH, JOB, DEPOSED = ObjectKind.AUTHORIZATION, ObjectKind.JOB, ObjectKind.DEPOSED_AUTHORIZATION


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
        state.record(entry.apply_id, entry.address, entry.action, JournalPhase.RECOVERED,
                     {"by": apply_id, "note": note})
        notes.append(f"{entry.address} ({entry.action}): {note}")
    return notes


def _settle(state: StateStore, snapshot: Snapshot, entry: JournalEntry, managed_ids: set[str]) -> str:
    detail = entry.detail
    now = utc_now()
    if entry.action in (JournalOp.CREATE, JournalOp.REPLACE_CREATE):
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
        state.record(entry.apply_id, entry.address, entry.action, JournalPhase.ADOPTED, {"live_id": match.id},
                     puts=tuple(puts))
        managed_ids.add(match.id)
        return f"was created as {match.id}; recorded in state"
    if entry.action is JournalOp.CREATE_JOB:
        match = next((j for j in sorted(snapshot.jobs.values(), key=lambda j: j.id)
                      if j.name == detail.get("name") and j.workflow == detail.get("workflow")
                      and j.id not in managed_ids and j.status != JobStatus.DELETED), None)
        if match is None:
            return "was not created; the plan will create it"
        state.record(entry.apply_id, entry.address, entry.action, JournalPhase.ADOPTED, {"live_id": match.id},
                     puts=(ManagedObject(JOB, detail["name"], match.id, {}, now, detail.get("applied", {})),))
        managed_ids.add(match.id)
        return f"was created as {match.id}; recorded in state"
    if entry.action in (JournalOp.DELETE, JournalOp.REPLACE_DELETE):
        live_id = detail.get("live_id", "")
        if live_id in snapshot.authorizations:
            return "was not deleted; the plan will try again"
        kind, name = detail.get("state_key", [AUTH, entry.address.split("/", 1)[-1]])
        state.record(entry.apply_id, entry.address, entry.action, JournalPhase.FORGOTTEN, {"live_id": live_id},
                     removes=((ObjectKind(kind), name),))
        return "was deleted; removed from state"
    if entry.action in (JournalOp.DELETE_JOB, JournalOp.REPLACE_DELETE_JOB):
        live_id = detail.get("live_id", "")
        job = snapshot.jobs.get(live_id)
        if job is not None and job.status != JobStatus.DELETED:
            return "was not deleted; the plan will try again"
        name = entry.address.split("/", 1)[-1]
        current = state.get(JOB, name)
        if current is not None and current.live_id == live_id:
            state.record(entry.apply_id, entry.address, entry.action, JournalPhase.FORGOTTEN,
                         {"live_id": live_id}, removes=((JOB, name),))
        return "was deleted; removed from state"
    return "in-place change; the plan re-checks it"
