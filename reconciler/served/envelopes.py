"""The two shapes every answer of the served platform takes: the success and the error envelope.

Handlers never build a response themselves: they return data or raise :class:`ApiFailure`,
and this module writes the Lytics envelope around it (``reconciler.lytics_wire`` models), so
one place decides what a client sees, including the ``request_id`` that is also sent as the
``X-Request-Id`` header to tie a client's log line to the server's.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from reconciler.clock import utc_now
from reconciler.lytics_wire import ApiError, Envelope, ErrorCode, ErrorEnvelope

REQUEST_ID_HEADER = "X-Request-Id"
JSON_TYPE = "application/json"


class ApiFailure(Exception):
    """An answer in the error envelope: raised anywhere below a route, rendered once by the app.

    The message is what the client reads: it names fields, labels and ids, never a secret
    value nor anything of the server's internals.
    """

    def __init__(self, status: int, code: ErrorCode, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def new_request_id() -> str:
    return secrets.token_hex(8)


def request_id_of(scope: Mapping[str, Any]) -> str:
    """The id the front door gave this request (a fresh one if it never passed there)."""
    state = scope.get("state") or {}
    return state.get("request_id") or new_request_id()


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _plain(data: Any) -> Any:
    """Wire models (or lists of them) as JSON values."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", by_alias=True)
    if isinstance(data, list | tuple):
        return [_plain(item) for item in data]
    return data


def success_body(data: Any, *, status: int, request_id: str, meta: Mapping[str, Any] | None = None) -> bytes:
    envelope = Envelope[Any](data=_plain(data), status=status, request_id=request_id, _meta=dict(meta or {}))
    return _json_bytes(envelope.model_dump(mode="json", by_alias=True, exclude={"next"}))


def success(data: Any, *, status: int, request_id: str, meta: Mapping[str, Any] | None = None) -> Response:
    """``{"data": ..., "status": ..., "request_id": ..., "_meta": {...}}``."""
    return Response(success_body(data, status=status, request_id=request_id, meta=meta), status_code=status,
                    media_type=JSON_TYPE)


def failure(refused: ApiFailure, request_id: str) -> Response:
    """``{"errors": [{"code", "level", "message", "timestamp"}], "request_id", "status"}``."""
    envelope = ErrorEnvelope(errors=[ApiError(code=refused.code.value, level="error", message=refused.message,
                                              timestamp=utc_now())],
                             request_id=request_id, status=refused.status)
    return Response(_json_bytes(envelope.model_dump(mode="json")), status_code=refused.status,
                    media_type=JSON_TYPE, headers=refused.headers)


def internal_failure() -> ApiFailure:
    """What a client learns of a bug: that there was one, and the request id to report."""
    return ApiFailure(500, ErrorCode.INTERNAL, "internal error: the request failed on the server; "
                                               "report its request_id")
