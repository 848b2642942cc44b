"""The embedded platform and the state store on a real PostgreSQL server (a fresh database per test).

Skipped unless ``AUTHCTL_TEST_PG_URL`` is set (``make test`` starts a server and sets it).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, event, text

from reconciler.backends.local import LocalBackend
from reconciler.errors import (
    ConflictError,
    EncryptionKeyError,
    LineageMismatchError,
    LockHeldError,
    NotFoundError,
    ReferencedError,
    SchemaVersionError,
    StateError,
)
from reconciler.platform import open_platform
from reconciler.state.records import ManagedObject
from reconciler.state.store import StateStore

pytestmark = pytest.mark.postgres

NEW_YORK = "?options=" + quote("-c timezone=America/New_York")


def _sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def _parallel(count: int, work: Callable[[int], None]) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_platform_round_trip(pg_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "pg.key"
    canary = f"CANARY-{uuid.uuid4()}"
    p = open_platform(pg_url, key_file=key_file)
    try:
        a = p.create_authorization(provider="facebook", method="system_user", label="Facebook Ads (prod)",
                                   config={"ads_account_id": canary}, credentials={"access_token": canary})
        b = p.create_authorization(provider="google_ads", method="oauth_user", label="Google Ads")
        assert p.update_authorization(a.id, description="prod").description == "prod"
        with pytest.raises(ConflictError, match="cannot edit method"):
            p.update_authorization(a.id, method="api_key")
        with pytest.raises(ConflictError, match="labels must be unique"):
            p.create_authorization(provider="x", method="y", label="GOOGLE ADS")
        with pytest.raises(ConflictError, match="labels must be unique"):
            p.update_authorization(a.id, label="google ads")
        job = p.create_job(name="sync", workflow="w", auth_ids=[b.id, a.id], status="sleeping")
        exp = p.create_experience(name="Exp", auth_ids=[a.id])
        with pytest.raises(ReferencedError) as caught:
            p.delete_authorization(a.id)
        assert f"job sync ({job.id}, sleeping)" in str(caught.value) and f"experience Exp ({exp.id})" in str(
            caught.value)
        assert [j.id for j in p.delete_authorization(a.id, mode="cascade")] == [job.id]
        assert (p.get_job(job.id).status, p.get_job(job.id).auth_ids) == ("killed", (b.id,))
        with pytest.raises(NotFoundError):
            p.get_authorization(a.id)

        p.set_health(b.id, "unhealthy", "refresh token expired")
        expires = datetime(2030, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=3)))
        again = p.reauthorize(b.id, credentials={"refresh_token": canary}, token_expires_at=expires,
                              scopes=("adwords",))
        stored = p.get_authorization(b.id)
        assert again.id == b.id and (stored.health, stored.token_expires_at, stored.scopes) == (
            "healthy", expires, ("adwords",))
        assert p.stored_secrets(b.id)["credentials"] == {"refresh_token": canary}

        now = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)
        for delta, count in ((timedelta(minutes=30), 1), (timedelta(hours=5), 2), (timedelta(days=3), 4),
                             (timedelta(days=20), 8), (timedelta(days=45), 16)):
            p.record_request(b.id, count, at=now - delta)
        p.record_request(b.id, 1, at=now - timedelta(minutes=20))
        counts = p.request_counts(b.id, now=now)
        assert (counts.hour, counts.day, counts.week, counts.month) == (2, 4, 8, 16)
    finally:
        p.close()
    # The canary is nowhere in the database, in any table or column.
    for table in ("authorizations", "jobs", "experiences", "platform_meta"):
        rows = _sql(pg_url, f"SELECT CAST(t AS text) FROM {table} AS t")
        assert rows and all(canary not in row[0] for row in rows), table
    blobs = _sql(pg_url, "SELECT secret_blob FROM authorizations")
    assert all(canary.encode() not in bytes(row[0]) for row in blobs)


def test_datetimes_are_utc_whatever_the_session_zone(pg_url: str, tmp_path: Path) -> None:
    p = open_platform(pg_url + NEW_YORK, key_file=tmp_path / "k")
    try:
        a = p.create_authorization(provider="facebook", method="system_user", label="A")
        p.create_job(name="j", workflow="w", auth_ids=[a.id])
        for record in (p.get_authorization(a.id), *p.snapshot().authorizations, *p.snapshot().jobs):
            assert record.created.utcoffset() == timedelta(0)
            assert abs(datetime.now(UTC) - record.created) < timedelta(minutes=5)
        assert p.get_authorization(a.id).created.tzinfo == UTC
    finally:
        p.close()
    s = StateStore.open(pg_url + NEW_YORK)
    try:
        applied = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
        s.put(ManagedObject("Job", "j", "1", {}, applied))
        back = s.managed()[("Job", "j")].applied_at
        assert back == applied and back.tzinfo == UTC
        assert s.acquire_lock("apply", holder="me").since.tzinfo == UTC
        assert s.current_lock().since.tzinfo == UTC  # type: ignore[union-attr]
    finally:
        s.close()


def test_snapshot_costs_constant_queries(pg_url: str, tmp_path: Path) -> None:
    p = open_platform(pg_url, key_file=tmp_path / "k")
    counts = []
    try:
        for n in (10, 120):
            have = len(p.list_authorizations())
            for i in range(have, n):
                a = p.create_authorization(provider="facebook", method="system_user", label=f"L{i}")
                p.create_job(name=f"j{i}", workflow="w", auth_ids=[a.id])
                if i % 4 == 0:
                    p.create_experience(name=f"e{i}", auth_ids=[a.id])
            p.snapshot()
            seen: list[str] = []
            listener = lambda *args: seen.append(args[2])  # noqa: E731
            event.listen(p._db.engine, "before_cursor_execute", listener)
            snap = LocalBackend(p).snapshot()
            event.remove(p._db.engine, "before_cursor_execute", listener)
            assert len(snap.authorizations) == len(snap.jobs) == n
            assert len(snap.experiences) == (n + 3) // 4
            counts.append(len(seen))
    finally:
        p.close()
    assert counts[0] == counts[1]


def test_wrong_key_and_newer_schema_are_refused(pg_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHCTL_PLATFORM_KEY", Fernet.generate_key().decode())
    p = open_platform(pg_url)
    a = p.create_authorization(provider="facebook", method="system_user", label="A", credentials={"t": "v"})
    p.close()
    monkeypatch.setenv("AUTHCTL_PLATFORM_KEY", Fernet.generate_key().decode())
    with pytest.raises(EncryptionKeyError, match="does not match"):
        open_platform(pg_url)
    monkeypatch.delenv("AUTHCTL_PLATFORM_KEY")
    with pytest.raises(EncryptionKeyError, match="no platform key"):
        open_platform(pg_url)  # no file beside a server database: the key must come from the env
    assert len(_sql(pg_url, "SELECT id FROM authorizations WHERE id = :id", id=a.id)) == 1
    _sql(pg_url, "UPDATE platform_meta SET value = '5' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="platform schema 5"):
        open_platform(pg_url, key_file=tmp_path / "k")
    StateStore.open(pg_url).close()
    _sql(pg_url, "UPDATE state_meta SET value = '5' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="state schema 5"):
        StateStore.open(pg_url)


def test_state_round_trip(pg_url: str) -> None:
    s = StateStore.open(pg_url, workspace="acme")
    try:
        meta = s.meta()
        key = s.hmac_key()
        assert len(key) == 32 and meta.serial == 0
        obj = ManagedObject("Authorization", "fb", "id1", {"config": "hmac-sha256:x"},
                            datetime(2025, 5, 5, tzinfo=UTC))
        s.put(obj)
        s.put(ManagedObject("Job", "j", "id2", {}, datetime(2025, 5, 5, tzinfo=UTC)))
        replaced = ManagedObject("Authorization", "fb", "id3", {}, datetime(2025, 6, 6, tzinfo=UTC))
        s.put(replaced)
        s.remove("Job", "j")
        assert s.managed() == {("Authorization", "fb"): replaced}
        assert [s.bump_serial() for _ in range(2)] == [1, 2]
        lock = s.acquire_lock("apply", holder="alice")
        with pytest.raises(LockHeldError, match=lock.lock_id):
            s.acquire_lock("apply", holder="bob", timeout=0.2)
        with pytest.raises(StateError, match="does not match"):
            s.force_unlock("other")
        assert s.force_unlock(lock.lock_id) == lock
        for phase in ("intent", "done"):
            s.record("ap", "Authorization/fb", "create", phase, {"phase": phase})
        assert [e.phase for e in s.journal_entries("ap")] == ["intent", "done"]
    finally:
        s.close()
    again = StateStore.open(pg_url, workspace="acme")
    try:
        assert (again.meta().lineage, again.meta().serial, again.hmac_key()) == (meta.lineage, 2, key)
    finally:
        again.close()
    with pytest.raises(LineageMismatchError):
        StateStore.open(pg_url, workspace="other")


def test_concurrent_writers_keep_the_rules(pg_url: str, tmp_path: Path) -> None:
    """Several connections at once: one winner per label, no lost serials, one lock holder."""
    p = open_platform(pg_url, key_file=tmp_path / "k")
    s = StateStore.open(pg_url)
    try:
        outcomes: list[str] = []

        def create(i: int) -> None:
            try:
                p.create_authorization(provider="facebook", method="system_user",
                                       label="Shared" if i % 2 else "SHARED")
                outcomes.append("created")
            except ConflictError:
                outcomes.append("conflict")

        assert _parallel(8, create) == []
        assert sorted(outcomes) == ["conflict"] * 7 + ["created"]
        assert [a.label.casefold() for a in p.list_authorizations()] == ["shared"]

        def bump(_: int) -> None:
            for _ in range(10):
                s.bump_serial()

        assert _parallel(6, bump) == []
        assert s.meta().serial == 60

        def put(i: int) -> None:
            s.put(ManagedObject("Authorization", "same", f"id{i}", {}, datetime.now(UTC)))

        assert _parallel(6, put) == []
        assert len(s.managed()) == 1

        holders: list[str] = []

        def lock(i: int) -> None:
            try:
                s.acquire_lock("apply", holder=f"h{i}")
                holders.append(f"h{i}")
            except LockHeldError:
                pass

        assert _parallel(6, lock) == []
        assert len(holders) == 1 and s.current_lock().holder == holders[0]  # type: ignore[union-attr]
    finally:
        p.close()
        s.close()
