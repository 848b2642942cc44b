"""The state store: the reconciler's memory, in SQLite (default) or PostgreSQL.

Live platforms never return secrets and do not know manifest names, so state keeps:
manifest name -> live id for every managed object, the HMAC fingerprints of what was
applied (to notice a rotated credential or a changed config without storing it), a
serial that moves on every apply, a lineage that ties it to one workspace, the apply
lock, and the apply journal. The schema is versioned; a newer one is refused.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    Index,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    inspect,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from reconciler.db import initialise_with_retry, make_engine, read_transaction, redact_url, sqlite_path
from reconciler.errors import LineageMismatchError, LockHeldError, SchemaVersionError, StateError
from reconciler.state_records import JournalEntry, LockInfo, ManagedObject, StateMeta

if TYPE_CHECKING:
    from reconciler.workspace import Workspace

SCHEMA_VERSION = 1
__all__ = ["JournalEntry", "LockInfo", "ManagedObject", "SCHEMA_VERSION", "StateMeta", "StateStore",
           "open_state_store"]

_md = MetaData()
_meta = Table("state_meta", _md, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))
_managed = Table(
    "managed_objects", _md,
    Column("kind", String(32), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("live_id", String(64), nullable=False),
    Column("fingerprints", Text, nullable=False, default="{}"),
    Column("applied", Text, nullable=False, default="{}"),  # non-secret applied values, for diffs
    Column("applied_at", DateTime(timezone=True), nullable=False),
)
_locks = Table(
    "locks", _md,
    Column("name", String(32), primary_key=True),
    Column("lock_id", String(36), nullable=False),
    Column("holder", String(128), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("operation", String(32), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)
_journal = Table(
    "journal", _md,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("apply_id", String(36), nullable=False),
    Column("address", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("phase", String(16), nullable=False),  # intent | done | failed
    Column("detail", Text, nullable=False, default="{}"),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_journal_apply_address", "apply_id", "address", "action"),
)

# Statements of the apply hot path (a few per platform call), built once: building an
# INSERT with .values(...) per call costs more than executing it (SQLAlchemy makes a
# bound parameter and a cache key for every value).
_key_match = (_managed.c.kind == bindparam("key_kind")) & (_managed.c.name == bindparam("key_name"))
_SELECT_MANAGED_ONE = select(_managed).where(_key_match)
_DELETE_MANAGED = delete(_managed).where(_key_match)
_INSERT_MANAGED = insert(_managed)
_INSERT_JOURNAL = insert(_journal)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    """Aware UTC: SQLite hands back naive UTC, PostgreSQL the session's zone."""
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc_from_sqlite_text(text: str) -> datetime:
    """A SQLite DATETIME as SQLAlchemy stores it (naive UTC wall time, as text) -> aware UTC."""
    try:
        return datetime.fromisoformat(text + "+00:00")
    except ValueError:  # not naive text after all: take the long way
        return _utc(datetime.fromisoformat(text))


def _json_dict(text: str) -> Any:
    """``json.loads(text)``, without parsing the ``{}`` most state rows hold."""
    return {} if text == "{}" else json.loads(text)


