"""Paging of list answers: the whole array by default (as Lytics), pages with ``?limit=N``.

Lytics' v2 lists have no paging, but its envelope has ``_meta`` and clients are told to
follow a ``_next`` cursor when one appears; the served platform pages on request so that
that client path is tested. A page holds objects in id order; the cursor is the last id
sent, encoded (opaque to clients), so objects created or deleted between two pages never
make another object appear twice or go missing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from starlette.datastructures import QueryParams

from reconciler.lytics_wire import ErrorCode
from reconciler.served.envelopes import ApiFailure

T = TypeVar("T")
MAX_LIMIT = 10_000
_CURSOR_PREFIX = "after:"


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The last id of the previous page; 400 BADREQ-001 for anything this server did not write."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX) or len(text) == len(_CURSOR_PREFIX):
        raise ApiFailure(400, ErrorCode.BADREQ, "cursor: not a cursor this server gave (use _meta._next as is)")
    return text[len(_CURSOR_PREFIX):]


def page_request(query: QueryParams) -> tuple[int | None, str | None]:
    """``(limit, last id)`` from ``?limit=N&cursor=C``; 400 BADREQ-001 when malformed."""
    limit: int | None = None
    raw = query.get("limit")
    if raw is not None:
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise ApiFailure(400, ErrorCode.BADREQ, f"limit: must be a whole number from 1 to {MAX_LIMIT}")
        limit = int(raw)
    cursor = query.get("cursor")
    return limit, (decode_cursor(cursor) if cursor is not None else None)


def page(items: Sequence[T], key: Callable[[T], str], query: QueryParams) -> tuple[list[T], dict[str, str]]:
    """The items of the page ``query`` asks for, in id order, and the ``_meta`` to send with them."""
    limit, after = page_request(query)
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if key(item) > after]
    if limit is None or len(ordered) <= limit:
        return ordered, {}
    shown = ordered[:limit]
    return shown, {"_next": encode_cursor(key(shown[-1]))}
