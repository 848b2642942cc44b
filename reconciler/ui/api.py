"""The dashboard's JSON API under ``/api/``: the pages' data, in the CLI's JSON field names.

Each object is the one the CLI prints, built by the same code:

====================================  ==============================================================
``/api/authorizations``               ``authorizations``: rows of ``status --format json``; plus the
                                      page (``total``, ``page``, ``pages``, ``per_page``) and the
                                      list's ``sort``, ``order``, ``filters``, ``q``
``/api/authorizations/{id}``          ``show ID --format json`` (``kind: authorization``: the row,
                                      ``config``, ``credentials`` as ``(sensitive)``, ``jobs``,
                                      ``requests`` with ``hourly``), plus ``scopes``, ``fixes`` and
                                      ``imported_experiences``
``/api/jobs``                         ``jobs``: ``show``'s job rows plus ``auth_ids`` (as
                                      ``platform jobs list --format json`` names them), paged
``/api/jobs/{id}``                    ``show ID --format json`` for a job (``kind: job``)
``/api/plan``                         ``plan --format json``, plus ``planned_at``,
                                      ``planning_seconds`` and ``manifest_warnings``
====================================  ==============================================================

Every document carries ``format_version``; lists take the pages' parameters (``sort``,
``order``, filters, ``q``, ``page``, ``per_page``), and ``?refresh=1`` re-reads (or
re-plans) before answering. Secrets are never in any of it: the platform never returns
them, and credentials appear only by field name.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconciler.ui.app import JSON_FORMAT_VERSION, dashboard_of, error_document, json_response, wants_refresh
from reconciler.ui.pages import (
    authorization_jobs_query,
    authorization_or_404,
    authorization_page,
    authorization_query,
    fixes_of,
    job_or_404,
    job_page,
    job_query,
    method_of,
    scopes_of,
)
from reconciler.ui.queries import ListQuery, Page
from reconciler.views import applied_config, job_detail

# A plan that could not be made because of the workspace itself (its manifests, settings or secrets).
_WORKSPACE_FAULTS = {"ManifestError", "WorkspaceError", "SecretError", "CatalogError"}


def _list_document(key: str, page: Page[Any], query: ListQuery, taken_at: Any) -> dict[str, Any]:
    return {"format_version": JSON_FORMAT_VERSION, key: [item.to_json() for item in page.items],
            **page.paging_json(), "sort": query.sort, "order": query.order, "filters": query.filters,
            "q": query.search, "taken_at": taken_at.isoformat(timespec="seconds")}


async def authorizations(request: Request) -> Response:
    data = await dashboard_of(request).source.dataset(refresh=wants_refresh(request))
    query = authorization_query(request.query_params)
    return json_response(_list_document("authorizations", authorization_page(data, query), query, data.taken_at))


async def authorization(request: Request) -> Response:
    """``show ID --format json``, field for field, plus what the page adds (scopes, fixes, experiences)."""
    source = dashboard_of(request).source
    data = await source.dataset(refresh=wants_refresh(request))
    row = authorization_or_404(data, request.path_params["auth_id"])
    query = authorization_jobs_query(request.query_params)
    jobs = data.jobs_of(row.id, query.sort, query.descending)
    config, credentials = applied_config(data.managed, row.id)
    secrets = None if config is None else {name: "(sensitive)" for name in credentials}
    requests = await source.requests(row.id)
    method = method_of(request, row)
    scopes = scopes_of(data, row, method)
    return json_response({
        "format_version": JSON_FORMAT_VERSION, "kind": "authorization", **row.to_json(),
        "config": config, "credentials": secrets, "jobs": [item.row.to_json() for item in jobs],
        "requests": requests, "scopes": scopes, "fixes": [fix.to_json() for fix in fixes_of(request, row, method, scopes)],
        "imported_experiences": [{"id": e.id, "name": e.name, "status": e.status}
                                 for e in data.experiences_of(row.id)],
    })


async def jobs(request: Request) -> Response:
    data = await dashboard_of(request).source.dataset(refresh=wants_refresh(request))
    query = job_query(request.query_params)
    return json_response(_list_document("jobs", job_page(data, query), query, data.taken_at))


async def job(request: Request) -> Response:
    data = await dashboard_of(request).source.dataset(refresh=wants_refresh(request))
    item = job_or_404(data, request.path_params["job_id"])
    detail = job_detail(data.snapshot.jobs[item.row.id], data.snapshot, data.managed)
    return json_response({"format_version": JSON_FORMAT_VERSION, "kind": "job", **detail.to_json()})


async def plan(request: Request) -> Response:
    result = await dashboard_of(request).source.plan(refresh=wants_refresh(request))
    when = {"planned_at": result.made_at.isoformat(timespec="seconds"),
            "planning_seconds": round(result.seconds, 3)}
    if result.failure is not None:
        failure = result.failure
        status = 422 if failure.kind in _WORKSPACE_FAULTS else 502
        document = error_document(failure.kind, failure.message, failure.hint, details=list(failure.details))
        return json_response({**document, **when}, status)
    assert result.document is not None
    return json_response({**result.document, **when, "manifest_warnings": list(result.manifest_warnings)})


ROUTES = [
    Route("/api/authorizations", authorizations), Route("/api/authorizations/{auth_id}", authorization),
    Route("/api/jobs", jobs), Route("/api/jobs/{job_id}", job), Route("/api/plan", plan),
]

__all__ = ["ROUTES"]
