"""The one way requests reach the platform: off the event loop, one call at a time, refusals translated.

The platform is synchronous (SQLAlchemy) and SQLite must never be used by two threads at
once, so every call runs in the thread pool under one lock: concurrent requests overlap
their network time and injected latency, and queue only for the database. A platform
refusal becomes the Lytics error the resource would give (:class:`Refusals`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from reconciler.errors import ConflictError, DatabaseError, NotFoundError, PlatformError, ReferencedError
from reconciler.lytics_wire import ErrorCode
from reconciler.platform import Platform
from reconciler.served.envelopes import ApiFailure

T = TypeVar("T")
log = logging.getLogger("authctl.served")


@dataclass(frozen=True)
class Refusals:
    """How one resource's endpoints answer the platform's refusals."""

    not_found: ErrorCode  # a NotFoundError the handler did not turn into a more precise answer
    conflict_status: int  # a broken rule (ConflictError): 409 for a taken label, 400 for a refused binding
    conflict_code: ErrorCode


AUTH_REFUSALS = Refusals(ErrorCode.AUTH_NOTFOUND, 409, ErrorCode.AUTH_BADREQ)
# A job's own id is looked up first (see job_handlers); a NotFoundError after that is an authorization.
JOB_REFUSALS = Refusals(ErrorCode.AUTH_NOTFOUND, 400, ErrorCode.JOB_BADREQ)


def translate(exc: PlatformError, refusals: Refusals) -> ApiFailure:
    if isinstance(exc, ReferencedError):  # the guarded delete: name what uses it, as the platform does
        return ApiFailure(409, ErrorCode.AUTH_BADREQ, exc.message)
    if isinstance(exc, NotFoundError):
        return ApiFailure(404, refusals.not_found, exc.message)
    if isinstance(exc, ConflictError):
        return ApiFailure(refusals.conflict_status, refusals.conflict_code, exc.message)
    if isinstance(exc, DatabaseError):  # locked or unreachable: temporary; the path stays in the server's log
        log.warning("platform database: %s", exc.message)
        return ApiFailure(503, ErrorCode.INTERNAL, "the platform database is unavailable; retry later")
    log.error("platform refused with %s", type(exc).__name__)
    return ApiFailure(500, ErrorCode.INTERNAL, "internal error: the platform could not serve the request")


class PlatformGateway:
    """Runs platform work serialized in the thread pool."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._lock = threading.Lock()  # taken in the worker thread: held exactly while the platform works

    def _locked(self, work: Callable[[Platform], T]) -> T:
        with self._lock:
            return work(self.platform)

    def call(self, work: Callable[[Platform], T]) -> T:
        """``work(platform)`` under the lock, in the calling thread (never on the event loop: it blocks)."""
        return self._locked(work)

    async def run(self, work: Callable[[Platform], T], refusals: Refusals) -> T:
        """``work(platform)`` in a worker thread; platform refusals raised as :class:`ApiFailure`."""
        try:
            return await run_in_threadpool(self._locked, work)
        except PlatformError as exc:
            raise translate(exc, refusals) from None
