"""The create-or-check step of opening a platform database: create it, or check and upgrade it in place.

It runs in one write transaction (DDL is transactional on SQLite and PostgreSQL), so an
upgrade is all or nothing, and the refusals (a newer schema, the wrong key) come before
anything is written.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Table, insert, inspect, select, update
from sqlalchemy.schema import CreateColumn

from reconciler.errors import DatabaseError, SchemaVersionError
from reconciler.platform import schema as t
from reconciler.platform.crypto import Sealer
from reconciler.platform.rows import new_id


def create_or_check(conn: Connection, sealer: Sealer, where: str) -> None:
    """Create the schema in an empty database; otherwise refuse a newer schema or another key, and upgrade."""
    if t.meta.name in inspect(conn).get_table_names():
        # FOR UPDATE (PostgreSQL): a second opener of an old database waits here for the first
        # one's upgrade and then reads the new version, instead of upgrading twice.
        rows = {key: value for key, value in conn.execute(select(t.meta.c.key, t.meta.c.value).with_for_update())}
        version = int(rows.get("schema_version", "0"))
        if version > t.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where} was written by a newer authctl (platform schema {version}, this one knows "
                f"{t.SCHEMA_VERSION}); upgrade authctl")
        if "key_check" in rows:
            sealer.verify(rows["key_check"], where)
            _upgrade(conn, version, where)
            return
    t.metadata.create_all(conn)
    conn.execute(insert(t.meta), [
        {"key": "schema_version", "value": str(t.SCHEMA_VERSION)},
        {"key": "key_check", "value": sealer.key_check()},
        {"key": "account_id", "value": new_id()[:16]},
    ])


def _upgrade(conn: Connection, version: int, where: str) -> None:
    if version == t.SCHEMA_VERSION:
        return
    if version not in UPGRADES:
        raise DatabaseError(f"the platform database {where} records platform schema {version}, which this "
                            "authctl cannot upgrade")
    for step in range(version, t.SCHEMA_VERSION):
        UPGRADES[step](conn)
    conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value=str(t.SCHEMA_VERSION)))


def _add_column(conn: Connection, table: Table, name: str) -> None:
    """``ALTER TABLE ... ADD COLUMN`` for a column as :mod:`schema` declares it, then its indexes."""
    preparer = conn.dialect.identifier_preparer
    column = CreateColumn(table.c[name]).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {column}")
    for index in table.indexes:
        if name in index.columns:
            index.create(conn)


def _add_markers(conn: Connection) -> None:
    """1 -> 2: creation markers on authorizations and jobs, unique when set."""
    for table in (t.authorizations, t.jobs):
        _add_column(conn, table, "marker")


# schema version N -> the step that brings it to N + 1
UPGRADES: dict[int, Callable[[Connection], None]] = {1: _add_markers}
