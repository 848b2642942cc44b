"""The one-shot redirect listener of ``authctl login`` / ``reauth`` (RFC 8252, section 7.3).

It binds 127.0.0.1 only, on an ephemeral port, and serves one path, ``/callback``. It
accepts exactly one request: a GET of that path, addressed to this listener (``Host``),
whose ``state`` equals the flow's (compared with :func:`hmac.compare_digest`). Anything
else is answered 404 (another path), 400 (no or another ``state``, a wrong ``Host``) or
405/501 (another method) and ignored: the listener keeps waiting for the one good callback
until its deadline, then closes. The browser gets a short page that never contains the
code. Nothing is logged: the query holds the one-time code.

``Callback`` is what the good request carried (its query parameters); a refused request
is only counted (:attr:`LoopbackListener.refused`), so a timeout can say that something
knocked with the wrong ``state``.
"""

from __future__ import annotations

import hmac
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from reconciler.errors import OAuthError

HOST = "127.0.0.1"
CALLBACK_PATH = "/callback"
DEFAULT_TIMEOUT = 300.0
_REQUEST_TIMEOUT = 10.0  # a connection that sends nothing does not hold the listener longer than this

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>authctl</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>{title}</h1><p>{text}</p></body></html>
"""
_DONE = _PAGE.format(title="authctl: authorization received",
                     text="You can close this tab and return to the terminal.")
_NOT_GRANTED = _PAGE.format(title="authctl: authorization not granted",
                            text="The provider did not grant the authorization. Return to the terminal.")
_REFUSED_PAGE = _PAGE.format(title="authctl: not accepted",
                             text="This request does not belong to the login in progress; it was ignored.")
_NOT_FOUND_PAGE = _PAGE.format(title="authctl: not found", text="Nothing is served here.")


@dataclass(frozen=True)
class Callback:
    """The query parameters of the accepted callback (``code`` and ``state``, or ``error``)."""

    params: dict[str, str] = field(repr=False)

    def get(self, name: str) -> str | None:
        return self.params.get(name)


def query_params(query: str) -> dict[str, str]:
    """A query string as a dict (the first value of a repeated name wins, as a browser-facing server reads it)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, value)
    return params


def state_matches(expected: str, received: str | None) -> bool:
    """Constant-time comparison of the flow's ``state`` with the one a redirect carried."""
    if not received:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8", "surrogatepass"))


class _Server(ThreadingHTTPServer):
    """Knows its listener; no ``SO_REUSEADDR`` (the port is ours alone).

    A thread per connection: browsers open spare connections that send nothing, and one of
    them must not hold up the real callback. Each connection times out on its own.
    """

    allow_reuse_address = False
    daemon_threads = True
    block_on_close = False
    listener: LoopbackListener


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = _REQUEST_TIMEOUT
    server_version = "authctl-loopback"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Never log: the request line carries the one-time code."""

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        listener = self.server.listener
        status, page = listener._answer(self.path, self.headers.get("Host"))
        body = page.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        finally:
            self.close_connection = True
            if status == 200:
                listener._done.set()  # after the page went out: the process may exit right away


class LoopbackListener:
    """Listens on ``http://127.0.0.1:PORT/callback`` for one callback carrying ``state``.

    Use as a context manager (the socket is closed on exit), or call :meth:`close`.
    """

    def __init__(self, state: str, *, host: str = HOST, path: str = CALLBACK_PATH) -> None:
        if host != HOST:
            raise ValueError("the loopback listener binds 127.0.0.1 only")
        self._state = state
        self._path = path
        self._server = _Server((host, 0), _Handler, bind_and_activate=True)
        self._server.listener = self
        self.port: int = self._server.server_address[1]
        self._callback: Callback | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._serving: threading.Thread | None = None
        self.refused = 0  # requests answered 400/404: wrong path, wrong state, wrong Host

    @property
    def redirect_uri(self) -> str:
        return f"http://{HOST}:{self.port}{self._path}"

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer(self, target: str, host_header: str | None) -> tuple[int, str]:
        """Decide one request: (status, page). Records the one good callback."""
        parts = urlsplit(target)
        with self._lock:
            if self._callback is not None:  # already done: nothing more is accepted
                self.refused += 1
                return 404, _NOT_FOUND_PAGE
            if parts.path != self._path:
                self.refused += 1
                return 404, _NOT_FOUND_PAGE
            if host_header is not None and host_header.lower() not in (f"{HOST}:{self.port}",
                                                                      f"localhost:{self.port}"):
                self.refused += 1  # DNS rebinding: another name pointed at 127.0.0.1
                return 400, _REFUSED_PAGE
            params = query_params(parts.query)
            if not state_matches(self._state, params.get("state")):
                self.refused += 1
                return 400, _REFUSED_PAGE
            self._callback = Callback(params)
            return 200, (_NOT_GRANTED if "error" in params or "denied" in params else _DONE)

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> Callback:
        """Serve until the one good callback arrives, then close; OAuthError after ``timeout`` seconds."""
        self._serving = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                         name="oauth-loopback", daemon=True)
        self._serving.start()
        try:
            self._done.wait(timeout)
        finally:
            self.close()
        with self._lock:
            callback = self._callback if self._done.is_set() else None
        if callback is None:
            refused = (f" ({self.refused} request(s) to the listener were refused: not this login's callback)"
                       if self.refused else "")
            raise OAuthError(f"no authorization arrived within {timeout:g} s{refused}; nothing was stored",
                             hint="run the command again (use --timeout SECONDS to wait longer, or --manual to "
                                  "paste the redirect address when the browser runs on another machine)")
        return callback

    def close(self) -> None:
        """Stop listening (idempotent); a connection still open is cut when its own timeout passes."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._serving is not None:
            self._server.shutdown()
            self._serving.join()
        self._server.server_close()


def free_loopback_port() -> int:
    """An ephemeral port on 127.0.0.1, for a redirect URI nothing listens on (``--manual``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


__all__ = ["CALLBACK_PATH", "Callback", "DEFAULT_TIMEOUT", "HOST", "LoopbackListener", "free_loopback_port",
           "query_params", "state_matches"]
