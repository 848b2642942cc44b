"""The ASGI application: the front door (request ids, token, faults, body cap), the routes, the envelopes.

Layers, outermost first:

- :class:`FrontDoor` gives every request an id (``X-Request-Id`` and the envelope's
  ``request_id``), then for ``/v2``: injected latency (awaited before the request queues
  for the platform), the token (401 UNAUTHORIZED-017), the rate limit (429 with
  ``Retry-After``), injected 500/503 errors (before anything is done) and the declared body
  size (413). ``/openapi.json`` is public and never meets a fault. An exception that gets
  this far is a 500 INTERNAL-019 that names nothing of the server.
- Starlette routes built from the route table (routes.py); an unknown path is 404
  NOTFOUND-003, a method the path does not serve 405, both in the error envelope.
- Each route reads the body (capped while reading), runs the handler and writes its
  reply in the success envelope; a create may instead drop the connection after the work
  is done (``--drop-create-rate``), so the client never learns the new id.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.catalog import Catalog
from reconciler.lytics_wire import ErrorCode
from reconciler.platform import Platform
from reconciler.platform.rules import DeleteMode
from reconciler.served import envelopes
from reconciler.served.context import Call, LazyWorker, Served
from reconciler.served.envelopes import ApiFailure, internal_failure, new_request_id, request_id_of
from reconciler.served.faults import Faults, FaultSettings
from reconciler.served.gateway import PlatformGateway
from reconciler.served.inputs import parse_json_object, read_body, too_large
from reconciler.served.openapi import OPENAPI_PATH, openapi_document, openapi_json
from reconciler.served.routes import OPERATIONS, Operation
from reconciler.workspace import Workspace

if TYPE_CHECKING:
    from reconciler.oauth.worker import ProviderWorker

log = logging.getLogger("authctl.served")
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """How the platform is served (``authctl platform serve`` options)."""

    token: str = field(repr=False)
    account_id: str = "acct-local"
    mode: DeleteMode = "guarded"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    faults: FaultSettings = field(default_factory=FaultSettings)


class DroppedConnection(Exception):
    """Raised after a response has started, so the server closes the connection without finishing it."""


class _DroppingResponse(Response):
    """A 201 that announces its body and then breaks the connection: the create happened, the answer is lost."""

    def __init__(self, announced: int) -> None:
        super().__init__(status_code=201, media_type=envelopes.JSON_TYPE)
        self.announced = announced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": [
            (b"content-type", envelopes.JSON_TYPE.encode()), (b"content-length", str(self.announced).encode())]})
        raise DroppedConnection("injected fault: the connection was dropped after the create")


def where_it_failed(exc: BaseException) -> str:
    """``file:line`` of the innermost frame: enough to find a bug, without quoting any value."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"


def _endpoint(operations: dict[str, Operation], served: Served, faults: Faults,
              cap: int) -> Callable[[Request], Awaitable[Response]]:
    """One Starlette endpoint for every operation on a path, dispatching on the method."""

    async def endpoint(request: Request) -> Response:
        operation = operations["GET" if request.method == "HEAD" else request.method]
        request_id = request_id_of(request.scope)
        try:
            body = parse_json_object(await read_body(request, cap)) if operation.body is not None else None
            reply = await operation.handler(served, Call(dict(request.path_params), request.query_params, body))
        except ApiFailure as refused:
            return envelopes.failure(refused, request_id)
        except Exception as exc:  # a bug: the client learns only that, the log only where
            log.error("request %s failed: %s at %s", request_id, type(exc).__name__, where_it_failed(exc))
            return envelopes.failure(internal_failure(), request_id)
        content = envelopes.success_body(reply.data, status=operation.status, request_id=request_id,
                                         meta=reply.meta)
        if operation.creates and faults.drop_create():
            return _DroppingResponse(len(content))
        return Response(content, status_code=operation.status, media_type=envelopes.JSON_TYPE)

    return endpoint


