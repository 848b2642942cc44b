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

from pydantic import TypeAdapter
from starlette.responses import Response

from reconciler.clock import utc_now
from reconciler.lytics_wire import ApiError, ErrorCode, ErrorEnvelope

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


# One pass from wire models to bytes: a list of 50,000 jobs is 25 MB, and dumping each model to
# dicts, validating an Envelope around them and json.dumps-ing the result cost ten times more.
_ENVELOPE_BYTES = TypeAdapter(dict[str, Any])


def success_body(data: Any, *, status: int, request_id: str, meta: Mapping[str, Any] | None = None) -> bytes:
    """The success envelope (the shape of :class:`~reconciler.lytics_wire.Envelope`) as JSON bytes."""
    return _ENVELOPE_BYTES.dump_json({"data": data, "status": status, "request_id": request_id,
                                      "_meta": dict(meta or {})}, by_alias=True)


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
