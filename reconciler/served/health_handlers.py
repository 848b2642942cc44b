"""``POST /v2/_authctl/health-check`` and ``POST /v2/_authctl/refresh``: provider work where the credentials are.

The ``lytics`` backend sends the ids (``authctl health``, ``authctl refresh``); the worker
runs here (served/credentials.py) in a thread off the event loop, records each result on
the platform, and the answer lists one report per known id, in the order asked, plus the
ids the platform does not know. Reports carry no secret: statuses, fixed-vocabulary
reasons, scope names, times and counts. A server started without a workspace (an app
built in code) runs no provider work: 404 NOTFOUND, as a platform without the endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool

from reconciler.errors import PlatformError
from reconciler.live import HealthReport, RefreshReport
from reconciler.lytics_wire import (
    ErrorCode,
    HealthCheckIn,
    HealthReportOut,
    HealthReportsOut,
    RefreshIn,
    RefreshReportOut,
    RefreshReportsOut,
)
from reconciler.served.context import Call, LazyWorker, Reply, Served
from reconciler.served.envelopes import ApiFailure
from reconciler.served.gateway import AUTH_REFUSALS, translate
from reconciler.served.inputs import parse_model


def _missing(asked: list[str], reports: Sequence[HealthReport | RefreshReport]) -> list[str]:
    seen = {r.auth_id for r in reports}
    return [auth_id for auth_id in dict.fromkeys(asked) if auth_id not in seen]


def _worker(served: Served) -> LazyWorker:
    """The server's worker, still unbuilt: handlers build it in the thread pool (the import takes 0.3 s)."""
    if served.worker is None:
        raise ApiFailure(404, ErrorCode.NOTFOUND, "this server runs no provider checks (it was started without a "
                                                  "workspace)")
    return served.worker


async def health_check(served: Served, call: Call) -> Reply:
    body = parse_model(HealthCheckIn, call.body or {}, ErrorCode.AUTH_BADREQ)
    worker = _worker(served)
    try:
        reports = await run_in_threadpool(lambda: worker.get().check_health(body.auth_ids, body.concurrency))
    except PlatformError as exc:
        raise translate(exc, AUTH_REFUSALS) from None
    return Reply(HealthReportsOut(missing_ids=_missing(body.auth_ids, reports), reports=[HealthReportOut(
        auth_id=r.auth_id, status=r.status, reason=r.reason, checked_at=r.checked_at,
        scopes_missing=list(r.scopes_missing), refreshed=r.refreshed, requests=r.requests) for r in reports]))


async def refresh(served: Served, call: Call) -> Reply:
    body = parse_model(RefreshIn, call.body or {}, ErrorCode.AUTH_BADREQ)
    worker = _worker(served)
    try:
        reports = await run_in_threadpool(lambda: worker.get().refresh_tokens(body.auth_ids, body.force))
    except PlatformError as exc:
        raise translate(exc, AUTH_REFUSALS) from None
    from reconciler.oauth.worker import NOT_ON_PLATFORM

    known = [r for r in reports if r.reason != NOT_ON_PLATFORM]
    return Reply(RefreshReportsOut(missing_ids=_missing(body.auth_ids, known), reports=[RefreshReportOut(
        auth_id=r.auth_id, outcome=r.outcome, reason=r.reason, token_expires_at=r.token_expires_at,
        rotated=r.rotated, requests=r.requests) for r in known]))
