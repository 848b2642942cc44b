"""Reading what a client sent: the body (capped), JSON, the wire model, query flags.

Every refusal is an :class:`ApiFailure` in Lytics' words: malformed JSON is
JSON-BADREQ-025, a body over the cap 413 BADREQ-001, a body of the wrong shape the
resource's BADREQ code naming the field. Messages name fields and rules, never the value
sent (it may be a credential).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request

from reconciler.catalog import FieldSpec
from reconciler.config_rules import config_problems
from reconciler.lytics_wire import ErrorCode
from reconciler.served.envelopes import ApiFailure

M = TypeVar("M", bound=BaseModel)
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def too_large(cap: int) -> ApiFailure:
    return ApiFailure(413, ErrorCode.BADREQ, f"request body too large: the limit is {cap} bytes")


async def read_body(request: Request, cap: int) -> bytes:
    """The whole body, refusing (413) as soon as it grows past ``cap`` bytes, whatever Content-Length said."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_large(cap)
        chunks.append(chunk)
    return b"".join(chunks)


class _NotFinite(ValueError):
    """NaN and Infinity parse in Python but are not JSON: no answer could carry them back."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _no_constant(text: str) -> Any:
    raise _NotFinite(text)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; JSON-BADREQ-025 when it is empty, not JSON, or not storable text."""
    if not body.strip():
        raise ApiFailure(400, ErrorCode.JSON_BADREQ, "a JSON object body is required")
    try:
        data = json.loads(body, parse_float=_finite, parse_constant=_no_constant)
    except _NotFinite:
        raise ApiFailure(400, ErrorCode.JSON_BADREQ, "the body holds a number JSON cannot carry (NaN or "
                                                     "infinite)") from None
    except ValueError as exc:  # not UTF-8, not JSON, or an integer of more digits than Python converts
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiFailure(400, ErrorCode.JSON_BADREQ, f"the body is not valid JSON{where}") from None
    except RecursionError:
        raise ApiFailure(400, ErrorCode.JSON_BADREQ, "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiFailure(400, ErrorCode.JSON_BADREQ, "the body must be a JSON object")
    try:  # lone surrogates (\ud800) and NUL characters parse, but no database stores them as text
        text = json.dumps(data, ensure_ascii=False)
        text.encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        raise ApiFailure(400, ErrorCode.JSON_BADREQ, "the body holds text that is not valid Unicode") from None
    if "\x00" in text:
        raise ApiFailure(400, ErrorCode.JSON_BADREQ, "the body holds a NUL character (\\u0000)")
    return data


def parse_model(model: type[M], data: dict[str, Any], code: ErrorCode) -> M:
    """``data`` as ``model``; 400 ``code`` naming each field that does not fit (never its value)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
                    for error in exc.errors(include_input=False, include_url=False)]
        raise ApiFailure(400, code, "; ".join(problems)) from None


def check_config(fields: Iterable[FieldSpec], config: dict[str, Any], code: ErrorCode, *,
                 unknown_allowed: bool) -> None:
    """The catalog's rules for ``config`` (reconciler/config_rules.py, as manifests are checked); 400 ``code``
    naming every field that breaks one, ``config.FIELD: message``, never a secret's value."""
    problems = config_problems({f.name: f for f in fields}, config, unknown_allowed=unknown_allowed)
    if problems:
        raise ApiFailure(400, code, "; ".join(f"config.{p.field}: {p.message}" for p in problems))


def check_length(value: str, limit: int, field: str, code: ErrorCode) -> None:
    """The platform's column sizes, said as a 400 before the database says it as a failure."""
    if len(value) > limit:
        raise ApiFailure(400, code, f"{field}: must be at most {limit} characters, got {len(value)}")


def flag(query: QueryParams, name: str, default: bool = False) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    word = raw.casefold()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ApiFailure(400, ErrorCode.BADREQ, f"{name}: must be true or false")


def id_list(query: QueryParams, name: str) -> list[str]:
    """A list query parameter, repeated (``?a=1&a=2``) and/or comma-separated (``?a=1,2``)."""
    return [item.strip() for value in query.getlist(name) for item in value.split(",") if item.strip()]
