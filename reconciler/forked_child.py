"""A computation done in a forked child, its result pickled back through a pipe.

The manifest loader (reconciler/manifest/loader.py) and export's YAML writer
(reconciler/export/forked.py) both split pure, CPU-bound work with a forked child on a
second CPU. The child never returns into the caller's code: it ends with ``os._exit``, so
it runs no cleanup, flushes no inherited buffer and touches no inherited connection, and it
pauses the cyclic garbage collector (it exits right after). A child that fails (killed,
out of memory, an exception, an answer that does not unpickle) is not an error: ``result``
is None and the caller does that part itself. Fork only where it is safe: the callers
check there is one thread.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")


class ForkedChild(Generic[R]):
    """``work()`` running in a forked child from construction; :meth:`result` waits for it."""

    def __init__(self, work: Callable[[], R]) -> None:
        read_fd, write_fd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child
            status = 1
            try:
                os.close(read_fd)
                gc.disable()
                payload = pickle.dumps(work(), pickle.HIGHEST_PROTOCOL)
                with open(write_fd, "wb") as pipe:
                    pipe.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write_fd)
        self._pipe = open(read_fd, "rb")  # noqa: SIM115 - closed in stop()

    def result(self) -> R | None:
        """The child's result, or None if it failed (the caller then does the work itself)."""
        try:
            payload = self._pipe.read()
            _, status = os.waitpid(self.pid, 0)
            self.pid = 0
            return pickle.loads(payload) if status == 0 else None  # noqa: S301 - our own child
        except Exception:  # noqa: BLE001 - any failure here just means "do it here"
            return None

    def stop(self) -> None:
        """Close the pipe; kill and reap the child if it is still there (an early exit)."""
        self._pipe.close()
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0
