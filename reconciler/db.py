"""Database access shared by the embedded platform and the state store.

Any SQLAlchemy URL works; SQLite files get WAL and IMMEDIATE write transactions.
:class:`Database` gives both stores the same two transaction shapes (write, read-only)
and turns a driver's failure into the store's own clear error instead of a traceback with
SQL in it (:func:`describe_failure` words every such error the same way for both stores).

SQLite files hold secrets (the state's fingerprint key, the platform's sealed credentials),
so the folders authctl creates for them are 0700 and the files 0600, created so before
SQLite writes a byte (SQLite gives its -wal, -shm and -journal files the database's mode);
an existing folder or file that is more open gets one warning naming the ``chmod`` that fixes it.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy is imported by what uses it: `plan` on SQLite reads without it
    from sqlalchemy import Connection, Engine

PRIVATE_DIR_NAME = ".authctl"  # workspace.DATA_DIR: authctl's own folder; warned about when open to others
SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")


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

    ``on_failure`` turns a driver error (locked, corrupt, read-only, gone) into the store's
    own error; it receives the error and whether the transaction only read. Integrity
    errors (a duplicate key) are not failures of the database: they reach the caller as
    they are, because only the caller knows which rule was broken. An engine that cannot be
    made (an unknown driver, a folder that cannot be created) goes to ``on_failure`` too.
    """

    def __init__(self, url: str, on_failure: Callable[[Exception, bool], Exception]) -> None:
        self.url = url
        self._on_failure = on_failure
        try:
            self.engine = make_engine(url)
        except (OSError, ImportError, ValueError) as exc:
            raise on_failure(exc, False) from None
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if not isinstance(exc, SQLAlchemyError):
                raise
            raise on_failure(exc, False) from None
        # SQLite has one writer at a time. Threads of this process that queue on BEGIN
        # IMMEDIATE wait in SQLite's busy handler, which sleeps in steps of up to 100 ms
        # instead of waking when the lock is free: an apply at --parallelism 16 spent most of
        # its time there (journal rows). Queued here, the next writer starts as soon as the
        # last commits. Other processes still meet busy_timeout.
        self._writers: AbstractContextManager[Any] = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else nullcontext())

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite: BEGIN IMMEDIATE, so check-then-write rules hold)."""
        from sqlalchemy.exc import DBAPIError, IntegrityError

        try:
            with self._writers, self.engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            if isinstance(exc, IntegrityError):
                raise
            raise self._on_failure(exc, False) from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: consistent, and no write lock on SQLite."""
        from sqlalchemy.exc import DBAPIError, IntegrityError

        try:
            with read_transaction(self.engine) as conn:
                yield conn
        except DBAPIError as exc:
            if isinstance(exc, IntegrityError):
                raise
            raise self._on_failure(exc, True) from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


class SqliteReadConnection:
    """A stdlib connection to an existing SQLite file, for reads that must not pay for SQLAlchemy.

    The read paths every `plan` takes (the state store's managed objects, the platform's
    snapshot) use it; ``on_failure(error)`` turns a driver or file error into the store's
    own error (word it with :func:`describe_failure`). The file is never created
    (``mode=rw``), and each :meth:`read` is one transaction: a consistent view, without the
    write lock under WAL.

    In a folder this process cannot write, SQLite cannot create the WAL index (-shm) that
    every read of a WAL database needs; nobody can write the database there either, so it
    is then read as an immutable file (or plainly read-only while a -wal file is left over):
    `plan` and `status` work on a read-only checkout, only `apply` needs to write.
    """

    def __init__(self, path: Path, on_failure: Callable[[Exception], Exception]) -> None:
        import sqlite3

        self._on_failure = on_failure
        self._errors = sqlite3.Error
        warn_if_open_to_others(path)
        try:
            uri = path.resolve().as_uri()  # the URI keeps odd characters in paths literal
            try:
                self._conn = _sqlite_read_connection(f"{uri}?mode=rw")
            except sqlite3.OperationalError:
                if _writable_folder(path):
                    raise
                wal = path.with_name(path.name + "-wal")
                left_over = wal.exists() and wal.stat().st_size > 0
                self._conn = _sqlite_read_connection(f"{uri}?mode=ro" if left_over else f"{uri}?mode=ro&immutable=1")
        except (sqlite3.Error, OSError) as exc:
            raise on_failure(exc) from None

    def read(self, work: Callable[[Any], Any]) -> Any:
        """``work(connection)`` in one read transaction."""
        try:
            self._conn.execute("BEGIN")
            try:
                return work(self._conn)
            finally:
                self._conn.execute("COMMIT")
        except self._errors as exc:
            raise self._on_failure(exc) from None

    def close(self) -> None:
        self._conn.close()


