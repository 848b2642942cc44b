"""Creates that are never blindly repeated: adopted by creation marker when their answer is lost.

The marker travels in the description (``with_marker``). When a create's answer is lost
or ambiguous (timeout, dropped connection, 5xx: the HTTP client raises ``OutcomeUnknown``
and does not resend a create itself), the object is looked up by marker and adopted if
found, else created again, at most :data:`CREATE_ATTEMPTS` times. A marker whose create
was lost stays "unsettled": the next create with it (apply's retry) looks first, because
an earlier call of ours may have made the object after all. The lookup is the backend's:
it decides what counts as found (an authorization whose label is taken by one without our
marker is reported, never adopted by label).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from reconciler.backends.http_client import Answer, HttpClient, OutcomeUnknown
from reconciler.errors import BackendError, PermanentBackendError

# The backend's logger, not this module's: people configure (and tests capture) one name for the lytics backend.
log = logging.getLogger("reconciler.backends.lytics")

T = TypeVar("T")

CREATE_ATTEMPTS = 3  # POSTs of one create whose earlier answers were lost (and the object not found by marker)


class MarkedCreates:
    """Sends creates over ``http``; remembers which markers' creates were lost. Thread-safe."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self._lock = threading.Lock()
        self._unsettled: set[str] = set()  # markers of creates whose answer was lost

    def create(self, path: str, kind: str, body: bytes, marker: str | None, lookup: Callable[[str], T | None], *,
               convert: Callable[[Answer], T], names: Iterable[str] = (), redact: Iterable[str] = ()) -> T:
        """POST a create; after an answer that was lost, adopt the object by marker or send it again (bounded)."""
        if marker is not None:
            with self._lock:
                unsettled = marker in self._unsettled
            found = lookup(marker) if unsettled else None  # an earlier call of ours may have made it
            if found is not None:
                self._settle(marker)
                return found
        last: BackendError | None = None
        for _ in range(CREATE_ATTEMPTS):
            try:
                answer = self.http.request("POST", path, kind=kind, body=body, retry="create", names=names,
                                           redact=redact)
            except OutcomeUnknown as exc:
                if marker is None:
                    raise
                with self._lock:
                    self._unsettled.add(marker)
                log.debug("%s: the answer was lost (%s); looking for marker %s", path, exc.message, marker)
                found = lookup(marker)
                if found is not None:
                    self._settle(marker)
                    return found
                last = exc
                continue
            except PermanentBackendError:
                if marker is not None and last is not None:  # refused now: did the lost attempt make it after all?
                    found = lookup(marker)
                    if found is not None:
                        self._settle(marker)
                        return found
                raise
            if marker is not None:
                self._settle(marker)
            return convert(answer)
        assert last is not None
        raise last

    def _settle(self, marker: str) -> None:
        with self._lock:
            self._unsettled.discard(marker)


__all__ = ["CREATE_ATTEMPTS", "MarkedCreates"]
