"""Who may talk to the dashboard, and how every answer protects the page it carries. Pure ASGI middleware.

The dashboard shows an account's authorizations, jobs and plan, and it listens on a port
any local process (and any web page the person's browser opens) can reach. So, before any
route runs, :class:`AccessGuard` checks, in this order:

1. **Host**: the ``Host`` header must name this server (``127.0.0.1:PORT``,
   ``localhost:PORT`` or the address it was bound to). A web page that re-points its own
   domain name at 127.0.0.1 (DNS rebinding) sends its own name, and is refused with 400
   before anything else is looked at.
2. **Read-only**: only GET and HEAD exist; anything else is 405 (``Allow: GET, HEAD``).
   No route changes the platform or the state, and none accepts a body.
3. **Access token**: ``authctl ui`` prints a URL carrying a random token
   (``secrets.token_urlsafe``). A request with the right ``?token=`` gets a session cookie
   (``HttpOnly``, ``SameSite=Strict``, named after the port so two dashboards do not
   overwrite each other's) and a 303 redirect to the same address without the token, so the
   token leaves the address bar and the history. A wrong token is 403; no token and no valid
   cookie is 401, with a short page saying where to find the URL. Both comparisons are
   constant-time (``hmac.compare_digest``). The stylesheet, script and icon are public
   (they are the package's own files), so the refusal pages are readable too.

Every answer, refusals included, carries a strict Content-Security-Policy (scripts, styles
and images only from this server, no inline script or style, no framing, no ``<base>``,
forms only to this server), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
no-referrer`` and ``Cache-Control: no-store``. JSON paths (``/api/``) are refused in JSON.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, quote, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
READ_METHODS = ("GET", "HEAD")
TOKEN_PARAM = "token"
PUBLIC_PREFIX = "/static/"
API_PREFIX = "/api/"

REFUSALS = {
    400: ("Unexpected Host header",
          "This dashboard answers only to the address authctl ui printed (127.0.0.1 or localhost and its port)."),
    401: ("Access token needed",
          "Open the URL that `authctl ui` printed when it started: it carries the access token "
          "(http://127.0.0.1:PORT/?token=...). The token is then kept in a cookie for this browser."),
    403: ("Wrong access token",
          "This token does not open this dashboard. Open the URL that `authctl ui` printed; each start "
          "prints a new one."),
    405: ("Read-only", "The dashboard only reads: GET and HEAD are the only methods it answers."),
}


def loopback_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


@dataclass(frozen=True)
class AccessSettings:
    """The token, the session cookie's name and value, and the Host headers this server answers to."""

    token: str = field(repr=False)
    session: str = field(repr=False)  # the cookie's value: not the token, so the cookie never reveals it
    cookie_name: str
    hosts: frozenset[str]  # lowercase ``host:port`` values

    @classmethod
    def for_server(cls, token: str, session: str, host: str, port: int, extra_hosts: tuple[str, ...] = ()
                   ) -> AccessSettings:
        bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        names = loopback_hosts(port) | {bound.lower()} | {f"{h.lower()}:{port}" for h in extra_hosts}
        if port == 80:  # a browser leaves the default port out of Host
            names |= {n.rsplit(":", 1)[0] for n in names}
        return cls(token, session, f"authctl_ui_{port}", frozenset(names))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def _refusal_page(status: int) -> bytes:
    title, text = REFUSALS[status]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title} · authctl</title><link rel=\"stylesheet\" href=\"/static/ui.css\">"
            "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\"></head>"
            f"<body class=\"refusal\"><main><h1 data-testid=\"refusal\">{status} {title}</h1><p>{text}</p></main>"
            "</body></html>\n").encode()


class AccessGuard:
    """The checks of the module docstring, around the dashboard's ASGI app."""

    def __init__(self, app: ASGIApp, settings: AccessSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        send = _with_security_headers(send)
        host = (_header(scope, b"host") or "").strip().lower()
        if host not in self.settings.hosts:
            await _refuse(scope, send, 400)
            return
        if scope["method"] not in READ_METHODS:
            await _refuse(scope, send, 405, [(b"allow", b"GET, HEAD")])
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        tokens = [value for key, value in query if key == TOKEN_PARAM]
        if tokens:
            if len(tokens) == 1 and _same(tokens[0], self.settings.token):
                await self._admit(scope, send, query)
            else:
                await _refuse(scope, send, 403)
            return
        if self._has_session(scope) or scope["path"].startswith(PUBLIC_PREFIX):
            await self.app(scope, receive, send)
            return
        await _refuse(scope, send, 401)

    def _has_session(self, scope: Scope) -> bool:
        raw = _header(scope, b"cookie")
        if not raw:
            return False
        try:
            cookie = SimpleCookie(raw)
        except CookieError:
            return False
        morsel = cookie.get(self.settings.cookie_name)
        return morsel is not None and _same(morsel.value, self.settings.session)

    async def _admit(self, scope: Scope, send: Send, query: list[tuple[str, str]]) -> None:
        """The right token: set the session cookie, send the browser to the same address without the token."""
        # Always a path on this server ("//host" would leave it), with the rest of the query kept.
        location = "/" + quote(scope["path"].lstrip("/"), safe="/")
        rest = urlencode([(k, v) for k, v in query if k != TOKEN_PARAM])
        if rest:
            location += "?" + rest
        cookie = f"{self.settings.cookie_name}={self.settings.session}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode("latin-1")),
            (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _SECURITY_NAMES]
            message = {**message, "headers": [*headers, *SECURITY_HEADERS]}
        await send(message)

    return sending


async def _refuse(scope: Scope, send: Send, status: int, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    title, text = REFUSALS[status]
    if scope["path"].startswith(API_PREFIX):
        body = json.dumps({"format_version": "1", "error": {"type": "AccessRefused", "status": status,
                                                             "message": f"{title}: {text}"}}).encode()
        content_type = b"application/json"
    else:
        body, content_type = _refusal_page(status), b"text/html; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


__all__ = ["CONTENT_SECURITY_POLICY", "AccessGuard", "AccessSettings", "loopback_hosts"]
