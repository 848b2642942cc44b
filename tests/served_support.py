"""``serve_platform``: run ``authctl platform serve`` for a workspace as a real subprocess, for tests.

Importable as ``served_support`` (pytest puts ``tests/`` on ``sys.path``)::

    with serve_platform(workspace_root, token="t0k") as served:
        client = served.client()          # httpx2.Client on served.url with the token header
        client.get("/v2/auth")
    served.output()                       # (stdout, stderr) of the whole run

The server listens on 127.0.0.1 and a free port (``--port 0``); the URL comes from the one
line it prints. The token reaches it through ``LYTICS_API_TOKEN`` (never the command line).
Leaving the block sends SIGTERM and asserts a clean exit (code 0) unless the block raised;
a server that does not stop in time is killed with its process group and the test fails.
Parallel-safe under pytest-xdist: nothing is shared but the machine's free ports.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx2

import cli_forkserver

from apply_support import cli_env

LISTENING = re.compile(r"^authctl platform serve: listening on (http://\S+)$", re.MULTILINE)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass
class CliServer:
    """A running (or finished) authctl server command (``platform serve``, ``ui``) started by :func:`cli_server`."""

    url: str
    process: subprocess.Popen[bytes] | cli_forkserver.ForkedProcess
    stdout_path: Path
    stderr_path: Path
    what: str = "authctl"  # for messages: "authctl platform serve", "authctl ui"
    _final: tuple[str, str] | None = field(default=None, repr=False)

    def output(self) -> tuple[str, str]:
        """``(stdout, stderr)`` so far; after the block, everything the server wrote."""
        if self._final is not None:
            return self._final
        return _read(self.stdout_path), _read(self.stderr_path)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; its exit code (kills the group and fails if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _kill_group(self.process)
                raise AssertionError(f"{self.what} did not stop within {STOP_TIMEOUT}s of {sig!r}")
        return self.process.returncode


@dataclass
class Served(CliServer):
    """A running (or finished) ``authctl platform serve``."""

    token: str = field(default="", repr=False)

    def client(self, *, token: str | None = None, timeout: float = 10.0) -> httpx2.Client:
        """An httpx2 client on the server with ``Authorization: <token>`` (this server's unless given)."""
        return httpx2.Client(base_url=self.url, headers={"Authorization": self.token if token is None else token},
                             timeout=timeout)


S = TypeVar("S", bound=CliServer)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _kill_group(process: subprocess.Popen[bytes] | cli_forkserver.ForkedProcess) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@contextmanager
def cli_server(args: Sequence[str], *, environ: Mapping[str, str], url_line: re.Pattern[str],
               make: Callable[..., S], start_timeout: float = START_TIMEOUT) -> Iterator[S]:
    """``authctl ARGS`` in its own session until the block ends; yields ``make(...)`` once it printed its URL.

    The URL is group 1 of ``url_line`` in its stdout. Leaving the block sends SIGTERM and
    asserts exit 0 unless the block raised; one that does not stop in time is killed with
    its process group and the test fails.
    """
    with tempfile.TemporaryDirectory(prefix="authctl-server-") as logs:
        stdout_path, stderr_path = Path(logs) / "stdout.txt", Path(logs) / "stderr.txt"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = cli_forkserver.start(args, cwd=None, environ=environ, stdout=out.fileno(),
                                           stderr=err.fileno())
        server = make(url="", process=process, stdout_path=stdout_path, stderr_path=stderr_path)
        try:
            server.url = _wait_for_url(server, url_line, start_timeout)
        except BaseException:
            _kill_group(process)
            raise
        failed = False
        try:
            yield server
        except BaseException:
            failed = True
            raise
        finally:
            try:
                code = server.stop()
            finally:
                server._final = (_read(stdout_path), _read(stderr_path))
            if not failed:
                assert code == 0, f"{server.what} exited {code}:\n{server._final[1]}"


def _wait_for_url(server: CliServer, url_line: re.Pattern[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = url_line.search(_read(server.stdout_path))
        if found:
            return found.group(1)
        if server.process.poll() is not None:
            out, err = server.output()
            raise AssertionError(f"{server.what} exited {server.process.returncode} before listening:\n{out}{err}")
        time.sleep(0.02)
    raise AssertionError(f"{server.what} printed no URL within {timeout}s:\n{''.join(server.output())}")


def server_env(token: str | None, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment the server runs with: ours, the token in LYTICS_API_TOKEN, no key from the developer."""
    return cli_env({"LYTICS_API_TOKEN": token, **(extra or {})})  # None removes a variable


@contextmanager
def serve_platform(workspace_root: Path, *, token: str, extra_args: Sequence[str] = (),
                   env: Mapping[str, str | None] | None = None) -> Iterator[Served]:
    """Start the server for ``workspace_root``, yield it once it listens, stop it with SIGTERM (exit 0 asserted)."""
    with cli_server(["platform", "serve", "-w", str(workspace_root), "--port", "0", *extra_args],
                    environ=server_env(token, env), url_line=LISTENING,
                    make=lambda **kw: Served(**kw, what="authctl platform serve", token=token)) as served:
        yield served

