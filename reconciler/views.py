"""The rows `authctl status` and `authctl show` display, computed from a snapshot and state. Pure.

Rows are derived from data passed in; rendering lives in render/status.py and render/show.py.

This is also where a name a person types becomes an object (:func:`resolve_authorization`,
:func:`resolve_job`, :func:`resolve_object`), so that every command that names one takes
the same words: an authorization by its manifest name, its id or its label; a job by its
manifest name, its id or its platform name. An id always wins (ids are unique and
explicit); otherwise a name that fits more than one object is an error listing their ids,
never a guess, because the commands that take names also change things (bind a job,
set a status).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.errors import NotFoundError, UsageError
from reconciler.live import LiveAuthorization, LiveJob, RequestCounts, Snapshot
from reconciler.view_rows import AuthorizationRow, BoundAuthorization, JobDetail, JobRow
from reconciler.state.records import ManagedIndex
from reconciler.vocabulary import ObjectKind

AUTH_NAMED_BY = "manifest name, id or label"
JOB_NAMED_BY = "manifest name, id or name"

AUTH_SORT_KEYS = ("label", "description", "provider", "method", "health", "owner", "created", "updated")
JOB_SORT_KEYS = ("name", "workflow", "status", "created")
HOURS_SHOWN = 30 * 24  # show --format json (and the dashboard's charts): the hourly series of the last 30 days


def managed_names(managed: ManagedIndex, kind: ObjectKind) -> dict[str, str]:
    """live id -> manifest name for one kind."""
    return {obj.live_id: obj.name for (k, _), obj in managed.items() if k is kind}


def authorization_row(auth: LiveAuthorization, snapshot: Snapshot, names: dict[str, str]) -> AuthorizationRow:
    refs = snapshot.references(auth.id)
    jobs = [r for r in refs if r.kind == "job"]
    return AuthorizationRow(
        id=auth.id, name=names.get(auth.id), label=auth.label, description=auth.description,
        provider=auth.provider, method=auth.method, health=auth.health, health_reason=auth.health_reason,
        owner=auth.owner, created=auth.created, updated=auth.updated, token_expires_at=auth.token_expires_at,
        jobs_active=sum(1 for r in jobs if r.active), jobs_total=len(jobs),
        experiences=sum(1 for r in refs if r.kind == "experience"), health_checked_at=auth.health_checked_at,
    )


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")
    return (0, value.casefold() if isinstance(value, str) else value)


def authorization_sort_key(sort: str) -> Callable[[AuthorizationRow], tuple[Any, ...]]:
    """How `status --sort` (and the dashboard) orders authorizations by ``sort``: ties by label, then id."""
    if sort == "health":  # by severity (healthy, unknown, unhealthy), not alphabetically
        return lambda r: (r.health.severity, r.label.casefold(), r.id)
    return lambda r: (_sort_value(getattr(r, sort)), r.label.casefold(), r.id)


def job_sort_key(sort: str) -> Callable[[JobRow], tuple[Any, ...]]:
    """How `show --sort-jobs` (and the dashboard) orders jobs by ``sort``: ties by name, then id."""
    return lambda r: (_sort_value(getattr(r, sort)), r.name, r.id)


def authorization_rows(snapshot: Snapshot, managed: ManagedIndex, sort: str = "label",
                       reverse: bool = False) -> list[AuthorizationRow]:
    names = managed_names(managed, ObjectKind.AUTHORIZATION)
    rows = [authorization_row(a, snapshot, names) for a in snapshot.authorizations.values()]
    rows.sort(key=authorization_sort_key(sort), reverse=reverse)
    return rows


def job_rows(jobs: list[LiveJob], managed: ManagedIndex, sort: str = "name", reverse: bool = False) -> list[JobRow]:
    names = managed_names(managed, ObjectKind.JOB)
    rows = [JobRow(j.id, j.name, j.workflow, j.status.display, j.created, names.get(j.id)) for j in jobs]
    rows.sort(key=job_sort_key(sort), reverse=reverse)
    return rows


@dataclass(frozen=True)
class Candidate:
    """An object a name fits, and how (``manifest name``, ``label``, ``name``)."""

    kind: ObjectKind
    id: str
    how: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.kind} {self.id} (by {' and '.join(self.how)})"


def _merge(kind: ObjectKind, fits: Iterable[tuple[str, str]]) -> list[Candidate]:
    """(live id, how) pairs -> one candidate per object, in first-seen order."""
    found: dict[str, list[str]] = {}
    for live_id, how in fits:
        found.setdefault(live_id, [])
        if how not in found[live_id]:
            found[live_id].append(how)
    return [Candidate(kind, live_id, tuple(how)) for live_id, how in found.items()]


def authorization_candidates(snapshot: Snapshot, managed: ManagedIndex, ref: str) -> list[Candidate]:
    """Every authorization ``ref`` names: its id alone, else by manifest name and by label (any case)."""
    if ref in snapshot.authorizations:
        return [Candidate(ObjectKind.AUTHORIZATION, ref, ("id",))]
    fits: list[tuple[str, str]] = []
    obj = managed.get((ObjectKind.AUTHORIZATION, ref))
    if obj is not None and obj.live_id in snapshot.authorizations:
        fits.append((obj.live_id, "manifest name"))
    wanted = ref.casefold()
    fits += [(a.id, "label") for a in snapshot.authorizations.values() if a.label.casefold() == wanted]
    return _merge(ObjectKind.AUTHORIZATION, fits)


def job_candidates(snapshot: Snapshot, managed: ManagedIndex, ref: str) -> list[Candidate]:
    """Every job (not deleted) ``ref`` names: its id alone, else by manifest name and by platform name."""
    if ref in snapshot.jobs:
        return [Candidate(ObjectKind.JOB, ref, ("id",))]
    fits: list[tuple[str, str]] = []
    obj = managed.get((ObjectKind.JOB, ref))
    if obj is not None and obj.live_id in snapshot.jobs:
        fits.append((obj.live_id, "manifest name"))
    fits += [(j.id, "name") for j in sorted(snapshot.jobs.values(), key=lambda j: (j.created is None, j.created, j.id))
             if j.name == ref]
    return _merge(ObjectKind.JOB, fits)


def pick(ref: str, candidates: list[Candidate], *, hint: str = "") -> Candidate | None:
    """The one candidate, None for none; more than one is a UsageError listing each with its id."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    listed = "; ".join(c.describe() for c in candidates)
    raise UsageError(f"{ref!r} is ambiguous: it names {len(candidates)} objects: {listed}",
                     hint=hint or "name the one you mean by its id")


