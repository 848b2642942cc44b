"""Snapshots (complete, ordered, constant queries) and the local backend over a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from reconciler.backends import AuthorizationRequest, Backend, JobRequest, open_backend
from reconciler.vocabulary import ACTIVE_JOB_STATUSES, Access, JobStatus
from reconciler.backends.local import LocalBackend
from reconciler.catalog import load_catalog
from reconciler.errors import PermanentBackendError, TemporaryBackendError
from reconciler.live import Reference, Snapshot
from reconciler.manifest.secrets import SecretValue
from reconciler.platform import Platform, open_platform

JOB_STATUSES = tuple(JobStatus)
from reconciler.workspace import load_workspace


@contextmanager
def count_statements(platform: Platform) -> Iterator[list[str]]:
    """Every SQL statement the platform's engine sends while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(platform._db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(platform._db.engine, "before_cursor_execute", record)


def _selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


class World:
    """Bulk-created platform objects plus what the reference index must say about them."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.auth_ids: list[str] = []
        self.jobs: dict[str, tuple[str, tuple[str, ...]]] = {}  # id -> (status, auth ids in order)
        self.experiences: dict[str, tuple[str, ...]] = {}

    def grow(self, n: int) -> None:
        p = self.platform
        start = len(self.auth_ids)
        for i in range(start, start + n):
            self.auth_ids.append(p.create_authorization(
                provider="facebook", method="system_user", label=f"Auth {i:04d}",
                credentials={"access_token": f"t{i}"}, description=f"d{i}").id)
        total = len(self.auth_ids)
        for i in range(start, start + n):
            status = JOB_STATUSES[i % len(JOB_STATUSES)]
            # Deliberately not in id order: the job's own order must survive.
            ids = tuple(dict.fromkeys(self.auth_ids[k] for k in (i, (i * 7 + 3) % total, (i + 1) % total)))
            job = p.create_job(name=f"job-{i:04d}", workflow="facebook-audience-populate", auth_ids=ids,
                               status=status, config={"n": i})
            self.jobs[job.id] = (status, ids)
            if i % 3 == 0:
                exp_ids = (self.auth_ids[(i * 5) % total], self.auth_ids[i])
                exp = p.create_experience(name=f"exp-{i:04d}", auth_ids=exp_ids)
                self.experiences[exp.id] = tuple(dict.fromkeys(exp_ids))

    def expected_references(self) -> dict[str, set[tuple[str, str, str]]]:
        index: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
        for job_id, (status, ids) in self.jobs.items():
            if status == "deleted":
                continue
            for auth_id in ids:
                index[auth_id].add(("job", job_id, status.display))
        for exp_id, ids in self.experiences.items():
            for auth_id in ids:
                index[auth_id].add(("experience", exp_id, "imported"))
        return index


def test_snapshot_is_complete_and_costs_constant_queries(platform: Platform) -> None:
    world = World(platform)
    world.grow(10)
    platform.snapshot()  # warm the connection pool (connect-time PRAGMAs are not per snapshot)
    with count_statements(platform) as small:
        snap_small = platform.snapshot()
    assert len(snap_small.authorizations) == 10
    world.grow(290)
    with count_statements(platform) as large:
        raw = platform.snapshot()
    assert len(small) == len(large), (small, large)
    assert len(_selects(large)) == raw.queries == 5

    assert {a.id for a in raw.authorizations} == set(world.auth_ids)
    assert {a.label for a in raw.authorizations} == {f"Auth {i:04d}" for i in range(300)}
    not_deleted = {j for j, (s, _) in world.jobs.items() if s != "deleted"}
    assert {j.id for j in raw.jobs} == not_deleted
    for job in raw.jobs:
        assert (job.status, job.auth_ids) == world.jobs[job.id]
        assert job.config == {"n": int(job.name[4:])}
    assert {e.id: e.auth_ids for e in raw.experiences} == world.experiences
    with count_statements(platform) as with_deleted:
        everything = platform.snapshot(include_deleted=True)
    assert len(with_deleted) == len(large)
    assert {j.id for j in everything.jobs} == set(world.jobs)
    # Nothing secret in a snapshot.
    assert "t0" not in repr(raw.authorizations[0]) and not hasattr(raw.authorizations[0], "credentials")


def test_backend_snapshot_reference_index(platform: Platform) -> None:
    world = World(platform)
    world.grow(300)
    backend = LocalBackend(platform)
    snap = backend.snapshot()
    assert isinstance(snap, Snapshot)
    assert snap.calls == 5 and snap.taken_at is not None
    assert set(snap.authorizations) == set(world.auth_ids)
    assert {j for j in snap.jobs} == {j for j, (s, _) in world.jobs.items() if s != "deleted"}
    for job_id, job in snap.jobs.items():
        assert job.auth_ids == world.jobs[job_id][1]
    expected = world.expected_references()
    for auth_id in world.auth_ids:
        refs = snap.references(auth_id)
        assert all(isinstance(r, Reference) for r in refs)
        assert len(refs) == len(expected[auth_id])
        assert {(r.kind, r.id, r.display_status) for r in refs} == expected[auth_id]
        active = {(r.kind, r.id) for r in snap.active_references(auth_id)}
        assert active == {(k, i) for k, i, s in expected[auth_id]
                          if k == "experience" or s in {a.display for a in ACTIVE_JOB_STATUSES}}
        # The fresh per-authorization read agrees with the index.
        if auth_id in world.auth_ids[:20]:
            assert {(r.kind, r.id, r.display_status) for r in backend.references(auth_id)} == expected[auth_id]
    assert snap.references("no-such-id") == [] and snap.active_references("no-such-id") == []
    # Runnable is shown as running in references.
    running = [r for refs in map(snap.references, world.auth_ids) for r in refs if r.kind == "job"
               and world.jobs[r.id][0] == "runnable"]
    assert running and all(r.display_status == "running" and r.active for r in running)


# -- the local backend --------------------------------------------------------------------------------
def _request(label: str = "Facebook Ads (prod)", token: str = "tok") -> AuthorizationRequest:
    return AuthorizationRequest(provider="facebook", method="system_user", type="facebook", label=label,
                                description="Audience sync", config={"ads_account_id": "act_1"},
                                credentials={"access_token": SecretValue(token)})


def test_local_backend_authorizations(platform: Platform) -> None:
    backend = LocalBackend(platform, owner="alice")
    assert isinstance(backend, Backend) and backend.name == "local"
    request = _request(token="CANARY-backend")
    assert "CANARY-backend" not in repr(request)
    live = backend.create_authorization(request)
    assert (live.provider, live.method, live.type, live.label, live.description, live.owner, live.health) == (
        "facebook", "system_user", "facebook", "Facebook Ads (prod)", "Audience sync", "alice", "unknown")
    assert live.created is not None and live.created.tzinfo is not None
    assert platform.stored_secrets(live.id) == {"config": {"ads_account_id": "act_1"},
                                                "credentials": {"access_token": "CANARY-backend"}}
    updated = backend.update_authorization(live.id, label="Facebook Ads (main)", description="new")
    assert (updated.id, updated.label, updated.description) == (live.id, "Facebook Ads (main)", "new")
    assert backend.snapshot().authorizations[live.id].label == "Facebook Ads (main)"

    with pytest.raises(PermanentBackendError) as dup:
        backend.create_authorization(_request(label="FACEBOOK ADS (MAIN)"))
    assert dup.value.code == "ConflictError" and "labels must be unique" in dup.value.message
    with pytest.raises(PermanentBackendError) as missing:
        backend.update_authorization("nope", label="x", description="")
    assert missing.value.code == "NotFoundError"
    with pytest.raises(PermanentBackendError) as gone:
        backend.delete_authorization("nope")
    assert gone.value.code == "NotFoundError"

    backend.delete_authorization(live.id)
    assert backend.snapshot().authorizations == {}


def test_local_backend_jobs_and_guarded_delete(platform: Platform) -> None:
    backend = LocalBackend(platform, owner="bob")
    a = backend.create_authorization(_request("A"))
    b = backend.create_authorization(_request("B"))
    job = backend.create_job(JobRequest(name="sync", workflow="facebook-audience-populate", auth_ids=(b.id, a.id),
                                        config={"segment_ids": ["x"]}, description="d", status="paused"))
    assert (job.status, job.auth_ids, job.config, job.owner, job.description) == (
        "paused", (b.id, a.id), {"segment_ids": ["x"]}, "bob", "d")
    assert not isinstance(job.created, type(None))
    with pytest.raises(PermanentBackendError) as blocked:
        backend.delete_authorization(a.id)
    assert blocked.value.code == "ReferencedError"
    assert f"job sync ({job.id}, paused)" in blocked.value.message
    assert [(r.kind, r.id, r.status) for r in backend.references(a.id)] == [("job", job.id, "paused")]

    resumed = backend.resume_job(job.id)
    assert resumed.status == "runnable" and resumed.active
    assert backend.references(a.id)[0].display_status == "running"
    moved = backend.update_job(job.id, JobRequest(name="sync2", workflow="facebook-audience-populate",
                                                  auth_ids=(b.id,), config={"segment_ids": ["y"]}))
    assert (moved.name, moved.auth_ids, moved.config, moved.status) == ("sync2", (b.id,), {"segment_ids": ["y"]},
                                                                        "runnable")
    assert backend.references(a.id) == []
    backend.delete_authorization(a.id)  # nothing uses it any more
    assert backend.pause_job(job.id).status == "paused"
    backend.delete_job(job.id)
    assert job.id not in backend.snapshot().jobs
    assert platform.get_job(job.id).status == "deleted"
    assert backend.references(b.id) == []
    with pytest.raises(PermanentBackendError) as nojob:
        backend.pause_job("missing")
    assert nojob.value.code == "NotFoundError"
    with pytest.raises(PermanentBackendError) as nobind:
        backend.create_job(JobRequest(name="x", workflow="w", auth_ids=()))
    assert nobind.value.code == "ConflictError"


def test_local_backend_usage(platform: Platform) -> None:
    backend = LocalBackend(platform)
    a = backend.create_authorization(_request())
    now = datetime.now(UTC)
    platform.record_request(a.id, 2, at=now - timedelta(minutes=1))
    platform.record_request(a.id, 5, at=now - timedelta(days=3))
    usage = backend.request_counts(a.id)
    assert usage is not None and (usage.hour, usage.day, usage.week, usage.month) == (2, 2, 7, 7)


def test_locked_database_is_a_temporary_error(platform: Platform, platform_url: str) -> None:
    backend = LocalBackend(platform)
    a = backend.create_authorization(_request())
    platform._db.engine.dispose()

    def short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    event.listen(platform._db.engine, "connect", short_busy_timeout)
    holder = sqlite3.connect(platform_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(TemporaryBackendError) as caught:
            backend.create_authorization(_request("Other"))
        assert caught.value.code == "DATABASE"
        assert "locked by another process" in caught.value.message
        with pytest.raises(TemporaryBackendError):
            backend.update_authorization(a.id, label="renamed", description="")
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    # Once the other writer is gone, the same calls succeed and nothing half-happened.
    assert backend.update_authorization(a.id, label="renamed", description="").label == "renamed"
    assert [x.label for x in backend.snapshot().authorizations.values()] == ["renamed"]


def test_an_unclassified_database_refusal_is_permanent_and_hides_the_statement(
        platform: Platform, platform_url: str) -> None:
    """A constraint the platform did not anticipate must not surface as an internal error
    (nor print SQL with its parameters): it is a permanent backend error with one line."""
    backend = LocalBackend(platform)
    auth = backend.create_authorization(_request())
    raw = sqlite3.connect(platform_url.removeprefix("sqlite:///"))
    raw.execute("CREATE TRIGGER refuse_jobs BEFORE INSERT ON jobs "
                "BEGIN SELECT RAISE(ABORT, 'jobs are frozen'); END")
    raw.commit()
    raw.close()
    with pytest.raises(PermanentBackendError) as caught:
        backend.create_job(JobRequest(name="secret-name-xyz", workflow="facebook-audience-populate",
                                      auth_ids=(auth.id,)))
    assert caught.value.code == "DATABASE"
    assert "jobs are frozen" in caught.value.message
    assert "INSERT" not in caught.value.message and "secret-name-xyz" not in caught.value.message


def test_open_backend_uses_the_workspace_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "authctl.yaml").write_text("backend: {kind: local, path: data/p.db}\n", encoding="utf-8")
    monkeypatch.setenv("AUTHCTL_USER", "carol")
    backend = open_backend(load_workspace(root), load_catalog(), Access.WRITE)
    try:
        assert isinstance(backend, LocalBackend)
        live = backend.create_authorization(_request())
        assert live.owner == "carol"
    finally:
        backend.close()
    assert (root / "data" / "p.db").exists() and (root / "data" / "p.db.key").exists()
    p = open_platform(f"sqlite:///{root / 'data' / 'p.db'}")
    try:
        assert [a.label for a in p.list_authorizations()] == ["Facebook Ads (prod)"]
    finally:
        p.close()
