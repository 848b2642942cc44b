"""``/openapi.json``: the served API described from the route table and the wire models.

Built once at start from ``routes.OPERATIONS`` and ``reconciler.lytics_wire`` (pydantic's
JSON Schema, under ``components/schemas``), so the document is what is served: every path
and method, parameter, request body, the success envelope and the error envelope of each
status an operation can answer. OpenAPI 3.1, whose schemas are JSON Schema 2020-12 as
pydantic writes it. The fuzz test (tests/integration/test_served_fuzz.py) checks real
answers against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from reconciler import __version__
from reconciler.catalog import Catalog
from reconciler.lytics_wire import ErrorEnvelope
from reconciler.served.paging import MAX_LIMIT
from reconciler.served.routes import AUTH_TYPES, EXTENSIONS, Operation, Param

OPENAPI_PATH = "/openapi.json"
SECURITY_SCHEME = "ApiToken"
_REF = "#/components/schemas/{model}"
ERROR_STATUSES = {
    400: "Bad request: malformed JSON (JSON-BADREQ-025), a body or parameter that does not fit (the resource's "
         "BADREQ code, naming the field), or a malformed cursor (BADREQ-001)",
    401: "Missing or wrong API token (UNAUTHORIZED-017)",
    404: "Not found (AUTH-NOTFOUND-006, AUTHTYPE-NOTFOUND-007, JOB-NOTFOUND-004)",
    409: "Conflict: a label already used, or a guarded delete of an authorization in use (AUTH-BADREQ-008)",
    413: "Request body larger than the server's limit (BADREQ-001)",
    429: "Rate limit exceeded (BADREQ-001); retry after Retry-After seconds",
    500: "Internal error, or an injected fault (INTERNAL-019)",
    503: "Platform unavailable, or an injected fault (INTERNAL-019)",
}
ALWAYS = (401, 413, 429, 500, 503)  # every /v2 operation: token, body cap and the injectable faults
PAGING = (
    Param("limit", "query", "Page size: with it, a page that is not the last carries _meta._next.",
          {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    Param("cursor", "query", "Where the page starts: a previous page's _meta._next, as is.", {"type": "string"}),
)
REQUEST_ID = {"X-Request-Id": {"description": "The request's id (also the envelope's request_id).",
                               "schema": {"type": "string"}}}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def _model_schemas(operations: Iterable[Operation]) -> tuple[dict[tuple[type[BaseModel], str], Any], dict[str, Any]]:
    """Each model's reference and every schema, responses in serialization mode, bodies in validation mode."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorEnvelope, "serialization"): None}
    for operation in operations:
        wanted[(operation.response, "serialization")] = None
        if operation.body is not None:
            wanted[(operation.body, "validation")] = None
    refs, top = models_json_schema(list(wanted), ref_template=_REF)
    return {(model, mode): ref for (model, mode), ref in refs.items()}, top.get("$defs", {})


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["data", "status", "request_id", "_meta"], "properties": {
        "data": data, "status": {"type": "integer"}, "request_id": {"type": "string"},
        "_meta": {"type": "object", "properties": {"_next": {"type": "string", "description": "The next page's "
                                                                                              "cursor"}}}}}


def _parameter(param: Param, auth_types: list[str]) -> dict[str, Any]:
    schema = dict(param.schema)
    if param.values == AUTH_TYPES:
        schema["enum"] = auth_types
    spec: dict[str, Any] = {"name": param.name, "in": param.location, "required": param.location == "path",
                            "description": param.description, "schema": schema}
    if param.repeated:
        spec.update(style="form", explode=True)
    return spec


def _operation(operation: Operation, refs: dict[tuple[type[BaseModel], str], Any], envelope_ref: str,
               auth_types: list[str]) -> dict[str, Any]:
    params = operation.params + (PAGING if operation.many else ())
    error_ref = refs[(ErrorEnvelope, "serialization")]
    statuses = set(ALWAYS) | set(operation.errors)
    if operation.body is not None or any(p.location == "query" for p in params):
        statuses.add(400)
    responses: dict[str, Any] = {str(operation.status): {
        "description": "Success", "headers": REQUEST_ID,
        "content": {"application/json": {"schema": {"$ref": envelope_ref}}}}}
    for status in sorted(statuses):
        responses[str(status)] = {"description": ERROR_STATUSES[status],
                                  "headers": {**REQUEST_ID, **(RETRY_AFTER if status == 429 else {})},
                                  "content": {"application/json": {"schema": error_ref}}}
    spec: dict[str, Any] = {"operationId": operation.operation_id, "summary": operation.summary,
                            "tags": [operation.tag], "responses": responses}
    if params:
        spec["parameters"] = [_parameter(p, auth_types) for p in params]
    if operation.body is not None:
        spec["requestBody"] = {"required": True,
                               "content": {"application/json": {"schema": refs[(operation.body, "validation")]}}}
    if operation.tag == EXTENSIONS:
        spec["x-authctl-extension"] = True
    return spec


def openapi_document(operations: Iterable[Operation], catalog: Catalog) -> dict[str, Any]:
    operations = tuple(operations)
    refs, schemas = _model_schemas(operations)
    auth_types = sorted({catalog.api_type(p.name, m) for p in catalog.providers.values() for m in p.methods.values()})
    paths: dict[str, dict[str, Any]] = {OPENAPI_PATH: {"get": {
        "operationId": "openapi", "summary": "This document (no token needed)", "security": [],
        "responses": {"200": {"description": "The OpenAPI document", "headers": REQUEST_ID,
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}}}
    for operation in operations:
        name = operation.response.__name__ + ("List" if operation.many else "") + "Envelope"
        if name not in schemas:
            item = refs[(operation.response, "serialization")]
            schemas[name] = _envelope({"type": "array", "items": item} if operation.many else item)
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(
            operation, refs, _REF.format(model=name), auth_types)
    return {
        "openapi": "3.1.0",
        "info": {"title": "authctl served platform (the Lytics v2 API shape)", "version": __version__,
                 "description": "The embedded platform over HTTP, shaped like the Lytics v2 REST API. Paths under "
                                "/v2/_authctl/ are authctl extensions the real API does not have."},
        "tags": [{"name": "authorizations"}, {"name": "jobs"}, {"name": "providers"},
                 {"name": EXTENSIONS, "description": "Not part of the Lytics API: operator actions for tests "
                                                     "and demos (what a person does in the UI)."}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            SECURITY_SCHEME: {"type": "apiKey", "in": "header", "name": "Authorization",
                              "description": "The API token as is (Lytics style); 'Bearer TOKEN' is accepted too."}}},
        "security": [{SECURITY_SCHEME: []}],
    }


def openapi_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")
