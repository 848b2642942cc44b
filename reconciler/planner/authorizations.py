"""Deciding each desired authorization: create, in-place label edit, replace, or reauthorize (OAuth)."""

from __future__ import annotations

from dataclasses import replace

from reconciler.diff import SENSITIVE, WRITE_ONLY, FieldChange, secret_change, value_changes
from reconciler.live import LiveAuthorization
from reconciler.manifest.fingerprints import AuthFingerprints
from reconciler.manifest.model import DesiredAuthorization
from reconciler.plan import Action, ActionKind, Blocker, Phase, Precondition
from reconciler.planner.context import PlanningContext, Unrecorded, removal_address
from reconciler.planner.versions import auth_version
from reconciler.state.records import ManagedObject
from reconciler.vocabulary import Health

_SHOWS_METHOD_WARNINGS = (ActionKind.CREATE, ActionKind.REPLACE, ActionKind.REAUTHORIZE)


def plan_authorization(ctx: PlanningContext, d: DesiredAuthorization) -> Action:
    method = ctx.inp.catalog.method(d.provider, d.method)
    is_oauth = bool(method and method.is_oauth)
    action = _decide(ctx, d, is_oauth)
    if method and method.warnings and action.kind in _SHOWS_METHOD_WARNINGS:
        action = replace(action, warnings=(*action.warnings, *method.warnings))
    return action


def _decide(ctx: PlanningContext, d: DesiredAuthorization, is_oauth: bool) -> Action:
    fps = ctx.inp.fingerprints.get(d.name, AuthFingerprints())
    obj, live = ctx.managed_authorization(d.name)
    if obj is None or live is None:
        return _new_authorization(ctx, d, fps, is_oauth, recreated=obj is not None)
    changes, replace_reasons = _immutable_changes(ctx, d, obj, live, fps)
    editable = (value_changes(live.label, d.label, "label")
                + value_changes(live.description, d.description, "description"))
    unhealthy = live.health == Health.UNHEALTHY
    if not replace_reasons and not editable and not (is_oauth and unhealthy):
        return Action(d.address, ActionKind.NOOP, Phase.CREATE_AUTHORIZATIONS, live.id)
    pre = (Precondition("authorization", live.id, auth_version(live)),)  # only changes need one
    if replace_reasons and not is_oauth:
        if d.label.casefold() == live.label.casefold():
            replace_reasons.append("the new authorization carries a temporary label until the old one is "
                                   "deleted (labels are unique)")
        return Action(d.address, ActionKind.REPLACE, Phase.CREATE_AUTHORIZATIONS, live.id,
                      tuple(changes + editable), tuple(replace_reasons), preconditions=pre)
    if is_oauth and (unhealthy or replace_reasons):
        return _reauthorize(d, live, changes, editable, replace_reasons, pre)
    return _label_update(ctx, d, live, tuple(editable), pre)


def _reauthorize(d: DesiredAuthorization, live: LiveAuthorization, changes: list[FieldChange],
                 editable: list[FieldChange], replace_reasons: list[str], pre: tuple[Precondition, ...]) -> Action:
    """An OAuth connection a person must fix: reauth in place when broken, a new login when it must change."""
    if replace_reasons:
        instruction = (f"an OAuth connection cannot change {', '.join(c.path for c in changes)} in place: "
                       f"run `authctl login {d.name}` to connect a new one (its jobs move to it)")
        return Action(d.address, ActionKind.REAUTHORIZE, Phase.CREATE_AUTHORIZATIONS, live.id,
                      tuple(changes + editable), tuple(replace_reasons), preconditions=pre, instruction=instruction)
    why = live.health_reason or "the connection is unhealthy"
    return Action(d.address, ActionKind.REAUTHORIZE, Phase.CREATE_AUTHORIZATIONS, live.id, tuple(editable),
                  (f"OAuth connection is unhealthy: {why}",), preconditions=pre,
                  instruction=f"run `authctl reauth {d.name}` (same id: jobs keep working)")