def _routes(operations: Iterable[Operation], served: Served, faults: Faults, cap: int,
            document: bytes) -> list[Route]:
    by_path: dict[str, dict[str, Operation]] = {}
    for operation in operations:
        by_path.setdefault(operation.path, {})[operation.method] = operation

    async def openapi(request: Request) -> Response:
        return Response(document, media_type=envelopes.JSON_TYPE)

    routes = [Route(OPENAPI_PATH, openapi, methods=["GET"])]
    routes += [Route(path, _endpoint(ops, served, faults, cap), methods=list(ops)) for path, ops in by_path.items()]
    return routes


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path, method not served) in the error envelope."""
    assert isinstance(exc, HTTPException)
    request_id = request_id_of(request.scope)
    if exc.status_code == 404:
        refused = ApiFailure(404, ErrorCode.NOTFOUND, f"no such endpoint: {request.url.path}")
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        refused = ApiFailure(405, ErrorCode.BADREQ, f"{request.method} is not served on {request.url.path} "
                                                    f"(allowed: {allowed})", headers=exc.headers)
    else:
        refused = ApiFailure(exc.status_code, ErrorCode.BADREQ, exc.detail, headers=exc.headers)
    return envelopes.failure(refused, request_id)


class FrontDoor:
    """What every request meets before its route: see the module docstring."""

    def __init__(self, app: ASGIApp, settings: ServeSettings, faults: Faults) -> None:
        self.app = app
        self.served: Served | None = None  # what the routes serve (create_app sets it)
        self.faults = faults
        self.cap = settings.max_body_bytes
        self._token = settings.token.encode("utf-8")

    def _authorized(self, scope: Scope) -> bool:
        sent = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        if sent[:7].lower() == b"bearer ":
            sent = sent[7:]
        return hmac.compare_digest(sent.strip(), self._token)

    def _declared_size(self, scope: Scope) -> int:
        raw = next((value for name, value in scope["headers"] if name == b"content-length"), b"0")
        return int(raw) if raw.isdigit() else 0

    async def _refusal(self, scope: Scope) -> ApiFailure | None:
        path = scope["path"]
        v2 = path == "/v2" or path.startswith("/v2/")
        if v2:
            await self.faults.delay()
        if not self._authorized(scope):
            return ApiFailure(401, ErrorCode.UNAUTHORIZED, "missing or wrong API token: send it in the "
                                                           "Authorization header")
        if v2 and self.faults.throttled():
            return ApiFailure(429, ErrorCode.BADREQ, "rate limit exceeded: retry after 1 second",
                              headers={"Retry-After": "1"})
        if v2 and (status := self.faults.injected_error()) is not None:
            return ApiFailure(status, ErrorCode.INTERNAL, "injected fault: the server failed before doing "
                                                          "anything; retry")
        if self._declared_size(scope) > self.cap:
            return too_large(self.cap)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", []),
                           (envelopes.REQUEST_ID_HEADER.lower().encode(), request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            refused = None if scope["path"] == OPENAPI_PATH else await self._refusal(scope)
            if refused is not None:
                await envelopes.failure(refused, request_id)(scope, receive, send_with_id)
                return
            await self.app(scope, receive, send_with_id)
        except DroppedConnection:
            raise
        except Exception as exc:
            log.error("request %s failed: %s at %s", request_id, type(exc).__name__, where_it_failed(exc))
            if started:
                raise
            await envelopes.failure(internal_failure(), request_id)(scope, receive, send_with_id)


def create_app(platform: Platform, catalog: Catalog, settings: ServeSettings, *,
               workspace: Workspace | None = None) -> FrontDoor:
    """The served platform as an ASGI application (the caller owns the platform's lifetime).

    With ``workspace`` (its ``oauth_clients`` and ``provider_overrides``) the server runs
    provider checks, refreshes and revocations where the credentials are (served/credentials.py);
    ``.served.worker`` builds that worker on first use (``authctl platform serve --health-interval`` schedules it).
    """
    gateway = PlatformGateway(platform)
    worker = None
    if workspace is not None:
        def build() -> ProviderWorker:
            from reconciler.served.credentials import served_worker

            return served_worker(gateway, catalog, workspace)

        worker = LazyWorker(build)
    served = Served(gateway, catalog, settings.account_id, settings.mode, worker)
    faults = Faults(settings.faults)
    document = openapi_json(openapi_document(OPERATIONS, catalog))
    app = Starlette(routes=_routes(OPERATIONS, served, faults, settings.max_body_bytes, document),
                    exception_handlers={HTTPException: _http_error})
    app.router.redirect_slashes = False  # /v2/auth/ is not /v2/auth: a 404, never a redirect
    door = FrontDoor(app, settings, faults)
    door.served = served
    return door