def _sqlite_read_connection(uri: str) -> Any:
    """A stdlib connection that has read the schema once (so a folder it cannot use fails here)."""
    import sqlite3

    # isolation_level=None: we say BEGIN ourselves.
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA schema_version").fetchone()  # the first read: needs the WAL index
    except BaseException:
        conn.close()
        raise
    return conn


def _writable_folder(path: Path) -> bool:
    try:
        return os.access(path.parent, os.W_OK | os.X_OK)
    except OSError:
        return False


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
    except (ArgumentError, ValueError):  # (a port that is not a number is a ValueError)
        return "(invalid database URL)"


def display_name(url: str) -> str:
    """How messages name a database: a SQLite file by its path, anything else by its URL (password hidden)."""
    try:
        path = sqlite_path(url)
    except Exception:  # noqa: BLE001 - an unparseable URL: say so instead of naming it
        path = None
    return str(path) if path is not None else redact_url(url)


_CORRUPT = ("malformed", "not a database", "file is encrypted", "disk image", "database corrupt")


def describe_failure(what: str, url: str, problem: BaseException, *, read_only: bool = False) -> str:
    """A database failure as one sentence: ``what`` (e.g. "the state store"), the file or URL, and the cause.

    Never SQL or parameters: only the driver's first line, and for SQLite files the reason
    found by looking at the file (a directory, a folder it cannot enter or write, ...).
    """
    where = display_name(url)
    path = _sqlite_path_or_none(url)
    sa = sys.modules.get("sqlalchemy.exc")  # (no SQLAlchemy error without SQLAlchemy loaded)
    if isinstance(problem, ImportError) or (sa is not None and isinstance(problem, sa.NoSuchModuleError)):
        return (f"{what} {where} cannot be used: its database driver is not installed ({_first_line(problem)}); "
                "authctl supports SQLite files and PostgreSQL through psycopg 3 "
                "(pip install 'authctl[postgres]', URL postgresql+psycopg://USER@HOST/DB)")
    if isinstance(problem, ValueError) or (sa is not None and isinstance(problem, sa.ArgumentError)):
        return f"{what} {where} cannot be used: not a valid database URL ({_first_line(problem)})"
    if isinstance(problem, OSError):
        reason = (_file_problem(path, writing=not read_only) if path is not None else None) or _os_reason(problem)
        return f"{what} {where} cannot be used: {reason}"
    text = _first_line(getattr(problem, "orig", None) or problem)
    lowered = text.lower()
    if "locked" in lowered:
        return f"{what} {where} is locked by another process; try again"
    if any(marker in lowered for marker in _CORRUPT):
        return (f"{what} {where} cannot be used: the file is corrupt or not a SQLite database ({text}); "
                "restore it from a backup")
    if path is not None and any(m in lowered for m in ("unable to open", "readonly", "read-only", "read only")):
        reason = _file_problem(path, writing=not read_only or "readonly" in lowered)
        if reason:
            return f"{what} {where} cannot be used: {reason}"
    return f"{what} {where} cannot be {'read' if read_only else 'used'}: {text}"


def _sqlite_path_or_none(url: str) -> Path | None:
    try:
        return sqlite_path(url)
    except Exception:  # noqa: BLE001 - an unparseable URL has no file to look at
        return None


def _first_line(problem: object) -> str:
    lines = str(problem).strip().splitlines()
    return lines[0] if lines else type(problem).__name__


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return f"permission denied ({exc.filename})" if exc.filename else "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory, not a database file"
    return (exc.strerror or str(exc)).lower() + (f" ({exc.filename})" if exc.filename else "")


def _file_problem(path: Path, *, writing: bool) -> str | None:
    """Why a SQLite file cannot be opened, found by looking at it; None when nothing looks wrong."""
    folder = path.parent
    try:
        if not folder.exists():
            ancestor = next(p for p in folder.parents if p.exists())
            if not os.access(ancestor, os.W_OK | os.X_OK):
                return f"its folder {folder} cannot be created: permission denied in {ancestor}"
            return f"its folder {folder} does not exist"
        if not os.access(folder, os.X_OK):
            return f"permission denied: authctl cannot enter the folder {folder}"
        if path.is_dir():
            return "it is a directory, not a database file"
        if path.exists() and not os.access(path, os.R_OK):
            return "permission denied: authctl cannot read the file"
        if writing and path.exists() and not os.access(path, os.W_OK):
            return "the file is read-only; this command needs to write it"
        if writing and not os.access(folder, os.W_OK):
            return (f"the folder {folder} is read-only; this command needs to write there "
                    "(SQLite keeps its -wal and -shm files beside the database)")
    except OSError as exc:
        return _os_reason(exc)
    return None


