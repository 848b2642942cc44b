"""One state store, a namespace per environment: records, serials, journals and locks never cross.

Run on a real SQLite file and, where ``AUTHCTL_TEST_PG_URL`` is set, on a fresh PostgreSQL
database. A store written by the previous layout (schema 1, one namespace) is built here with
that layout's own tables, then opened: its records land in the namespace of the environment
it recorded, and the read-only SQLite path reads it the same way without upgrading it.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text, create_engine, insert, text

from reconciler.errors import LineageMismatchError, StateError
from reconciler.state.records import DEFAULT_NAMESPACE, ManagedObject, WorkspaceIdentity
from reconciler.state.sqlite_reader import SqliteStateReader
from reconciler.state.store import SCHEMA_VERSION, StateStore
from reconciler.vocabulary import JournalOp, JournalPhase, ObjectKind

AUTH, JOB = ObjectKind.AUTHORIZATION, ObjectKind.JOB
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def stores(url: str) -> Iterator[dict[str, StateStore]]:
    """The prod, staging and default namespaces of one store, opened as `--env` would."""
    opened = {env: StateStore.open(url, workspace=WorkspaceIdentity("acme", environment=env))
              for env in ("prod", "staging", None)}
    try:
        yield {env or "": store for env, store in opened.items()}
    finally:
        for store in opened.values():
            store.close()


def _auth(name: str, live_id: str) -> ManagedObject:
    return ManagedObject(AUTH, name, live_id, {"config": f"hmac-sha256:{live_id}"}, WHEN)


def test_each_environment_reads_and_writes_only_its_own_namespace(stores: dict[str, StateStore]) -> None:
    prod, staging, default = stores["prod"], stores["staging"], stores[""]
    assert (prod.namespace, staging.namespace, default.namespace) == ("prod", "staging", DEFAULT_NAMESPACE)
    prod.put(_auth("fb-ads", "p" * 32))
    staging.put(_auth("fb-ads", "s" * 32))  # the same manifest name: another record
    prod.record("apply-p", "Job/sync", JournalOp.CREATE_JOB, JournalPhase.DONE, {},
                puts=(ManagedObject(JOB, "sync", "j" * 32, {}, WHEN),))

    assert prod.managed() == {(AUTH, "fb-ads"): _auth("fb-ads", "p" * 32),
                              (JOB, "sync"): ManagedObject(JOB, "sync", "j" * 32, {}, WHEN)}
    assert staging.managed() == {(AUTH, "fb-ads"): _auth("fb-ads", "s" * 32)}
    assert default.managed() == {} and staging.get(JOB, "sync") is None
    assert staging.get(AUTH, "fb-ads") == _auth("fb-ads", "s" * 32)

    staging.remove(AUTH, "fb-ads")
    staging.record("apply-s", "Job/sync", JournalOp.DELETE_JOB, JournalPhase.DONE, {}, removes=((JOB, "sync"),))
    assert staging.managed() == {}
    assert set(prod.managed()) == {(AUTH, "fb-ads"), (JOB, "sync")}, "staging removed prod's records"

    # One key, one lineage: the fingerprints of one environment mean the same in the other.
    assert prod.hmac_key() == staging.hmac_key() and prod.meta().lineage == staging.meta().lineage


def test_serials_journals_and_open_intents_are_per_namespace(stores: dict[str, StateStore]) -> None:
    prod, staging = stores["prod"], stores["staging"]
    assert [prod.bump_serial() for _ in range(3)] == [1, 2, 3]
    assert staging.bump_serial() == 1
    assert (prod.meta().serial, staging.meta().serial, stores[""].meta().serial) == (3, 1, 0)
    assert (prod.meta().namespace, staging.meta().namespace) == ("prod", "staging")

    prod.record("apply-p", "Authorization/a", JournalOp.CREATE, JournalPhase.INTENT, {"marker": "m"})
    staging.record("apply-s", "Authorization/a", JournalOp.CREATE, JournalPhase.DONE, {})
    assert [e.apply_id for e in prod.pending_intents()] == ["apply-p"]
    assert staging.pending_intents() == [], "prod's interrupted create would be recovered by staging"
    assert [e.apply_id for e in staging.journal_entries()] == ["apply-s"]
    assert [(n.name, n.serial, n.managed) for n in prod.namespaces()] == [("prod", 3, 0), ("staging", 1, 0)]


def test_locks_are_per_namespace_and_name_it(stores: dict[str, StateStore], url: str) -> None:
    prod_lock = stores["prod"].acquire_lock("apply", holder="alice")
    staging_lock = stores["staging"].acquire_lock("apply", holder="bob")  # at the same time: another namespace
    other = StateStore.open(url, namespace="prod")
    try:
        with pytest.raises(StateError) as caught:
            other.acquire_lock("apply", holder="carol")
        assert "the state is locked (namespace 'prod'): held by alice" in str(caught.value)
        assert stores["staging"].current_lock() == staging_lock and stores[""].current_lock() is None
        with pytest.raises(StateError, match="not locked"):
            stores[""].force_unlock(prod_lock.lock_id)
    finally:
        other.close()
        stores["prod"].release_lock(prod_lock.lock_id)
        stores["staging"].release_lock(staging_lock.lock_id)


def test_an_object_of_another_environment_cannot_be_imported(stores: dict[str, StateStore]) -> None:
    stores["prod"].put(_auth("fb-ads", "p" * 32))
    with pytest.raises(StateError) as caught:
        stores["staging"].adopt(_auth("fb-ads", "p" * 32), holder="bob", reason=JournalOp.IMPORT)
    assert f"{'p' * 32} is already managed as Authorization/fb-ads in namespace 'prod'" in str(caught.value)
    assert stores["staging"].managed() == {} and stores["staging"].current_lock() is None


def test_another_workspace_is_still_refused(url: str) -> None:
    StateStore.open(url, workspace=WorkspaceIdentity("acme", environment="prod")).close()
    with pytest.raises(LineageMismatchError, match="belongs to workspace 'acme'"):
        StateStore.open(url, workspace=WorkspaceIdentity("other", environment="prod"))


# -- a store of the previous layout ------------------------------------------------------------------
def _v1_tables() -> tuple[MetaData, dict[str, Table]]:
    """Schema 1 exactly as authctl wrote it (one namespace; the environment recorded in state_meta)."""
    md = MetaData()
    tables = {
        "meta": Table("state_meta", md, Column("key", String(64), primary_key=True), Column("value", Text)),
        "managed": Table("managed_objects", md, Column("kind", String(32), primary_key=True),
                         Column("name", String(63), primary_key=True), Column("live_id", String(64)),
                         Column("fingerprints", Text), Column("applied", Text),
                         Column("applied_at", DateTime(timezone=True))),
        "locks": Table("locks", md, Column("name", String(32), primary_key=True), Column("lock_id", String(36)),
                       Column("holder", String(128)), Column("host", String(255)), Column("pid", Integer),
                       Column("operation", String(32)), Column("since", DateTime(timezone=True))),
        "journal": Table("journal", md, Column("seq", Integer, primary_key=True, autoincrement=True),
                         Column("apply_id", String(36)), Column("address", String(200)), Column("action", String(32)),
                         Column("phase", String(16)), Column("detail", Text), Column("at", DateTime(timezone=True)),
                         Index("ix_journal_apply_address", "apply_id", "address", "action")),
    }
    return md, tables


def _write_v1_store(url: str, environment: str | None) -> str:
    """A schema 1 store holding two records, serial 7 and an open create intent; returns its lineage."""
    md, t = _v1_tables()
    lineage = str(uuid.uuid4())
    meta = {"schema_version": "1", "lineage": lineage, "serial": "7", "workspace": "acme",
            "hmac_key": "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0=",
            **({"environment": environment} if environment is not None else {})}
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            md.create_all(conn)
            conn.execute(insert(t["meta"]), [{"key": k, "value": v} for k, v in meta.items()])
            conn.execute(insert(t["managed"]), [
                {"kind": "Authorization", "name": "fb-ads", "live_id": "a" * 32, "fingerprints": "{}",
                 "applied": '{"label": "Facebook Ads"}', "applied_at": WHEN},
                {"kind": "Job", "name": "sync", "live_id": "j" * 32, "fingerprints": "{}", "applied": "{}",
                 "applied_at": WHEN}])
            conn.execute(insert(t["journal"]).values(apply_id="apply-1", address="Job/new", action="create-job",
                                                     phase="intent", detail='{"marker": "m1"}', at=WHEN))
    finally:
        engine.dispose()
    return lineage


def test_a_schema_1_store_becomes_the_namespace_of_the_environment_it_recorded(url: str) -> None:
    lineage = _write_v1_store(url, "prod")
    staging = StateStore.open(url, workspace=WorkspaceIdentity("acme", environment="staging"))  # upgrades it
    prod = StateStore.open(url, workspace=WorkspaceIdentity("acme", environment="prod"))
    try:
        assert staging.managed() == {} and staging.pending_intents() == [] and staging.meta().serial == 0
        assert set(prod.managed()) == {(AUTH, "fb-ads"), (JOB, "sync")}
        assert prod.managed()[(AUTH, "fb-ads")].applied == {"label": "Facebook Ads"}
        assert [e.address for e in prod.pending_intents()] == ["Job/new"]
        meta = prod.meta()
        assert (meta.lineage, meta.serial, meta.schema_version, meta.workspace) == (lineage, 7, SCHEMA_VERSION,
                                                                                      "acme")
        assert "environment" not in prod.meta_rows() and "serial" not in prod.meta_rows()
        assert prod.bump_serial() == 8
        prod.put(_auth("new", "n" * 32))  # the upgraded tables take the new layout's writes
        lock = prod.acquire_lock("apply", holder="alice")
        prod.release_lock(lock.lock_id)
    finally:
        staging.close()
        prod.close()


def test_a_schema_1_store_that_recorded_no_environment_becomes_the_default_namespace(url: str) -> None:
    _write_v1_store(url, "")
    store = StateStore.open(url, workspace="acme")
    try:
        assert store.namespace == DEFAULT_NAMESPACE and len(store.managed()) == 2 and store.meta().serial == 7
    finally:
        store.close()


def test_a_schema_1_store_not_yet_applied_belongs_to_its_first_user(url: str) -> None:
    _write_v1_store(url, None)  # made by a tool, never applied: no environment recorded yet
    store = StateStore.open(url, workspace=WorkspaceIdentity("acme", environment="qa"))
    try:
        assert len(store.managed()) == 2 and store.meta().serial == 7
    finally:
        store.close()


def test_plan_reads_a_schema_1_sqlite_file_without_upgrading_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _write_v1_store(f"sqlite:///{path}", "prod")
    for environment, expected in (("prod", 2), ("staging", 0)):
        reader = SqliteStateReader.open(path, str(path), WorkspaceIdentity("acme", environment=environment))
        assert reader is not None
        try:
            assert len(reader.managed()) == expected
            assert reader.meta().serial == (7 if expected else 0)
        finally:
            reader.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM state_meta WHERE key = 'schema_version'").fetchone() == ("1",)


def test_the_reader_and_the_store_agree_on_a_namespace(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    for environment, live_id in (("prod", "p" * 32), ("staging", "s" * 32)):
        store = StateStore.open(f"sqlite:///{path}", workspace=WorkspaceIdentity("acme", environment=environment))
        store.put(_auth("fb-ads", live_id))
        store.bump_serial()
        store.close()
    reader = SqliteStateReader.open(path, str(path), WorkspaceIdentity("acme", environment="staging"))
    assert reader is not None
    try:
        assert reader.managed() == {(AUTH, "fb-ads"): _auth("fb-ads", "s" * 32)} and reader.meta().serial == 1
    finally:
        reader.close()


def test_two_openers_upgrade_a_schema_1_store_once(url: str) -> None:
    """Opened by several processes' first run at once: one upgrades, the others use the result."""
    import threading

    _write_v1_store(url, "prod")
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_it() -> None:
        barrier.wait()
        try:
            StateStore.open(url, workspace=WorkspaceIdentity("acme", environment="prod")).close()
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = StateStore.open(url, namespace="prod")
    try:
        assert len(store.managed()) == 2
    finally:
        store.close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = {row[0] for row in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table'" if url.startswith("sqlite") else
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
    finally:
        engine.dispose()
    assert not {name for name in tables if name.endswith("_v2")}, tables
