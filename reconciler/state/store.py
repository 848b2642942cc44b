"""The state store: the reconciler's memory, in SQLite (default) or PostgreSQL.

Live platforms never return secrets and do not know manifest names, so state keeps:
manifest name -> live id for every managed object, the HMAC fingerprints of what was
applied (to notice a rotated credential or a changed config without storing it), a
serial that moves on every apply, a lineage that ties it to one workspace, the apply
lock, and the apply journal. The schema is versioned (schema.py); a newer one is refused.

One store holds a namespace per environment (like Terraform workspaces): a store opened
for an environment reads and writes that environment's records, lock, journal and serial
only, so `--env staging` never sees, plans against or deletes prod's objects, even when
both share one store and one platform (each environment's objects are then unmanaged to
the other). Runs without an environment use the default namespace.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reconciler.clock import as_utc, utc_from_sqlite_text, utc_now
from reconciler.db import (
    Database,
    describe_failure,
    display_name,
    initialise_with_retry,
    redact_url,
    sqlite_path,
)
from reconciler.errors import StateError
from reconciler.group_commit import GroupCommit
from reconciler.state import schema
from reconciler.state.locking import SCHEMA_CHANGE_KEY, lock_for
from reconciler.state.records import (
    DEFAULT_NAMESPACE,
    SCHEMA_VERSION,
    JournalEntry,
    LockInfo,
    ManagedIndex,
    ManagedObject,
    NamespaceSummary,
    StateMeta,
    WorkspaceIdentity,
    check_state_meta,
    hmac_key_of,
    managed_index,
    namespace_of,
    namespace_words,
    recorded_identity,
)
from reconciler.vocabulary import JournalOp, JournalPhase, ObjectKind

__all__ = ["SCHEMA_VERSION", "StateStore"]

_meta, _namespaces, _managed, _journal = schema.meta, schema.namespaces, schema.managed, schema.journal

# Statements of the apply hot path (a few per platform call), built once: building an
# INSERT with .values(...) per call costs more than executing it (SQLAlchemy makes a
# bound parameter and a cache key for every value).
_key_match = ((_managed.c.namespace == bindparam("key_namespace")) & (_managed.c.kind == bindparam("key_kind"))
              & (_managed.c.name == bindparam("key_name")))
_SELECT_MANAGED_ONE = select(_managed).where(_key_match)
_DELETE_MANAGED = delete(_managed).where(_key_match)
_INSERT_MANAGED = insert(_managed)
_INSERT_JOURNAL = insert(_journal)


class StateStore:
    """Open with :meth:`open`; every method is one short transaction, in the store's namespace."""

    def __init__(self, url: str, *, namespace: str = DEFAULT_NAMESPACE, setting: str | None = None) -> None:
        self.url = url
        self.namespace = namespace
        self._setting = setting
        self._db = Database(url, self._failure)
        self._journal = GroupCommit(self._db)  # apply's threads journal at once: one commit for many
        self._lock = lock_for(self._db, namespace, self._failure)

    def _where(self) -> str:
        """How messages name the store: its file, or its URL (password hidden) and the setting that gives it."""
        where = redact_url(self.url)
        return f"{where} ({self._setting} in authctl.yaml)" if self._names_setting else where

    @property
    def _names_setting(self) -> bool:
        """A server's URL is named with its setting (a file's path speaks for itself)."""
        if self._setting is None:
            return False
        try:
            return sqlite_path(self.url) is None
        except Exception:  # noqa: BLE001 - a URL that does not parse: name where it came from
            return True

    def _failure(self, exc: Exception, read_only: bool) -> StateError:
        """A driver's failure (locked, corrupt, read-only, unreachable) as one sentence naming the store."""
        message = describe_failure("the state store", self.url, exc, read_only=read_only)
        if self._names_setting:  # (describe_failure begins "the state store WHERE")
            named = f"the state store {display_name(self.url)}"
            message = message.replace(named, f"the state store {self._where()}", 1)
        return StateError(_without_password(message, self.url))

    def __repr__(self) -> str:
        return f"StateStore({redact_url(self.url)!r}, namespace={self.namespace!r})"

    @classmethod
    def open(cls, url: str, *, workspace: WorkspaceIdentity | str | None = None, namespace: str | None = None,
             setting: str | None = None) -> StateStore:
        """Open or create the store; refuses a newer schema, or another workspace's state.

        ``workspace`` is the identity recorded at creation and checked on every open
        (a string is a bare workspace name; None skips the check). The namespace is
        ``namespace`` if given, else the identity's environment's (default: none).
        ``setting`` names where authctl.yaml gives the URL (``state.url``), for errors.
        """
        if namespace is None:
            namespace = namespace_of(workspace.environment if isinstance(workspace, WorkspaceIdentity) else None)
        store = cls(url, namespace=namespace, setting=setting)
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
                rows = self._existing_meta(conn)
                if rows is not None and int(rows.get("schema_version", "0")) >= SCHEMA_VERSION:
                    check_state_meta(rows, self._where(), identity)
                    return
                if conn.dialect.name == "postgresql":  # one opener creates or upgrades; the others then check
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_CHANGE_KEY})
                    rows = self._existing_meta(conn)
                if rows is None:
                    recorded = identity.meta_rows() if identity is not None else {"workspace": ""}
                    schema.create(conn, {"lineage": str(uuid.uuid4()),
                                         "hmac_key": base64.b64encode(secrets.token_bytes(32)).decode(),
                                         **recorded})
                    return
                check_state_meta(rows, self._where(), identity)
                if int(rows.get("schema_version", "0")) == 1:
                    schema.migrate_v1(conn, rows, self.namespace)
        except SQLAlchemyError as exc:
            if isinstance(exc, IntegrityError):
                raise
            raise StateError(_without_password(f"the state store {self._where()} cannot be used: "
                                               f"{getattr(exc, 'orig', exc)}", self.url)) from None

    def _existing_meta(self, conn: Connection) -> dict[str, str] | None:
        """The meta rows, or None for a database without state tables yet."""
        if _meta.name not in inspect(conn).get_table_names():
            return None
        return self._meta_rows(conn)

    def record_identity(self, identity: WorkspaceIdentity) -> None:
        """Record what a state made by an older authctl (or opened without an identity) does not know yet: its folder.

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
        self._lock.close()
        self._db.dispose()

    # -- meta --------------------------------------------------------------------------------
    def meta(self) -> StateMeta:
        """The store's lineage and owner, and this namespace's serial."""
        with self._db.read() as conn:
            rows = self._meta_rows(conn)
            serial = conn.execute(select(_namespaces.c.serial).where(_namespaces.c.name == self.namespace)).scalar()
        return StateMeta.from_rows(rows, namespace=self.namespace, serial=serial or 0)

    def meta_rows(self) -> dict[str, str]:
        """Every ``state_meta`` row but the HMAC key (for ``authctl state show``)."""
        with self._db.read() as conn:
            return {k: v for k, v in self._meta_rows(conn).items() if k != "hmac_key"}

    def namespaces(self) -> list[NamespaceSummary]:
        """Every namespace that has a serial or records, with how many objects it manages (``state show``)."""
        with self._db.read() as conn:
            serials = dict(conn.execute(select(_namespaces.c.name, _namespaces.c.serial)).all())
            counts = dict(conn.execute(select(_managed.c.namespace, func.count()).group_by(_managed.c.namespace)).all())
        return [NamespaceSummary(name, serials.get(name, 0), counts.get(name, 0))
                for name in sorted(serials.keys() | counts.keys())]

    def hmac_key(self) -> bytes:
        """The key for fingerprints; generated once per state (shared by its namespaces), never printed."""
        with self._db.read() as conn:
            return hmac_key_of(self._meta_rows(conn))

    # -- managed objects -----------------------------------------------------------------------
    def managed(self) -> ManagedIndex:
        """Every managed object of this namespace keyed by (kind, name), in one query.

        Every plan reads all of it (60,000 rows at scale), so rows come as tuples, SQLite
        timestamps as text straight into aware UTC (SQLAlchemy's own parser is several
        times slower), and the empty JSON most rows hold is not parsed.
        """
        c = _managed.c
        with self._db.read() as conn:
            sqlite = conn.dialect.name == "sqlite"
            applied_at = type_coerce(c.applied_at, String).label("applied_at") if sqlite else c.applied_at
            rows = conn.execute(select(c.kind, c.name, c.live_id, c.fingerprints, c.applied, applied_at)
                                .where(c.namespace == self.namespace)).all()
        return managed_index(rows, utc_from_sqlite_text if sqlite else as_utc)

    def get(self, kind: ObjectKind, name: str) -> ManagedObject | None:
        """One managed object by (kind, name), or None: an indexed lookup, not :meth:`managed`."""
        with self._db.read() as conn:
            row = conn.execute(_SELECT_MANAGED_ONE, self._key(kind, name)).mappings().first()
        if row is None:
            return None
        return ManagedObject(ObjectKind(row["kind"]), row["name"], row["live_id"], json.loads(row["fingerprints"]),
                             as_utc(row["applied_at"]), json.loads(row["applied"]))

    def _key(self, kind: ObjectKind, name: str) -> dict[str, str]:
        return {"key_namespace": self.namespace, "key_kind": kind, "key_name": name}

    def put(self, obj: ManagedObject) -> None:
        """Insert or replace one managed object."""
        self.put_many([obj])

    def put_many(self, objs: list[ManagedObject]) -> None:
        """Insert or replace managed objects, in one transaction."""
        if not objs:
            return
        for attempt in range(3):
            try:
                with self._db.write() as conn:
                    for obj in objs:
                        values = {"live_id": obj.live_id, "fingerprints": json.dumps(obj.fingerprints, sort_keys=True),
                                  "applied": json.dumps(obj.applied, sort_keys=True),
                                  "applied_at": as_utc(obj.applied_at)}
                        key = ((_managed.c.namespace == self.namespace) & (_managed.c.kind == obj.kind)
                               & (_managed.c.name == obj.name))
                        if conn.execute(update(_managed).where(key).values(**values)).rowcount == 0:
                            conn.execute(insert(_managed).values(namespace=self.namespace, kind=obj.kind,
                                                                 name=obj.name, **values))
                return
            except IntegrityError:  # PostgreSQL: another writer inserted the same key first; update it
                if attempt == 2:
                    raise

    def remove(self, kind: ObjectKind, name: str) -> None:
        with self._db.write() as conn:
            conn.execute(_DELETE_MANAGED, self._key(kind, name))

    def bump_serial(self) -> int:
        """Move this namespace's serial on by one (its row is made by the first bump)."""
        row = _namespaces.c.name == self.namespace
        for attempt in range(3):
            try:
                with self._db.write() as conn:
                    # FOR UPDATE: on PostgreSQL two concurrent bumps would otherwise both read n and write n+1.
                    current = conn.execute(select(_namespaces.c.serial).where(row).with_for_update()).scalar()
                    if current is None:
                        conn.execute(insert(_namespaces).values(name=self.namespace, serial=1))
                        return 1
                    conn.execute(update(_namespaces).where(row).values(serial=current + 1))
                    return int(current) + 1
            except IntegrityError:  # PostgreSQL: another bump made the row first; bump that
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # -- the apply lock (locking.py) -------------------------------------------------------------
    def current_lock(self, name: str = "apply") -> LockInfo | None:
        """Who holds this namespace's lock ``name``, or None when it is free."""
        return self._lock.current(name)

    def acquire_lock(self, operation: str, *, holder: str, timeout: float = 0.0,
                     name: str = "apply") -> LockInfo:
        """Take this namespace's lock, waiting up to ``timeout`` seconds; raises LockHeldError naming the holder.

        A holder that is gone never leaves the namespace locked: on PostgreSQL the server
        releases the lock with its connection; on SQLite a dead process on this host is
        taken over (locking.py).
        """
        return self._lock.acquire(operation, holder=holder, timeout=timeout, name=name)

    def check_lock(self, lock_id: str, name: str = "apply") -> None:
        """Raise LockLostError if this process no longer holds the lock (PostgreSQL: its session ended)."""
        self._lock.check_held(lock_id, name)

    def release_lock(self, lock_id: str, name: str = "apply") -> None:
        self._lock.release(lock_id, name)

    def force_unlock(self, lock_id: str, name: str = "apply") -> LockInfo:
        """Remove the lock if ``lock_id`` matches; the id guards against removing a newer lock."""
        return self._lock.force_unlock(lock_id, name)

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
        keys = [self._key(kind, name) for kind, name in removes]
        keys += [self._key(obj.kind, obj.name) for obj in puts]
        rows = [{"namespace": self.namespace, "kind": obj.kind, "name": obj.name, "live_id": obj.live_id,
                 "fingerprints": json.dumps(obj.fingerprints, sort_keys=True),
                 "applied": json.dumps(obj.applied, sort_keys=True), "applied_at": obj.applied_at}
                for obj in puts]
        entry = {"namespace": self.namespace, "apply_id": apply_id, "address": address, "action": action,
                 "phase": phase, "detail": json.dumps(detail, sort_keys=True), "at": utc_now()}

        def write(conn: Connection) -> None:
            for key in keys:
                conn.execute(_DELETE_MANAGED, key)
            for row in rows:
                conn.execute(_INSERT_MANAGED, row)
            conn.execute(_INSERT_JOURNAL, entry)

        # Committed before this returns, possibly with other threads' entries (reconciler/group_commit.py).
        self._journal.write(write)

    def pending_intents(self) -> list[JournalEntry]:
        """This namespace's intents with no outcome recorded: calls an apply made but did not finish recording."""
        outcome = _journal.alias("outcome")
        closed = (select(outcome.c.seq).where(
            (outcome.c.apply_id == _journal.c.apply_id) & (outcome.c.address == _journal.c.address)
            & (outcome.c.action == _journal.c.action) & (outcome.c.phase != "intent")).exists())
        query = (select(_journal).where((_journal.c.namespace == self.namespace) & (_journal.c.phase == "intent")
                                        & ~closed).order_by(_journal.c.seq))
        with self._db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [_journal_entry(r) for r in rows]

    def journal_entries(self, apply_id: str | None = None) -> list[JournalEntry]:
        """This namespace's journal, oldest first (one apply's entries with ``apply_id``)."""
        query = select(_journal).where(_journal.c.namespace == self.namespace).order_by(_journal.c.seq)
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
        manages under another live id (forget it first), a live id managed under another
        name (one object, one manifest name), and a live id another environment's namespace
        manages (its plans would then delete or replace the other's object). Returns the
        journal's operation id.

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
            self._refuse_other_namespaces(obj.live_id)
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

    def adopt_many(self, objects: Sequence[ManagedObject], *, holder: str, reason: JournalOp = JournalOp.IMPORT,
                   lock_timeout: float = 0.0, batch: int = 5_000) -> str:
        """:meth:`adopt` for many objects at once (``authctl import --all-matching``); returns the operation id.

        The same refusals, checked for every object before anything is written, under one
        lock and one read of the managed objects (one :meth:`adopt` per object reads them
        all each time: hours for an account of 60,000). Journaled per batch: an intent
        naming each address and live id, then the outcome in the same transaction as the
        state changes, as apply does; an interrupted run leaves whole batches adopted and
        the rest not, and running it again adopts the rest.
        """
        lock = self.acquire_lock(reason.value, holder=holder, timeout=lock_timeout)
        try:
            managed = self.managed()
            by_id = {o.live_id: o for o in managed.values()}
            claimed: dict[str, str] = {}
            for obj in objects:
                current = managed.get((obj.kind, obj.name))
                if current is not None and current.live_id != obj.live_id:
                    raise StateError(f"{obj.address} is already managed as {current.live_id}, not {obj.live_id}; "
                                     "nothing was adopted")
                other = by_id.get(obj.live_id)
                if other is not None and other.address != obj.address:
                    raise StateError(f"{obj.live_id} is already managed as {other.address}; nothing was adopted")
                first = claimed.setdefault(obj.live_id, obj.address)
                if first != obj.address:
                    raise StateError(f"{obj.live_id} cannot be adopted as both {first} and {obj.address}; "
                                     "nothing was adopted")
            elsewhere = self._managed_elsewhere()
            for live_id in claimed:
                if live_id in elsewhere:
                    namespace, kind, name = elsewhere[live_id]
                    raise StateError(f"{live_id} is already managed as {kind}/{name} in {namespace_words(namespace)} "
                                     "of this state store; one live object belongs to one environment; nothing was "
                                     "adopted")
            operation_id = str(uuid.uuid4())
            for start in range(0, len(objects), batch):
                part = tuple(objects[start:start + batch])
                address = f"{len(part)} objects from {part[0].address}"
                detail: dict[str, Any] = {"adopted": {o.address: o.live_id for o in part}}
                self.record(operation_id, address, reason, JournalPhase.INTENT, detail)
                self._record_batch(operation_id, address, reason, detail, part)
            ids = {o.address: o.live_id for o in objects}
            for entry in self.pending_intents():  # interrupted creates of these addresses were ours
                if entry.address in ids and entry.action.creates:
                    self.record(entry.apply_id, entry.address, entry.action, JournalPhase.ADOPTED,
                                {"live_id": ids[entry.address], "by": operation_id, "note": reason.value})
            if objects:
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

    def _refuse_other_namespaces(self, live_id: str) -> None:
        """Refuse ``live_id`` when another namespace of this store manages it (import reads the whole table)."""
        c = _managed.c
        with self._db.read() as conn:
            row = conn.execute(select(c.namespace, c.kind, c.name).where(
                (c.live_id == live_id) & (c.namespace != self.namespace)).limit(1)).first()
        if row is not None:
            raise StateError(f"{live_id} is already managed as {row.kind}/{row.name} in "
                             f"{namespace_words(row.namespace)} of this state store; one live object belongs "
                             "to one environment")

    def _record_batch(self, operation_id: str, address: str, action: JournalOp, detail: dict[str, Any],
                      puts: tuple[ManagedObject, ...]) -> None:
        """:meth:`record` of a DONE entry with many puts, each statement executed once for all rows."""
        keys = [self._key(obj.kind, obj.name) for obj in puts]
        rows = [{"namespace": self.namespace, "kind": obj.kind, "name": obj.name, "live_id": obj.live_id,
                 "fingerprints": json.dumps(obj.fingerprints, sort_keys=True),
                 "applied": json.dumps(obj.applied, sort_keys=True), "applied_at": obj.applied_at}
                for obj in puts]
        entry = {"namespace": self.namespace, "apply_id": operation_id, "address": address, "action": action,
                 "phase": JournalPhase.DONE, "detail": json.dumps(detail, sort_keys=True), "at": utc_now()}

        def write(conn: Connection) -> None:
            conn.execute(_DELETE_MANAGED, keys)
            conn.execute(_INSERT_MANAGED, rows)
            conn.execute(_INSERT_JOURNAL, entry)

        self._journal.write(write)

    def _managed_elsewhere(self) -> dict[str, tuple[str, str, str]]:
        """live id -> (namespace, kind, name) of every object other namespaces of this store manage."""
        c = _managed.c
        with self._db.read() as conn:
            rows = conn.execute(select(c.live_id, c.namespace, c.kind, c.name)
                                .where(c.namespace != self.namespace)).all()
        return {live_id: (namespace, kind, name) for live_id, namespace, kind, name in rows}

    def _close_create_intents(self, address: str, phase: JournalPhase, detail: dict[str, Any]) -> int:
        open_creates = [e for e in self.pending_intents() if e.address == address and e.action.creates]
        for entry in open_creates:
            self.record(entry.apply_id, entry.address, entry.action, phase, detail)
        return len(open_creates)


def _journal_entry(row: Any) -> JournalEntry:
    return JournalEntry(row["seq"], row["apply_id"], row["address"], JournalOp(row["action"]),
                        JournalPhase(row["phase"]), json.loads(row["detail"]), as_utc(row["at"]))


def _without_password(message: str, url: str) -> str:
    """``message`` with the URL's password masked wherever it appears (a driver may quote its connection string)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return message
    return message.replace(str(password), "***") if password else message
