"""The state store's tables, how a new store is made, and how an older layout is brought up to date.

Schema 2 gives every environment a namespace of its own in one store (like Terraform
workspaces): managed objects, locks and journal entries carry the namespace they belong
to, and each namespace has its own serial. What the whole store shares is in
``state_meta``: the lineage, the workspace it belongs to and the fingerprint key.

Schema 1 had one namespace and recorded the environment it was applied with. Opening
it moves its records into the namespace of that environment (the default namespace when
it recorded none), or, when it recorded nothing yet, into the namespace of the run that
opens it (the first run owns a new store), in one transaction.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    literal,
    select,
    text,
    update,
)

from reconciler.state.records import DEFAULT_NAMESPACE, SCHEMA_VERSION, v1_namespace

NAMESPACE_LENGTH = 255  # an environment name (authctl.yaml keys are free text; PostgreSQL checks the length)

metadata = MetaData()
meta = Table("state_meta", metadata, Column("key", String(64), primary_key=True),
             Column("value", Text, nullable=False))
namespaces = Table(
    "namespaces", metadata,
    Column("name", String(NAMESPACE_LENGTH), primary_key=True),
    Column("serial", Integer, nullable=False),
)
managed = Table(
    "managed_objects", metadata,
    Column("namespace", String(NAMESPACE_LENGTH), primary_key=True, default=DEFAULT_NAMESPACE),
    Column("kind", String(32), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("live_id", String(64), nullable=False),
    Column("fingerprints", Text, nullable=False, default="{}"),
    Column("applied", Text, nullable=False, default="{}"),  # non-secret applied values, for diffs
    Column("applied_at", DateTime(timezone=True), nullable=False),
    # Stored in key order on SQLite: a plan reads one namespace's rows as one range, not row by row.
    sqlite_with_rowid=False,
)
locks = Table(
    "locks", metadata,
    Column("namespace", String(NAMESPACE_LENGTH), primary_key=True, default=DEFAULT_NAMESPACE),
    Column("name", String(32), primary_key=True),
    Column("lock_id", String(36), nullable=False),
    Column("holder", String(128), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("operation", String(32), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)
journal = Table(
    "journal", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("apply_id", String(36), nullable=False),
    Column("address", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("phase", String(16), nullable=False),  # intent | done | failed | recovered | adopted
    Column("detail", Text, nullable=False, default="{}"),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("namespace", String(NAMESPACE_LENGTH), nullable=False, default=DEFAULT_NAMESPACE,
           server_default=DEFAULT_NAMESPACE),
    Index("ix_journal_apply_address", "apply_id", "address", "action"),
)

# Schema 1 rows that schema 2 keeps elsewhere: the serial per namespace, the environment as the namespace.
_V1_ONLY_META = ("serial", "environment")


def create(conn: Connection, meta_rows: dict[str, str]) -> None:
    """A brand-new store: every table, and ``meta_rows`` (lineage, key, identity) at this schema version."""
    metadata.create_all(conn)
    conn.execute(insert(meta), [{"key": "schema_version", "value": str(SCHEMA_VERSION)},
                                *({"key": k, "value": v} for k, v in meta_rows.items())])


def migrate_v1(conn: Connection, rows: dict[str, str], opener: str) -> str:
    """Bring a schema 1 store to schema 2 in the caller's transaction; returns the namespace its records went to.

    Tables whose key gains the namespace are rebuilt (SQLite cannot change a primary key
    in place): made under a new name, filled, the old one dropped, the new one renamed.
    """
    target = v1_namespace(rows, opener)
    for table, old_columns in ((managed, ("kind", "name", "live_id", "fingerprints", "applied", "applied_at")),
                               (locks, ("name", "lock_id", "holder", "host", "pid", "operation", "since"))):
        rebuilt = table.to_metadata(MetaData(), name=f"{table.name}_v2")
        rebuilt.create(conn)
        old = Table(table.name, MetaData(), *(Column(c) for c in old_columns))
        conn.execute(insert(rebuilt).from_select(
            ["namespace", *old_columns], select(literal(target), *(old.c[c] for c in old_columns))))
        conn.execute(text(f"DROP TABLE {table.name}"))
        conn.execute(text(f"ALTER TABLE {rebuilt.name} RENAME TO {table.name}"))
    conn.execute(text(f"ALTER TABLE journal ADD COLUMN namespace VARCHAR({NAMESPACE_LENGTH}) "
                      f"NOT NULL DEFAULT '{DEFAULT_NAMESPACE}'"))
    conn.execute(update(journal).values(namespace=target))
    namespaces.create(conn)
    conn.execute(insert(namespaces).values(name=target, serial=int(rows.get("serial", "0"))))
    conn.execute(delete(meta).where(meta.c.key.in_(_V1_ONLY_META)))
    conn.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))
    return target
