"""The served platform's credential worker: provider checks, refreshes and revocations, server-side.

The credentials never leave the server: the worker (``reconciler.oauth.worker``) runs
here with the server's own workspace settings (``oauth_clients``, ``provider_overrides``)
and reaches the platform through :class:`GatewayStore`, so each of its database calls
takes the gateway's lock like every request does (SQLite is never used by two threads at
once) while its network time overlaps freely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from reconciler.catalog import Catalog
from reconciler.errors import NotFoundError
from reconciler.platform import AuthRecord, Platform
from reconciler.served.context import Served
from reconciler.served.gateway import AUTH_REFUSALS, PlatformGateway
from reconciler.vocabulary import Health
from reconciler.workspace import Workspace

if TYPE_CHECKING:  # imported when the first worker is built (served/context.py: LazyWorker)
    from reconciler.oauth.worker import ProviderWorker


class GatewayStore:
    """``CredentialStore`` over the gateway: every call under its lock, in the caller's (worker) thread."""

    def __init__(self, gateway: PlatformGateway) -> None:
        self.gateway = gateway

    def get_authorization(self, auth_id: str) -> AuthRecord:
        return self.gateway.call(lambda p: p.get_authorization(auth_id))

    def stored_secrets(self, auth_id: str) -> dict[str, Any]:
        return self.gateway.call(lambda p: p.stored_secrets(auth_id))

    def record_health(self, auth_id: str, *, status: Health, reason: str = "", checked_at: datetime | None = None,
                      scopes: tuple[str, ...] | None = None, token_expires_at: datetime | None = None,
                      requests: int = 1) -> AuthRecord:
        return self.gateway.call(lambda p: p.record_health(
            auth_id, status=status, reason=reason, checked_at=checked_at, scopes=scopes,
            token_expires_at=token_expires_at, requests=requests))

    def reauthorize(self, auth_id: str, *, credentials: Mapping[str, str], token_expires_at: datetime | None = None,
                    scopes: tuple[str, ...] = ()) -> AuthRecord:
        return self.gateway.call(lambda p: p.reauthorize(auth_id, credentials=credentials,
                                                         token_expires_at=token_expires_at, scopes=scopes))

    def record_request(self, auth_id: str, count: int = 1, at: datetime | None = None) -> None:
        self.gateway.call(lambda p: p.record_request(auth_id, count, at))

    def stored_authorizations(self, auth_ids: Sequence[str]) -> list[tuple[AuthRecord, dict[str, Any]]]:
        return self.gateway.call(lambda p: p.stored_authorizations(auth_ids))

    def record_health_many(self, results: Sequence[Mapping[str, Any]]) -> int:
        return self.gateway.call(lambda p: p.record_health_many(results))


def served_worker(gateway: PlatformGateway, catalog: Catalog, workspace: Workspace) -> ProviderWorker:
    from reconciler.oauth.worker import ProviderWorker

    return ProviderWorker(GatewayStore(gateway), catalog, workspace)


def _revocable(platform: Platform, served: Served, auth_id: str) -> bool:
    """An OAuth authorization the delete will remove (not refused by the guard), so its tokens may go first."""
    try:
        record = platform.get_authorization(auth_id)
    except NotFoundError:
        return False  # the delete answers 404
    spec = served.catalog.method(record.provider, record.method)
    if spec is None or spec.oauth is None or not spec.is_oauth:
        return False
    jobs, experiences = platform.references(auth_id)
    return not (served.mode == "guarded" and (experiences or any(job.active for job in jobs)))


async def revocation_warnings(served: Served, auth_id: str) -> list[str]:
    """Revoke an OAuth grant's tokens before its delete; the warning when that failed (the delete goes on)."""
    if served.worker is None:
        return []
    if not await served.gateway.run(lambda p: _revocable(p, served, auth_id), AUTH_REFUSALS):
        return []
    worker = await run_in_threadpool(served.worker.get)
    warning = await run_in_threadpool(worker.revoke_tokens, auth_id)
    return [warning] if warning else []


__all__ = ["GatewayStore", "revocation_warnings", "served_worker"]
