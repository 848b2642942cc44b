"""One provider health check: build the catalog's request, send it, read the answer.

:func:`run_check` never raises for what a provider or the network does: a connection
error, a timeout (explicit, on the shared client) or a 5xx is Unknown ``provider
unreachable``, also on a machine with no network at all; a method without a check, or a
kind authctl cannot check yet, is Unknown with the reason. How answers read is
:mod:`reconciler.oauth.classify`; how the request is built, :mod:`.check_request`.
Refreshing an expiring token first, recording results and counting requests belong to
the worker (:mod:`reconciler.oauth.worker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx2

from reconciler.catalog import MethodSpec
from reconciler.clock import utc_now
from reconciler.oauth.check_request import CheckTarget, Unchecked, build_check_request
from reconciler.oauth.classify import Verdict, classify, unknown
from reconciler.oauth.clients import OAuthApp
from reconciler.oauth.refresh import transport_failure
from reconciler.vocabulary import Health
from reconciler.workspace import Settings

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_CONCURRENCY = 20
MAX_ANSWER_BYTES = 1024 * 1024  # a check's answer is small; a bigger one is read no further


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one check and the provider requests it took (0 when nothing was sent)."""

    verdict: Verdict
    requests: int = 0

    @property
    def status(self) -> Health:
        return self.verdict.status


def required_scopes(method: MethodSpec) -> tuple[str, ...]:
    """The scopes the catalog requires of an OAuth grant (none for other kinds)."""
    return tuple(method.oauth.scopes) if method.oauth is not None else ()


def provider_client(concurrency: int = DEFAULT_CONCURRENCY,
                    timeout: float = DEFAULT_TIMEOUT_SECONDS) -> httpx2.Client:
    """The one pooled client a run of checks shares: a connection per concurrent check, explicit timeouts."""
    return httpx2.Client(timeout=httpx2.Timeout(timeout, connect=min(5.0, timeout)),
                         limits=httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
                         follow_redirects=False)


def _read(response: httpx2.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_ANSWER_BYTES:
            break
    return b"".join(chunks)


def run_check(client: httpx2.Client, target: CheckTarget, settings: Settings, app: OAuthApp | None,
              now: datetime | None = None) -> CheckResult:
    """Send ``target``'s check and classify the answer; see the module docstring."""
    request = build_check_request(target, settings, client, app)
    if isinstance(request, Unchecked):
        return CheckResult(unknown(request.reason))
    try:
        response = client.send(request, stream=True)
        try:
            content = _read(response)
        finally:
            response.close()
    except httpx2.HTTPError as exc:
        return CheckResult(Verdict(Health.UNKNOWN, transport_failure(exc)), 1)
    headers = {name.lower(): value for name, value in response.headers.items()}
    separator = target.method.oauth.scope_separator if target.method.oauth is not None else " "
    verdict = classify(response.status_code, headers, content, required_scopes=required_scopes(target.method),
                       recorded_scopes=target.scopes, expires_at=target.token_expires_at, now=now or utc_now(),
                       scope_separator=separator)
    return CheckResult(verdict, 1)


__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_TIMEOUT_SECONDS", "CheckResult", "provider_client", "required_scopes",
           "run_check"]
