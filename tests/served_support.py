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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

import cli_forkserver

from apply_support import cli_env

LISTENING = re.compile(r"^authctl platform serve: listening on (http://\S+)$", re.MULTILINE)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass
class Served:
    """A running (or finished) ``authctl platform serve``."""

    url: str
    token: str = field(repr=False)
    process: subprocess.Popen[bytes] | cli_forkserver.ForkedProcess
    stdout_path: Path
    stderr_path: Path
    _final: tuple[str, str] | None = None

    def output(self) -> tuple[str, str]:
        """``(stdout, stderr)`` so far; after the block, everything the server wrote."""
        if self._final is not None:
            return self._final
        return _read(self.stdout_path), _read(self.stderr_path)

    def client(self, *, token: str | None = None, timeout: float = 10.0) -> httpx2.Client:
        """An httpx2 client on the server with ``Authorization: <token>`` (this server's unless given)."""
        return httpx2.Client(base_url=self.url, headers={"Authorization": self.token if token is None else token},
                             timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; its exit code (kills the group and fails if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _kill_group(self.process)
                raise AssertionError(f"authctl platform serve did not stop within {STOP_TIMEOUT}s of {sig!r}")
        return self.process.returncode


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


def server_env(token: str | None, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment the server runs with: ours, the token in LYTICS_API_TOKEN, no key from the developer."""
    return cli_env({"LYTICS_API_TOKEN": token, **(extra or {})})  # None removes a variable


@contextmanager
def serve_platform(workspace_root: Path, *, token: str, extra_args: Sequence[str] = (),
                   env: Mapping[str, str | None] | None = None) -> Iterator[Served]:
    """Start the server for ``workspace_root``, yield it once it listens, stop it with SIGTERM (exit 0 asserted)."""
    with tempfile.TemporaryDirectory(prefix="authctl-serve-") as logs:
        stdout_path, stderr_path = Path(logs) / "stdout.txt", Path(logs) / "stderr.txt"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = cli_forkserver.start(
                ["platform", "serve", "-w", str(workspace_root), "--port", "0", *extra_args], cwd=None,
                environ=server_env(token, env), stdout=out.fileno(), stderr=err.fileno())
        served = Served("", token, process, stdout_path, stderr_path)
        try:
            served.url = _wait_for_url(served)
        except BaseException:
            _kill_group(process)
            raise
        failed = False
        try:
            yield served
        except BaseException:
            failed = True
            raise
        finally:
            try:
                code = served.stop()
            finally:
                served._final = (_read(stdout_path), _read(stderr_path))
            if not failed:
                assert code == 0, f"authctl platform serve exited {code}:\n{served._final[1]}"


def _wait_for_url(served: Served) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = LISTENING.search(_read(served.stdout_path))
        if found:
            return found.group(1)
        if served.process.poll() is not None:
            out, err = served.output()
            raise AssertionError(f"authctl platform serve exited {served.process.returncode} before listening:\n"
                                 f"{out}{err}")
        time.sleep(0.02)
    raise AssertionError(f"authctl platform serve printed no URL within {START_TIMEOUT}s:\n{''.join(served.output())}")