def existing_database_file(path: Path, url: str, *, what: str, setting: str, example: str,
                           error: Callable[[str], Exception]) -> bool:
    """Whether the SQLite file behind a setting exists; ``error(message)`` when it cannot be used at all.

    A directory where the file should be names the setting (``setting``, e.g. "state.url",
    and an ``example`` value); a folder on the way that cannot be entered names the folder
    (``Path.exists`` raises PermissionError there).
    """
    try:
        exists = path.exists()
        folder = exists and path.is_dir()
    except OSError as exc:
        raise error(describe_failure(what, url, exc, read_only=True)) from None
    if folder:
        raise error(f"{setting} in authctl.yaml names a directory ({path}); give a database file, "
                    f"e.g. {example}")
    return exists


# -- private files -------------------------------------------------------------------------------
_warned: set[str] = set()


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parent as 0700 (``mkdir -p`` with the mode on every new level)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(new, 0o700)  # whatever the umask says


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True when this call created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)  # whatever the umask says
    finally:
        os.close(fd)
    return True


def prepare_private_file(path: Path) -> None:
    """Before SQLite opens ``path``: its folders (0700) and an empty file (0600) if new, else warnings.

    SQLite gives the -wal, -shm and -journal files it creates the database file's mode,
    so creating the file 0600 ourselves, before SQLite writes anything to it, keeps every
    byte of it private. An empty file is a valid new SQLite database.
    """
    make_private_dirs(path.parent)
    if not create_private_file(path):
        warn_if_open_to_others(path)


def warn_if_open_to_others(path: Path) -> None:
    """Warn once (stderr) about a database, its side files or authctl's folder that others can reach."""
    candidates = [path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILE_SUFFIXES)]
    if path.parent.name == PRIVATE_DIR_NAME:
        candidates.append(path.parent)
    for candidate in candidates:
        warn_if_exposed(candidate)


def warn_if_exposed(path: Path) -> None:
    """One warning per process for a file (or folder) whose group or other permission bits are set."""
    key = str(path)
    if key in _warned:
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        folder = path.is_dir()
    except OSError:
        return  # missing, or unreadable: opening it reports that
    if not mode & 0o077:
        return
    _warned.add(key)
    fix = f"chmod {'700' if folder else '600'} {shlex.quote(key)}"
    what = "folder holds" if folder else "file holds"
    sys.stderr.write(f"Warning: {key} is open to other users (mode {mode:04o}); this {what} authctl's secrets. "
                     f"Fix it with: {fix}\n")
    sys.stderr.flush()


def make_engine(url: str) -> Engine:
    """An engine whose SQLite connections use WAL and IMMEDIATE write transactions.

    pysqlite's default deferred BEGIN lets two writers read the same rows and then
    fail on upgrade; IMMEDIATE takes the write lock up front so check-then-write
    rules (unique labels, the delete guard) hold across processes.
    """
    from sqlalchemy import create_engine, event

    path = sqlite_path(url)
    if path is not None:
        prepare_private_file(path)
    options: dict[str, Any] = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {
        "pool_pre_ping": True, "connect_args": server_connect_args(url)}
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

    # The driver's words, or the store's (describe_failure): not just "locked", which a folder name may hold.
    # PostgreSQL aborts one of two openers creating or upgrading the same tables as a deadlock: retry it.
    text = str(exc)
    return isinstance(exc, IntegrityError) or any(words in text for words in _RACE_WORDS)


_RACE_WORDS = ("database is locked", "locked by another process", "deadlock detected",
               "could not serialize access")


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


# Seconds to wait for a database server to answer a connection: without it a host that drops
# packets (a firewall, a VPN gone) hangs plan and apply for minutes before any error.
SERVER_CONNECT_TIMEOUT = 10


def server_connect_args(url: str) -> dict[str, Any]:
    """Driver arguments for a server database (PostgreSQL): a connect timeout, unless the URL sets one."""
    return {} if "connect_timeout=" in url else {"connect_timeout": SERVER_CONNECT_TIMEOUT}
