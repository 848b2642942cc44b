"""A read-only view of an existing SQLite state store through the stdlib driver, for commands that only read.

`plan`, `status` and `show` read the meta rows, one namespace's serial and managed
objects, nothing else; doing that without SQLAlchemy saves every such run about 0.3 s of
imports. The checks and the row conversion are the store's own (``records``), so both
ways read the same. A store of schema 1 (one namespace, not upgraded yet: upgrading is a
write) is read as the store reads it once upgraded (``records.v1_namespace``).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.clock import utc_from_sqlite_text
from reconciler.db import SqliteReadConnection, describe_failure
from reconciler.errors import StateError
from reconciler.state.records import (
    ManagedIndex,
    StateMeta,
    WorkspaceIdentity,
    check_state_meta,
    hmac_key_of,
    managed_index,
    namespace_of,
    v1_namespace,
)

_META_SQL = "SELECT key, value FROM state_meta"
_MANAGED_SQL = ("SELECT kind, name, live_id, fingerprints, applied, applied_at FROM managed_objects "
                "WHERE namespace = ?")
_SERIAL_SQL = "SELECT serial FROM namespaces WHERE name = ?"
_V1_MANAGED_SQL = "SELECT kind, name, live_id, fingerprints, applied, applied_at FROM managed_objects"
_HAS_META_SQL = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state_meta'"


class SqliteStateReader:
    """meta(), hmac_key() and managed() of one namespace of a SQLite state store, as :class:`StateStore` answers them."""

    def __init__(self, conn: SqliteReadConnection, namespace: str, v1_records: str | None = None) -> None:
        self._conn = conn
        self.namespace = namespace
        self._v1_namespace = v1_records  # schema 1: the one namespace its records belong to

    @classmethod
    def open(cls, path: Path, where: str, workspace: WorkspaceIdentity | str | None,
             namespace: str | None = None) -> SqliteStateReader | None:
        """The reader, or None when the file holds no state tables yet (the full store decides then)."""
        if namespace is None:
            namespace = namespace_of(workspace.environment if isinstance(workspace, WorkspaceIdentity) else None)
        conn = SqliteReadConnection(
            path, lambda exc: StateError(describe_failure("the state store", where, exc, read_only=True)))
        try:
            # A corrupt or unreadable file is reported as such here; only a file without
            # state tables yet goes to the full store (which creates them).
            if conn.read(lambda c: c.execute(_HAS_META_SQL).fetchone()) is None:
                conn.close()
                return None
            rows = dict(conn.read(lambda c: c.execute(_META_SQL).fetchall()))
            if "lineage" not in rows or "hmac_key" not in rows:
                conn.close()
                return None
            check_state_meta(rows, where, workspace)
        except BaseException:
            conn.close()
            raise
        v1 = None
        if rows.get("schema_version") == "1":
            v1 = v1_namespace(rows, namespace)
        return cls(conn, namespace, v1)

    def _meta_rows(self) -> dict[str, str]:
        return dict(self._conn.read(lambda c: c.execute(_META_SQL).fetchall()))

    def meta(self) -> StateMeta:
        rows = self._meta_rows()
        if self._v1_namespace is not None:
            serial = int(rows.get("serial", "0")) if self._v1_namespace == self.namespace else 0
        else:
            found = self._conn.read(lambda c: c.execute(_SERIAL_SQL, (self.namespace,)).fetchone())
            serial = found[0] if found else 0
        return StateMeta.from_rows(rows, namespace=self.namespace, serial=serial)

    def hmac_key(self) -> bytes:
        return hmac_key_of(self._meta_rows())

    def managed(self) -> ManagedIndex:
        if self._v1_namespace is not None:
            if self._v1_namespace != self.namespace:
                return {}
            return self._conn.read(lambda c: managed_index(c.execute(_V1_MANAGED_SQL).fetchall(),
                                                           utc_from_sqlite_text))
        return self._conn.read(lambda c: managed_index(c.execute(_MANAGED_SQL, (self.namespace,)).fetchall(),
                                                       utc_from_sqlite_text))

    def close(self) -> None:
        self._conn.close()
