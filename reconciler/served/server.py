"""Running the served platform: bind, say where, serve until SIGTERM/SIGINT, shut down cleanly.

The socket is bound (and listening) before anything is printed, so ``--port 0`` works and
a client that reads the one line ``authctl platform serve: listening on http://HOST:PORT``
can connect at once. Uvicorn logs only warnings and errors to stderr (access lines with
``--access-log``, also on stderr: stdout carries that one line); no request body is ever
logged. A signal ends the server with exit 0 instead of re-raising it, as uvicorn would.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from reconciler.served.app import DroppedConnection

LISTENING = "authctl platform serve: listening on {url}"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _QuietDrops(logging.Filter):
    """A connection dropped on purpose (``--drop-create-rate``) is not an error to report."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


class _Server(uvicorn.Server):
    """Uvicorn's server, with the signal handling :func:`serve` installs instead of uvicorn's.

    Uvicorn installs its handlers only once its loop runs, and re-raises the signal after
    shutting down; ours are in place before the listening line is printed (a signal right
    after it still stops the server cleanly), and a stop by signal is a clean exit, code 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port).

    The protocol is named (``IPPROTO_TCP``, not 0): asyncio turns Nagle's algorithm off
    (``TCP_NODELAY``) only on accepted sockets whose ``proto`` says TCP, and with it on,
    every answer after the first on a kept-alive connection waited ~40 ms for the
    client's delayed ACK (uvicorn writes the head and the body separately).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _configure_logging(access_log: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("authctl platform serve: %(levelname)s: %(message)s"))
    handler.addFilter(_QuietDrops())
    for name in ("uvicorn", "uvicorn.error", "authctl.served"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    access = logging.getLogger("uvicorn.access")
    access.handlers = [handler]
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    access.propagate = False


def serve(app: ASGIApp, sock: socket.socket, *, access_log: bool = False) -> None:
    """Serve ``app`` on the bound ``sock`` until a signal; prints the listening line first."""
    _configure_logging(access_log)
    config = uvicorn.Config(app, log_config=None, access_log=access_log, lifespan="off",
                            timeout_graceful_shutdown=5, server_header=False)
    server = _Server(config)
    previous = {sig: signal.signal(sig, server.handle_exit) for sig in SIGNALS}
    try:
        print(LISTENING.format(url=url_of(sock)), flush=True)
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
