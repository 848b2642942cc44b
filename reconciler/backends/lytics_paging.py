"""Reading Lytics answers: the ``{"data": ...}`` envelope of one object, and every page of a list.

Lytics returns whole arrays unless asked for ``limit``; authctl's served platform pages
too. Either way a list is read to its end by following the envelope's cursor
(``_meta._next``): a cursor sent twice would loop forever, so it is a PermanentBackendError.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel

from reconciler.backends.http_client import Answer, Calls, HttpClient
from reconciler.errors import PermanentBackendError
from reconciler.lytics_wire import Envelope

W = TypeVar("W", bound=BaseModel)


def read_one(http: HttpClient, answer: Answer, model: type[W]) -> W:
    """The object in an answer's envelope, validated."""
    return http.decode(answer, Envelope[model]).data  # type: ignore[valid-type]


def read_all(http: HttpClient, path: str, model: type[W], kind: str, params: dict[str, str] | None = None,
             names: Iterable[str] = (), calls: Calls | None = None, *, page_size: int | None = None) -> list[W]:
    """Every item of a list endpoint, following ``_meta._next`` cursors (``page_size`` None: whole arrays)."""
    items: list[W] = []
    seen: set[str] = set()
    cursor: str | None = None
    envelope_type = Envelope[list[model]]  # type: ignore[valid-type]
    while True:
        query = dict(params or {})
        if page_size:
            query["limit"] = str(page_size)
        if cursor:
            query["cursor"] = cursor
        answer = http.request("GET", path, kind=kind, params=query, names=names, calls=calls)
        envelope = http.decode(answer, envelope_type)
        items.extend(envelope.data)
        cursor = envelope.cursor
        if cursor is None:
            return items
        if cursor in seen:
            raise PermanentBackendError(f"GET {path}: the platform sent the same page cursor twice "
                                        f"(request {answer.request_id})", code="PAGING")
        seen.add(cursor)


__all__ = ["read_all", "read_one"]
