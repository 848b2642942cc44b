"""The dashboard's ASGI application: routes, the shared page frame, errors, and the access guard around it all.

``create_app(source, access)`` assembles it: the HTML pages (pages.py), the JSON API
(api.py), the package's static files, and :class:`~reconciler.ui.access.AccessGuard` in
front of everything (Host, read-only, token and cookie, security headers). Errors are
answered in the form the path speaks: an HTML page, or under ``/api/`` the CLI's JSON
error shape (``{"format_version", "error": {"type", "message", "hint"}}``), with 400 for a
bad parameter (a UsageError names it), 404 for an object that is not on the platform,
502 for a platform or state that could not be read, 500 (logged, no details) otherwise.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from reconciler.errors import AuthctlError, NotFoundError, UsageError
from reconciler.render.escape import json_text
from reconciler.ui.access import API_PREFIX, AccessGuard, AccessSettings
from reconciler.ui.source import DashboardSource
from reconciler.ui.templating import make_environment

log = logging.getLogger("authctl.ui")
JSON_FORMAT_VERSION = "1"  # the CLI's (cli/output.py): every JSON document carries it
REFRESH_PARAM = "refresh"


@dataclass
class Dashboard:
    """What every handler needs: the data source, the templates, and what the page frame says."""

    source: DashboardSource
    templates: Environment
    workspace: str  # the workspace's name, else its folder
    environment: str | None
    backend: str


def dashboard_of(request: Request) -> Dashboard:
    return request.app.state.dashboard  # type: ignore[no-any-return]


def wants_refresh(request: Request) -> bool:
    return request.query_params.get(REFRESH_PARAM) not in (None, "", "0")


def without_refresh(request: Request) -> str:
    """The request's own path and query, without ``refresh`` (where a refresh redirects to)."""
    rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != REFRESH_PARAM])
    return request.url.path + (f"?{rest}" if rest else "")


def with_refresh(request: Request) -> str:
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != REFRESH_PARAM]
    return f"{request.url.path}?{urlencode([*rest, (REFRESH_PARAM, '1')])}"


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def render(request: Request, template: str, *, status: int = 200, nav: str = "", **context: Any) -> HTMLResponse:
    """A page in the common frame: workspace, data age, the last read failure, the refresh link."""
    dashboard = dashboard_of(request)
    source = dashboard.source
    data = source.current
    frame = {"workspace": dashboard.workspace, "environment": dashboard.environment, "backend": dashboard.backend,
             "nav": nav, "now": datetime.now(UTC), "taken_at": data.taken_at if data is not None else None,
             "failure": source.failure, "refresh_href": with_refresh(request)}
    body = dashboard.templates.get_template(template).render(**frame, **context)
    return HTMLResponse(body, status_code=status)


def json_response(document: dict[str, Any], status: int = 200) -> Response:
    """JSON as the CLI writes it: exact strings, unsafe code points as ``\\uXXXX`` (render/escape.json_text)."""
    body = json_text(json.dumps(document, ensure_ascii=False, default=str))
    return Response(body, status_code=status, media_type="application/json")


def error_document(kind: str, message: str, hint: str = "", **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message, **extra}
    if hint:
        error["hint"] = hint
    return {"format_version": JSON_FORMAT_VERSION, "error": error}


def _error(request: Request, status: int, kind: str, message: str, hint: str = "") -> Response:
    if request.url.path.startswith(API_PREFIX):
        return json_response(error_document(kind, message, hint), status)
    return render(request, "error.html", status=status, code=status, kind=kind, message=message, hint=hint)


async def _on_usage_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthctlError)
    return _error(request, 400, type(exc).__name__, exc.message, exc.hint)


async def _on_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthctlError)
    return _error(request, 404, type(exc).__name__, exc.message, exc.hint)


async def _on_read_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthctlError)
    return _error(request, 502, type(exc).__name__, f"could not read: {exc.message}", exc.hint)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(request, 404, "NotFound", f"no page at {request.url.path}",
                      "the pages are /authorizations, /jobs and /plan; the API is under /api/")
    return _error(request, exc.status_code, "HTTPError", str(exc.detail))


async def _on_internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error answering %s", request.url.path, exc_info=exc)
    return _error(request, 500, "InternalError", f"internal error: {type(exc).__name__}",
                  "the server's log (stderr of authctl ui) has the traceback")


async def _home(request: Request) -> Response:
    return see_other("/authorizations")


async def _favicon(request: Request) -> Response:
    return see_other("/static/favicon.svg")


def create_app(source: DashboardSource, access: AccessSettings) -> ASGIApp:
    """The dashboard over ``source`` (loaded already), behind the access guard."""
    from reconciler.ui import api, pages

    workspace = source.workspace
    routes: list[BaseRoute] = [
        Route("/", _home), Route("/favicon.ico", _favicon), *pages.ROUTES, *api.ROUTES,
        Mount("/static", app=StaticFiles(packages=[("reconciler.ui", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={
        UsageError: _on_usage_error, NotFoundError: _on_not_found, AuthctlError: _on_read_error,
        HTTPException: _on_http_error, Exception: _on_internal_error,
    })
    app.state.dashboard = Dashboard(source, make_environment(), workspace.settings.name or workspace.root.name,
                                    workspace.environment, workspace.backend.kind)
    return AccessGuard(app, access)


__all__ = ["JSON_FORMAT_VERSION", "Dashboard", "create_app", "dashboard_of", "error_document", "json_response",
           "render", "see_other", "wants_refresh", "without_refresh"]
