"""make_plan: (desired, snapshot, state, fingerprints) -> Plan. Pure: no I/O, no clock.

Following gitops-engine's reconcile: first *pair* each desired object with what state
says it became and what the platform shows now, then decide per pair. Authorizations
are decided first (jobs need to know whether their authorizations are being created
or replaced), then jobs, then what state manages but the manifests dropped; the delete
guard runs last, when the plan knows which jobs it deletes or rebinds itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from datetime import datetime, timedelta
from typing import Any

from reconciler.catalog import Catalog
from reconciler.diff import KNOWN_AFTER_APPLY, SENSITIVE, WRITE_ONLY, FieldChange, digest, secret_change, value_changes
from reconciler.live import LiveAuthorization, LiveJob, Snapshot, display_status
from reconciler.manifest.fingerprints import AuthFingerprints
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState
from reconciler.plan import Action, ActionKind, Blocker, Phase, Plan, PlanContext, Precondition, UnmanagedObject
from reconciler.state_records import ManagedObject

RUNNING_LIKE = frozenset({"runnable", "running", "sleeping", "initializing", "resuming"})
PAUSED_LIKE = frozenset({"paused", "pausing"})
AUTH, JOB = "Authorization", "Job"
# State kind for the old half of a replace whose delete has not happened yet (Terraform's
# "deposed" object): planned as a guarded delete until it is gone.
DEPOSED = "DeposedAuthorization"


@dataclass(frozen=True)
class PlanInput:
    desired: DesiredState
    snapshot: Snapshot
    managed: dict[tuple[str, str], ManagedObject]
    fingerprints: dict[str, AuthFingerprints]
    catalog: Catalog
    context: PlanContext
    now: datetime
    expiry_warning_days: int = 14


def auth_version(live: LiveAuthorization) -> str:
    return digest([live.id, live.provider, live.method, live.label, live.description, str(live.updated)])


def job_version(live: LiveJob) -> str:
    return digest([live.id, live.name, live.workflow, live.status, list(live.auth_ids), live.config,
                   live.description])


class _Planner:
    def __init__(self, inp: PlanInput) -> None:
        self.inp = inp
        self.snapshot = inp.snapshot
        self.auth_actions: dict[str, Action] = {}
        self.job_actions: dict[str, Action] = {}
        self.warnings: list[str] = []
        self.not_compared: list[str] = []
        self.noops = 0
        self._auth_names: dict[str, str] | None = None  # live id -> manifest name, see _auth_name

    def managed_live(self, kind: str, name: str) -> tuple[ManagedObject | None, Any]:
        obj = self.inp.managed.get((kind, name))
        if obj is None:
            return None, None
        table = self.snapshot.authorizations if kind == AUTH else self.snapshot.jobs
        live = table.get(obj.live_id)
        if live is not None and getattr(live, "status", "") == "deleted":
            live = None
        if live is None:
            self.warnings.append(f"{kind}/{name} was in state (id {obj.live_id}) but is gone from the platform; "
                                 "it will be re-created")
        return obj, live

    # -- authorizations ----------------------------------------------------------------------
    def plan_authorization(self, d: DesiredAuthorization) -> Action:
        method = self.inp.catalog.method(d.provider, d.method)
        is_oauth = bool(method and method.is_oauth)
        action = self._decide_authorization(d, is_oauth)
        if method and method.warnings and action.kind in (ActionKind.CREATE, ActionKind.REPLACE,
                                                          ActionKind.REAUTHORIZE):
            action = replace(action, warnings=(*action.warnings, *method.warnings))
        return action

    def _decide_authorization(self, d: DesiredAuthorization, is_oauth: bool) -> Action:
        fps = self.inp.fingerprints.get(d.name, AuthFingerprints())
        obj, live = self.managed_live(AUTH, d.name)
        if live is None:
            return self._new_authorization(d, fps, is_oauth, recreated=obj is not None)
        changes, replace_reasons = self._immutable_changes(d, obj, live, fps)
        editable = (value_changes(live.label, d.label, "label")
                    + value_changes(live.description, d.description, "description"))
        if not replace_reasons and not editable and not (is_oauth and live.health == "unhealthy"):
            return Action(d.address, ActionKind.NOOP, Phase.CREATE_AUTHORIZATIONS, live.id)
        pre = (Precondition("authorization", live.id, auth_version(live)),)  # only changes need one
        if replace_reasons and not is_oauth:
            if d.label.casefold() == live.label.casefold():
                replace_reasons.append("the new authorization carries a temporary label until the old one is "
                                       "deleted (labels are unique)")
            return Action(d.address, ActionKind.REPLACE, Phase.CREATE_AUTHORIZATIONS, live.id,
                          tuple(changes + editable), tuple(replace_reasons), preconditions=pre)
        if is_oauth and (live.health == "unhealthy" or replace_reasons):
            why = live.health_reason or "the connection is unhealthy"
            reasons = replace_reasons or [f"OAuth connection is unhealthy: {why}"]
            instruction = (f"run `authctl reauth {d.name}` (same id: jobs keep working)" if not replace_reasons
                           else f"an OAuth connection cannot change {', '.join(c.path for c in changes)} in place: "
                                f"run `authctl login {d.name}` to connect a new one (its jobs move to it)")
            return Action(d.address, ActionKind.REAUTHORIZE, Phase.CREATE_AUTHORIZATIONS, live.id,
                          tuple(changes + editable) if replace_reasons else tuple(editable), tuple(reasons),
                          preconditions=pre, instruction=instruction)
        return self._label_update(d, live, tuple(editable), pre)

    def _label_update(self, d: DesiredAuthorization, live: LiveAuthorization, changes: tuple[FieldChange, ...],
                      pre: tuple[Precondition, ...]) -> Action:
        """An in-place edit; a label still held by an object this plan deletes waits for that delete."""
        holders = sorted((a for a in self._labels.get(d.label.casefold(), []) if a.id != live.id),
                         key=lambda a: a.id)
        retiring = self._retiring
        reasons = ["label and description are edited in place"]
        if holders and all(h.id in retiring for h in holders):
            deps = tuple(sorted(_removal_address(retiring[h.id]) for h in holders))
            reasons.append("the label is still held by an authorization this plan deletes: renamed after it")
            return Action(d.address, ActionKind.UPDATE, Phase.FINALIZE, live.id, changes, tuple(reasons),
                          depends_on=deps, preconditions=pre)
        managed_ids = self._managed_auth_ids
        blockers = tuple(Blocker("authorization", h.label, h.id, "label already in use", False)
                         for h in holders if h.id not in managed_ids and h.id not in retiring)
        return Action(d.address, ActionKind.UPDATE, Phase.CREATE_AUTHORIZATIONS, live.id, changes, tuple(reasons),
                      blocked_by=blockers, preconditions=pre)

    def _new_authorization(self, d: DesiredAuthorization, fps: AuthFingerprints, is_oauth: bool,
                           recreated: bool) -> Action:
        changes = [FieldChange("provider", None, d.provider), FieldChange("method", None, d.method),
                   FieldChange("label", None, d.label)]
        if d.description:
            changes.append(FieldChange("description", None, d.description))
        changes += [FieldChange(f"config.{k}", None, v) for k, v in sorted(d.config.items())]
        for name, status in sorted(fps.credentials.items()):
            note = f"not compared: {status.unavailable}" if status.unavailable else ""
            changes.append(FieldChange(f"credentials.{name}", None, SENSITIVE, sensitive=True, note=note))
        reasons = ["in state but gone from the platform"] if recreated else []
        blockers = self._label_clash(d)
        if is_oauth:
            return Action(d.address, ActionKind.REAUTHORIZE, Phase.CREATE_AUTHORIZATIONS, None, tuple(changes),
                          (*reasons, "OAuth connections cannot be created through the API: a person must log in"),
                          blocked_by=blockers,
                          instruction=f"run `authctl login {d.name}`; jobs bound to it wait until then")
        return Action(d.address, ActionKind.CREATE, Phase.CREATE_AUTHORIZATIONS, None, tuple(changes),
                      tuple(reasons), blocked_by=blockers)

    def _label_clash(self, d: DesiredAuthorization) -> tuple[Blocker, ...]:
        """An unmanaged live authorization already holding this label would make the create fail.

        A label held by a managed object is fine: apply creates with a temporary label and
        renames once the holder is deleted (or the holder is renamed in this same plan).
        """
        managed_ids = self._managed_auth_ids
        return tuple(
            Blocker("authorization", a.label, a.id, "label already in use", False)
            for a in sorted(self._labels.get(d.label.casefold(), []), key=lambda a: a.id)
            if a.id not in managed_ids
        )

    @cached_property
    def _labels(self) -> dict[str, list[LiveAuthorization]]:
        index: dict[str, list[LiveAuthorization]] = {}
        for auth in self.snapshot.authorizations.values():
            index.setdefault(auth.label.casefold(), []).append(auth)
        return index

    @cached_property
    def _retiring(self) -> dict[str, ManagedObject]:
        """Live id -> state entry of every authorization this plan deletes (removed or deposed)."""
        return {o.live_id: o for o in self.inp.managed.values()
                if o.kind == DEPOSED or (o.kind == AUTH and o.name not in self.inp.desired.authorizations)}

    @cached_property
    def _managed_auth_ids(self) -> set[str]:
        return {o.live_id for o in self.inp.managed.values() if o.kind in (AUTH, DEPOSED)}

    def _immutable_changes(self, d: DesiredAuthorization, obj: ManagedObject, live: LiveAuthorization,
                           fps: AuthFingerprints) -> tuple[list[FieldChange], list[str]]:
        changes: list[FieldChange] = []
        reasons: list[str] = []
        for field_name, before, after in (("provider", live.provider, d.provider), ("method", live.method, d.method)):
            if before != after:
                changes.append(FieldChange(field_name, before, after))
                reasons.append(f"{field_name} changed")
        applied_config = obj.applied.get("config", {})
        config_keys = {k.split(".", 1)[1] for k in obj.fingerprints if k.startswith("config.")} | set(d.config)
        for key in sorted(config_keys):
            path = f"config.{key}"
            if obj.fingerprints.get(path) != fps.config.get(path):
                before = applied_config.get(key, WRITE_ONLY) if path in obj.fingerprints else None
                changes.append(FieldChange(path, before, d.config.get(key)))
        if any(c.path.startswith("config.") for c in changes):
            reasons.append("config changed (immutable on the platform)")
        applied_creds = {k.split(".", 1)[1] for k in obj.fingerprints if k.startswith("credentials.")}
        rotated = False
        for key in sorted(applied_creds | set(fps.credentials)):
            path = f"credentials.{key}"
            status = fps.credentials.get(key)
            if status is None:
                changes.append(FieldChange(path, SENSITIVE, None, sensitive=True))
                rotated = True
                continue
            change = secret_change(path, obj.fingerprints.get(path), status.fingerprint, status.unavailable)
            if status.fingerprint is None:
                self.not_compared.append(status.unavailable)
            if change is not None:
                changes.append(change)
                rotated = rotated or not change.note
        if rotated:
            reasons.append("credentials changed (immutable on the platform)")
        return changes, reasons

    # -- jobs ------------------------------------------------------------------------------------
    def plan_job(self, d: DesiredJob) -> Action:
        targets, depends, waiting = self._targets(d)
        obj, live = self.managed_live(JOB, d.name)
        if live is None:
            changes = [FieldChange("workflow", None, d.workflow), FieldChange("authorizations", None, list(targets)),
                       FieldChange("state", None, d.state)]
            changes += [FieldChange(f"config.{k}", None, v) for k, v in sorted(d.config.items())]
            reasons = ("in state but gone from the platform",) if obj is not None else ()
            return Action(d.address, ActionKind.CREATE, Phase.APPLY_JOBS, None, tuple(changes), reasons,
                          depends_on=depends, waiting_for=waiting)
        if live.workflow != d.workflow:
            return Action(d.address, ActionKind.REPLACE, Phase.APPLY_JOBS, live.id,
                          (FieldChange("workflow", live.workflow, d.workflow),),
                          ("a job's workflow cannot be changed in place",), depends_on=depends, waiting_for=waiting,
                          preconditions=(Precondition("job", live.id, job_version(live)),))
        changes = (value_changes(live.name, d.name, "name") + value_changes(live.description, d.description,
                                                                             "description")
                   + value_changes(live.config, d.config, "config"))
        reasons: list[str] = []
        if tuple(targets) != live.auth_ids:
            before = [self._auth_name(i) for i in live.auth_ids]
            changes.append(FieldChange("authorizations", before, list(targets)))
            reasons.append(self._rebind_reason(depends))
        state_change = self._state_change(live.status, d.state)
        pause_only = bool(state_change) and not changes and d.state == "paused"
        if state_change:
            changes.append(state_change)
        if not changes:
            return Action(d.address, ActionKind.NOOP, Phase.APPLY_JOBS, live.id)
        phase = Phase.RETIRE_JOBS if pause_only else Phase.APPLY_JOBS
        pre = (Precondition("job", live.id, job_version(live)),)  # only changes need one
        return Action(d.address, ActionKind.UPDATE, phase, live.id, tuple(changes), tuple(reasons),
                      depends_on=depends, waiting_for=waiting, preconditions=pre)

    def _targets(self, d: DesiredJob) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
        """Live ids (or placeholders) the job should bind to, what it depends on, what it waits for."""
        targets: list[str] = []
        depends: list[str] = []
        waiting: list[str] = []
        for name in d.authorizations:
            action = self.auth_actions[name]
            if action.kind in (ActionKind.CREATE, ActionKind.REPLACE):
                targets.append(f"{name} {KNOWN_AFTER_APPLY}")
                depends.append(action.address)
            elif action.kind is ActionKind.REAUTHORIZE and action.live_id is None:
                targets.append(f"{name} (after `authctl login {name}`)")
                waiting.append(action.address)
            else:
                targets.append(action.live_id or name)
        return targets, tuple(depends), tuple(waiting)

    def _rebind_reason(self, depends: tuple[str, ...]) -> str:
        if not depends:
            return "authorizations changed"
        done = {ActionKind.REPLACE: "replaced", ActionKind.CREATE: "created"}
        parts = [f"{address} {done.get(self.auth_actions[address.split('/', 1)[1]].kind, 'changed')}"
                 for address in depends]
        return "rebind: " + ", ".join(parts)

    def _auth_name(self, live_id: str) -> str:
        """The manifest name of a live authorization (also one this plan deletes), else its id.

        Asked only once every authorization is decided (while planning jobs); the index is
        built on the first question, not scanned per question.
        """
        if self._auth_names is None:
            names: dict[str, str] = {}
            for name, action in self.auth_actions.items():  # first match wins, as a scan would
                if action.live_id is not None:
                    names.setdefault(action.live_id, name)
            for (kind, name), obj in self.inp.managed.items():
                if kind == AUTH:
                    names.setdefault(obj.live_id, name)
            self._auth_names = names
        return self._auth_names.get(live_id, live_id)

    @staticmethod
    def _state_change(status: str, wanted: str) -> FieldChange | None:
        current = display_status(status)
        if wanted == "paused" and status not in PAUSED_LIKE and status in RUNNING_LIKE:
            return FieldChange("state", current, "paused")
        if wanted == "running" and status not in RUNNING_LIKE:
            return FieldChange("state", current, "running")
        return None

    # -- removals and the delete guard --------------------------------------------------------------
    def plan_removals(self) -> list[Action]:
        actions = []
        gone_from_manifests = [
            item for item in self.inp.managed.items()
            if item[0][0] == DEPOSED
            or item[0][1] not in (self.inp.desired.jobs if item[0][0] == JOB else self.inp.desired.authorizations)
        ]
        for (kind, name), obj in sorted(gone_from_manifests):  # sorted by (kind, name): keys are unique
            if kind == DEPOSED:
                kind = AUTH  # the old half of a replace: a guarded delete like any other
            table = self.snapshot.authorizations if kind == AUTH else self.snapshot.jobs
            live = table.get(obj.live_id)
            gone = live is None or getattr(live, "status", "") == "deleted"
            phase = Phase.DELETE_AUTHORIZATIONS if kind == AUTH else Phase.RETIRE_JOBS
            pre: tuple[Precondition, ...] = ()
            if not gone:
                pre = ((Precondition("authorization", live.id, auth_version(live)),) if kind == AUTH
                       else (Precondition("job", live.id, job_version(live)),))
            reasons = ("already gone from the platform; only state is cleaned up",) if gone else (
                ("the old half of a replace, still to be deleted",) if obj.kind == DEPOSED else
                ("removed from the manifests",))
            changes = () if gone else ((FieldChange("label" if kind == AUTH else "name",
                                                    getattr(live, "label", None) or getattr(live, "name", None),
                                                    None),))
            actions.append(Action(_removal_address(obj), ActionKind.DELETE, phase, obj.live_id, changes, reasons,
                                  preconditions=pre, forget_only=gone))
        return actions

    def guard(self, action: Action, resolved_jobs: set[str], managed_jobs: set[str]) -> Action:
        """Block the delete of an authorization still used by anything this plan does not fix."""
        if action.live_id is None or action.forget_only:
            return action
        blockers = list(action.blocked_by)
        for ref in self.snapshot.references(action.live_id):
            if not ref.active or ref.id in resolved_jobs:
                continue
            blockers.append(Blocker(ref.kind, ref.name, ref.id, ref.status, ref.id in managed_jobs))
        if not blockers:
            return action
        blockers.sort(key=lambda b: (b.kind, b.name, b.id))
        what = "the old authorization" if action.kind is ActionKind.REPLACE else "it"
        reason = f"{what} cannot be deleted while active jobs or imported experiences use it"
        return replace(action, blocked_by=tuple(blockers), reasons=(*action.reasons, reason))

    # -- warnings -------------------------------------------------------------------------------------
    def health_warnings(self) -> None:
        by_name = {name: a.live_id for name, a in self.auth_actions.items()}
        lives = (self.snapshot.authorizations.get(live_id or "") for live_id in by_name.values())
        any_unhealthy = any(live is not None and live.health == "unhealthy" for live in lives)
        jobs = sorted(self.inp.desired.jobs.values(), key=lambda j: j.name) if any_unhealthy else []
        for job in jobs:  # walked only when some authorization is unhealthy
            if job.state != "running":
                continue
            for auth_name in job.authorizations:
                live = self.snapshot.authorizations.get(by_name.get(auth_name) or "")
                if live is not None and live.health == "unhealthy":
                    why = f": {live.health_reason}" if live.health_reason else ""
                    self.warnings.append(f"{job.address} (running) uses Authorization/{auth_name}, "
                                         f"which is Unhealthy{why}")
        horizon = self.inp.now + timedelta(days=self.inp.expiry_warning_days)
        for name, action in sorted(self.auth_actions.items()):
            live = self.snapshot.authorizations.get(action.live_id or "")
            if live is None or live.token_expires_at is None or live.token_expires_at > horizon:
                continue
            when = live.token_expires_at.strftime("%Y-%m-%d %H:%M UTC")
            if live.token_expires_at <= self.inp.now:
                self.warnings.append(f"Authorization/{name}: token expired on {when}")
            else:
                days = (live.token_expires_at - self.inp.now).days
                self.warnings.append(f"Authorization/{name}: token expires in {days} days ({when})")

    def unmanaged(self) -> tuple[UnmanagedObject, ...]:
        managed_ids = {o.live_id for o in self.inp.managed.values()}
        items = [UnmanagedObject("authorization", a.id, a.label)
                 for a in self.snapshot.authorizations.values() if a.id not in managed_ids]
        items += [UnmanagedObject("job", j.id, j.name) for j in self.snapshot.jobs.values()
                  if j.id not in managed_ids and j.status != "deleted"]
        return tuple(sorted(items, key=lambda u: (u.kind, u.name, u.id)))


def _removal_address(obj: ManagedObject) -> str:
    if obj.kind == DEPOSED:
        return f"{AUTH}/{obj.applied.get('replaced_by', '?')} (deposed {obj.live_id})"
    return obj.address


def make_plan(inp: PlanInput) -> Plan:
    planner = _Planner(inp)
    for name in sorted(inp.desired.authorizations):
        planner.auth_actions[name] = planner.plan_authorization(inp.desired.authorizations[name])
    for name in sorted(inp.desired.jobs):
        planner.job_actions[name] = planner.plan_job(inp.desired.jobs[name])
    removals = planner.plan_removals()
    all_actions = [*planner.auth_actions.values(), *planner.job_actions.values(), *removals]

    managed_jobs = {o.live_id for (k, _), o in inp.managed.items() if k == JOB}
    # A job only stops using an authorization in this apply if its own action can run now:
    # not when it waits for a person's login, nor when it needs a create that is blocked.
    blocked_creates = {a.address for a in all_actions if a.blocked and a.live_id is None}

    def can_run(action: Action) -> bool:
        return not action.waiting_for and not blocked_creates.intersection(action.depends_on)

    resolved: set[str] = set()
    for action in all_actions:
        if action.kind is not ActionKind.NOOP and action.live_id and action.resource == JOB and (
                action.kind is ActionKind.DELETE or (action.kind is ActionKind.REPLACE and can_run(action))):
            resolved.add(action.live_id)
    for name, action in planner.job_actions.items():
        if action.kind is ActionKind.UPDATE and action.live_id and can_run(action):
            live = inp.snapshot.jobs[action.live_id]
            kept = {planner.auth_actions[a].live_id for a in inp.desired.jobs[name].authorizations
                    if planner.auth_actions[a].kind not in (ActionKind.REPLACE,)}
            if set(live.auth_ids) - kept:
                resolved.add(action.live_id)  # it is rebound away from what it uses now

    guarded: list[Action] = []
    for action in all_actions:
        if action.kind in (ActionKind.DELETE, ActionKind.REPLACE) and action.resource == AUTH:
            action = planner.guard(action, resolved, managed_jobs)
        if action.kind is ActionKind.NOOP:
            planner.noops += 1
            continue
        guarded.append(action)
    planner.health_warnings()
    if planner.not_compared:
        unique = sorted(set(planner.not_compared))
        shown = "; ".join(unique[:5]) + (f"; and {len(unique) - 5} more" if len(unique) > 5 else "")
        count = len(planner.not_compared)
        noun = "credential was" if count == 1 else "credentials were"
        planner.warnings.append(f"{count} {noun} not compared because the values are not available here "
                                f"({shown}); a rotation shows up where they are")
    guarded.sort(key=Action.sort_key)
    return Plan(actions=tuple(guarded), noop_count=planner.noops, warnings=tuple(dict.fromkeys(planner.warnings)),
                unmanaged=planner.unmanaged(), context=inp.context)
