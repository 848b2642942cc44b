"""``authctl import --all-matching``: which live objects are the ones the manifests declare. Pure.

A manifest and a live object match when neither is managed yet and:

- authorizations: the label is the same (ignoring case, as the platform's uniqueness rule
  does). A match whose provider or method differs is not adopted but reported
  (``Mismatch``): adopting it would make the next plan replace it, which a person must
  choose with ``authctl import NAME ID``;
- jobs: the workflow is the same and the manifest's name is the job's platform name, or the
  name ``authctl export`` gives it (names.py: a platform job name need not be unique nor a
  valid manifest name). Only running or paused jobs match: export writes no other, and a
  finished job adopted under a manifest that says ``running`` would be started again.

Platform job names are not unique, so one manifest can fit several live jobs (and one job
several manifests, ``x`` and ``x-2``). Every such group is an :class:`Ambiguity`: the whole
import is refused, naming every id, and a person imports each with ``authctl import NAME
ID``. Never a guess.

Authorizations that were imported before but miss a fingerprint that can be computed now
(its secret was not set then) are listed too (``recording``): importing them again records
it (see :func:`imported_record`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.export.names import MAX_NAME, could_be_export_name, job_base_name
from reconciler.live import LiveAuthorization, LiveJob, Snapshot
from reconciler.manifest.fingerprints import AuthFingerprints
from reconciler.manifest.model import DesiredAuthorization, DesiredState
from reconciler.state.records import ManagedIndex, ManagedObject
from reconciler.vocabulary import ObjectKind

AUTH, JOB = ObjectKind.AUTHORIZATION, ObjectKind.JOB
_SUFFIX_LENGTHS = range(2, 7)  # "-2" .. "-99999": names export shortens to fit a suffix


@dataclass(frozen=True)
class Adoption:
    """One manifest and the live object it will be recorded as (``recording``: already managed, record more)."""

    kind: ObjectKind
    name: str
    live_id: str
    live_name: str  # label or platform job name: platform text, escape before showing
    recording: bool = False

    @property
    def address(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Ambiguity:
    """Manifests and live objects that match one another in more than one way."""

    kind: ObjectKind
    names: tuple[str, ...]
    live: tuple[tuple[str, str], ...]  # (id, label or platform name)


@dataclass(frozen=True)
class Mismatch:
    """A label match whose provider or method differs: not adopted."""

    name: str
    live_id: str
    live_name: str
    reason: str


@dataclass(frozen=True)
class Matches:
    adoptions: tuple[Adoption, ...]
    ambiguities: tuple[Ambiguity, ...]
    mismatches: tuple[Mismatch, ...]


def match_all(desired: DesiredState, snapshot: Snapshot, managed: ManagedIndex,
              fingerprints: dict[str, AuthFingerprints] | None = None) -> Matches:
    """Pair unmanaged manifests with unmanaged live objects (see the module docstring).

    ``fingerprints`` (the desired ones, under the state's key) finds imported authorizations
    with something to record; None skips that (no state store yet: nothing was imported).
    """
    managed_ids = {o.live_id for o in managed.values()}
    adoptions: list[Adoption] = []
    ambiguities: list[Ambiguity] = []
    mismatches: list[Mismatch] = []
    _authorizations(desired, snapshot, managed, managed_ids, adoptions, ambiguities, mismatches)
    _jobs(desired, snapshot, managed, managed_ids, adoptions, ambiguities)
    if fingerprints is not None:
        adoptions += _to_record(desired, snapshot, managed, fingerprints)
    adoptions.sort(key=lambda a: (a.kind != AUTH, a.name))
    return Matches(tuple(adoptions), tuple(ambiguities), tuple(mismatches))


def _authorizations(desired: DesiredState, snapshot: Snapshot, managed: ManagedIndex, managed_ids: set[str],
                    adoptions: list[Adoption], ambiguities: list[Ambiguity], mismatches: list[Mismatch]) -> None:
    by_label: dict[str, list[LiveAuthorization]] = defaultdict(list)
    for auth in snapshot.authorizations.values():
        if auth.id not in managed_ids:
            by_label[auth.label.casefold()].append(auth)
    for name in sorted(desired.authorizations):
        if (AUTH, name) in managed:
            continue
        d = desired.authorizations[name]
        found = sorted(by_label.get(d.label.casefold(), []), key=lambda a: a.id)
        if len(found) > 1:
            ambiguities.append(Ambiguity(AUTH, (name,), tuple((a.id, a.label) for a in found)))
        elif found:
            live = found[0]
            differs = [f"{what} {have!r} (the manifest says {want!r})"
                       for what, have, want in (("provider", live.provider, d.provider),
                                                ("method", live.method, d.method)) if have != want]
            if differs:
                mismatches.append(Mismatch(name, live.id, live.label, "its " + " and ".join(differs)))
            else:
                adoptions.append(Adoption(AUTH, name, live.id, live.label))


def _job_keys(job: LiveJob) -> set[str]:
    """The names export could give ``job`` before a suffix: its base name, and that shortened to fit one."""
    base = job_base_name(job.name)
    keys = {base}
    if len(base) > MAX_NAME - max(_SUFFIX_LENGTHS):
        keys |= {base[:MAX_NAME - n].rstrip("-") for n in _SUFFIX_LENGTHS}
    return keys


def _jobs(desired: DesiredState, snapshot: Snapshot, managed: ManagedIndex, managed_ids: set[str],
          adoptions: list[Adoption], ambiguities: list[Ambiguity]) -> None:
    index: dict[tuple[str, str], list[LiveJob]] = defaultdict(list)
    for job in snapshot.jobs.values():
        if job.id in managed_ids or not (job.status.is_running or job.status.is_paused):
            continue
        for key in _job_keys(job):
            index[(job.workflow, key)].append(job)
    edges: dict[str, list[LiveJob]] = {}  # manifest name -> live jobs it fits
    for name in sorted(desired.jobs):
        if (JOB, name) in managed:
            continue
        workflow = desired.jobs[name].workflow
        root = name.rpartition("-")[0]
        candidates = {j.id: j for key in (name, root) if key for j in index.get((workflow, key), ())
                      if could_be_export_name(name, j.name)}
        if candidates:
            edges[name] = sorted(candidates.values(), key=lambda j: j.id)
    fits: dict[str, list[str]] = defaultdict(list)  # live id -> manifest names it fits
    for name, jobs in edges.items():
        for job in jobs:
            fits[job.id].append(name)
    for group in _groups(edges, fits):
        names = sorted(group[0])
        jobs = sorted(group[1].values(), key=lambda j: j.id)
        if len(names) == 1 and len(jobs) == 1:
            adoptions.append(Adoption(JOB, names[0], jobs[0].id, jobs[0].name))
        else:
            ambiguities.append(Ambiguity(JOB, tuple(names), tuple((j.id, j.name) for j in jobs)))


def _groups(edges: dict[str, list[LiveJob]], fits: dict[str, list[str]]) -> list[tuple[set[str], dict[str, LiveJob]]]:
    """The connected groups of manifests and live jobs that fit one another."""
    seen: set[str] = set()
    groups = []
    for start in sorted(edges):
        if start in seen:
            continue
        names: set[str] = set()
        jobs: dict[str, LiveJob] = {}
        todo = [start]
        while todo:
            name = todo.pop()
            if name in names:
                continue
            names.add(name)
            for job in edges[name]:
                if job.id not in jobs:
                    jobs[job.id] = job
                    todo += [n for n in fits[job.id] if n not in names]
        seen |= names
        groups.append((names, jobs))
    return groups


def _to_record(desired: DesiredState, snapshot: Snapshot, managed: ManagedIndex,
               fingerprints: dict[str, AuthFingerprints]) -> list[Adoption]:
    """Imported authorizations with a fingerprint that can be computed now but was not recorded."""
    found = []
    for (kind, name), obj in sorted(managed.items()):
        if kind != AUTH or not obj.applied.get("imported") or name not in desired.authorizations:
            continue
        live = snapshot.authorizations.get(obj.live_id)
        fps = fingerprints.get(name)
        if live is None or fps is None:
            continue
        if set(fps.recorded()) - set(obj.fingerprints):
            found.append(Adoption(AUTH, name, live.id, live.label, recording=True))
    return found


def unrecorded_fields(desired: DesiredAuthorization, fps: AuthFingerprints,
                      previous: ManagedObject | None) -> list[str]:
    """The config and credential paths an import could not record (their values are not available)."""
    recorded = {**fps.recorded(), **(previous.fingerprints if previous else {})}
    paths = [f"config.{k}" for k in desired.config] + [f"credentials.{k}" for k in desired.credentials]
    return sorted(p for p in paths if p not in recorded)


def imported_record(kind: ObjectKind, name: str, live: LiveAuthorization | LiveJob, now: datetime, *,
                    desired: DesiredAuthorization | None = None, fps: AuthFingerprints | None = None,
                    previous: ManagedObject | None = None) -> ManagedObject:
    """What state records for a live object a person brings under manifest ``name`` (``authctl import``).

    Importing is a person's word that the live object is the one the manifest describes, so
    the fingerprints of the manifest's config and of every credential whose value is
    available here are recorded, as if apply had written them: later plans compare against
    them (a rotation shows). A credential whose value is not available is not recorded, and
    the planner does not compare it (never a replace) until an import records it
    (reconciler/planner/authorizations.py). A fingerprint recorded earlier is kept: importing
    again adds what was missing and never hides a change made since. A job's record holds its
    workflow, live state and authorization ids.
    """
    if kind == JOB:
        assert isinstance(live, LiveJob)
        # what it was doing and on which authorizations, as apply records them: drift
        # (`plan --refresh-only`) then sees an imported job paused or moved by hand too
        state = "running" if live.status.is_running else "paused" if live.status.is_paused else "stopped"
        return ManagedObject(JOB, name, live.id, {}, now, {"workflow": live.workflow, "imported": True,
                                                           "state": state, "auth_ids": list(live.auth_ids)})
    assert isinstance(live, LiveAuthorization)
    recorded = {**(fps.recorded() if fps else {}), **(previous.fingerprints if previous else {})}
    applied: dict[str, Any] = {"provider": live.provider, "method": live.method, "label": live.label,
                               "description": live.description, "imported": True}
    if desired is not None:
        applied["config"] = {k: v for k, v in desired.config.items() if f"config.{k}" in recorded}
    return ManagedObject(AUTH, name, live.id, recorded, now, applied)
