"""The apply lock of one state namespace: a row on SQLite, a PostgreSQL advisory lock on a server.

Both keep a *record* in the ``locks`` table (who, host, pid, operation, since, lock id), so
that a waiting or refused run can name the holder and ``authctl force-unlock`` has an id
to check. What decides who holds the lock differs:

- :class:`RowLock` (SQLite): the record is the lock. A record left by a process that is
  gone from this host is taken over, so kill -9 does not leave the workspace stuck; one
  from another host is never guessed about (that is what ``force-unlock`` is for).
- :class:`AdvisoryLock` (PostgreSQL): the lock is a session-level advisory lock, held on a
  connection of its own for as long as the apply runs. The server releases it when that
  connection ends, however the holder died (SIGKILL, a crashed CI runner on another host:
  the lock session asks the server for TCP keepalives so a host that vanished is noticed
  too). A record whose advisory lock is free is therefore stale and is replaced without
  ``force-unlock``. Waiting happens in the server (``pg_advisory_lock`` under
  ``lock_timeout``), which wakes the waiter the moment the holder lets go.

Advisory locks are per database and per session, so the store must be reached directly or
through a pooler in session mode (a transaction-mode pooler would hand the session to others).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from reconciler.clock import as_utc, utc_now
from reconciler.errors import LockHeldError, LockLostError, StateError
from reconciler.state.records import LockInfo, namespace_words
from reconciler.state.schema import locks

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from reconciler.db import Database

_POLL_SECONDS = 0.2
_RECORD_WAIT_SECONDS = 2.0  # a holder writes its record right after taking the lock; wait that long to name it
# Server-side TCP keepalives of the lock session: a holder whose host vanished is dropped in about a minute.
_KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ends a wait


def lock_for(db: Database, namespace: str, on_failure: Callable[[Exception, bool], Exception]) -> RowLock:
    """The lock kind for the store's database."""
    return AdvisoryLock(db, namespace, on_failure) if db.dialect == "postgresql" else RowLock(db, namespace)


