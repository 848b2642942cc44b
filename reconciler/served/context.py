"""What a handler gets (the served platform and one parsed call) and what it gives back (a reply).

Handlers are plain async functions ``(Served, Call) -> Reply``: no Starlette request, no
response object, so the route table (routes.py) can describe them to both the router and
the OpenAPI document, and the envelope is written in one place (app.py).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams

from reconciler.catalog import Catalog
from reconciler.platform.rules import DeleteMode
from reconciler.served.gateway import PlatformGateway

if TYPE_CHECKING:
    from reconciler.oauth.worker import ProviderWorker

API_OWNER = "api"  # who owns what an API call creates when the request names no user_id


class LazyWorker:
    """The credential worker, built on first use.

    Its import brings authlib and httpx2 (0.3 s): a server that is never asked for a
    check, a refresh or an OAuth revocation (most test and benchmark servers) never pays it.
    """

    def __init__(self, build: Callable[[], ProviderWorker]) -> None:
        self._build = build
        self._worker: ProviderWorker | None = None
        self._lock = threading.Lock()

    def get(self) -> ProviderWorker:
        with self._lock:
            if self._worker is None:
                self._worker = self._build()
            return self._worker

    def close(self) -> None:
        """Close the worker's HTTP client, if a worker was ever built."""
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker.close()


@dataclass(frozen=True)
class Served:
    """The platform being served and the settings every handler needs."""

    gateway: PlatformGateway
    catalog: Catalog
    account_id: str = "acct-local"
    mode: DeleteMode = "guarded"
    # Provider checks, refreshes and revocations (served/credentials.py); None: the server has no workspace.
    worker: LazyWorker | None = None


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: path parameters, query, and the JSON body (for routes that take one)."""

    path: dict[str, str]
    query: QueryParams
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reply:
    """What goes in the success envelope: ``data`` (wire models) and ``_meta``."""

    data: Any
    meta: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Served, Call], Awaitable[Reply]]
