"""Serving the dashboard: uvicorn on a socket the CLI bound, until SIGINT or SIGTERM, then a clean exit.

The socket is bound (and listening) before the address is printed, so ``--port 0`` works
and whoever reads the printed line can connect at once. Uvicorn logs warnings and errors
only, on stderr, and never an access line: a request's query string is where the access
token travels on the first visit. A signal stops the server with exit 0 instead of
re-raising it, as `authctl platform serve` does (served/server.py).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Callable, Generator

import uvicorn
from starlette.types import ASGIApp

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """Uvicorn's server with our signal handlers (installed before the address is printed) instead of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("authctl ui: %(levelname)s: %(message)s"))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "authctl.ui"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def serve(app: ASGIApp, sock: socket.socket, *, ready: Callable[[], None]) -> None:
    """Serve ``app`` on the bound ``sock`` until a signal; ``ready`` runs (prints the URL) once signals are ours."""
    _configure_logging()
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=5,
                            server_header=False)
    server = _Server(config)
    previous = {sig: signal.signal(sig, server.handle_exit) for sig in SIGNALS}
    try:
        ready()
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["serve"]