class StateStore:
    """Open with :meth:`open`; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)

    def __repr__(self) -> str:
        return f"StateStore({redact_url(self.url)!r})"

    @classmethod
    def open(cls, url: str, *, workspace: str | None = None) -> StateStore:
        """Open or create the store; refuses a newer schema or another workspace's state."""
        store = cls(url)
        try:
            initialise_with_retry(lambda: store._initialise(workspace))
        except BaseException:
            store.close()  # a refused open leaves no connection, -wal or -shm behind
            raise
        return store

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            text = str(exc.orig)
            why = "is locked by another process; try again" if "locked" in text else f"cannot be used: {text}"
            raise StateError(f"the state store {redact_url(self.url)} {why}") from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction: consistent, and no write lock on SQLite."""
        try:
            with read_transaction(self._engine) as conn:
                yield conn
        except OperationalError as exc:
            raise StateError(f"the state store {redact_url(self.url)} cannot be read: {exc.orig}") from None

    def _initialise(self, workspace: str | None) -> None:
        try:
            with self._tx() as conn:
                if _meta.name in inspect(conn).get_table_names():
                    rows = self._meta_rows(conn)
                    version = int(rows.get("schema_version", "0"))
                    if version > SCHEMA_VERSION:
                        raise SchemaVersionError(
                            f"the state store {redact_url(self.url)} was written by a newer authctl "
                            f"(state schema {version}, this one knows {SCHEMA_VERSION}); upgrade authctl")
                    recorded = rows.get("workspace") or None
                    if workspace and recorded and recorded != workspace:
                        raise LineageMismatchError(
                            f"the state store {redact_url(self.url)} belongs to workspace {recorded!r} "
                            f"(lineage {rows.get('lineage')}), not {workspace!r}; point state.url at this "
                            "workspace's own store")
                    return
                _md.create_all(conn)
                conn.execute(insert(_meta), [
                    {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                    {"key": "lineage", "value": str(uuid.uuid4())},
                    {"key": "serial", "value": "0"},
                    {"key": "workspace", "value": workspace or ""},
                    {"key": "hmac_key", "value": base64.b64encode(secrets.token_bytes(32)).decode()},
                ])
        except SQLAlchemyError as exc:
            if isinstance(exc, IntegrityError):
                raise
            raise StateError(f"the state store {redact_url(self.url)} cannot be used: "
                             f"{getattr(exc, 'orig', exc)}") from None

    @staticmethod
    def _meta_rows(conn: Connection) -> dict[str, str]:
        return {k: v for k, v in conn.execute(select(_meta.c.key, _meta.c.value))}

    def close(self) -> None:
        self._engine.dispose()

    # -- meta --------------------------------------------------------------------------------
    def meta(self) -> StateMeta:
        with self._read() as conn:
            rows = self._meta_rows(conn)
        return StateMeta(rows["lineage"], int(rows["serial"]), rows.get("workspace") or None,
                         int(rows["schema_version"]))

    def hmac_key(self) -> bytes:
        """The key for fingerprints; generated once per state, never printed."""
        with self._read() as conn:
            return base64.b64decode(self._meta_rows(conn)["hmac_key"])

    # -- managed objects -----------------------------------------------------------------------
    def managed(self) -> dict[tuple[str, str], ManagedObject]:
        """Every managed object keyed by (kind, name), in one query.

        Every plan reads all of it (60,000 rows at scale), so rows come as tuples, SQLite
        timestamps as text straight into aware UTC (SQLAlchemy's own parser is several
        times slower), and the empty JSON most rows hold is not parsed.
        """
        c = _managed.c
        with self._read() as conn:
            sqlite = conn.dialect.name == "sqlite"
            applied_at = type_coerce(c.applied_at, String).label("applied_at") if sqlite else c.applied_at
            rows = conn.execute(select(c.kind, c.name, c.live_id, c.fingerprints, c.applied, applied_at)).all()
        when = _utc_from_sqlite_text if sqlite else _utc
        return {(kind, name): ManagedObject(kind, name, live_id, _json_dict(fingerprints), when(at),
                                            _json_dict(applied))
                for kind, name, live_id, fingerprints, applied, at in rows}

    def get(self, kind: str, name: str) -> ManagedObject | None:
        """One managed object by (kind, name), or None: an indexed lookup, not :meth:`managed`."""
        with self._read() as conn:
            row = conn.execute(_SELECT_MANAGED_ONE, {"key_kind": kind, "key_name": name}).mappings().first()
        if row is None:
            return None
        return ManagedObject(row["kind"], row["name"], row["live_id"], json.loads(row["fingerprints"]),
                             _utc(row["applied_at"]), json.loads(row["applied"]))

    def put(self, obj: ManagedObject) -> None:
        """Insert or replace one managed object."""
        values = {"live_id": obj.live_id, "fingerprints": json.dumps(obj.fingerprints, sort_keys=True),
                  "applied": json.dumps(obj.applied, sort_keys=True), "applied_at": _utc(obj.applied_at)}
        key = (_managed.c.kind == obj.kind) & (_managed.c.name == obj.name)
        for attempt in range(3):
            try:
                with self._tx() as conn:
                    if conn.execute(update(_managed).where(key).values(**values)).rowcount == 0:
                        conn.execute(insert(_managed).values(kind=obj.kind, name=obj.name, **values))
                return
            except IntegrityError:  # PostgreSQL: another writer inserted the same key first; update it
                if attempt == 2:
                    raise

    def remove(self, kind: str, name: str) -> None:
        with self._tx() as conn:
            conn.execute(delete(_managed).where((_managed.c.kind == kind) & (_managed.c.name == name)))

    def bump_serial(self) -> int:
        with self._tx() as conn:
            # FOR UPDATE: on PostgreSQL two concurrent bumps would otherwise both read n and write n+1.
            current = conn.execute(select(_meta.c.value).where(_meta.c.key == "serial").with_for_update()).scalar_one()
            serial = int(current) + 1
            conn.execute(update(_meta).where(_meta.c.key == "serial").values(value=str(serial)))
        return serial

    # -- the apply lock --------------------------------------------------------------------------
    def current_lock(self, name: str = "apply") -> LockInfo | None:
        with self._read() as conn:
            row = conn.execute(select(_locks).where(_locks.c.name == name)).mappings().first()
        return _lock_info(row) if row else None

    def acquire_lock(self, operation: str, *, holder: str, timeout: float = 0.0,
                     name: str = "apply") -> LockInfo:
        """Take the lock, waiting up to ``timeout`` seconds; raises LockHeldError.

        A lock left by a dead process on this same host is taken over: kill -9 must
        not leave a workspace stuck until someone runs force-unlock.
        """
        deadline = time.monotonic() + timeout
        info = LockInfo(str(uuid.uuid4()), holder, socket.gethostname(), os.getpid(), operation,
                        _now().replace(microsecond=0))
        while True:
            try:
                with self._tx() as conn:
                    row = conn.execute(select(_locks).where(_locks.c.name == name)).mappings().first()
                    current = _lock_info(row) if row else None
                    if current is not None and _is_orphaned(current):
                        conn.execute(delete(_locks).where((_locks.c.name == name)
                                                          & (_locks.c.lock_id == current.lock_id)))
                        current = None
                    if current is None:
                        conn.execute(insert(_locks).values(name=name, **info.__dict__))
                        return info
            except IntegrityError:
                continue  # PostgreSQL: another process inserted its lock at the same moment; read whose
            if time.monotonic() >= deadline:
                raise LockHeldError(f"the state is locked: {current.describe()}", lock_id=current.lock_id,
                                    holder=current.holder)
            time.sleep(0.2)

    def release_lock(self, lock_id: str, name: str = "apply") -> None:
        with self._tx() as conn:
            conn.execute(delete(_locks).where((_locks.c.name == name) & (_locks.c.lock_id == lock_id)))

    def force_unlock(self, lock_id: str, name: str = "apply") -> LockInfo:
        """Remove the lock if ``lock_id`` matches; the id guards against removing a newer lock."""
        with self._tx() as conn:
            row = conn.execute(select(_locks).where(_locks.c.name == name)).mappings().first()
            if row is None:
                raise StateError("the state is not locked")
            current = _lock_info(row)
            if current.lock_id != lock_id:
                raise StateError(f"lock id {lock_id} does not match the current lock ({current.describe()})")
            conn.execute(delete(_locks).where(_locks.c.name == name))
        return current

    # -- the journal -----------------------------------------------------------------------------
    def journal(self, apply_id: str, address: str, action: str, phase: str, detail: dict[str, Any]) -> None:
        """Append one entry; written before and after every mutating call of an apply."""
        self.record(apply_id, address, action, phase, detail)

    def record(self, apply_id: str, address: str, action: str, phase: str, detail: dict[str, Any], *,
               puts: tuple[ManagedObject, ...] = (), removes: tuple[tuple[str, str], ...] = ()) -> None:
        """One journal entry and the state changes it reports, in a single transaction.

        Writing the result and the state change together leaves exactly two crash windows
        per call (before it, or between the platform call and this), and recovery
        handles both by looking at the platform.
        """
        # Everything serialised before the transaction opens: it holds the write lock.
        keys = [{"key_kind": kind, "key_name": name} for kind, name in removes]
        keys += [{"key_kind": obj.kind, "key_name": obj.name} for obj in puts]
        rows = [{"kind": obj.kind, "name": obj.name, "live_id": obj.live_id,
                 "fingerprints": json.dumps(obj.fingerprints, sort_keys=True),
                 "applied": json.dumps(obj.applied, sort_keys=True), "applied_at": obj.applied_at}
                for obj in puts]
        entry = {"apply_id": apply_id, "address": address, "action": action, "phase": phase,
                 "detail": json.dumps(detail, sort_keys=True), "at": _now()}
        with self._tx() as conn:
            for key in keys:
                conn.execute(_DELETE_MANAGED, key)
            for row in rows:
                conn.execute(_INSERT_MANAGED, row)
            conn.execute(_INSERT_JOURNAL, entry)

    def pending_intents(self) -> list[JournalEntry]:
        """Intents with no outcome recorded: calls an apply made but did not finish recording."""
        outcome = _journal.alias("outcome")
        closed = (select(outcome.c.seq).where(
            (outcome.c.apply_id == _journal.c.apply_id) & (outcome.c.address == _journal.c.address)
            & (outcome.c.action == _journal.c.action) & (outcome.c.phase != "intent")).exists())
        query = select(_journal).where((_journal.c.phase == "intent") & ~closed).order_by(_journal.c.seq)
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [JournalEntry(r["seq"], r["apply_id"], r["address"], r["action"], r["phase"],
                             json.loads(r["detail"]), _utc(r["at"])) for r in rows]

    def journal_entries(self, apply_id: str | None = None) -> list[JournalEntry]:
        query = select(_journal).order_by(_journal.c.seq)
        if apply_id is not None:
            query = query.where(_journal.c.apply_id == apply_id)
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [JournalEntry(r["seq"], r["apply_id"], r["address"], r["action"], r["phase"],
                             json.loads(r["detail"]), _utc(r["at"])) for r in rows]


def _lock_info(row: Any) -> LockInfo:
    return LockInfo(row["lock_id"], row["holder"], row["host"], row["pid"], row["operation"], _utc(row["since"]))


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


def open_state_store(workspace: Workspace, *, create: bool) -> StateStore | None:
    """The workspace's state store; with ``create=False`` a missing SQLite file gives None.

    Read-only commands (plan, status, show) must not leave a new state file behind.
    """
    url = workspace.resolve_url(workspace.settings.state.url)
    path = sqlite_path(url)
    if not create and path is not None and not path.exists():
        return None
    return StateStore.open(url, workspace=workspace.settings.name)