def resolve_authorization(snapshot: Snapshot, managed: ManagedIndex, ref: str) -> LiveAuthorization | None:
    """The authorization ``ref`` names (manifest name, id or label); None if none; ambiguous: UsageError."""
    found = pick(ref, authorization_candidates(snapshot, managed, ref))
    return None if found is None else snapshot.authorizations[found.id]


def resolve_job(snapshot: Snapshot, managed: ManagedIndex, ref: str) -> LiveJob | None:
    """The job ``ref`` names (manifest name, id or platform name); None if none; ambiguous: UsageError."""
    found = pick(ref, job_candidates(snapshot, managed, ref))
    return None if found is None else snapshot.jobs[found.id]


def _candidates(snapshot: Snapshot, managed: ManagedIndex, ref: str, kind: ObjectKind | None) -> list[Candidate]:
    found: list[Candidate] = []
    if kind in (None, ObjectKind.AUTHORIZATION):
        found += authorization_candidates(snapshot, managed, ref)
    if kind in (None, ObjectKind.JOB):
        found += job_candidates(snapshot, managed, ref)
    return found


def resolve_object(snapshot: Snapshot, managed: ManagedIndex, ref: str) -> Candidate | None:
    """An authorization or a job; ``Authorization/NAME`` or ``Job/NAME`` (any case) says which kind."""
    kind_text, slash, bare = ref.partition("/")
    kind = ObjectKind.of_address_prefix(kind_text) if slash else None
    candidates = _candidates(snapshot, managed, bare, kind) if kind is not None else []
    if not candidates:  # no kind, or "job/x" is a whole label or name
        kind, bare = None, ref
        candidates = _candidates(snapshot, managed, ref, None)
    ids = [c for c in candidates if c.how == ("id",)]
    hint = "" if kind else f"name the one you mean by its id, or say Authorization/{bare} or Job/{bare}"
    return pick(ref, ids or candidates, hint=hint)


