"""What the platform and state databases look like on disk, and how bad files are refused."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from reconciler.errors import DatabaseError, EncryptionKeyError, SchemaVersionError, StateError
from reconciler.platform import open_platform
from reconciler.state.store import StateStore


def _files(db: Path) -> list[Path]:
    return [p for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")) if p.exists()]


def _digest(db: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in _files(db)}


def _populate(url: str, canary: str) -> str:
    p = open_platform(url)
    try:
        auth = p.create_authorization(provider="facebook", method="system_user", label="Facebook Ads (prod)",
                                      config={"ads_account_id": f"act-{canary}"},
                                      credentials={"access_token": canary})
        oauth = p.create_authorization(provider="facebook", method="user_oauth", label="User OAuth",
                                       credentials={"access_token": "x"})
        p.reauthorize(oauth.id, credentials={"access_token": canary, "refresh_token": canary[::-1]})
        p.create_job(name="sync", workflow="facebook-audience-populate", auth_ids=[auth.id])
        return auth.id
    finally:
        p.close()


# -- encryption at rest ---------------------------------------------------------------------------
def test_canary_credential_never_reaches_the_disk(tmp_path: Path) -> None:
    db = tmp_path / "platform.db"
    url = f"sqlite:///{db}"
    canary = f"CANARY-{uuid.uuid4()}"
    p = open_platform(url)
    try:
        auth = p.create_authorization(provider="facebook", method="system_user", label="Facebook Ads (prod)",
                                      config={"ads_account_id": f"cfg-{canary}"},
                                      credentials={"access_token": canary})
        p.reauthorize(auth.id, credentials={"access_token": canary + "-2"})
        # While the platform is open, the WAL holds the recent writes: check every file now.
        live_files = _files(db)
        assert db.with_name("platform.db-wal") in live_files
        for path in live_files:
            data = path.read_bytes()
            assert canary.encode() not in data, path.name
            assert canary.encode("utf-16-le") not in data, path.name
        assert p.stored_secrets(auth.id)["credentials"] == {"access_token": canary + "-2"}
    finally:
        p.close()
    # And after a full checkpoint, the database file itself.
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        blobs = [row[0] for row in conn.execute("SELECT secret_blob FROM authorizations")]
    for path in _files(db):
        assert canary.encode() not in path.read_bytes(), path.name
    assert blobs and all(canary.encode() not in bytes(b) for b in blobs)
    key_file = tmp_path / "platform.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_bytes().strip())  # a valid Fernet key
    assert canary.encode() not in key_file.read_bytes()


def test_key_from_environment_is_used_and_no_key_file_written(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    monkeypatch.setenv("AUTHCTL_PLATFORM_KEY", Fernet.generate_key().decode())
    auth_id = _populate(url, "CANARY-env")
    assert not (tmp_path / "platform.db.key").exists()
    p = open_platform(url)
    try:
        assert p.stored_secrets(auth_id)["credentials"] == {"access_token": "CANARY-env"}
    finally:
        p.close()


def test_wrong_key_is_refused_and_nothing_is_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "platform.db"
    url = f"sqlite:///{db}"
    auth_id = _populate(url, f"CANARY-{uuid.uuid4()}")
    before = _digest(db)
    key_before = (tmp_path / "platform.db.key").read_bytes()
    monkeypatch.setenv("AUTHCTL_PLATFORM_KEY", Fernet.generate_key().decode())
    for mode in ("guarded", "cascade"):
        with pytest.raises(EncryptionKeyError) as caught:
            open_platform(url, mode=mode)  # type: ignore[arg-type]
        message = str(caught.value)
        assert "does not match" in message and "nothing was changed" in message
        assert str(db) in message and "AUTHCTL_PLATFORM_KEY" in message
    assert _digest(db) == before
    assert (tmp_path / "platform.db.key").read_bytes() == key_before
    # The right key still works afterwards: nothing was lost.
    monkeypatch.delenv("AUTHCTL_PLATFORM_KEY")
    p = open_platform(url)
    try:
        assert p.get_authorization(auth_id).label == "Facebook Ads (prod)"
        assert p.stored_secrets(auth_id)["config"]["ads_account_id"].startswith("act-CANARY-")
    finally:
        p.close()


def test_wrong_key_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "platform.db"
    url = f"sqlite:///{db}"
    _populate(url, "CANARY-file")
    before = _digest(db)
    (tmp_path / "platform.db.key").write_bytes(Fernet.generate_key() + b"\n")
    with pytest.raises(EncryptionKeyError, match="does not match"):
        open_platform(url)
    assert _digest(db) == before


@pytest.mark.parametrize("bad", ["not-a-key", "", "A" * 40, Fernet.generate_key().decode()[:-2]],
                         ids=["junk", "empty", "wrong-length", "truncated-key"])  # stable ids: xdist workers agree
def test_malformed_key_in_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    _populate(url, "CANARY-x")
    monkeypatch.setenv("AUTHCTL_PLATFORM_KEY", bad)
    if bad == "":  # an empty variable counts as unset: the key file is used
        open_platform(url).close()
        return
    with pytest.raises(EncryptionKeyError) as caught:
        open_platform(url)
    assert "$AUTHCTL_PLATFORM_KEY is not a valid Fernet key" in str(caught.value)
    assert bad not in str(caught.value)


def test_malformed_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "platform.db.key"
    key_file.write_text("garbage\n")
    with pytest.raises(EncryptionKeyError, match="platform.db.key is not a valid Fernet key"):
        open_platform(f"sqlite:///{tmp_path / 'platform.db'}")
    assert not (tmp_path / "platform.db").exists() or (tmp_path / "platform.db").stat().st_size == 0


def test_explicit_key_file_location(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "custom.key"
    p = open_platform(f"sqlite:///{tmp_path / 'platform.db'}", key_file=key_file)
    p.close()
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (tmp_path / "platform.db.key").exists()


# -- schema versions --------------------------------------------------------------------------------
def test_newer_platform_schema_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "platform.db"
    url = f"sqlite:///{db}"
    _populate(url, "CANARY-schema")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE platform_meta SET value = '99' WHERE key = 'schema_version'")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _digest(db)
    with pytest.raises(SchemaVersionError) as caught:
        open_platform(url)
    assert "newer authctl" in str(caught.value) and "99" in str(caught.value)
    assert _digest(db) == before


def test_newer_state_schema_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    url = f"sqlite:///{db}"
    StateStore.open(url).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE state_meta SET value = '7' WHERE key = 'schema_version'")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _digest(db)
    with pytest.raises(SchemaVersionError) as caught:
        StateStore.open(url)
    assert "state schema 7" in str(caught.value) and "upgrade authctl" in str(caught.value)
    assert _digest(db) == before


# -- unusable files ---------------------------------------------------------------------------------
GARBAGE = b"this is not a database, it is a shopping list\n" * 200


def test_not_a_database_platform_file(tmp_path: Path) -> None:
    db = tmp_path / "platform.db"
    db.write_bytes(GARBAGE)
    with pytest.raises(DatabaseError) as caught:
        open_platform(f"sqlite:///{db}")
    assert str(db) in str(caught.value) and "cannot be used" in str(caught.value)
    assert db.read_bytes() == GARBAGE


def test_not_a_database_state_file(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(GARBAGE)
    with pytest.raises(StateError) as caught:
        StateStore.open(f"sqlite:///{db}")
    assert str(db) in str(caught.value)
    assert db.read_bytes() == GARBAGE


def test_directory_in_place_of_database(tmp_path: Path) -> None:
    (tmp_path / "platform.db").mkdir()
    (tmp_path / "state.db").mkdir()
    with pytest.raises(DatabaseError, match="cannot be used"):
        open_platform(f"sqlite:///{tmp_path / 'platform.db'}")
    with pytest.raises(StateError, match="cannot be used"):
        StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")


def test_password_is_redacted_in_errors(tmp_path: Path) -> None:
    url = "postgresql+psycopg://user:s3cr3t-pw@127.0.0.1:1/nodb?connect_timeout=2"
    with pytest.raises((DatabaseError, StateError)) as caught:
        StateStore.open(url)
    assert "s3cr3t-pw" not in str(caught.value)
    assert "***" in str(caught.value)
    with pytest.raises(DatabaseError) as caught2:
        open_platform(url, key_file=tmp_path / "k.key")
    assert "s3cr3t-pw" not in str(caught2.value)


def test_key_file_created_once_when_many_open_at_once(tmp_path: Path) -> None:
    """Openers racing on a new database agree on one complete key (no half-written file)."""
    import threading

    from reconciler.platform.crypto import load_or_create_key

    for round_no in range(12):
        key_file = tmp_path / f"round{round_no}" / "platform.db.key"
        barrier = threading.Barrier(8)
        keys: list[bytes] = []
        errors: list[BaseException] = []

        def open_key(key_file: Path = key_file, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                keys.append(load_or_create_key(key_file))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_key) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(set(keys)) == 1 and keys[0] == key_file.read_bytes().strip()
        assert [p.name for p in key_file.parent.iterdir()] == ["platform.db.key"]  # no temp files left
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
