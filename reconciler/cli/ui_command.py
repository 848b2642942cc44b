"""`authctl ui`: serve the read-only web dashboard of the workspace's platform (reconciler/ui) until Ctrl-C.

The platform is read once before anything listens, so a backend or state that cannot be
read stops the command with the usual one-line error and exit 1. Then the socket is
bound, and one line goes to stdout: ``authctl ui: open http://127.0.0.1:PORT/?token=...``.
The token is fresh on every start (``secrets.token_urlsafe``) and is the only way in;
the browser trades it for a cookie on its first visit. Listening on anything but a
loopback address is allowed (``--host``) with a loud warning on stderr, because the
dashboard then travels in plain HTTP to anyone who can reach the port.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket

import click

from reconciler.cli.common import workspace_catalog, workspace_options
from reconciler.errors import UsageError
from reconciler.workspace import Workspace

OPEN_LINE = "authctl ui: open {url}"
WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    """What the printed URL names: a wildcard bind is opened locally through 127.0.0.1."""
    if host in WILDCARDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _other_names(host: str) -> tuple[str, ...]:
    """Host names a browser on another machine may use for a wildcard bind: this machine's own names."""
    if host not in WILDCARDS:
        return ()
    return tuple(dict.fromkeys(name for name in (socket.gethostname(), socket.getfqdn()) if name))


def _warn_exposed(host: str, port: int) -> None:
    click.secho(f"authctl ui: WARNING: listening on {host or '*'}:{port}, not on loopback: anyone who can reach "
                f"this machine on port {port} can reach the dashboard. The access token is all that protects it, "
                "and it travels unencrypted (plain HTTP). Use the default --host 127.0.0.1 (and an SSH tunnel "
                "from another machine) unless this network is yours alone.", err=True, fg="red", bold=True)


@click.command("ui")
@workspace_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the dashboard (plain HTTP) to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to listen on; 0 picks a free one (the printed URL says which).")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in the default web browser.")
@click.option("--max-age", type=click.FloatRange(min=0), default=60.0, show_default=True, metavar="SECONDS",
              help="Read the platform again, in the background, when the data shown is older than this "
                   "(0: only when asked, with the page's refresh link).")
def ui(workspace: Workspace, host: str, port: int, open_browser: bool, max_age: float) -> None:
    """Serve a read-only web dashboard of the platform: authorizations, jobs, activity and the plan.

    Prints one line, `authctl ui: open http://127.0.0.1:PORT/?token=...`: that URL, token
    included, is the only way in (the browser then keeps a session cookie). Runs until Ctrl-C.
    Nothing in the dashboard changes the platform or the state: use the CLI for that.
    """
    from reconciler.served.server import bind
    from reconciler.ui import AccessSettings, DashboardSource, create_app
    from reconciler.ui.server import serve

    source = DashboardSource(workspace, workspace_catalog(workspace), max_age=max_age)
    try:
        source.load()
        try:
            sock = bind(host, port)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        with sock:
            bound = sock.getsockname()[1]
            token = secrets.token_urlsafe(32)
            access = AccessSettings.for_server(token, secrets.token_urlsafe(32), host, bound, _other_names(host))
            url = f"http://{_url_host(host)}:{bound}/?token={token}"

            def ready() -> None:
                if not is_loopback(host):
                    _warn_exposed(host, bound)
                click.echo(OPEN_LINE.format(url=url))
                if open_browser:
                    import webbrowser

                    webbrowser.open(url)

            serve(create_app(source, access), sock, ready=ready)
    finally:
        source.close()


COMMANDS = [ui]
