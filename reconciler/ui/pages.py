"""The dashboard's HTML pages: authorizations, one authorization, jobs, one job, the plan.

Each handler reads the data in hand (source.py), reads its list's address from the query
string (queries.py), takes one page of rows (dataset.py) and renders a template; the
template draws and computes nothing. ``?refresh=1`` on any page re-reads first and then
redirects to the same address without it, so a reload does not re-read again. The JSON
API (api.py) answers from the same functions, so a page and its ``/api/`` twin never
disagree.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconciler.catalog import MethodSpec
from reconciler.errors import AuthctlError, NotFoundError
from reconciler.oauth.tokens import missing_scopes
from reconciler.ui.app import dashboard_of, render, see_other, wants_refresh, without_refresh
from reconciler.ui.charts import activity_charts
from reconciler.ui.dataset import AUTH_COLUMNS, AUTH_FILTERS, JOB_COLUMNS, JOB_FILTERS, Dataset, JobListRow
from reconciler.ui.fixes import Fix, fixes_for
from reconciler.ui.plan_view import plan_action_for, plan_view
from reconciler.ui.queries import ListQuery, Page, page_of, parse_list_query
from reconciler.ui.source import ReadFailure
from reconciler.view_rows import AuthorizationRow
from reconciler.views import JOB_SORT_KEYS, applied_config, job_detail
from reconciler.vocabulary import Health

# Each list's columns with their headers: every column of the list, each sortable (tests keep them in step).
AUTH_HEADERS = (("label", "Label"), ("description", "Description"), ("provider", "Provider"),
                ("method", "Method"), ("health", "Health"), ("owner", "Owner"), ("created", "Created (UTC)"),
                ("updated", "Last modified (UTC)"), ("jobs", "Jobs (active/total)"), ("managed", "Managed"))
JOB_HEADERS = (("name", "Name"), ("workflow", "Workflow"), ("status", "Status"),
               ("authorizations", "Authorizations"), ("created", "Created (UTC)"), ("managed", "Managed as"))
AUTH_JOB_HEADERS = (("name", "Name"), ("workflow", "Workflow"), ("status", "Status"), ("created", "Created (UTC)"))
HEALTH_VALUES = tuple(h.value for h in sorted(Health, key=lambda h: h.severity))


# -- queries shared with the API ---------------------------------------------------------------------------
def authorization_query(params: Any) -> ListQuery:
    return parse_list_query(params, columns=AUTH_COLUMNS, default_sort="label",
                            filters={"provider": None, "method": None, "health": HEALTH_VALUES})


def authorization_page(data: Dataset, query: ListQuery) -> Page[AuthorizationRow]:
    return page_of(data.filtered_authorizations(query.sort, query.filters, query.search), data.authorizations, query)


def job_query(params: Any) -> ListQuery:
    return parse_list_query(params, columns=JOB_COLUMNS, default_sort="name",
                            filters={"status": None, "workflow": None})


def job_page(data: Dataset, query: ListQuery) -> Page[JobListRow]:
    return page_of(data.filtered_jobs(query.sort, query.filters, query.search), data.jobs, query)


def authorization_jobs_query(params: Any) -> ListQuery:
    return parse_list_query(params, columns=JOB_SORT_KEYS, default_sort="name", prefix="j")


def authorization_or_404(data: Dataset, auth_id: str) -> AuthorizationRow:
    row = data.authorization(auth_id)
    if row is None:
        raise NotFoundError(f"no authorization with id {auth_id!r} on the platform",
                            hint="it may have been deleted since; the list shows what is there now")
    return row


def job_or_404(data: Dataset, job_id: str) -> JobListRow:
    item = data.job(job_id)
    if item is None:
        raise NotFoundError(f"no job with id {job_id!r} on the platform",
                            hint="it may have been deleted since; the jobs page shows what is there now")
    return item


def method_of(request: Request, row: AuthorizationRow) -> MethodSpec | None:
    """The catalog's spec of the authorization's method (None for a method this catalog does not know)."""
    return dashboard_of(request).source.catalog.method(row.provider, row.method)


def scopes_of(data: Dataset, row: AuthorizationRow, method: MethodSpec | None) -> dict[str, list[str]]:
    """Granted scopes (as the platform records them) against the ones the catalog requires, and what is missing."""
    granted = tuple(data.snapshot.authorizations[row.id].scopes)
    # The catalog's required scopes, as oauth.health.required_scopes reads them (that module loads httpx2).
    required = tuple(method.oauth.scopes) if method is not None and method.oauth is not None else ()
    missing = missing_scopes(required, granted) if granted else ()
    return {"granted": list(granted), "required": list(required), "missing": list(missing)}


def fixes_of(request: Request, row: AuthorizationRow, method: MethodSpec | None,
             scopes: dict[str, list[str]]) -> list[Fix]:
    """What to run for ``row``; the plan in hand, if any, has the last word (fixes.py)."""
    plan = dashboard_of(request).source.plan_result
    action = plan_action_for(plan.document if plan is not None else None, row.id)
    return fixes_for(row, method, plan_action=action, missing_scopes=tuple(scopes["missing"]))


async def _refreshed(request: Request) -> Response:
    await dashboard_of(request).source.dataset(refresh=True)
    return see_other(without_refresh(request))


# -- pages ------------------------------------------------------------------------------------------------------
async def authorizations(request: Request) -> Response:
    if wants_refresh(request):
        return await _refreshed(request)
    data = await dashboard_of(request).source.dataset()
    query = authorization_query(request.query_params)
    page = authorization_page(data, query)
    return render(request, "authorizations.html", nav="authorizations", page=page, query=query, headers=AUTH_HEADERS,
                  facets=data.facets, health_values=HEALTH_VALUES, filters=AUTH_FILTERS,
                  total_all=len(data.authorizations))


async def authorization(request: Request) -> Response:
    if wants_refresh(request):
        return await _refreshed(request)
    source = dashboard_of(request).source
    data = await source.dataset()
    row = authorization_or_404(data, request.path_params["auth_id"])
    query = authorization_jobs_query(request.query_params)
    jobs = data.jobs_of(row.id, query.sort)
    page = page_of(range(len(jobs)), jobs, query)
    requests: dict[str, Any] | None = None
    requests_failure: ReadFailure | None = None
    try:
        requests = await source.requests(row.id)
    except AuthctlError as exc:  # the rest of the page still stands; the failure is said where the charts go
        requests_failure = ReadFailure.of(exc)
    method = method_of(request, row)
    scopes = scopes_of(data, row, method)
    config, credentials = applied_config(data.managed, row.id)
    return render(request, "authorization.html", nav="authorizations", row=row, page=page, query=query,
                  headers=AUTH_JOB_HEADERS, charts=activity_charts(requests), requests=requests,
                  requests_failure=requests_failure, experiences=data.experiences_of(row.id), scopes=scopes,
                  fixes=fixes_of(request, row, method, scopes), config=config, credentials=credentials,
                  labels=data.labels)


async def jobs(request: Request) -> Response:
    if wants_refresh(request):
        return await _refreshed(request)
    data = await dashboard_of(request).source.dataset()
    query = job_query(request.query_params)
    page = job_page(data, query)
    return render(request, "jobs.html", nav="jobs", page=page, query=query, headers=JOB_HEADERS,
                  facets=data.facets, filters=JOB_FILTERS, labels=data.labels, total_all=len(data.jobs))


async def job(request: Request) -> Response:
    if wants_refresh(request):
        return await _refreshed(request)
    data = await dashboard_of(request).source.dataset()
    item = job_or_404(data, request.path_params["job_id"])
    detail = job_detail(data.snapshot.jobs[item.row.id], data.snapshot, data.managed)
    return render(request, "job.html", nav="jobs", job=detail, known=data.authorization)


async def plan(request: Request) -> Response:
    source = dashboard_of(request).source
    if wants_refresh(request):
        await source.plan(refresh=True)
        return see_other(without_refresh(request))
    result = await source.plan()
    view = plan_view(result.document, source.current) if result.document is not None else None
    return render(request, "plan.html", nav="plan", result=result, view=view)


ROUTES = [
    Route("/authorizations", authorizations), Route("/authorizations/{auth_id}", authorization),
    Route("/jobs", jobs), Route("/jobs/{job_id}", job), Route("/plan", plan),
]

__all__ = ["ROUTES", "authorization_jobs_query", "authorization_or_404", "authorization_page", "authorization_query",
           "fixes_of", "job_or_404", "job_page", "job_query", "method_of", "scopes_of"]
