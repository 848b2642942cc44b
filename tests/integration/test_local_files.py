"""authctl's local files in process (issue 10, items 11 and 12): private from the first byte, clean errors.

- Files: every folder authctl creates for a database or key is 0700 and every file 0600,
  whatever the umask, SQLite's -wal and -shm included; an existing one open to others is
  warned about once, with the ``chmod`` that fixes it.
- Errors: a corrupt page, an unreadable key file or folder, a read-only folder, a directory
  where a database belongs, a database URL authctl cannot use and a plan file of the wrong
  shape are each an error from reconciler/errors.py that names the file (never SQL or a
  library's traceback). Root ignores permission bits, so unreadable files are simulated by
  making the call raise what the kernel would (tests/e2e/test_clean_errors_cli.py does it for real).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import db
from reconciler.backends.local import open_local_platform
from reconciler.catalog import load_catalog
from reconciler.diff import FieldChange
from reconciler.errors import DatabaseError, EncryptionKeyError, PlanFileError, StateError, WorkspaceError
from reconciler.plan import Action, ActionKind, Phase, Plan, PlanContext, Precondition
from reconciler.plan_codec import plan_file_dict
from reconciler.plan_file import read_plan_file, write_plan_file
from reconciler.platform import open_platform
from reconciler.platform.crypto import load_or_create_key
from reconciler.state.access import open_state_store
from reconciler.state.sqlite_reader import SqliteStateReader
from reconciler.state.store import StateStore
from reconciler.vocabulary import Access
from reconciler.workspace import load_workspace


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "_warned", set(), raising=False)  # each test sees its own warnings


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000: the modes must come from authctl, not from a careful environment."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


# -- item 11: private files ------------------------------------------------------------------------
@pytest.mark.usefixtures("open_umask")
def test_new_state_and_platform_files_are_private_side_files_included(tmp_path: Path) -> None:
    data = tmp_path / ".authctl"
    state = StateStore.open(f"sqlite:///{data / 'state.db'}")
    platform = open_platform(f"sqlite:///{data / 'platform.db'}")
    try:
        state.bump_serial()
        platform.create_authorization(provider="facebook", method="system_user", label="L",
                                      credentials={"access_token": "x"})
        names = {p.name for p in data.iterdir()}
        assert {"state.db-wal", "state.db-shm", "platform.db-wal", "platform.db-shm", "platform.db.key"} <= names
        assert _mode(data) == 0o700
        for path in data.iterdir():
            assert _mode(path) == 0o600, f"{path.name} is {_mode(path):04o}"
    finally:
        state.close()
        platform.close()


@pytest.mark.usefixtures("open_umask")
def test_every_folder_authctl_creates_on_the_way_is_private(tmp_path: Path) -> None:
    StateStore.open(f"sqlite:///{tmp_path / 'a' / 'b' / 'state.db'}").close()
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    load_or_create_key(tmp_path / "k" / "platform.db.key")
    assert _mode(tmp_path / "k") == 0o700 and _mode(tmp_path / "k" / "platform.db.key") == 0o600


def test_an_existing_open_file_or_data_folder_is_warned_about_once(tmp_path: Path, capsys) -> None:
    data = tmp_path / ".authctl"
    url = f"sqlite:///{data / 'state.db'}"
    StateStore.open(url).close()
    (data / "state.db").chmod(0o644)
    data.chmod(0o750)
    for _ in range(2):
        StateStore.open(url).close()
        reader = SqliteStateReader.open(data / "state.db", url, None)
        assert reader is not None
        reader.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"Warning: {data / 'state.db'} is open to other users (mode 0644); this file holds authctl's secrets. "
        f"Fix it with: chmod 600 {data / 'state.db'}",
        f"Warning: {data} is open to other users (mode 0750); this folder holds authctl's secrets. "
        f"Fix it with: chmod 700 {data}",
    ]


def test_a_private_file_in_an_ordinary_folder_is_not_warned_about(tmp_path: Path, capsys) -> None:
    tmp_path.chmod(0o755)  # not authctl's folder: its mode is the user's business
    StateStore.open(f"sqlite:///{tmp_path / 'state.db'}").close()
    StateStore.open(f"sqlite:///{tmp_path / 'state.db'}").close()
    assert capsys.readouterr().err == ""


# -- item 12: corrupt files ------------------------------------------------------------------------
def _corrupt_table(path: Path, table: str) -> None:
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    with path.open("r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xde\xad\xbe\xef" * (page_size // 4))


def test_a_corrupt_state_page_is_a_state_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    url = f"sqlite:///{path}"
    StateStore.open(url).close()
    _corrupt_table(path, "managed_objects")
    expected = f"the state store {path} cannot be used: the file is corrupt or not a SQLite database"
    store = StateStore.open(url)  # its meta page is fine
    try:
        with pytest.raises(StateError) as full:
            store.managed()
    finally:
        store.close()
    reader = SqliteStateReader.open(path, url, None)
    assert reader is not None
    try:
        with pytest.raises(StateError) as light:
            reader.managed()
    finally:
        reader.close()
    for caught in (full, light):
        message = str(caught.value)
        assert message.startswith(expected) and "restore it from a backup" in message
        assert "SELECT" not in message and "[SQL" not in message


def test_a_corrupt_platform_page_is_a_database_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "platform.db"
    open_platform(f"sqlite:///{path}").close()
    _corrupt_table(path, "authorizations")
    platform = open_platform(f"sqlite:///{path}")
    try:
        with pytest.raises(DatabaseError) as caught:
            platform.list_authorizations()
    finally:
        platform.close()
    assert str(caught.value).startswith(f"the platform database {path} cannot be used: the file is corrupt")
    assert "SELECT" not in str(caught.value)


# -- item 12: files and folders that cannot be read --------------------------------------------------
def _refuse(monkeypatch: pytest.MonkeyPatch, method: str, inside: Path) -> None:
    """Make ``Path.<method>`` raise PermissionError for paths inside ``inside``, as for a non-root user."""
    real = getattr(Path, method)

    def refused(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.is_relative_to(inside):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, refused)


def test_an_unreadable_key_file_is_an_encryption_key_error_naming_it(tmp_path: Path, monkeypatch) -> None:
    key = tmp_path / "platform.db.key"
    load_or_create_key(key)
    _refuse(monkeypatch, "read_bytes", key)
    with pytest.raises(EncryptionKeyError) as caught:
        open_platform(f"sqlite:///{tmp_path / 'platform.db'}")
    assert str(caught.value).startswith(f"the platform key file {key} cannot be read: permission denied")


def test_a_key_file_that_cannot_be_created_is_an_encryption_key_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(os, "link", lambda *_: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    key = tmp_path / "platform.db.key"
    with pytest.raises(EncryptionKeyError, match="cannot be created: permission denied"):
        load_or_create_key(key)
    assert not key.exists()


@pytest.fixture
def workspace_root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / ".authctl").mkdir(parents=True)
    (root / "authctl.yaml").write_text("name: files\n", encoding="utf-8")
    return root


def test_an_unenterable_data_folder_is_a_clean_error_for_state_and_platform(workspace_root: Path,
                                                                            monkeypatch) -> None:
    workspace = load_workspace(workspace_root)
    data = workspace_root / ".authctl"
    _refuse(monkeypatch, "exists", data)
    with pytest.raises(StateError) as state:
        open_state_store(workspace, Access.READ)
    with pytest.raises(DatabaseError) as platform:
        open_local_platform(workspace, load_catalog(), Access.READ)
    assert str(state.value).startswith(f"the state store {data / 'state.db'} cannot be used: permission denied")
    assert str(platform.value).startswith(f"the platform database {data / 'platform.db'} cannot be used: "
                                          "permission denied")


def test_a_read_only_folder_is_named_when_a_write_is_refused(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / ".authctl"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == folder and mode & os.W_OK
                        else real_access(p, mode))
    message = db.describe_failure("the state store", f"sqlite:///{folder / 'state.db'}",
                                  sqlite3.OperationalError("attempt to write a readonly database"))
    assert message == (f"the state store {folder / 'state.db'} cannot be used: the folder {folder} is read-only; "
                       "this command needs to write there (SQLite keeps its -wal and -shm files beside the database)")


def test_a_directory_where_a_database_belongs(workspace_root: Path) -> None:
    (workspace_root / "authctl.yaml").write_text("name: files\nstate: {url: st}\nbackend: {path: pl}\n")
    (workspace_root / "st").mkdir()
    (workspace_root / "pl").mkdir()
    workspace = load_workspace(workspace_root)
    for access in (Access.READ, Access.WRITE):
        with pytest.raises(StateError, match=rf"^state.url in authctl.yaml names a directory \({workspace_root}/st\)"):
            open_state_store(workspace, access)
        with pytest.raises(DatabaseError,
                           match=rf"^backend.path in authctl.yaml names a directory \({workspace_root}/pl\)"):
            open_local_platform(workspace, load_catalog(), access)
    with pytest.raises(DatabaseError, match="cannot be used: it is a directory, not a database file"):
        open_platform(f"sqlite:///{workspace_root / 'pl'}")


def test_a_database_driver_that_is_not_installed_is_a_state_error(tmp_path: Path) -> None:
    try:
        import psycopg2  # noqa: F401
        pytest.skip("psycopg2 is installed here")
    except ImportError:
        pass
    with pytest.raises(StateError) as caught:
        StateStore.open("postgresql+psycopg2://u:s3cret@127.0.0.1/x")
    message = str(caught.value)
    assert "its database driver is not installed" in message and "postgresql+psycopg://" in message
    assert "s3cret" not in message


# -- item 12: settings authctl cannot work with -------------------------------------------------------
@pytest.mark.parametrize(("settings", "expected"), [
    ("state: {url: 'mongodb://h/db'}\n", "authctl.yaml:1: state.url: mongodb:// is not a supported database"),
    ("state:\n  url: 'sqlite:///:memory:'\n",
     "authctl.yaml:2: state.url: an in-memory database would forget everything between runs"),
    ("backend: {path: ':memory:'}\n", "authctl.yaml:1: backend.path: an in-memory database would forget"),
    ("environments:\n  prod:\n    state: {url: 'sqlite://'}\n",
     "authctl.yaml:3: environments.prod.state.url: an in-memory database would forget"),
    ("policy:\n  expiry_warning_days: 1000000000000\n",
     "authctl.yaml:2: policy.expiry_warning_days: must be a number of days from 0 to 3650 (ten years), "
     "not 1000000000000"),
    ("policy: {expiry_warning_days: -3}\n",
     "authctl.yaml:1: policy.expiry_warning_days: must be a number of days from 0 to 3650 (ten years), not -3"),
])
def test_settings_authctl_cannot_work_with_name_the_line_and_setting(tmp_path: Path, settings: str,
                                                                      expected: str) -> None:
    (tmp_path / "authctl.yaml").write_text(settings, encoding="utf-8")
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(tmp_path)
    assert expected in str(caught.value)


@pytest.mark.parametrize("value", [".authctl/state.db", "sqlite:///abs/state.db", "postgresql+psycopg://u@h/db",
                                   "postgresql://u@h/db", "/var/lib/authctl/state.db"])
def test_ordinary_database_settings_are_accepted(tmp_path: Path, value: str) -> None:
    (tmp_path / "authctl.yaml").write_text(f"state: {{url: '{value}'}}\npolicy: {{expiry_warning_days: 3650}}\n")
    assert load_workspace(tmp_path).settings.state.url == value


# -- item 12: plan files of the wrong shape ----------------------------------------------------------
def _plan() -> Plan:
    action = Action("Authorization/a", ActionKind.UPDATE, Phase.CREATE_AUTHORIZATIONS, live_id="id-1",
                    changes=(FieldChange("label", "Old", "New"),),
                    preconditions=(Precondition("authorization", "id-1", "v1"),))
    return Plan((action,), 2, (), (), PlanContext("prod", "digest", 3, "lineage", "local"))


@pytest.mark.parametrize(("path", "value", "problem"), [
    (("summary",), "1 to update", "summary: expected an object, got a string"),
    (("summary", "noop"), "2", "summary.noop: expected an integer, got a string"),
    (("actions",), {}, "actions: expected a list, got an object"),
    (("actions", 0, "address"), 7, "actions[0].address: expected a string, got an integer"),
    (("actions", 0, "changes"), None, "actions[0].changes: missing"),
    (("actions", 0, "changes", 0, "path"), ["label"], "actions[0].changes[0].path: expected a string, got a list"),
    (("actions", 0, "preconditions", 0), "authorization", "actions[0].preconditions[0]: expected an object, got a string"),
    (("actions", 0, "live_id"), 12, "actions[0].live_id: expected a string or null, got an integer"),
    (("actions", 0, "phase"), 9, "actions[0].phase: 9 is not a phase (0 to 4)"),
    (("context", "state_serial"), 3.5, "context.state_serial: expected an integer, got a number"),
    (("context",), None, "context: missing"),
])
def test_a_plan_file_of_the_wrong_shape_names_the_field(tmp_path: Path, path: tuple, value: object,
                                                        problem: str) -> None:
    data = json.loads(json.dumps(plan_file_dict(_plan())))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(file)
    assert str(caught.value) == f"plan file {file} is not a valid authctl plan: {problem}"


def test_a_good_plan_file_still_reads_back(tmp_path: Path) -> None:
    write_plan_file(tmp_path / "plan.json", _plan())
    assert read_plan_file(tmp_path / "plan.json") == _plan()


def test_a_plan_file_that_cannot_be_written_is_a_plan_file_error(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "mkstemp", lambda **_: (_ for _ in ()).throw(PermissionError(13, "denied")))
    with pytest.raises(PlanFileError, match=r"cannot be written: permission denied"):
        write_plan_file(tmp_path / "plan.json", _plan())
