"""Group commit: many threads' small writes, committed together, each caller still told only once its own is durable.

Apply journals every platform call twice (the intent before it, the outcome after), each
in its own transaction, from ``--parallelism`` threads at once. A database has one writer
at a time, so at 16 threads the journal, not the network, set the pace: 1,000 creates
queued 2,000 commits one behind the other. Here the first caller to find the database
free becomes the leader and commits every write queued so far in one transaction; the
others wait for that commit and return. Each caller's promise is unchanged: when
:meth:`GroupCommit.write` returns, its rows are committed (an intent is durable before the
call it announces is made); when it raises, they are not.

A batch whose transaction fails is retried one write per transaction, so one write that
breaks a rule (a duplicate key) fails alone and the others land as they would have
alone. Writes are applied in the order they arrived.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from reconciler.db import Database

Write = Callable[["Connection"], None]


class _Queued:
    __slots__ = ("write", "finished", "error")

    def __init__(self, write: Write) -> None:
        self.write = write
        self.finished = False
        self.error: BaseException | None = None


class GroupCommit:
    """Writes to ``database`` from many threads, committed in batches (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queue: list[_Queued] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()  # held by whoever is committing a batch
        self.transactions = 0  # committed or attempted; tests read it

    def write(self, write: Write) -> None:
        """Run ``write(conn)`` in a transaction, possibly shared with other threads' writes; return once committed."""
        queued = _Queued(write)
        with self._queue_lock:
            self._queue.append(queued)
        with self._leader:
            if not queued.finished:  # no leader took it yet: lead, committing all that queued meanwhile
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if queued.error is not None:
            raise queued.error

    def _commit(self, batch: list[_Queued]) -> None:
        try:
            self._run(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # find whose write broke it: each alone, in order
                for queued in batch:
                    try:
                        self._run([queued])
                    except Exception as single:  # noqa: BLE001 - handed to its own caller
                        queued.error = single
        except BaseException as exc:  # interrupted: no write of the batch is known to be committed
            for queued in batch:
                queued.error = exc
            raise
        finally:
            for queued in batch:
                queued.finished = True

    def _run(self, batch: list[_Queued]) -> None:
        self.transactions += 1
        with self._database.write() as conn:
            for queued in batch:
                queued.write(conn)