# -- what `authctl show` adds to the rows -------------------------------------------------------------
def applied_config(managed: ManagedIndex, auth_id: str) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """An authorization's config and credential field names as authctl last applied them.

    The platform keeps config and credentials sealed and never returns them, so the
    state store's record of the last apply is the only place to read the config from;
    for credentials only the field names are known (values are write-only). ``None``:
    not applied by this workspace (unmanaged, or imported, which records no config).
    """
    obj = next((o for (k, _), o in managed.items() if k is ObjectKind.AUTHORIZATION and o.live_id == auth_id), None)
    if obj is None or "config" not in obj.applied:
        return None, ()
    return dict(obj.applied.get("config") or {}), tuple(sorted(obj.applied.get("credentials") or {}))


def requests_json(usage: RequestCounts, now: datetime) -> dict[str, Any]:
    """``show --format json``'s ``requests``: the window counts, and ``hourly``, the last 30 days hour by hour.

    ``hourly`` is zero-filled: 720 ``{"hour", "count"}`` entries, oldest first, the last one
    the current hour (UTC), so a chart needs no gap handling. A platform that reports no
    series (a real Lytics) gives an empty list. The dashboard draws its charts from it.
    """
    counts = {"hour": usage.hour, "day": usage.day, "week": usage.week, "month": usage.month}
    if usage.month and not usage.hourly:  # requests counted, but no series reported
        return {**counts, "hourly": []}
    seen = {h.hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0): h.count for h in usage.hourly}
    last = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [last - timedelta(hours=back) for back in range(HOURS_SHOWN - 1, -1, -1)]
    return {**counts, "hourly": [{"hour": hour.isoformat(), "count": seen.get(hour, 0)} for hour in hours]}


def job_detail(job: LiveJob, snapshot: Snapshot, managed: ManagedIndex) -> JobDetail:
    """Everything `authctl show` says about one job: its fields, config and the authorizations it uses."""
    auth_names = managed_names(managed, ObjectKind.AUTHORIZATION)
    bound = []
    for auth_id in job.auth_ids:
        auth = snapshot.authorizations.get(auth_id)
        bound.append(BoundAuthorization(auth_id, auth.label if auth else None, auth_names.get(auth_id),
                                        auth.provider if auth else None, auth.method if auth else None))
    return JobDetail(id=job.id, name=job.name, managed_name=managed_names(managed, ObjectKind.JOB).get(job.id),
                     workflow=job.workflow, status=job.status.display, description=job.description, owner=job.owner,
                     created=job.created, updated=job.updated, config=dict(job.config), authorizations=tuple(bound))


def require_authorization(snapshot: Snapshot, managed: ManagedIndex, ref: str) -> LiveAuthorization:
    """:func:`resolve_authorization`, with NotFoundError (in the words every command uses) for none."""
    auth = resolve_authorization(snapshot, managed, ref)
    if auth is None:
        raise NotFoundError(f"no authorization with {AUTH_NAMED_BY} {ref!r} (see `authctl status`)")
    return auth


def require_job(snapshot: Snapshot, managed: ManagedIndex, ref: str) -> LiveJob:
    """:func:`resolve_job`, with NotFoundError (in the words every command uses) for none."""
    job = resolve_job(snapshot, managed, ref)
    if job is None:
        raise NotFoundError(f"no job with {JOB_NAMED_BY} {ref!r} (see `authctl platform jobs list`)")
    return job
