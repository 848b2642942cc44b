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
from typing import Any

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
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reconciler.clock import as_utc, utc_from_sqlite_text, utc_now
from reconciler.db import Database, describe_failure, initialise_with_retry, redact_url
from reconciler.errors import LockHeldError, StateError
from reconciler.group_commit import GroupCommit
from reconciler.vocabulary import JournalOp, JournalPhase, ObjectKind
from reconciler.state.records import (
    SCHEMA_VERSION,
    JournalEntry,
    LockInfo,
    ManagedIndex,
    ManagedObject,
    StateMeta,
    WorkspaceIdentity,
    check_state_meta,
    recorded_identity,
    hmac_key_of,
    managed_index,
)

__all__ = ["SCHEMA_VERSION", "StateStore"]

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


class StateStore:
    """Open with :meth:`open`; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = Database(url, self._failure)
        self._journal = GroupCommit(self._db)  # apply's threads journal at once: one commit for many

    def _failure(self, exc: Exception, read_only: bool) -> StateError:
        """A driver's failure (locked, corrupt, read-only, unreachable) as one sentence naming the store."""
        return StateError(describe_failure("the state store", self.url, exc, read_only=read_only))

    def __repr__(self) -> str:
        return f"StateStore({redact_url(self.url)!r})"

    @classmethod
    def open(cls, url: str, *, workspace: WorkspaceIdentity | str | None = None) -> StateStore:
        """Open or create the store; refuses a newer schema, or another workspace's or environment's state.

        ``workspace`` is the identity recorded at creation and checked on every open
        (a string is a bare workspace name; None skips the check).
        """
        store = cls(url)
        try:
            initialise_with_retry(lambda: store._initialise(workspace))
        except BaseException:
            store.close()  # a refused open leaves no connection, -wal or -shm behind
            raise
        return store

    def _initialise(self, workspace: WorkspaceIdentity | str | None) -> None:
        identity = WorkspaceIdentity(workspace) if isinstance(workspace, str) else workspace
        try:
            with self._db.write() as conn:
                if _meta.name in inspect(conn).get_table_names():
                    check_state_meta(self._meta_rows(conn), redact_url(self.url), identity)
                    return
                _md.create_all(conn)
                recorded = identity.meta_rows() if identity is not None else {"workspace": ""}
                conn.execute(insert(_meta), [
                    {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                    {"key": "lineage", "value": str(uuid.uuid4())},
                    {"key": "serial", "value": "0"},
                    {"key": "hmac_key", "value": base64.b64encode(secrets.token_bytes(32)).decode()},
                    *({"key": k, "value": v} for k, v in recorded.items()),
                ])
        except SQLAlchemyError as exc:
            if isinstance(exc, IntegrityError):
                raise
            raise StateError(f"the state store {redact_url(self.url)} cannot be used: "
                             f"{getattr(exc, 'orig', exc)}") from None

    def record_identity(self, identity: WorkspaceIdentity) -> None:
        """Record what a state made by an older authctl does not know yet (its folder, its environment).

        Apply calls this under the lock; open has already checked what is recorded.
        """
        with self._db.write() as conn:
            rows = self._meta_rows(conn)
            missing = {k: v for k, v in identity.meta_rows().items() if k not in rows}
            if missing:
                conn.execute(insert(_meta), [{"key": k, "value": v} for k, v in missing.items()])

    def claim(self, identity: WorkspaceIdentity, *, holder: str, lock_timeout: float = 0.0) -> WorkspaceIdentity:
        """Record ``identity`` as this state's owner on purpose (``authctl state claim``); returns the previous one.

        Under the apply lock and journaled, like every other state change.
        """
        lock = self.acquire_lock("claim", holder=holder, timeout=lock_timeout)
        try:
            with self._db.write() as conn:
                rows = self._meta_rows(conn)
                previous = recorded_identity(rows)
                for key, value in identity.meta_rows().items():
                    if key in rows:
                        conn.execute(update(_meta).where(_meta.c.key == key).values(value=value))
                    else:
                        conn.execute(insert(_meta).values(key=key, value=value))
            operation_id = str(uuid.uuid4())
            detail = {"from": previous.describe(), "to": identity.describe()}
            self.record(operation_id, "state", JournalOp.CLAIM, JournalPhase.DONE, detail)
            return previous
        finally:
            self.release_lock(lock.lock_id)

    @staticmethod
    def _meta_rows(conn: Connection) -> dict[str, str]:
        return {k: v for k, v in conn.execute(select(_meta.c.key, _meta.c.value))}

    def close(self) -> None:
        self._db.dispose()

    # -- meta --------------------------------------------------------------------------------
    def meta(self) -> StateMeta:
        with self._db.read() as conn:
            return StateMeta.from_rows(self._meta_rows(conn))

    def meta_rows(self) -> dict[str, str]:
        """Every ``state_meta`` row but the HMAC key (for ``authctl state show``)."""
        with self._db.read() as conn:
            return {k: v for k, v in self._meta_rows(conn).items() if k != "hmac_key"}

    def hmac_key(self) -> bytes:
        """The key for fingerprints; generated once per state, never printed."""
        with self._db.read() as conn:
            return hmac_key_of(self._meta_rows(conn))

    # -- managed objects -----------------------------------------------------------------------
    def managed(self) -> ManagedIndex:
        """Every managed object keyed by (kind, name), in one query.

        Every plan reads all of it (60,000 rows at scale), so rows come as tuples, SQLite
        timestamps as text straight into aware UTC (SQLAlchemy's own parser is several
        times slower), and the empty JSON most rows hold is not parsed.
        """
        c = _managed.c
        with self._db.read() as conn:
            sqlite = conn.dialect.name == "sqlite"
            applied_at = type_coerce(c.applied_at, String).label("applied_at") if sqlite else c.applied_at
            rows = conn.execute(select(c.kind, c.name, c.live_id, c.fingerprints, c.applied, applied_at)).all()
        return managed_index(rows, utc_from_sqlite_text if sqlite else as_utc)

    def get(self, kind: ObjectKind, name: str) -> ManagedObject | None:
        """One managed object by (kind, name), or None: an indexed lookup, not :meth:`managed`."""
        with self._db.read() as conn:
            row = conn.execute(_SELECT_MANAGED_ONE, {"key_kind": kind, "key_name": name}).mappings().first()
        if row is None:
            return None
        return ManagedObject(ObjectKind(row["kind"]), row["name"], row["live_id"], json.loads(row["fingerprints"]),
                             as_utc(row["applied_at"]), json.loads(row["applied"]))

    def put(self, obj: ManagedObject) -> None:
        """Insert or replace one managed object."""
        values = {"live_id": obj.live_id, "fingerprints": json.dumps(obj.fingerprints, sort_keys=True),
                  "applied": json.dumps(obj.applied, sort_keys=True), "applied_at": as_utc(obj.applied_at)}
        key = (_managed.c.kind == obj.kind) & (_managed.c.name == obj.name)
        for attempt in range(3):
            try:
                with self._db.write() as conn:
                    if conn.execute(update(_managed).where(key).values(**values)).rowcount == 0:
                        conn.execute(insert(_managed).values(kind=obj.kind, name=obj.name, **values))
                return
            except IntegrityError:  # PostgreSQL: another writer inserted the same key first; update it
                if attempt == 2:
                    raise

    def remove(self, kind: ObjectKind, name: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(_managed).where((_managed.c.kind == kind) & (_managed.c.name == name)))

    def bump_serial(self) -> int:
        with self._db.write() as conn:
            # FOR UPDATE: on PostgreSQL two concurrent bumps would otherwise both read n and write n+1.
            current = conn.execute(select(_meta.c.value).where(_meta.c.key == "serial").with_for_update()).scalar_one()
            serial = int(current) + 1
            conn.execute(update(_meta).where(_meta.c.key == "serial").values(value=str(serial)))
        return serial

    # -- the apply lock --------------------------------------------------------------------------
    def current_lock(self, name: str = "apply") -> LockInfo | None:
        with self._db.read() as conn:
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
                        utc_now())
        while True:
            try:
                with self._db.write() as conn:
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
        with self._db.write() as conn:
            conn.execute(delete(_locks).where((_locks.c.name == name) & (_locks.c.lock_id == lock_id)))

    def force_unlock(self, lock_id: str, name: str = "apply") -> LockInfo:
        """Remove the lock if ``lock_id`` matches; the id guards against removing a newer lock."""
        with self._db.write() as conn:
            row = conn.execute(select(_locks).where(_locks.c.name == name)).mappings().first()
            if row is None:
                raise StateError("the state is not locked")
            current = _lock_info(row)
            if current.lock_id != lock_id:
                raise StateError(f"lock id {lock_id} does not match the current lock ({current.describe()})")
            conn.execute(delete(_locks).where(_locks.c.name == name))
        return current

    # -- the journal -----------------------------------------------------------------------------
    def record(self, apply_id: str, address: str, action: JournalOp, phase: JournalPhase, detail: dict[str, Any],
               *, puts: tuple[ManagedObject, ...] = (),
               removes: tuple[tuple[ObjectKind, str], ...] = ()) -> None:
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
                 "detail": json.dumps(detail, sort_keys=True), "at": utc_now()}

        def write(conn: Connection) -> None:
            for key in keys:
                conn.execute(_DELETE_MANAGED, key)
            for row in rows:
                conn.execute(_INSERT_MANAGED, row)
            conn.execute(_INSERT_JOURNAL, entry)

        # Committed before this returns, possibly with other threads' entries (reconciler/group_commit.py).
        self._journal.write(write)

    def pending_intents(self) -> list[JournalEntry]:
        """Intents with no outcome recorded: calls an apply made but did not finish recording."""
        outcome = _journal.alias("outcome")
        closed = (select(outcome.c.seq).where(
            (outcome.c.apply_id == _journal.c.apply_id) & (outcome.c.address == _journal.c.address)
            & (outcome.c.action == _journal.c.action) & (outcome.c.phase != "intent")).exists())
        query = select(_journal).where((_journal.c.phase == "intent") & ~closed).order_by(_journal.c.seq)
        with self._db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [_journal_entry(r) for r in rows]

    def journal_entries(self, apply_id: str | None = None) -> list[JournalEntry]:
        query = select(_journal).order_by(_journal.c.seq)
        if apply_id is not None:
            query = query.where(_journal.c.apply_id == apply_id)
        with self._db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [_journal_entry(r) for r in rows]

    # -- adopting objects outside apply ------------------------------------------------------------
    def adopt(self, obj: ManagedObject, *, holder: str, reason: JournalOp = JournalOp.ADOPT,
              lock_timeout: float = 0.0, deposes: str | None = None) -> str:
        """Record one live object as managed, the safe way apply does: under the lock, journaled.

        For ``login``, ``import`` and ``reauth``. Refuses a name this workspace already
        manages under another live id (forget it first), and a live id managed under
        another name (one object, one manifest name). Returns the journal's operation id.

        ``deposes``: the live id the name is managed under now, which ``obj`` succeeds
        (``authctl login`` connecting a new OAuth connection where the plan says the old one
        must be replaced, or is gone). It is recorded as deposed in the same entry, as apply's
        replace does, so the next plan moves its jobs and deletes it (or forgets it if gone).
        """
        lock = self.acquire_lock(reason.value, holder=holder, timeout=lock_timeout)
        try:
            managed = self.managed()
            current = managed.get((obj.kind, obj.name))
            succeeded = current is not None and deposes is not None and current.live_id == deposes
            if current is not None and current.live_id != obj.live_id and not succeeded:
                raise StateError(f"{obj.address} is already managed as {current.live_id}, not {obj.live_id}; "
                                 "remove it from state before adopting another object under that name")
            other = next((o for o in managed.values() if o.live_id == obj.live_id and o.address != obj.address),
                         None)
            if other is not None:
                raise StateError(f"{obj.live_id} is already managed as {other.address}")
            puts: tuple[ManagedObject, ...] = (obj,)
            detail: dict[str, Any] = {"live_id": obj.live_id}
            if succeeded and deposes != obj.live_id:
                puts += (ManagedObject(ObjectKind.DEPOSED_AUTHORIZATION, deposes, deposes, {}, utc_now(),
                                       {"replaced_by": obj.name}),)
                detail["deposes"] = deposes
            operation_id = str(uuid.uuid4())
            self.record(operation_id, obj.address, reason, JournalPhase.INTENT, detail)
            self.record(operation_id, obj.address, reason, JournalPhase.DONE, detail, puts=puts)
            # An interrupted create of this address is settled by the adoption: it was ours.
            self._close_create_intents(obj.address, JournalPhase.ADOPTED,
                                       {"live_id": obj.live_id, "by": operation_id, "note": reason.value})
            self.bump_serial()
            return operation_id
        finally:
            self.release_lock(lock.lock_id)

    def settle_not_created(self, address: str, *, holder: str, lock_timeout: float = 0.0) -> int:
        """A person says an interrupted create of ``address`` made nothing of authctl's (``authctl state settle``).

        Closes its open create intents, under the lock and journaled; the next apply then
        creates the object itself. Returns how many intents were closed.
        """
        lock = self.acquire_lock(JournalOp.SETTLE.value, holder=holder, timeout=lock_timeout)
        try:
            return self._close_create_intents(address, JournalPhase.RECOVERED,
                                              {"note": "a person settled it as not created by authctl",
                                               "by": holder})
        finally:
            self.release_lock(lock.lock_id)

    def _close_create_intents(self, address: str, phase: JournalPhase, detail: dict[str, Any]) -> int:
        open_creates = [e for e in self.pending_intents() if e.address == address and e.action.creates]
        for entry in open_creates:
            self.record(entry.apply_id, entry.address, entry.action, phase, detail)
        return len(open_creates)


def _journal_entry(row: Any) -> JournalEntry:
    return JournalEntry(row["seq"], row["apply_id"], row["address"], JournalOp(row["action"]),
                        JournalPhase(row["phase"]), json.loads(row["detail"]), as_utc(row["at"]))


def _lock_info(row: Any) -> LockInfo:
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
