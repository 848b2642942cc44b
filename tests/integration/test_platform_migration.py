"""A platform database written by an older authctl is upgraded in place when opened, or left untouched.

The version 1 tables below are a frozen copy of what the first release created (they
must never follow reconciler/platform/schema.py). Tests run on SQLite and, when
``AUTHCTL_TEST_PG_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    update,
)

from reconciler.db import make_engine
from reconciler.errors import ConflictError, DatabaseError, EncryptionKeyError
from reconciler.platform import open_platform
from reconciler.platform.crypto import Sealer
from reconciler.vocabulary import Health, JobStatus

V1 = MetaData()
V1_META = Table("platform_meta", V1, Column("key", String(64), primary_key=True),
                Column("value", Text, nullable=False))
V1_AUTHS = Table(
    "authorizations", V1,
    Column("id", String(32), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("method", String(64), nullable=False),
    Column("type", String(64)),
    Column("label", String(255), nullable=False),
    Column("label_key", String(255), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("secret_blob", LargeBinary, nullable=False),
    Column("owner", String(128), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("health", String(16), nullable=False, default="unknown"),
    Column("health_reason", Text, nullable=False, default=""),
    Column("health_checked_at", DateTime(timezone=True)),
    Column("token_expires_at", DateTime(timezone=True)),
    Column("scopes", Text, nullable=False, default=""),
)
V1_JOBS = Table(
    "jobs", V1,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("workflow", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("config", Text, nullable=False, default="{}"),
    Column("owner", String(128), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)
V1_JOB_AUTHS = Table(
    "job_auths", V1,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("auth_id", String(32), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Index("ix_job_auths_auth", "auth_id"),
)
V1_EXPERIENCES = Table(
    "experiences", V1,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False, default="imported"),
    Column("created", DateTime(timezone=True), nullable=False),
)
V1_EXPERIENCE_AUTHS = Table(
    "experience_auths", V1,
    Column("experience_id", String(32), ForeignKey("experiences.id", ondelete="CASCADE"), primary_key=True),
    Column("auth_id", String(32), primary_key=True),
    Index("ix_experience_auths_auth", "auth_id"),
)
V1_REQUEST_COUNTS = Table(
    "request_counts", V1,
    Column("auth_id", String(32), primary_key=True),
    Column("hour", DateTime(timezone=True), primary_key=True),
    Column("count", Integer, nullable=False),
)

AUTH_ID, OTHER_ID, JOB_ID, EXP_ID = "a" * 32, "b" * 32, "c" * 32, "d" * 32
CREATED = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
HOUR = datetime(2025, 3, 31, 11, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'platform.db'}"
    return request.getfixturevalue("pg_url")


def _write_v1(url: str, key_file: Path) -> None:
    """A version 1 platform as the first release left it (a WAL file on SQLite): one of everything."""
    key = Fernet.generate_key()
    key_file.write_bytes(key + b"\n")
    key_file.chmod(0o600)
    sealer = Sealer(key)
    engine = make_engine(url)  # WAL on SQLite, as authctl always opens it
    try:
        with engine.begin() as conn:
            V1.create_all(conn)
            conn.execute(V1_META.insert(), [{"key": "schema_version", "value": "1"},
                                            {"key": "key_check", "value": sealer.key_check()},
                                            {"key": "account_id", "value": "0123456789abcdef"}])
            conn.execute(V1_AUTHS.insert(), [
                {"id": auth_id, "provider": "facebook", "method": "system_user", "type": "facebook",
                 "label": label, "label_key": label.casefold(), "description": "",
                 "secret_blob": sealer.seal({"config": {"ads_account_id": "act_1"},
                                             "credentials": {"access_token": "v1-token"}}),
                 "owner": "authctl", "created": CREATED, "updated": CREATED, "health": "unhealthy",
                 "health_reason": "token expired", "health_checked_at": CREATED, "token_expires_at": None,
                 "scopes": "ads_management"}
                for auth_id, label in ((AUTH_ID, "Facebook Ads (prod)"), (OTHER_ID, "Facebook Ads (EU)"))])
            conn.execute(V1_JOBS.insert().values(id=JOB_ID, name="sync", workflow="facebook-audience-populate",
                                                 status="sleeping", description="", config='{"segment_ids":["vip"]}',
                                                 owner="authctl", created=CREATED, updated=CREATED))
            conn.execute(V1_JOB_AUTHS.insert(), [{"job_id": JOB_ID, "auth_id": OTHER_ID, "position": 0},
                                                 {"job_id": JOB_ID, "auth_id": AUTH_ID, "position": 1}])
            conn.execute(V1_EXPERIENCES.insert().values(id=EXP_ID, name="Lookalikes", status="imported",
                                                        created=CREATED))
            conn.execute(V1_EXPERIENCE_AUTHS.insert().values(experience_id=EXP_ID, auth_id=AUTH_ID))
            conn.execute(V1_REQUEST_COUNTS.insert().values(auth_id=AUTH_ID, hour=HOUR, count=7))
    finally:
        engine.dispose()


def _layout(url: str) -> tuple[str, dict[str, set[str]], dict[str, bool]]:
    """(recorded schema version, columns per table, unique flag per marker index)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(select(V1_META.c.value).where(V1_META.c.key == "schema_version")).scalar_one()
            schema = inspect(conn)
            columns = {table: {c["name"] for c in schema.get_columns(table)} for table in ("authorizations", "jobs")}
            indexes = {i["name"]: bool(i["unique"]) for table in ("authorizations", "jobs")
                       for i in schema.get_indexes(table) if i["column_names"] == ["marker"]}
    finally:
        engine.dispose()
    return version, columns, indexes


