"""Database engines shared by the embedded platform and the state store.

Any SQLAlchemy URL works; SQLite files get WAL and IMMEDIATE write transactions,
and connection failures become clear errors instead of driver tracebacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import stamina
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError


READ_ONLY = "authctl_read_only"  # execution option: this transaction only reads


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: consistent, and on SQLite a plain BEGIN (no write lock)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield conn


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
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
    return isinstance(exc, IntegrityError) or "locked" in str(exc)


def initialise_with_retry(initialise: Callable[[], None]) -> None:
    """Run a store's create-or-check step, retrying while another process creates the same database.

    Two processes opening a brand-new SQLite file at once race to switch it to WAL and
    create its tables; the loser may get "database is locked" at once (SQLite does not
    call the busy handler for that upgrade) or a duplicate-key error. Both go away as
    soon as the winner commits, so retry briefly with backoff (bounded: 40 tries, 20 s).
    """
    for attempt in stamina.retry_context(on=_creation_race, attempts=40, timeout=20.0, wait_initial=0.02,
                                         wait_max=0.5, wait_jitter=0.05):
        with attempt:
            initialise()
