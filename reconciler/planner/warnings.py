"""What a reviewer should know that is not a change: unhealthy or expiring credentials, uncompared secrets, unmanaged objects."""

from __future__ import annotations

from datetime import timedelta

from reconciler.catalog import MethodKind
from reconciler.plan import Action, PlanWarning, UnmanagedObject
from reconciler.planner.context import PlanningContext
from reconciler.vocabulary import Health, JobStatus, ObjectKind

_SHOWN_UNAVAILABLE = 5


def health_warnings(ctx: PlanningContext) -> None:
    """Running jobs on unhealthy authorizations, and tokens expired or expiring within the policy's horizon."""
    snapshot, inp = ctx.snapshot, ctx.inp
    by_name = {name: a.live_id for name, a in ctx.auth_actions.items()}
    lives = (snapshot.authorizations.get(live_id or "") for live_id in by_name.values())
    any_unhealthy = any(live is not None and live.health == Health.UNHEALTHY for live in lives)
    jobs = sorted(inp.desired.jobs.values(), key=lambda j: j.name) if any_unhealthy else []
    for job in jobs:  # walked only when some authorization is unhealthy
        if job.state != "running":
            continue
        for auth_name in job.authorizations:
            live = snapshot.authorizations.get(by_name.get(auth_name) or "")
            if live is not None and live.health == Health.UNHEALTHY:
                why = f": {live.health_reason}" if live.health_reason else ""
                subject = f"Authorization/{auth_name}, which is Unhealthy{why}"
                ctx.warnings.append(PlanWarning(f"{job.address} (running) uses {subject}",
                                                "job-on-unhealthy-authorization", subject, job.address))
    horizon = inp.now + timedelta(days=inp.expiry_warning_days)
    for name, action in sorted(ctx.auth_actions.items()):
        live = snapshot.authorizations.get(action.live_id or "")
        if live is None or live.token_expires_at is None or live.token_expires_at > horizon:
            continue
        method = inp.catalog.method(live.provider, live.method)
        if method is not None and method.kind is MethodKind.OAUTH2:
            continue  # access tokens live an hour by design and are refreshed; health reports a grant that is not
        when = live.token_expires_at.strftime("%Y-%m-%d %H:%M UTC")
        address = f"Authorization/{name}"
        if live.token_expires_at <= inp.now:
            ctx.warnings.append(PlanWarning(f"{address}: token expired on {when}", "token-expired", item=address))
        else:
            days = (live.token_expires_at - inp.now).days
            ctx.warnings.append(PlanWarning(f"{address}: token expires in {days} days ({when})", "token-expiring",
                                            f"{inp.expiry_warning_days} days", address))


def not_compared_warning(ctx: PlanningContext) -> None:
    """One line for every credential whose value is not available here (PR CI has no secrets)."""
    if not ctx.not_compared:
        return
    unique = sorted(set(ctx.not_compared))
    shown = "; ".join(unique[:_SHOWN_UNAVAILABLE])
    if len(unique) > _SHOWN_UNAVAILABLE:
        shown += f"; and {len(unique) - _SHOWN_UNAVAILABLE} more"
    count = len(ctx.not_compared)
    noun = "credential was" if count == 1 else "credentials were"
    ctx.warnings.append(PlanWarning(f"{count} {noun} not compared because the values are not available here "
                                    f"({shown}); a rotation shows up where they are", "not-compared"))


def unrecorded_warnings(ctx: PlanningContext) -> None:
    """Imported authorizations' fields authctl has no fingerprint of: not compared, and what records them.

    Two lines at most, whatever the number (an adopted account has thousands): the values to
    supply (the references, the first few by name), and those available here that only an
    import must record. ``authctl import --all-matching`` records both kinds once the values are set.
    """
    if not ctx.unrecorded:
        return
    to_supply = sorted({u.supply for u in ctx.unrecorded if u.supply})
    if to_supply:
        auths = len({u.address for u in ctx.unrecorded if u.supply})
        shown = ", ".join(to_supply[:_SHOWN_UNAVAILABLE])
        if len(to_supply) > _SHOWN_UNAVAILABLE:
            shown += f" and {len(to_supply) - _SHOWN_UNAVAILABLE:,} more"
        noun = "authorization has" if auths == 1 else "authorizations have"
        ctx.warnings.append(PlanWarning(
            f"{auths:,} imported {noun} secrets authctl has not recorded (the platform never returns them): "
            f"not compared, never a replace, until recorded; supply {shown}, then run "
            "`authctl import --all-matching` to record them", "secret-not-recorded"))
    available = sorted({(u.address, u.path) for u in ctx.unrecorded if not u.supply})
    if available:
        first = ", ".join(f"{address} {path}" for address, path in available[:_SHOWN_UNAVAILABLE])
        more = f" and {len(available) - _SHOWN_UNAVAILABLE:,} more" if len(available) > _SHOWN_UNAVAILABLE else ""
        noun = "value of an imported authorization is" if len(available) == 1 else \
            "values of imported authorizations are"
        ctx.warnings.append(PlanWarning(
            f"{len(available):,} {noun} available here but not recorded "
            f"({first}{more}): not compared until `authctl import --all-matching` records them",
            "value-not-recorded"))


def unmanaged_objects(ctx: PlanningContext, changes: list[Action]) -> tuple[UnmanagedObject, ...]:
    """Every live object this workspace does not manage, with the plan's actions it is tied to.

    A job is tied to the changed authorizations it is bound to; an authorization to the
    changed jobs bound to it now and to the actions it blocks. Renderers list the active,
    tied ones and count the rest (``--show-unmanaged`` lists all).
    """
    managed_ids = {o.live_id for o in ctx.inp.managed.values()}
    changed: dict[str, dict[str, str]] = {ObjectKind.AUTHORIZATION: {}, ObjectKind.JOB: {}}
    blocking: dict[str, set[str]] = {}
    for action in changes:
        if action.live_id and action.resource in changed:
            changed[action.resource].setdefault(action.live_id, action.address)
        for blocker in action.blocked_by:
            blocking.setdefault(blocker.id, set()).add(action.address)
    changed_auths, changed_jobs = changed[ObjectKind.AUTHORIZATION], changed[ObjectKind.JOB]
    jobs_using: dict[str, set[str]] = {}
    for job_id, address in changed_jobs.items():
        job = ctx.snapshot.jobs.get(job_id)
        for auth_id in job.auth_ids if job is not None else ():
            jobs_using.setdefault(auth_id, set()).add(address)
    items = [UnmanagedObject("authorization", a.id, a.label,
                             related=tuple(sorted(jobs_using.get(a.id, set()) | blocking.get(a.id, set()))))
             for a in ctx.snapshot.authorizations.values() if a.id not in managed_ids]
    items += [UnmanagedObject("job", j.id, j.name, j.status.display, j.status.is_active,
                              tuple(sorted({changed_auths[i] for i in j.auth_ids if i in changed_auths})))
              for j in ctx.snapshot.jobs.values() if j.id not in managed_ids and j.status != JobStatus.DELETED]
    return tuple(sorted(items, key=lambda u: (u.kind, u.name, u.id)))
