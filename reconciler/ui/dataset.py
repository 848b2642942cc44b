"""The dashboard's data: one snapshot and the state's managed index, turned once into the rows pages list.

Why a class of its own: a page view must never re-derive 10,000 authorization rows or scan
50,000 jobs. A :class:`Dataset` is built once per snapshot (on the platform thread, see
source.py) with the very functions `authctl status` and `authctl show` use (views.py), so
a row here is the row the CLI prints, field for field. What a page asks of it then costs
little:

- jobs are indexed by authorization id (an authorization page with 500 jobs sorts those
  500, not the 50,000);
- each column's sort order is computed the first time someone sorts by it, then kept as a
  list of row positions (descending is the same list read backwards: every key ends with
  the row's id, so there are no ties to break differently);
- a filtered view (provider, method, health, search) is one pass over a kept order, and the
  last few are kept too, so paging through a filtered list is a slice.

Orders are the CLI's: ``status --sort`` for the CLI's own columns (views.authorization_sort_key,
health by severity), ``show --sort-jobs`` for jobs (views.job_sort_key). A Dataset is
immutable once built except for those caches, which only the event loop's thread fills.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime
from typing import Any

from reconciler.live import LiveExperience, Snapshot
from reconciler.state.records import ManagedIndex
from reconciler.view_rows import AuthorizationRow, JobRow
from reconciler.views import authorization_rows, authorization_sort_key, job_rows, job_sort_key

# Every column the lists show can sort them (the URL's ``sort=``). The CLI's own keys come
# first, ordered as `status --sort` and `show --sort-jobs` order them.
AUTH_COLUMNS = ("label", "description", "provider", "method", "health", "owner", "created", "updated", "jobs",
                "managed")
JOB_COLUMNS = ("name", "workflow", "status", "authorizations", "created", "managed")
AUTH_FILTERS = ("provider", "method", "health")
JOB_FILTERS = ("status", "workflow")
FILTERED_KEPT = 32  # filtered orders kept per dataset (a person paging through a few filters)


@dataclass(frozen=True)
class JobListRow:
    """A job as the jobs page lists it: `show`'s job row plus the authorizations it is bound to."""

    row: JobRow
    auth_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``show``'s job fields, plus ``auth_ids`` as `platform jobs list --format json` names them."""
        return {**self.row.to_json(), "auth_ids": list(self.auth_ids)}


def _auth_key(column: str) -> Callable[[AuthorizationRow], tuple[Any, ...]]:
    if column == "jobs":
        return lambda r: (r.jobs_active, r.jobs_total, r.label.casefold(), r.id)
    if column == "managed":  # by manifest name, unmanaged last (status's ``name`` order)
        return authorization_sort_key("name")
    return authorization_sort_key(column)


