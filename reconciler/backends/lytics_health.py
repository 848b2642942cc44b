"""Provider checks and refreshes over HTTP: the served platform runs them, where the credentials are.

``POST /v2/_authctl/health-check`` and ``POST /v2/_authctl/refresh`` (authctl's served
platform; reconciler/served/health_handlers.py) run the same worker the embedded platform
runs in process, with the server's own workspace settings (``oauth_clients``,
``provider_overrides``), and record the results before answering. The ids travel in
small batches, a few requests in flight, each request one round of checks on the server
(so a slow provider never holds one request past the client's timeout).

A real Lytics has no such endpoints (404): ``authctl health`` then reports the health the
platform itself recorded, reason ``as reported by the platform``, instead of failing;
a refresh says the platform cannot (PermanentBackendError).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from reconciler.backends.http_client import HttpClient
from reconciler.backends.lytics_extensions import ServedExtensions
from reconciler.backends.lytics_mapping import request_body
from reconciler.backends.lytics_paging import read_one
from reconciler.live import HealthReport, RefreshReport
from reconciler.lytics_wire import (
    MAX_CHECK_IDS,
    AuthOut,
    HealthCheckIn,
    HealthReportsOut,
    RefreshIn,
    RefreshReportsOut,
)
from reconciler.vocabulary import Health

AS_REPORTED = "as reported by the platform"
IN_FLIGHT = 4  # health-check requests at once (the checks in flight stay ``concurrency`` overall)
HEALTH_CHECK, REFRESH = "/v2/_authctl/health-check", "/v2/_authctl/refresh"


def _batches(ids: Sequence[str], size: int) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    size = max(1, min(size, MAX_CHECK_IDS))
    return [unique[i:i + size] for i in range(0, len(unique), size)]


def recorded_reports(outs: list[AuthOut], auth_ids: Sequence[str]) -> list[HealthReport]:
    """What a platform without the endpoint recorded itself, for the ids asked (in their order)."""
    by_id = {out.id: out for out in outs}
    reports = []
    for auth_id in dict.fromkeys(auth_ids):
        out = by_id.get(auth_id)
        if out is None:
            continue
        reason = f"{AS_REPORTED}: {out.health_reason}" if out.health_reason else AS_REPORTED
        status = Health.UNHEALTHY if out.unhealthy else Health(out.status)
        reports.append(HealthReport(auth_id, status, reason, _utc(out.health_checked_at)))
    return reports


class ServedCredentialWork:
    """The ``CredentialWorker`` half of the lytics backend (see the module docstring)."""

    def __init__(self, http: HttpClient, extensions: ServedExtensions, auth_outs: Callable[[], list[AuthOut]]) -> None:
        self.http = http
        self.extensions = extensions
        self.auth_outs = auth_outs

    def check_health(self, auth_ids: Sequence[str], concurrency: int) -> list[HealthReport]:
        """Batches of ``concurrency / IN_FLIGHT`` ids, ``IN_FLIGHT`` requests at once: ``concurrency`` checks overall.

        Several smaller requests in flight hide each request's own round trip and recording
        behind the others' checks; each is still one round of checks on the server.
        """
        concurrency = min(max(concurrency, 1), 100)
        in_flight = min(IN_FLIGHT, concurrency)
        size = max(1, concurrency // in_flight)
        batches = _batches(auth_ids, size)
        if not batches:
            return []
        first = self._check_batch(batches[0], size)  # learns whether the platform has the endpoint at all
        if first is None:  # a real Lytics: its own recorded health, for every id at once
            return recorded_reports(self.auth_outs(), auth_ids)
        with ThreadPoolExecutor(in_flight, "lytics-health") as pool:
            rest = list(pool.map(lambda batch: self._check_batch(batch, size), batches[1:]))
        return [report for answer in (first, *rest) for report in (answer or [])]

    def _check_batch(self, batch: list[str], concurrency: int) -> list[HealthReport] | None:
        body = request_body(HealthCheckIn, auth_ids=batch, concurrency=concurrency)
        answer = self.extensions.optional("health check", lambda: self.http.request(
            "POST", HEALTH_CHECK, kind=f"POST {HEALTH_CHECK}", body=body, names=batch), None)
        if answer is None:
            return None
        out = read_one(self.http, answer, HealthReportsOut)
        return [HealthReport(r.auth_id, r.status, r.reason, _utc(r.checked_at), tuple(r.scopes_missing), r.refreshed,
                             r.requests) for r in out.reports]

    def refresh_tokens(self, auth_ids: Sequence[str], force: bool, batch_size: int = 20) -> list[RefreshReport]:
        reports: list[RefreshReport] = []
        for batch in _batches(auth_ids, batch_size):
            body = request_body(RefreshIn, auth_ids=batch, force=force)
            answer = self.extensions.call("refresh", lambda body=body, batch=batch: self.http.request(
                "POST", REFRESH, kind=f"POST {REFRESH}", body=body, names=batch))
            out = read_one(self.http, answer, RefreshReportsOut)
            reports += [RefreshReport(r.auth_id, r.outcome, r.reason, _utc(r.token_expires_at), r.rotated, r.requests)
                        for r in out.reports]
        return reports


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


__all__ = ["AS_REPORTED", "ServedCredentialWork", "recorded_reports"]
