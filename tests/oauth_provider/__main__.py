"""``python -m oauth_provider`` (with ``PYTHONPATH=tests``): serve the test provider on loopback.

Prints exactly one line, ``oauth test provider: listening on http://HOST:PORT``, once the
socket is bound (so callers can use ``--port 0`` and read the port), and exits 0 on SIGTERM or
SIGINT. The client secret is read from an environment variable, never from the command line
(which ``ps`` shows to everyone), and request lines are never logged (codes travel in them).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from werkzeug.serving import WSGIRequestHandler, make_server

from oauth_provider.app import create_app
from oauth_provider.config import DEFAULT_CLIENT_ID, DEFAULT_SECRET_ENV, ProviderConfig

LOOPBACK_NAMES = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}


class QuietRequestHandler(WSGIRequestHandler):
    """No access log: request lines hold authorization codes and ``?access_token=`` values."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: object) -> None:
        # http.server puts the raw request line into its error messages; keep only the gist.
        self.log("error", "malformed request refused (details withheld)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m oauth_provider", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1 or localhost (others need --allow-any-host)")
    parser.add_argument("--allow-any-host", action="store_true", help="allow binding a non-loopback address")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret-env", default=DEFAULT_SECRET_ENV, metavar="NAME",
                        help=f"environment variable holding the client secret (default {DEFAULT_SECRET_ENV})")
    parser.add_argument("--access-token-seconds", type=int, default=3600)
    parser.add_argument("--latency-ms", type=int, default=0, help="delay every OAuth/API answer")
    parser.add_argument("--auto-consent", action="store_true", help="grant at GET /oauth/authorize, no form")
    parser.add_argument("--public-client", action="store_true", help="also allow client auth method 'none'")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK_NAMES and not args.allow_any_host:
        parser.error(f"--host {args.host!r}: only 127.0.0.1 or localhost without --allow-any-host")
    if not os.environ.get(args.client_secret_env):
        parser.error(f"set the client secret in the environment variable {args.client_secret_env}")
    if args.access_token_seconds < 0 or args.latency_ms < 0 or not 0 <= args.port < 65536:
        parser.error("--access-token-seconds, --latency-ms and --port must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = ProviderConfig(client_secret=os.environ[args.client_secret_env], client_id=args.client_id,
                            access_token_seconds=args.access_token_seconds, latency_ms=args.latency_ms,
                            auto_consent=args.auto_consent, public_client=args.public_client)
    host = LOOPBACK_NAMES.get(args.host, args.host)
    server = make_server(host, args.port, create_app(config), threaded=True, request_handler=QuietRequestHandler)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A short poll: shutdown() waits for the serving loop to notice, and tests stop a provider each.
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="oauth-provider",
                              daemon=True)
    worker.start()
    shown = f"[{host}]" if ":" in host else host
    print(f"oauth test provider: listening on http://{shown}:{server.server_port}", flush=True)
    while not stop.wait(0.1):
        if not worker.is_alive():
            return 1
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