def advisory_key(name: str, namespace: str, purpose: str = "lock") -> int:
    """The 64-bit advisory lock key of a lock name in a namespace (stable across processes and versions)."""
    digest = hashlib.sha256(f"authctl-state-{purpose}\0{namespace}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# Held for one transaction by whoever creates or upgrades the tables (StateStore.open), so one does it.
SCHEMA_CHANGE_KEY = advisory_key("schema", "", purpose="schema")


def _locked_message(namespace: str, holder: LockInfo) -> str:
    where = f" ({namespace_words(namespace)})" if namespace else ""
    return f"the state is locked{where}: {holder.describe()}"


class RowLock:
    """The lock as a row (SQLite): see the module docstring."""

    def __init__(self, db: Database, namespace: str) -> None:
        self._db = db
        self.namespace = namespace

    def _key(self, name: str) -> Any:
        return (locks.c.namespace == self.namespace) & (locks.c.name == name)

    def _record(self, conn: Connection, name: str) -> LockInfo | None:
        row = conn.execute(select(locks).where(self._key(name))).mappings().first()
        return lock_info(row) if row else None

    def _new_info(self, operation: str, holder: str) -> LockInfo:
        return LockInfo(str(uuid.uuid4()), holder, socket.gethostname(), os.getpid(), operation, utc_now())

    def current(self, name: str) -> LockInfo | None:
        with self._db.read() as conn:
            return self._record(conn, name)

    def acquire(self, operation: str, *, holder: str, timeout: float, name: str) -> LockInfo:
        deadline = time.monotonic() + timeout
        info = self._new_info(operation, holder)
        while True:
            try:
                with self._db.write() as conn:
                    current = self._record(conn, name)
                    if current is not None and _is_orphaned(current):
                        conn.execute(delete(locks).where(self._key(name) & (locks.c.lock_id == current.lock_id)))
                        current = None
                    if current is None:
                        conn.execute(insert(locks).values(namespace=self.namespace, name=name, **info.__dict__))
                        return info
            except IntegrityError:
                continue  # another process inserted its lock at the same moment; read whose
            if time.monotonic() >= deadline:
                raise LockHeldError(_locked_message(self.namespace, current), lock_id=current.lock_id,
                                    holder=current.holder)
            time.sleep(_POLL_SECONDS)

    def check_held(self, lock_id: str, name: str) -> None:
        """Nothing to check: the record is the lock, and only force-unlock (a person's act) removes it."""

    def release(self, lock_id: str, name: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(locks).where(self._key(name) & (locks.c.lock_id == lock_id)))

    def force_unlock(self, lock_id: str, name: str) -> LockInfo:
        """Remove the record if ``lock_id`` matches; the id guards against removing a newer lock."""
        with self._db.write() as conn:
            current = self._checked_record(conn, lock_id, name)
            conn.execute(delete(locks).where(self._key(name)))
        return current

    def _checked_record(self, conn: Connection, lock_id: str, name: str) -> LockInfo:
        current = self._record(conn, name)
        if current is None:
            raise StateError("the state is not locked" + (f" ({namespace_words(self.namespace)})"
                                                          if self.namespace else ""))
        if current.lock_id != lock_id:
            raise StateError(f"lock id {lock_id} does not match the current lock ({current.describe()})")
        return current

    def close(self) -> None:
        """Nothing to let go: a row lock lives in the database only."""


class AdvisoryLock(RowLock):
    """The lock as a PostgreSQL session-level advisory lock, plus the record: see the module docstring."""

    def __init__(self, db: Database, namespace: str, on_failure: Callable[[Exception, bool], Exception]) -> None:
        super().__init__(db, namespace)
        self._on_failure = on_failure
        self._sessions: dict[tuple[str, str], Connection] = {}  # (name, lock_id) -> the session holding it
        self._checks: dict[tuple[str, str], threading.Lock] = {}  # one check at a time per session
        self._guard = threading.Lock()
        self._engine: Engine | None = None

    def _session(self) -> Connection:
        """A connection of its own (never from the pool, which others share), in autocommit."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from reconciler.db import server_connect_args

        with self._guard:
            if self._engine is None:
                self._engine = create_engine(self._db.url, poolclass=NullPool,
                                             connect_args=server_connect_args(self._db.url))
            engine = self._engine
        try:
            conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            for setting, value in _KEEPALIVES.items():
                conn.execute(text(f"SET {setting} = {int(value)}"))
        except DBAPIError as exc:
            raise self._on_failure(exc, False) from None
        return conn

    def acquire(self, operation: str, *, holder: str, timeout: float, name: str) -> LockInfo:
        key = advisory_key(name, self.namespace)
        session = self._session()
        try:
            if not self._take(session, key, timeout):
                raise self._held_error(name)
            info = self._new_info(operation, holder)
            with self._db.write() as conn:  # a record still there is stale: its holder's lock was free
                conn.execute(delete(locks).where(self._key(name)))
                conn.execute(insert(locks).values(namespace=self.namespace, name=name, **info.__dict__))
        except BaseException:
            session.close()  # ends the session: the server lets go of the lock if it was taken
            raise
        with self._guard:
            self._sessions[(name, info.lock_id)] = session
        return info

    def _take(self, session: Connection, key: int, timeout: float) -> bool:
        """Take the advisory lock on ``session``; False when another session holds it past ``timeout``."""
        try:
            if timeout <= 0:
                return bool(session.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
            session.execute(text(f"SET lock_timeout = {max(1, int(timeout * 1000))}"))
            session.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            return True
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                return False
            raise self._on_failure(exc, False) from None

    def _held_error(self, name: str) -> LockHeldError:
        """Who holds the lock, from its record (written by the holder just after it took the lock)."""
        deadline = time.monotonic() + _RECORD_WAIT_SECONDS
        while True:
            current = self.current(name)
            if current is not None or time.monotonic() >= deadline:
                break
            time.sleep(_POLL_SECONDS / 4)
        hint = ("the server releases the lock as soon as the holder's connection ends (when it finishes, "
                "is stopped, or its host goes away), so no force-unlock is needed; wait for it with --lock-timeout")
        if current is None:
            return LockHeldError("the state is locked by another process that has not recorded who it is",
                                 hint=hint)
        return LockHeldError(_locked_message(self.namespace, current), lock_id=current.lock_id,
                             holder=current.holder, hint=hint)

    def current(self, name: str) -> LockInfo | None:
        """The record, when its advisory lock is held (a record whose lock is free is stale: None)."""
        with self._db.read() as conn:
            record = self._record(conn, name)
            if record is None or _holder_backend(conn, advisory_key(name, self.namespace)) is None:
                return None
        return record

    def check_held(self, lock_id: str, name: str) -> None:
        """Raise LockLostError unless the session holding the lock is still connected.

        The server releases an advisory lock when its session ends, which a network blip or
        an administrator's ``pg_terminate_backend`` can do in the middle of an apply; from
        then on another apply may take the lock. Apply calls this before every change (one
        round trip on the lock session), so it stops instead of racing that apply.
        """
        with self._guard:
            session = self._sessions.get((name, lock_id))
            checker = self._checks.setdefault((name, lock_id), threading.Lock())
        if session is None:
            raise LockLostError(f"the apply lock {lock_id} is not held by this process")
        with checker:  # one connection, several apply threads
            try:
                session.execute(text("SELECT 1"))
            except DBAPIError:
                raise LockLostError(
                    f"the apply lock {lock_id} was lost: the PostgreSQL session holding it ended (a network "
                    "failure, or the server or an administrator closed it); another apply may now hold it, so "
                    "nothing more is changed",
                    hint="run the apply again: it finishes what this one started (the journal records it)") from None

    def release(self, lock_id: str, name: str) -> None:
        with self._guard:
            session = self._sessions.pop((name, lock_id), None)
            self._checks.pop((name, lock_id), None)
        try:
            super().release(lock_id, name)
        finally:
            if session is not None:
                _end_session(session, advisory_key(name, self.namespace))

    def force_unlock(self, lock_id: str, name: str) -> LockInfo:
        """Remove a stale record; a lock whose holder is still connected cannot be removed from here."""
        with self._guard:
            ours = (name, lock_id) in self._sessions
        if ours:
            with self._db.read() as conn:
                current = self._checked_record(conn, lock_id, name)
            self.release(lock_id, name)
            return current
        with self._db.write() as conn:
            current = self._checked_record(conn, lock_id, name)
            backend = _holder_backend(conn, advisory_key(name, self.namespace))
            if backend is not None:
                raise StateError(
                    f"the lock {lock_id} is held by a process still connected to the PostgreSQL server "
                    f"(server process {backend}): {current.describe()}",
                    hint="stop that process (the server releases its lock when its connection ends), or have "
                         f"a database administrator end its session: SELECT pg_terminate_backend({backend})")
            conn.execute(delete(locks).where(self._key(name)))
        return current

    def close(self) -> None:
        with self._guard:
            sessions, self._sessions = list(self._sessions.values()), {}
            engine, self._engine = self._engine, None
        for session in sessions:
            session.close()
        if engine is not None:
            engine.dispose()


def _holder_backend(conn: Connection, key: int) -> int | None:
    """The server process id of the session holding advisory lock ``key`` in this database, or None."""
    row = conn.execute(text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid::bigint = :high AND objid::bigint = :low"),
        {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}).first()
    return int(row[0]) if row else None


def _end_session(session: Connection, key: int) -> None:
    """Let go of the lock, then of its connection (closing alone would do; unlocking first says so at once)."""
    try:
        session.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    except DBAPIError:
        pass  # the connection is gone already, and with it the lock
    finally:
        session.close()


def lock_info(row: Any) -> LockInfo:
    return LockInfo(row["lock_id"], row["holder"], row["host"], row["pid"], row["operation"], as_utc(row["since"]))


def _is_orphaned(lock: LockInfo) -> bool:
    """True when the holder ran on this host and its process no longer exists."""
    if lock.host != socket.gethostname():
        return False
    try:
        os.kill(lock.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
