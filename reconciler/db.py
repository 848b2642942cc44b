"""Database access shared by the embedded platform and the state store.

Any SQLAlchemy URL works; SQLite files get WAL and IMMEDIATE write transactions.
:class:`Database` gives both stores the same two transaction shapes (write, read-only)
and turns a driver's operational failure into the store's own clear error instead of a
traceback with SQL in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy is imported by what uses it: `plan` on SQLite reads without it
    from sqlalchemy import Connection, Engine
    from sqlalchemy.exc import OperationalError


READ_ONLY = "authctl_read_only"  # execution option: this transaction only reads


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: consistent, and on SQLite a plain BEGIN (no write lock)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield conn


class Database:
    """An engine plus the transactions a store runs on it.

    ``on_failure`` turns an :class:`OperationalError` (locked, unreadable, gone) into the
    store's own error; it receives the error and whether the transaction only read.
    """

    def __init__(self, url: str, on_failure: Callable[[OperationalError, bool], Exception]) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._on_failure = on_failure

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite: BEGIN IMMEDIATE, so check-then-write rules hold)."""
        from sqlalchemy.exc import OperationalError

        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise self._on_failure(exc, False) from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: consistent, and no write lock on SQLite."""
        from sqlalchemy.exc import OperationalError

        try:
            with read_transaction(self.engine) as conn:
                yield conn
        except OperationalError as exc:
            raise self._on_failure(exc, True) from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


class SqliteReadConnection:
    """A stdlib connection to an existing SQLite file, for reads that must not pay for SQLAlchemy.

    The read paths every `plan` takes (the state store's managed objects, the platform's
    snapshot) use it; ``on_failure(text)`` turns a driver error into the store's own error.
    The file is never created (``mode=rw``), and each :meth:`read` is one transaction: a
    consistent view, without the write lock under WAL.
    """

    def __init__(self, path: Path, on_failure: Callable[[str], Exception]) -> None:
        import sqlite3

        self._on_failure = on_failure
        self._errors = sqlite3.Error
        try:
            # isolation_level=None: we say BEGIN ourselves; the URI keeps odd characters in paths literal.
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                                         timeout=30, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise on_failure(str(exc)) from None

    def read(self, work: Callable[[Any], Any]) -> Any:
        """``work(connection)`` in one read transaction."""
        try:
            self._conn.execute("BEGIN")
            try:
                return work(self._conn)
            finally:
                self._conn.execute("COMMIT")
        except self._errors as exc:
            raise self._on_failure(str(exc)) from None

    def close(self) -> None:
        self._conn.close()


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite URL, or None for other databases and in-memory SQLite."""
    scheme, sep, rest = url.partition("://")
    if sep and not scheme.startswith("sqlite"):
        return None
    if sep and scheme == "sqlite" and rest.startswith("/") and not any(c in rest for c in "?%"):
        path = rest[1:]  # the plain form every workspace URL has: no need to import SQLAlchemy
        return Path(path) if path and path != ":memory:" else None
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    if sqlite_path(url) is not None:
        return url  # a file has no password
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(invalid database URL)"


def make_engine(url: str) -> Engine:
    """An engine whose SQLite connections use WAL and IMMEDIATE write transactions.

    pysqlite's default deferred BEGIN lets two writers read the same rows and then
    fail on upgrade; IMMEDIATE takes the write lock up front so check-then-write
    rules (unique labels, the delete guard) hold across processes.
    """
    from sqlalchemy import create_engine, event

    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {
        "pool_pre_ping": True}
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            # Reads (snapshots, reference checks) need no write lock under WAL: a plain
            # BEGIN lets them run beside a writer instead of queueing behind it.
            read_only = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
    return engine


def _creation_race(exc: Exception) -> bool:
    from sqlalchemy.exc import IntegrityError

    return isinstance(exc, IntegrityError) or "locked" in str(exc)


def initialise_with_retry(initialise: Callable[[], None]) -> None:
    """Run a store's create-or-check step, retrying while another process creates the same database.

    Two processes opening a brand-new SQLite file at once race to switch it to WAL and
    create its tables; the loser may get "database is locked" at once (SQLite does not
    call the busy handler for that upgrade) or a duplicate-key error. Both go away as
    soon as the winner commits, so retry briefly with backoff (bounded: 40 tries, 20 s).
    """
    try:
        initialise()
        return
    except Exception as exc:  # noqa: BLE001 - only a creation race is retried; anything else goes up as is
        if not _creation_race(exc):
            raise
    import stamina  # imported only on a race: the first try nearly always succeeds

    for attempt in stamina.retry_context(on=_creation_race, attempts=40, timeout=20.0, wait_initial=0.02,
                                         wait_max=0.5, wait_jitter=0.05):
        with attempt:
            initialise()
