"""A read-only view of an existing SQLite state store through the stdlib driver, for commands that only read.

`plan`, `status` and `show` read the meta rows and every managed object, nothing else;
doing that without SQLAlchemy saves every such run about 0.3 s of imports. The checks
and the row conversion are the store's own (``records``), so both ways read the same.
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
)

_META_SQL = "SELECT key, value FROM state_meta"
_MANAGED_SQL = "SELECT kind, name, live_id, fingerprints, applied, applied_at FROM managed_objects"
_HAS_META_SQL = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state_meta'"


class SqliteStateReader:
    """meta(), hmac_key() and managed() of a SQLite state store, as :class:`StateStore` answers them."""

    def __init__(self, conn: SqliteReadConnection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, path: Path, where: str, workspace: WorkspaceIdentity | str | None) -> SqliteStateReader | None:
        """The reader, or None when the file holds no state tables yet (the full store decides then)."""
        conn = SqliteReadConnection(
            path, lambda exc: StateError(describe_failure("the state store", where, exc, read_only=True)))
        reader = cls(conn)
        try:
            # A corrupt or unreadable file is reported as such here; only a file without
            # state tables yet goes to the full store (which creates them).
            if conn.read(lambda c: c.execute(_HAS_META_SQL).fetchone()) is None:
                conn.close()
                return None
            rows = reader._meta_rows()
            if "lineage" not in rows or "hmac_key" not in rows:
                conn.close()
                return None
            check_state_meta(rows, where, workspace)
        except BaseException:
            conn.close()
            raise
        return reader

    def _meta_rows(self) -> dict[str, str]:
        return dict(self._conn.read(lambda c: c.execute(_META_SQL).fetchall()))

    def meta(self) -> StateMeta:
        return StateMeta.from_rows(self._meta_rows())

    def hmac_key(self) -> bytes:
        return hmac_key_of(self._meta_rows())

    def managed(self) -> ManagedIndex:
        return self._conn.read(lambda c: managed_index(c.execute(_MANAGED_SQL).fetchall(), utc_from_sqlite_text))

    def close(self) -> None:
        self._conn.close()
