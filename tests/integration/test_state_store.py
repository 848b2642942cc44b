"""The state store on a real SQLite file: managed objects, meta, the apply lock, the journal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reconciler.errors import LineageMismatchError, LockHeldError, StateError
from reconciler.state.records import ManagedObject
from reconciler.state.store import SCHEMA_VERSION, StateStore
from reconciler.vocabulary import JournalOp, JournalPhase, ObjectKind


@pytest.fixture
def store(state_url: str):  # type: ignore[no-untyped-def]
    s = StateStore.open(state_url, workspace="acme-prod")
    yield s
    s.close()


def _obj(name: str, live_id: str, kind: str = "Authorization", **fingerprints: str) -> ManagedObject:
    return ManagedObject(kind, name, live_id, dict(fingerprints), datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))


# -- managed objects --------------------------------------------------------------------------------
def test_managed_objects_round_trip(store: StateStore, state_url: str) -> None:
    assert store.managed() == {}
    a = _obj("fb-ads-prod", "a" * 32, **{"credentials.access_token": "hmac-sha256:abc", "config": "hmac-sha256:d"})
    j = _obj("fb-audiences", "j" * 32, kind="Job", config="hmac-sha256:e")
    same_name_other_kind = _obj("fb-ads-prod", "k" * 32, kind="Job")
    for obj in (a, j, same_name_other_kind):
        store.put(obj)
    managed = store.managed()
    assert managed == {("Authorization", "fb-ads-prod"): a, ("Job", "fb-audiences"): j,
                       ("Job", "fb-ads-prod"): same_name_other_kind}
    assert managed[("Authorization", "fb-ads-prod")].address == "Authorization/fb-ads-prod"
    # Replace: same (kind, name) gets the new live id and fingerprints; nothing else moves.
    replaced = ManagedObject("Authorization", "fb-ads-prod", "b" * 32, {"config": "hmac-sha256:z"},
                             datetime(2025, 2, 1, tzinfo=UTC))
    store.put(replaced)
    managed = store.managed()
    assert managed[("Authorization", "fb-ads-prod")] == replaced
    assert len(managed) == 3
    store.remove("Authorization", "fb-ads-prod")
    store.remove("Authorization", "never-existed")  # removing nothing is fine
    assert set(store.managed()) == {("Job", "fb-audiences"), ("Job", "fb-ads-prod")}
    # Everything survives a reopen.
    store.close()
    again = StateStore.open(state_url, workspace="acme-prod")
    try:
        assert again.managed()[("Job", "fb-audiences")] == j
    finally:
        again.close()


def test_applied_at_is_kept_as_utc(store: StateStore) -> None:
    local = datetime(2025, 6, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    store.put(ManagedObject("Job", "j", "1", {}, local))
    back = store.managed()[("Job", "j")].applied_at
    assert back == local and back.utcoffset() == timedelta(0)


def test_get_reads_one_object_like_managed(store: StateStore) -> None:
    a = ManagedObject("Authorization", "a", "1" * 32, {"config": "hmac-sha256:c"},
                      datetime(2025, 1, 2, tzinfo=UTC), {"label": "A", "config": {"n": [1, 2]}})
    store.put(a)
    store.put(_obj("a", "2" * 32, kind="Job"))
    assert store.get("Authorization", "a") == a == store.managed()[("Authorization", "a")]
    assert store.get("Job", "a") == store.managed()[("Job", "a")]
    assert store.get("Authorization", "missing") is None


def test_record_writes_the_entry_and_the_state_change_together(store: StateStore) -> None:
    store.put(_obj("old", "o" * 32))
    store.put(_obj("kept", "k" * 32))
    new = _obj("new", "n" * 32, config="hmac-sha256:x")
    again = _obj("kept", "K" * 32)
    store.record("apply-1", "Authorization/new", "create", "done", {"live_id": "n" * 32},
                 puts=(new, again), removes=(("Authorization", "old"), ("Authorization", "never-existed")))
    assert store.managed() == {("Authorization", "new"): new, ("Authorization", "kept"): again}
    [entry] = store.journal_entries("apply-1")
    assert (entry.address, entry.action, entry.phase, entry.detail) == (
        "Authorization/new", "create", "done", {"live_id": "n" * 32})


def test_serial_bumps_and_lineage_is_stable(store: StateStore, state_url: str) -> None:
    meta = store.meta()
    assert meta.serial == 0 and meta.workspace == "acme-prod" and meta.schema_version == SCHEMA_VERSION
    assert len(meta.lineage) == 36
    assert [store.bump_serial() for _ in range(3)] == [1, 2, 3]
    key = store.hmac_key()
    assert isinstance(key, bytes) and len(key) == 32
    store.close()
    for workspace in ("acme-prod", None):
        again = StateStore.open(state_url, workspace=workspace)
        try:
            assert again.meta().lineage == meta.lineage
            assert again.meta().serial == 3
            assert again.hmac_key() == key
        finally:
            again.close()


def test_each_new_store_gets_its_own_lineage_and_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    one = StateStore.open(f"sqlite:///{tmp_path / 'one.db'}")
    two = StateStore.open(f"sqlite:///{tmp_path / 'two.db'}")
    try:
        assert one.meta().lineage != two.meta().lineage
        assert one.hmac_key() != two.hmac_key()
        assert one.meta().workspace is None
    finally:
        one.close()
        two.close()


def test_state_of_another_workspace_is_refused(store: StateStore, state_url: str) -> None:
    lineage = store.meta().lineage
    with pytest.raises(LineageMismatchError) as caught:
        StateStore.open(state_url, workspace="acme-staging")
    message = str(caught.value)
    assert "'acme-prod'" in message and "'acme-staging'" in message and lineage in message
    assert store.meta().workspace == "acme-prod"  # nothing rewritten


# -- the lock ---------------------------------------------------------------------------------------
def test_lock_acquire_contention_release(store: StateStore, state_url: str) -> None:
    assert store.current_lock() is None
    lock = store.acquire_lock("apply", holder="alice@laptop")
    assert (lock.holder, lock.host, lock.pid, lock.operation) == ("alice@laptop", socket.gethostname(),
                                                                   os.getpid(), "apply")
    assert abs((datetime.now(UTC) - lock.since).total_seconds()) < 5
    assert store.current_lock() == lock
    other = StateStore.open(state_url)
    try:
        with pytest.raises(LockHeldError) as caught:
            other.acquire_lock("apply", holder="bob@ci", timeout=0.3)
        message = str(caught.value)
        for part in ("alice@laptop", socket.gethostname(), f"pid {os.getpid()}", lock.lock_id,
                     lock.since.strftime("%Y-%m-%d %H:%M:%S")):
            assert part in message
        assert caught.value.lock_id == lock.lock_id and caught.value.holder == "alice@laptop"
        assert lock.lock_id in caught.value.hint and "force-unlock" in caught.value.hint
        # Another lock name is independent.
        refresh = other.acquire_lock("refresh", holder="bob@ci", name="refresh")
        other.release_lock(refresh.lock_id, name="refresh")
        # Releasing with a wrong id does nothing.
        other.release_lock("not-the-id")
        assert store.current_lock() == lock
        store.release_lock(lock.lock_id)
        assert store.current_lock() is None
        again = other.acquire_lock("apply", holder="bob@ci")
        assert again.lock_id != lock.lock_id and store.current_lock() == again
    finally:
        other.close()


def test_lock_waits_for_release(store: StateStore, state_url: str) -> None:
    lock = store.acquire_lock("apply", holder="first")
    script = textwrap.dedent(f"""
        import time
        from reconciler.state.store import StateStore
        s = StateStore.open({state_url!r})
        time.sleep(0.5)
        s.release_lock({lock.lock_id!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        got = store.acquire_lock("apply", holder="second", timeout=20)
        assert got.holder == "second"
    finally:
        assert proc.wait(timeout=30) == 0


def test_force_unlock_needs_the_right_id(store: StateStore) -> None:
    with pytest.raises(StateError, match="not locked"):
        store.force_unlock("whatever")
    lock = store.acquire_lock("apply", holder="alice")
    with pytest.raises(StateError) as caught:
        store.force_unlock("wrong-id")
    assert "does not match" in str(caught.value) and lock.lock_id in str(caught.value)
    assert store.current_lock() == lock
    removed = store.force_unlock(lock.lock_id)
    assert removed == lock and store.current_lock() is None


def test_lock_of_a_killed_process_is_taken_over(store: StateStore, state_url: str) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from reconciler.state.store import StateStore
        s = StateStore.open({state_url!r})
        lock = s.acquire_lock("apply", holder="doomed")
        print(lock.lock_id, flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lock_id = proc.stdout.readline().strip()
        held = store.current_lock()
        assert held is not None and (held.lock_id, held.pid, held.holder) == (lock_id, proc.pid, "doomed")
        with pytest.raises(LockHeldError, match=f"pid {proc.pid}"):
            store.acquire_lock("apply", holder="me")  # alive: not taken over
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)  # reaped: the pid no longer exists
        if proc.stdout is not None:
            proc.stdout.close()
    taken = store.acquire_lock("apply", holder="me")
    assert taken.lock_id != lock_id and taken.pid == os.getpid()
    assert store.current_lock() == taken


def test_lock_of_another_host_is_never_taken_over(store: StateStore, state_url: str) -> None:
    import sqlite3

    from sqlalchemy.engine import make_url

    store.acquire_lock("apply", holder="remote")
    db = make_url(state_url).database
    with sqlite3.connect(db) as conn:  # as if written by a CI runner elsewhere, with a pid unused here
        conn.execute("UPDATE locks SET host = 'ci-runner-7', pid = 999999")
    with pytest.raises(LockHeldError, match="ci-runner-7"):
        store.acquire_lock("apply", holder="me")


# -- the journal ------------------------------------------------------------------------------------
def test_journal_keeps_append_order(store: StateStore) -> None:
    entries = [("apply-1", "Authorization/a", "create", "intent", {"label": "A"}),
               ("apply-1", "Authorization/a", "create", "done", {"id": "x"}),
               ("apply-2", "Job/j", "update", "intent", {}),
               ("apply-1", "Job/j", "delete", "failed", {"error": "boom", "n": [1, 2]})]
    for entry in entries:
        store.record(*entry)
    got = store.journal_entries()
    assert [(e.apply_id, e.address, e.action, e.phase, e.detail) for e in got] == entries
    assert [e.seq for e in got] == sorted(e.seq for e in got) and len({e.seq for e in got}) == 4
    assert all(e.at.tzinfo is not None for e in got)
    only = store.journal_entries("apply-1")
    assert [(e.address, e.phase) for e in only] == [("Authorization/a", "intent"), ("Authorization/a", "done"),
                                                    ("Job/j", "failed")]
    assert store.journal_entries("nope") == []


# -- adopt: login, import and reauth write state the way apply does ------------------------------
def test_adopt_records_under_the_lock_with_a_journal_pair(store: StateStore) -> None:
    serial = store.meta().serial
    obj = _obj("fb-user", "u" * 32, kind=ObjectKind.AUTHORIZATION)
    operation_id = store.adopt(obj, holder="alice")
    assert store.get(ObjectKind.AUTHORIZATION, "fb-user") == obj
    entries = store.journal_entries(operation_id)
    assert [(e.action, e.phase) for e in entries] == [(JournalOp.ADOPT, JournalPhase.INTENT),
                                                      (JournalOp.ADOPT, JournalPhase.DONE)]
    assert store.pending_intents() == []
    assert store.meta().serial == serial + 1
    assert store.current_lock() is None  # released
    assert store.adopt(obj, holder="alice")  # the same object again: idempotent


def test_adopt_refuses_to_move_a_name_or_an_id(store: StateStore) -> None:
    store.adopt(_obj("fb-user", "u" * 32, kind=ObjectKind.AUTHORIZATION), holder="alice")
    with pytest.raises(StateError, match="already managed as u+, not v+"):
        store.adopt(_obj("fb-user", "v" * 32, kind=ObjectKind.AUTHORIZATION), holder="alice")
    with pytest.raises(StateError, match="already managed as Authorization/fb-user"):
        store.adopt(_obj("fb-other", "u" * 32, kind=ObjectKind.AUTHORIZATION), holder="alice")
    assert store.current_lock() is None


def test_adopt_waits_for_a_running_apply(store: StateStore) -> None:
    lock = store.acquire_lock("apply", holder="ci")
    try:
        with pytest.raises(LockHeldError):
            store.adopt(_obj("fb-user", "u" * 32, kind=ObjectKind.AUTHORIZATION), holder="alice")
    finally:
        store.release_lock(lock.lock_id)
    assert store.get(ObjectKind.AUTHORIZATION, "fb-user") is None