def _label_update(ctx: PlanningContext, d: DesiredAuthorization, live: LiveAuthorization,
                  changes: tuple[FieldChange, ...], pre: tuple[Precondition, ...]) -> Action:
    """An in-place edit; a label still held by an object this plan deletes waits for that delete."""
    holders = sorted((a for a in ctx.labels.get(d.label.casefold(), []) if a.id != live.id), key=lambda a: a.id)
    retiring = ctx.retiring
    reasons = ["label and description are edited in place"]
    if holders and all(h.id in retiring for h in holders):
        deps = tuple(sorted(removal_address(retiring[h.id]) for h in holders))
        reasons.append("the label is still held by an authorization this plan deletes: renamed after it")
        return Action(d.address, ActionKind.UPDATE, Phase.FINALIZE, live.id, changes, tuple(reasons),
                      depends_on=deps, preconditions=pre)
    blockers = tuple(Blocker("authorization", h.label, h.id, "label already in use", False)
                     for h in holders if h.id not in ctx.managed_auth_ids and h.id not in retiring)
    return Action(d.address, ActionKind.UPDATE, Phase.CREATE_AUTHORIZATIONS, live.id, changes, tuple(reasons),
                  blocked_by=blockers, preconditions=pre)


def _new_authorization(ctx: PlanningContext, d: DesiredAuthorization, fps: AuthFingerprints, is_oauth: bool,
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
    blockers = _label_clash(ctx, d)
    if is_oauth:
        return Action(d.address, ActionKind.REAUTHORIZE, Phase.CREATE_AUTHORIZATIONS, None, tuple(changes),
                      (*reasons, "OAuth connections cannot be created through the API: a person must log in"),
                      blocked_by=blockers,
                      instruction=f"run `authctl login {d.name}`; jobs bound to it wait until then")
    return Action(d.address, ActionKind.CREATE, Phase.CREATE_AUTHORIZATIONS, None, tuple(changes),
                  tuple(reasons), blocked_by=blockers)


def _label_clash(ctx: PlanningContext, d: DesiredAuthorization) -> tuple[Blocker, ...]:
    """An unmanaged live authorization already holding this label would make the create fail.

    A label held by a managed object is fine: apply creates with a temporary label and
    renames once the holder is deleted (or the holder is renamed in this same plan).
    """
    return tuple(
        Blocker("authorization", a.label, a.id, "label already in use", False)
        for a in sorted(ctx.labels.get(d.label.casefold(), []), key=lambda a: a.id)
        if a.id not in ctx.managed_auth_ids
    )


def _immutable_changes(ctx: PlanningContext, d: DesiredAuthorization, obj: ManagedObject, live: LiveAuthorization,
                       fps: AuthFingerprints) -> tuple[list[FieldChange], list[str]]:
    """Changes to what the platform cannot edit (provider, method, config, credentials) and why they replace.

    An authorization brought in by ``authctl import`` (``applied.imported``) may lack the
    fingerprint of a config field or credential: the platform never returns them, and the
    value was not available when it was imported. authctl then cannot know whether the
    manifest's value is the live one, so that field is not compared at all, whether or not
    the value is available now: comparing against nothing would replace every adopted
    authorization. It is collected in ``ctx.unrecorded`` and the plan says what to supply
    and that ``authctl import`` records it (warnings.py); from then on it is compared like
    any other. An object apply created has every fingerprint, so this never applies to it.
    """
    changes: list[FieldChange] = []
    reasons: list[str] = []
    for field_name, before, after in (("provider", live.provider, d.provider), ("method", live.method, d.method)):
        if before != after:
            changes.append(FieldChange(field_name, before, after))
            reasons.append(f"{field_name} changed")
    applied_config = obj.applied.get("config", {})
    imported = bool(obj.applied.get("imported"))
    config_keys = {k.split(".", 1)[1] for k in obj.fingerprints if k.startswith("config.")} | set(d.config)
    for key in sorted(config_keys):
        path = f"config.{key}"
        if imported and path not in obj.fingerprints and key in d.config:
            ctx.unrecorded.append(Unrecorded(d.address, path))
            continue
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
        if imported and path not in obj.fingerprints:
            ctx.unrecorded.append(Unrecorded(d.address, path, "" if status.fingerprint else status.reference))
            continue
        change = secret_change(path, obj.fingerprints.get(path), status.fingerprint, status.unavailable)
        if status.fingerprint is None:
            ctx.not_compared.append(status.unavailable)
        if change is not None:
            changes.append(change)
            rotated = rotated or not change.note
    if rotated:
        reasons.append("credentials changed (immutable on the platform)")
    return changes, reasons
