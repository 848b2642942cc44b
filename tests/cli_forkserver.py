"""A fork server for the suite's CLI runs: each ``run_cli`` is still its own process, without the imports.

Why: the suite runs ``authctl`` about a thousand times, and a fresh interpreter spends most
of a small command importing (SQLAlchemy, pydantic's models, rich, click: 0.5-0.7 s of a
0.9 s ``plan``). That was half the suite's CPU on a 2-core CI machine.

How: each pytest process starts one *zygote* (this file run as a script) that imports the
CLI's modules and then waits on a Unix socket; it never runs a command, opens a database or
starts a thread. A run sends its argv, working folder, full environment and three file
descriptors (stdin, stdout, stderr) over the socket. The zygote forks a *monitor*, the
monitor forks the *runner*, and the runner is the command: it puts the descriptors on
0/1/2, moves to the folder, replaces ``os.environ``, rebuilds ``sys.stdin/stdout/stderr``
from ``PYTHONIOENCODING`` as the interpreter would, resets signal handlers, and calls the
same ``reconciler.cli.main`` that ``python -m reconciler`` calls. Then it shuts down as an
interpreter does (non-daemon threads joined, atexit handlers, streams flushed) and exits
with the command's code. The monitor reports the runner's pid, then its exit status as
``subprocess`` does (negative: killed by that signal).

So every run is a real process with its own memory, pid, descriptors, environment and
exit status, and a crash or ``os._exit`` in one cannot touch another; what it shares is
modules imported before the fork, exactly as modules are when nothing changed on disk.
Runs that need a fresh interpreter, because the test sets ``PYTHON*`` variables
(``PYTHONPATH`` changes what is importable), fall back to ``subprocess.run``; so does
every run with ``AUTHCTL_TEST_FORKSERVER=0``. Tests that signal or kill the CLI
(``apply_support.start_cli``) and the install, packaging and start-up tests always start
a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

# The command modules of reconciler/cli/app.py, and what commands import lazily, so that no
# run imports anything big itself (importing is all the zygote does: no I/O, no threads).
PRELOAD = (
    "reconciler.cli.app", "reconciler.cli.manifest_commands", "reconciler.cli.plan_command",
    "reconciler.cli.apply_commands", "reconciler.cli.view_commands", "reconciler.cli.platform_commands",
    "reconciler.cli.state_commands", "reconciler.cli.oauth_commands", "reconciler.cli.health_commands",
    "reconciler.session", "reconciler.backends.local", "reconciler.backends.lytics", "reconciler.state.store",
    "reconciler.platform.store", "reconciler.apply.executor", "reconciler.manifest.loader",
    "reconciler.render.plan_text", "reconciler.render.plan_markdown", "reconciler.render.plan_json",
    "reconciler.served.app", "reconciler.served.server", "uvicorn", "starlette.applications",
    "sqlalchemy", "sqlalchemy.dialects.sqlite", "httpx2", "deepdiff", "jinja2", "yaml", "rich.console",
)
_HEADER = struct.Struct("!I")
_INT = struct.Struct("!i")
# Settings a forked runner cannot honour: they act when an interpreter starts.
_STARTUP_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONOPTIMIZE", "PYTHONWARNINGS",
                      "PYTHONHASHSEED", "PYTHONUTF8", "PYTHONDEVMODE", "PYTHONSAFEPATH", "PYTHONNODEBUGRANGES",
                      "PYTHONINSPECT", "PYTHONVERBOSE", "PYTHONDEBUG", "PYTHONFAULTHANDLER", "PYTHONMALLOC",
                      "PYTHONTRACEMALLOC", "PYTHONPROFILEIMPORTTIME", "PYTHONINTMAXSTRDIGITS")


# -- the client: used by conftest._run_cli ----------------------------------------------------------
class _Zygote:
    """This pytest process's zygote, started on first use; None when it could not start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket_path: str | None = None
        self._failed = False

    def socket_path(self) -> str | None:
        with self._lock:
            if self._failed:
                return None
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            return self._socket_path

    def _start(self) -> None:
        folder = tempfile.mkdtemp(prefix="authctl-zygote-")
        path = os.path.join(folder, "s")
        proc = subprocess.Popen([sys.executable, __file__, path], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        ready = proc.stdout.readline() if proc.stdout else b""
        if ready.strip() != b"ready":
            proc.kill()
            _, err = proc.communicate()
            self._failed = True
            sys.stderr.write(f"cli_forkserver: the zygote did not start, running fresh interpreters "
                             f"({ready!r} {err.decode(errors='replace')[-500:]})\n")
            return
        self._proc, self._socket_path = proc, path

    def stop(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            if self._socket_path:
                Path(self._socket_path).unlink(missing_ok=True)
                Path(self._socket_path).parent.rmdir()
            self._proc = self._socket_path = None


ZYGOTE = _Zygote()


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether a run with this environment may be forked (see module doc)."""
    if os.environ.get("AUTHCTL_TEST_FORKSERVER", "1") == "0":
        return False
    return not any(environ.get(name) != os.environ.get(name) for name in _STARTUP_VARIABLES)


def run(args: Sequence[str], *, cwd: str | os.PathLike[str] | None, environ: Mapping[str, str],
        input: str | None, timeout: float) -> subprocess.CompletedProcess[str] | None:
    """``subprocess.run`` of ``authctl ARGS``, forked from the zygote; None when there is no zygote (run fresh)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, _stdin(input) as stdin_fd:
        process = popen(args, cwd=cwd, environ=environ, stdin=stdin_fd, stdout=out.fileno(), stderr=err.fileno())
        if process is None:
            return None
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    return subprocess.CompletedProcess(process.args, code, stdout, stderr)


def popen(args: Sequence[str], *, cwd: str | os.PathLike[str] | None, environ: Mapping[str, str], stdin: int,
          stdout: int, stderr: int, start_new_session: bool = False) -> ForkedProcess | None:
    """``subprocess.Popen`` of ``authctl ARGS`` on these descriptors; None when there is no zygote."""
    path = ZYGOTE.socket_path()
    if path is None:
        return None
    request = json.dumps({"args": [str(arg) for arg in args], "cwd": os.path.abspath(cwd or os.getcwd()),
                          "env": dict(environ), "new_session": start_new_session}).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        message = _HEADER.pack(len(request)) + request
        sent = socket.send_fds(conn, [message], [stdin, stdout, stderr])
        conn.sendall(message[sent:])
        pid = _INT.unpack(_receive_exactly(conn, _INT.size))[0]
    except BaseException:
        conn.close()
        raise
    return ForkedProcess([sys.executable, "-m", "reconciler", *map(str, args)], pid, conn)


def start(args: Sequence[str], *, cwd: str | os.PathLike[str] | None, environ: Mapping[str, str], stdout: int,
          stderr: int, start_new_session: bool = True) -> ForkedProcess | subprocess.Popen[bytes]:
    """A background ``authctl ARGS`` with stdin closed: forked when it may be, else a fresh interpreter."""
    if enabled(environ):
        with open(os.devnull, "rb") as devnull:
            process = popen(args, cwd=cwd, environ=environ, stdin=devnull.fileno(), stdout=stdout, stderr=stderr,
                            start_new_session=start_new_session)
        if process is not None:
            return process
    return subprocess.Popen([sys.executable, "-m", "reconciler", *map(str, args)], cwd=cwd, env=dict(environ),
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            start_new_session=start_new_session)


class ForkedProcess:
    """The part of ``subprocess.Popen`` the tests use, for a run forked from the zygote.

    ``pid`` is the run's own pid (signal it, stop it, kill its group); the exit status
    arrives from its monitor over the connection, negative when a signal ended it.
    """

    def __init__(self, args: list[str], pid: int, conn: socket.socket) -> None:
        self.args = args
        self.pid = pid
        self.returncode: int | None = None
        self._conn = conn
        self._received = b""

    def poll(self) -> int | None:
        if self.returncode is None:
            self._conn.setblocking(False)
            try:
                self._take(self._conn.recv(_INT.size - len(self._received)))
            except BlockingIOError:
                pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._conn.settimeout(timeout)
            try:
                while self.returncode is None:
                    self._take(self._conn.recv(_INT.size - len(self._received)))
            except (TimeoutError, socket.timeout):
                raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
        return self.returncode

    def _take(self, chunk: bytes) -> None:
        if not chunk:
            raise ConnectionError(f"the fork server's monitor of pid {self.pid} ended without its exit status")
        self._received += chunk
        if len(self._received) == _INT.size:
            self.returncode = _INT.unpack(self._received)[0]
            self._conn.close()

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class _stdin:
    """The runner's stdin: ``input`` in a file (read to the end, then EOF), else this process's own."""

    def __init__(self, text: str | None) -> None:
        self._text = text
        self._file: object | None = None

    def __enter__(self) -> int:
        if self._text is None:
            return 0
        file = tempfile.TemporaryFile()
        file.write(self._text.encode("utf-8"))
        file.seek(0)
        self._file = file
        return file.fileno()

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()  # type: ignore[attr-defined]


def _receive_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the fork server closed the connection before the run's exit status")
        data += chunk
    return data


# -- the zygote, the monitor and the runner: run as a script ------------------------------------------
def _serve(path: str) -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1:  # forking a process with threads is unsafe: run fresh instead
        sys.stdout.write(f"threads after preloading: {threading.enumerate()}\n")
        sys.stdout.flush()
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    parent = os.getppid()
    listener.settimeout(1.0)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the pytest process is gone (killed, timed out): so is the zygote
                Path(path).unlink(missing_ok=True)
                os.rmdir(os.path.dirname(path))
                os._exit(0)
            continue
        conn.settimeout(None)
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _monitor(conn)
        conn.close()


def _monitor(conn: socket.socket) -> None:
    """Fork the runner, report its pid, wait for it, report its exit status; never returns."""
    code = 1
    try:
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        (size,) = _HEADER.unpack(data[:_HEADER.size])
        body = data[_HEADER.size:]
        while len(body) < size:
            body += _receive_exactly(conn, size - len(body))
        request = json.loads(body)
        runner = os.fork()
        if runner == 0:
            conn.close()
            _runner(request, fds)
        for fd in fds:
            os.close(fd)
        conn.sendall(_INT.pack(runner))
        _, status = os.waitpid(runner, 0)
        conn.sendall(_INT.pack(os.waitstatus_to_exitcode(status)))
        code = 0
    finally:
        os._exit(code)


def _runner(request: dict, fds: list[int]) -> None:
    """Become ``python -m reconciler ARGS`` in the requested folder and environment; never returns."""
    import atexit
    import io

    if request.get("new_session"):
        os.setsid()  # as Popen(start_new_session=True): killpg(pid) reaches the run and what it forks

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    encoding, _, errors = os.environ.get("PYTHONIOENCODING", "").partition(":")
    encoding = encoding or "utf-8"

    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))

    def stream(fd: int, mode: str, errors_default: str) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buffered, encoding=encoding, errors=errors or errors_default,
                                line_buffering=fd == 2 or (fd == 1 and raw.isatty()),
                                write_through=fd == 2 or (fd == 1 and unbuffered))

    sys.stdin = sys.__stdin__ = stream(0, "r", "strict")
    sys.stdout = sys.__stdout__ = stream(1, "w", "strict")
    sys.stderr = sys.__stderr__ = stream(2, "w", "backslashreplace")
    import importlib.util

    spec = importlib.util.find_spec("reconciler.__main__")  # not imported: importing it runs the CLI
    sys.argv = [spec.origin if spec and spec.origin else "authctl", *request["args"]]
    sys.path[0] = request["cwd"]  # what `python -m` puts first
    from reconciler.cli import main

    try:
        code = _exit_code(main())
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # an uncaught exception: the interpreter prints it and exits 1
        import traceback

        traceback.print_exc()
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads, as at exit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 120
    finally:
        os._exit(code)


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    sys.stderr.write(f"{value}\n")
    return 1


if __name__ == "__main__":
    os.chdir("/")
    sys.path[0] = os.path.dirname(os.path.abspath(__file__))
    _serve(sys.argv[1])