def test_version_1_database_is_upgraded_in_place(url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "platform.key"
    _write_v1(url, key_file)
    assert "marker" not in _layout(url)[1]["authorizations"]
    p = open_platform(url, key_file=key_file)
    try:
        # Everything version 1 held reads as before, with no marker.
        auth = p.get_authorization(AUTH_ID)
        assert (auth.label, auth.health, auth.health_reason, auth.scopes, auth.created, auth.marker) == (
            "Facebook Ads (prod)", Health.UNHEALTHY, "token expired", ("ads_management",), CREATED, None)
        assert p.stored_secrets(AUTH_ID)["credentials"] == {"access_token": "v1-token"}
        job = p.get_job(JOB_ID)
        assert (job.status, job.auth_ids, job.config, job.marker) == (
            JobStatus.SLEEPING, (OTHER_ID, AUTH_ID), {"segment_ids": ["vip"]}, None)
        snap = p.snapshot()
        assert [(a.id, a.marker) for a in sorted(snap.authorizations, key=lambda a: a.id)] == [
            (AUTH_ID, None), (OTHER_ID, None)]
        assert [(e.id, e.auth_ids) for e in snap.experiences] == [(EXP_ID, (AUTH_ID,))]
        assert p.request_counts(AUTH_ID, now=HOUR).hour == 7
        assert p.find_authorization_by_marker("anything") is None and p.find_job_by_marker("anything") is None
        # And the new columns work, unique when set.
        new = p.create_authorization(provider="x", method="api_key", label="New", marker="m1")
        assert p.find_authorization_by_marker("m1") == new
        with pytest.raises(ConflictError, match=f"already used by authorization {new.id}"):
            p.create_authorization(provider="x", method="api_key", label="Newer", marker="m1")
        made = p.create_job(name="new", workflow="w", auth_ids=[new.id], marker="m2")
        assert p.find_job_by_marker("m2") == made
    finally:
        p.close()
    version, columns, indexes = _layout(url)
    assert version == "2"
    assert "marker" in columns["authorizations"] and "marker" in columns["jobs"]
    assert indexes == {"ux_authorizations_marker": True, "ux_jobs_marker": True}
    # Opening again is a plain check: nothing left to upgrade.
    open_platform(url, key_file=key_file).close()
    assert _layout(url) == (version, columns, indexes)


def test_openers_racing_on_a_version_1_database_upgrade_it_once(url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "platform.key"
    _write_v1(url, key_file)
    barrier = threading.Barrier(4)

    def open_once(_: int) -> None:
        barrier.wait()
        open_platform(url, key_file=key_file).close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(open_once, range(4)))  # re-raises the first failure, if any
    assert _layout(url)[0] == "2"


def _digest(db: Path) -> dict[str, str]:
    files = (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.exists()}


def test_refused_open_does_not_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "platform.db"
    url = f"sqlite:///{db}"
    key_file = tmp_path / "platform.key"
    _write_v1(url, key_file)
    before = _digest(db)
    with pytest.raises(EncryptionKeyError, match="nothing was changed"):
        open_platform(url, key=Fernet.generate_key())
    assert _digest(db) == before
    assert _layout(url)[0] == "1" and "marker" not in _layout(url)[1]["jobs"]


def test_unknown_old_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    key_file = tmp_path / "platform.key"
    _write_v1(url, key_file)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(update(V1_META).where(V1_META.c.key == "schema_version").values(value="0"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="records platform schema 0, which this authctl cannot upgrade"):
        open_platform(url, key_file=key_file)
    assert _layout(url)[0] == "0"
