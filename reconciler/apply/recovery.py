"""Settle what a killed apply left half-recorded, before planning again.

An intent without an outcome means the process died around a platform call. Either
the call never happened (nothing to do) or it did and state does not know yet. We
look at the platform to tell which, and only by proof:

- a create is recognised by its creation marker, which apply journals in the intent
  before the call and the platform keeps on the object. Found: it is ours, adopt it.
  Not found: it was not created. A same-named object without our marker is someone
  else's (a person made it in the UI) and is never adopted;
- an intent journaled before creation markers existed cannot be proven either way when
  an unmanaged object with that name or label exists: recovery stops
  (:class:`RecoveryError`) and names the commands that settle it (``authctl import`` if
  it is ours, ``authctl state settle`` if it is not), never guesses;
- a delete is settled by the object being gone.

Then state is corrected so the next plan neither duplicates nor orphans anything.
"""

from __future__ import annotations

from reconciler.backends.base import Backend
from reconciler.clock import utc_now
from reconciler.errors import RecoveryError
from reconciler.live import LiveAuthorization, LiveJob, Snapshot
from reconciler.state.records import JournalEntry, ManagedObject
from reconciler.state.store import StateStore
from reconciler.vocabulary import JobStatus, JournalOp, JournalPhase, ObjectKind

AUTH, JOB, DEPOSED = ObjectKind.AUTHORIZATION, ObjectKind.JOB, ObjectKind.DEPOSED_AUTHORIZATION


class _Unproven(Exception):
    """A create intent without a marker, and an unmanaged candidate recovery must not guess about."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def recover(state: StateStore, backend: Backend, snapshot: Snapshot, apply_id: str) -> list[str]:
    """Returns a line per settled intent (for the apply output).

    Raises RecoveryError, after settling everything that can be proven, when some
    create cannot be: nothing is planned or applied until a person settles it.
    """
    pending = state.pending_intents()
    if not pending:
        return []
    managed = state.managed()
    managed_ids = {o.live_id for o in managed.values()}
    notes: list[str] = []
    unproven: list[str] = []
    for entry in pending:
        try:
            note = _settle(state, backend, snapshot, entry, managed_ids)
        except _Unproven as exc:
            unproven.append(exc.text)
            continue
        state.record(entry.apply_id, entry.address, entry.action, JournalPhase.RECOVERED,
                     {"by": apply_id, "note": note})
        notes.append(f"{entry.address} ({entry.action}): {note}")
    if unproven:
        raise RecoveryError(
            "an interrupted apply was creating objects that authctl cannot prove it created or not "
            "(its journal predates creation markers), and an unmanaged object of the same name exists; "
            "nothing was changed:\n  - " + "\n  - ".join(unproven),
            hint="settle each one, then run apply again")
    return notes


def _settle(state: StateStore, backend: Backend, snapshot: Snapshot, entry: JournalEntry,
            managed_ids: set[str]) -> str:
    detail = entry.detail
    now = utc_now()
    marker = detail.get("marker")
    if entry.action in (JournalOp.CREATE, JournalOp.REPLACE_CREATE):
        auth = (backend.find_authorization_by_marker(marker) if marker
                else _unproven_authorization(snapshot, entry, managed_ids))
        if auth is None:
            return "was not created; the plan will create it"
        if auth.id in managed_ids:
            return f"was created as {auth.id}; already in state"
        puts = [ManagedObject(AUTH, detail["name"], auth.id, detail.get("fingerprints", {}), now,
                              detail.get("applied", {}))]
        if detail.get("replaces"):
            puts.append(ManagedObject(DEPOSED, detail["replaces"], detail["replaces"], {}, now,
                                      {"replaced_by": detail["name"]}))
        state.record(entry.apply_id, entry.address, entry.action, JournalPhase.ADOPTED, {"live_id": auth.id},
                     puts=tuple(puts))
        managed_ids.add(auth.id)
        return f"was created as {auth.id} (it carries this apply's creation marker); recorded in state"
    if entry.action is JournalOp.CREATE_JOB:
        job = backend.find_job_by_marker(marker) if marker else _unproven_job(snapshot, entry, managed_ids)
        if job is None or job.status == JobStatus.DELETED:
            return "was not created; the plan will create it"
        if job.id in managed_ids:
            return f"was created as {job.id}; already in state"
        state.record(entry.apply_id, entry.address, entry.action, JournalPhase.ADOPTED, {"live_id": job.id},
                     puts=(ManagedObject(JOB, detail["name"], job.id, {}, now, detail.get("applied", {})),))
        managed_ids.add(job.id)
        return f"was created as {job.id} (it carries this apply's creation marker); recorded in state"
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


def _unproven_authorization(snapshot: Snapshot, entry: JournalEntry, managed_ids: set[str]) -> LiveAuthorization | None:
    """A marker-less create intent: None when nothing unmanaged holds the label; else stop (never guess)."""
    label = str(entry.detail.get("label", "")).casefold()
    holder = next((a for a in snapshot.authorizations.values()
                   if a.label.casefold() == label and a.id not in managed_ids), None)
    if holder is None:
        return None
    raise _Unproven(
        f"{entry.address}: the unmanaged authorization {holder.id} holds its label {holder.label!r}; "
        f"if authctl created it: `authctl import {entry.address} {holder.id}`; if a person did: "
        f"`authctl state settle {entry.address} --not-created` and give one of them another label "
        "(labels are unique)")


def _unproven_job(snapshot: Snapshot, entry: JournalEntry, managed_ids: set[str]) -> LiveJob | None:
    """A marker-less create-job intent: None when no unmanaged job has its name and workflow; else stop."""
    name, workflow = entry.detail.get("name"), entry.detail.get("workflow")
    same = sorted((j.id for j in snapshot.jobs.values()
                   if j.name == name and j.workflow == workflow and j.id not in managed_ids
                   and j.status != JobStatus.DELETED))
    if not same:
        return None
    raise _Unproven(
        f"{entry.address}: unmanaged job(s) {', '.join(same)} have its name and workflow; if authctl created "
        f"one: `authctl import {entry.address} ID`; if not: `authctl state settle {entry.address} --not-created` "
        "(the next apply creates authctl's own)")
