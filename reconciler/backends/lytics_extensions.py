"""Served-only endpoints (``/v2/_authctl/...``): which ones this platform lacks, learnt from its 404s.

authctl's served platform adds endpoints the Lytics v2 API has no equivalent of
(experiences, health, job status, request counts); a real Lytics answers them 404. A 404
that names no id (not AUTH-NOTFOUND or JOB-NOTFOUND) means the endpoint is missing: it is
remembered, so it is asked once per backend, and said plainly:

- a read that can do without it reads as absent (:meth:`ServedExtensions.optional`: no
  experiences, no request counts), with a WARNING said once where the absence changes what
  authctl decides (the delete guard then counts jobs only);
- an action that cannot (:meth:`ServedExtensions.call`: record health, set a job's status,
  import an experience) is a PermanentBackendError saying "this platform has no ...
  endpoint (authctl's served platform has)", told apart from an unknown id.

Warnings go to the ``reconciler.backends.lytics`` logger (Python's last-resort handler
prints them to stderr when nothing configured logging).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from reconciler.errors import BackendError, PermanentBackendError
from reconciler.lytics_wire import ErrorCode

# The backend's logger, not this module's: people configure (and tests capture) one name for the lytics backend.
log = logging.getLogger("reconciler.backends.lytics")

T = TypeVar("T")
A = TypeVar("A")

_NOT_FOUND = frozenset({ErrorCode.AUTH_NOTFOUND.value, ErrorCode.JOB_NOTFOUND.value})


def endpoint_missing(exc: BackendError) -> bool:
    """A 404 that is not about an id: the platform has no such endpoint (a real Lytics, for /v2/_authctl/...)."""
    return exc.status == 404 and exc.code not in _NOT_FOUND


def no_endpoint(what: str) -> str:
    return f"this platform has no {what} endpoint (authctl's served platform has)"


class ServedExtensions:
    """The served-only endpoints one platform lacks, by name (``"experience"``, ``"health"``, ...). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._missing: set[str] = set()
        self._warned: set[str] = set()

    def call(self, what: str, call: Callable[[], T]) -> T:
        """A served-only call; a platform without it is told apart from an unknown id."""
        if what in self._missing:
            raise PermanentBackendError(no_endpoint(what), status=404, code=ErrorCode.NOTFOUND)
        try:
            return call()
        except PermanentBackendError as exc:
            if not endpoint_missing(exc):
                raise
            self._missing.add(what)
            raise PermanentBackendError(f"{no_endpoint(what)}: {exc.message}", status=404, code=exc.code) from None

    def optional(self, what: str, call: Callable[[], T], absent: A, *, warning: str | None = None) -> T | A:
        """A served-only read; ``absent`` on a platform without it (and ``warning`` logged, once)."""
        if what in self._missing:
            return absent
        try:
            return call()
        except PermanentBackendError as exc:
            if not endpoint_missing(exc):
                raise
        self._missing.add(what)
        if warning is not None:
            self._warn_once(what, warning)
        return absent

    def _warn_once(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        log.warning("%s", message)


__all__ = ["ServedExtensions", "endpoint_missing", "no_endpoint"]