class Dataset:
    """Rows, indexes and lazily kept orders over one snapshot (see the module docstring)."""

    def __init__(self, snapshot: Snapshot, managed: ManagedIndex, taken_at: datetime) -> None:
        self.snapshot = snapshot
        self.managed = managed
        self.taken_at = taken_at
        self.authorizations: list[AuthorizationRow] = authorization_rows(snapshot, managed)  # by label
        self.auth_position = {row.id: index for index, row in enumerate(self.authorizations)}
        named = job_rows(list(snapshot.jobs.values()), managed)  # by name
        self.jobs = [JobListRow(row, snapshot.jobs[row.id].auth_ids) for row in named]
        self.job_position = {item.row.id: index for index, item in enumerate(self.jobs)}
        jobs_of: dict[str, list[int]] = defaultdict(list)
        for index, item in enumerate(self.jobs):
            for auth_id in dict.fromkeys(item.auth_ids):
                jobs_of[auth_id].append(index)
        self._jobs_of = dict(jobs_of)
        self._folded_labels = [row.label.casefold() for row in self.authorizations]
        self._folded_names = [item.row.name.casefold() for item in self.jobs]
        self._orders: dict[tuple[str, str], list[int]] = {}
        self._filtered: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()

    # -- facets: what the filter forms offer ------------------------------------------------------------
    @cached_property
    def facets(self) -> dict[str, list[str]]:
        """The values each filter can take here (providers, methods, workflows, statuses present), sorted."""
        auths, jobs = self.authorizations, self.jobs
        return {"provider": sorted({r.provider for r in auths}), "method": sorted({r.method for r in auths}),
                "workflow": sorted({j.row.workflow for j in jobs}), "status": sorted({j.row.status for j in jobs})}

    # -- orders ------------------------------------------------------------------------------------------
    def auth_order(self, column: str) -> list[int]:
        """Positions of every authorization in ascending ``column`` order (kept once computed)."""
        key = ("auth", column)
        order = self._orders.get(key)
        if order is None:
            sort_key = _auth_key(column)
            rows = self.authorizations
            order = sorted(range(len(rows)), key=lambda index: sort_key(rows[index]))
            self._orders[key] = order
        return order

    def job_order(self, column: str) -> list[int]:
        """Positions of every job in ascending ``column`` order (kept once computed)."""
        key = ("job", column)
        order = self._orders.get(key)
        if order is None:
            items = self.jobs
            if column == "authorizations":
                labels = self._label_of
                order = sorted(range(len(items)), key=lambda index: (
                    tuple(labels(a) for a in items[index].auth_ids), items[index].row.name, items[index].row.id))
            else:
                sort_key = job_sort_key("managed_name" if column == "managed" else column)
                order = sorted(range(len(items)), key=lambda index: sort_key(items[index].row))
            self._orders[key] = order
        return order

    def _label_of(self, auth_id: str) -> str:
        position = self.auth_position.get(auth_id)
        return self._folded_labels[position] if position is not None else auth_id

    # -- filtered orders ---------------------------------------------------------------------------------
    def filtered_authorizations(self, column: str, filters: dict[str, str], search: str) -> list[int]:
        """Ascending positions of the authorizations that pass ``filters`` and contain ``search`` in their label."""
        order = self.auth_order(column)
        if not filters and not search:
            return order
        key = ("auth", column, tuple(sorted(filters.items())), search)
        return self._kept(key, lambda: self._auth_pass(order, filters, search.casefold()))

    def _auth_pass(self, order: list[int], filters: dict[str, str], needle: str) -> list[int]:
        rows, labels = self.authorizations, self._folded_labels
        provider, method, health = filters.get("provider"), filters.get("method"), filters.get("health")
        return [i for i in order
                if (provider is None or rows[i].provider == provider) and (method is None or rows[i].method == method)
                and (health is None or rows[i].health == health) and (not needle or needle in labels[i])]

    def filtered_jobs(self, column: str, filters: dict[str, str], search: str) -> list[int]:
        """Ascending positions of the jobs that pass ``filters`` and contain ``search`` in their name."""
        order = self.job_order(column)
        if not filters and not search:
            return order
        key = ("job", column, tuple(sorted(filters.items())), search)
        return self._kept(key, lambda: self._job_pass(order, filters, search.casefold()))

    def _job_pass(self, order: list[int], filters: dict[str, str], needle: str) -> list[int]:
        items, names = self.jobs, self._folded_names
        status, workflow = filters.get("status"), filters.get("workflow")
        return [i for i in order
                if (status is None or items[i].row.status == status)
                and (workflow is None or items[i].row.workflow == workflow) and (not needle or needle in names[i])]

    def _kept(self, key: tuple[Any, ...], compute: Callable[[], list[int]]) -> list[int]:
        found = self._filtered.get(key)
        if found is None:
            found = compute()
            self._filtered[key] = found
            if len(self._filtered) > FILTERED_KEPT:
                self._filtered.popitem(last=False)
        else:
            self._filtered.move_to_end(key)
        return found

    # -- one authorization ---------------------------------------------------------------------------------
    def authorization(self, auth_id: str) -> AuthorizationRow | None:
        position = self.auth_position.get(auth_id)
        return self.authorizations[position] if position is not None else None

    def jobs_of(self, auth_id: str, column: str = "name", descending: bool = False) -> list[JobListRow]:
        """The jobs bound to ``auth_id`` (as `show` lists them), ordered by a `show --sort-jobs` key."""
        key = job_sort_key(column)
        found = [self.jobs[i] for i in self._jobs_of.get(auth_id, ())]
        found.sort(key=lambda item: key(item.row), reverse=descending)
        return found

    def experiences_of(self, auth_id: str) -> list[LiveExperience]:
        """The imported experiences that use ``auth_id``, by name."""
        return sorted((e for e in self.snapshot.experiences.values() if auth_id in e.auth_ids),
                      key=lambda e: (e.name.casefold(), e.id))

    def job(self, job_id: str) -> JobListRow | None:
        position = self.job_position.get(job_id)
        return self.jobs[position] if position is not None else None

    def labels(self, auth_ids: Sequence[str]) -> list[tuple[str, str | None]]:
        """(id, label or None when the authorization is not on the platform) for each id."""
        return [(a, row.label if (row := self.authorization(a)) is not None else None) for a in auth_ids]


__all__ = ["AUTH_COLUMNS", "AUTH_FILTERS", "JOB_COLUMNS", "JOB_FILTERS", "Dataset", "JobListRow"]
