"""Local files as a user meets them (issue 10, items 11 and 12), through the real CLI as a subprocess.

- Item 11: ``.authctl/`` is created 0700 and every file in it 0600 (the state holds the
  fingerprint HMAC key, the platform holds encrypted secrets beside its key file); an
  existing folder or file that is more open gets one warning naming the ``chmod`` that fixes it.
- Item 12: a corrupt state page, an unreadable key file or folder, a read-only ``.authctl/``,
  a directory as ``backend.path``, an unsupported or in-memory database URL, an absurd
  ``expiry_warning_days`` and a plan file with fields of the wrong type each give authctl's
  own one-line error (exit 1, no traceback, nothing changed) instead of ``internal error``.

Permission bits do not stop root, so the tests that need them run the CLI under
``setpriv`` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from the bounding set
(root then obeys the owner bits like anyone else); they are skipped where that is not possible.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "manifests"
ENV = {"FB_MAIN_SYSTEM_USER_TOKEN": "t-main", "FB_EMEA_SYSTEM_USER_TOKEN": "t-emea", "PINTEREST_CAPI_TOKEN": "t-pin"}
NOT_ROOT_ENOUGH = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def _demo(root: Path) -> Path:
    """A copy of manifests/ with its secret file, nothing applied yet."""
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns(".authctl", "secrets"))
    (root / "secrets").mkdir()
    (root / "secrets" / "gcp-pubsub-sa.json").write_text(
        '{"type": "service_account", "client_email": "sa@demo.iam.gserviceaccount.com", "private_key": "dummy"}',
        encoding="utf-8")
    return root


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return _demo(tmp_path / "ws")


@pytest.fixture
def applied(demo: Path, run_cli) -> Path:
    result = run_cli("apply", "--auto-approve", cwd=demo, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    return demo


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 1, authctl's own one-line error, no traceback, no SQL; returns stderr."""
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert "Traceback" not in err + result.stdout
    assert "internal error" not in err
    assert "[SQL:" not in err and "[parameters:" not in err and "SELECT " not in err
    assert err.startswith("Error: ") or "\nError: " in err, err
    return err


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _can_drop_root_powers() -> bool:
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run([*NOT_ROOT_ENOUGH, sys.executable, "-c", "pass"], capture_output=True, check=False)
    return probe.returncode == 0


needs_setpriv = pytest.mark.skipif(not _can_drop_root_powers(),
                                   reason="needs root and setpriv to drop CAP_DAC_OVERRIDE")


def run_without_root_powers(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``authctl ARGS`` as root without the capabilities that ignore permission bits."""
    environ = {**os.environ, **ENV, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    environ.pop("AUTHCTL_PLATFORM_KEY", None)
    return subprocess.run([*NOT_ROOT_ENOUGH, sys.executable, "-m", "reconciler", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=60,
                          stdin=subprocess.DEVNULL, check=False)


# -- item 11: private files ------------------------------------------------------------------------
def test_apply_creates_the_data_folder_0700_and_every_file_in_it_0600(applied: Path) -> None:
    data = applied / ".authctl"
    assert _mode(data) == 0o700
    names = {p.name for p in data.iterdir()}
    assert {"state.db", "platform.db", "platform.db.key"} <= names
    for path in data.iterdir():
        assert _mode(path) == 0o600, f"{path.name} is {_mode(path):04o}"


def test_sqlite_side_files_are_as_private_as_their_database(applied: Path) -> None:
    """-wal and -shm exist only while a database is open: hold both open and look at them."""
    data = applied / ".authctl"
    held = [sqlite3.connect(data / name) for name in ("state.db", "platform.db")]
    try:
        for conn in held:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
        sides = [p for p in data.iterdir() if p.name.endswith(("-wal", "-shm"))]
        assert len(sides) == 4, sorted(p.name for p in data.iterdir())
        for path in sides:
            assert _mode(path) == 0o600, f"{path.name} is {_mode(path):04o}"
    finally:
        for conn in held:
            conn.rollback()
            conn.close()


def test_an_existing_open_folder_or_file_is_warned_about_once_with_the_fix(applied: Path, run_cli) -> None:
    data = applied / ".authctl"
    data.chmod(0o755)
    (data / "state.db").chmod(0o644)
    (data / "platform.db").chmod(0o640)
    (data / "platform.db.key").chmod(0o604)
    result = run_cli("plan", cwd=applied, env=ENV)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    for path, fix in ((data, "chmod 700"), (data / "state.db", "chmod 600"), (data / "platform.db", "chmod 600"),
                      (data / "platform.db.key", "chmod 600")):
        lines = [line for line in err.splitlines() if line.startswith(f"Warning: {path} ")]
        assert len(lines) == 1, err
        assert f"{fix} {path}" in lines[0]
        assert "other users" in lines[0]
    assert _mode(data / "state.db") == 0o644, "a warning only: the user decides"

    for path in (data / "state.db", data / "platform.db", data / "platform.db.key"):
        path.chmod(0o600)
    data.chmod(0o700)
    quiet = run_cli("plan", cwd=applied, env=ENV)
    assert quiet.returncode == 0 and "Warning:" not in quiet.stderr, quiet.stderr


# -- item 12: clean errors -------------------------------------------------------------------------
def _corrupt_pages(db: Path, which: str) -> None:
    """Write garbage over the state's managed_objects table page, or over every page but the first."""
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root_page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'managed_objects'").fetchone()[0]
    conn.close()
    size = db.stat().st_size
    with db.open("r+b") as handle:
        if which == "managed_objects":
            handle.seek((root_page - 1) * page_size)
            handle.write(b"\xde\xad\xbe\xef" * (page_size // 4))
        else:
            handle.seek(page_size)
            handle.write(b"\xde\xad\xbe\xef" * ((size - page_size) // 4))


@pytest.mark.parametrize("which", ["managed_objects", "all-but-the-header"])
def test_a_corrupt_state_page_is_a_clean_error_naming_the_file(applied: Path, run_cli, which: str) -> None:
    data = applied / ".authctl"
    _corrupt_pages(data / "state.db", which)
    before = _digests(data)
    for args in (("plan",), ("status",), ("apply", "--auto-approve")):
        err = assert_clean_failure(run_cli(*args, cwd=applied, env=ENV))
        assert f"the state store {data / 'state.db'} cannot be used: the file is corrupt" in err, err
        assert "restore it from a backup" in err
    assert _digests(data) == before, "nothing may change"


def test_a_directory_as_backend_path_is_a_clean_error_naming_the_setting(demo: Path, run_cli) -> None:
    settings = demo / "authctl.yaml"
    settings.write_text(settings.read_text().replace("path: .authctl/platform.db", "path: platform-dir"))
    (demo / "platform-dir").mkdir()
    for args in (("plan",), ("status",), ("apply", "--auto-approve")):
        err = assert_clean_failure(run_cli(*args, cwd=demo, env=ENV))
        assert f"backend.path in authctl.yaml names a directory ({demo / 'platform-dir'})" in err, err
    assert list((demo / "platform-dir").iterdir()) == []


def test_a_directory_as_state_url_is_a_clean_error_naming_the_setting(demo: Path, run_cli) -> None:
    settings = demo / "authctl.yaml"
    settings.write_text(settings.read_text().replace("url: .authctl/state.db", "url: state-dir"))
    (demo / "state-dir").mkdir()
    for args in (("plan",), ("apply", "--auto-approve")):
        err = assert_clean_failure(run_cli(*args, cwd=demo, env=ENV))
        assert f"state.url in authctl.yaml names a directory ({demo / 'state-dir'})" in err, err


@pytest.mark.parametrize(("setting", "value", "expected"), [
    ("state", "mongodb://db.example/x", "state.url: mongodb:// is not a supported database"),
    ("state", "ftp://files.example/state.db", "state.url: ftp:// is not a supported database"),
    ("state", "mysql://u:pw@localhost/authctl", "state.url: mysql:// is not a supported database"),
    ("state", "postgresql+nosuchdriver://u@localhost/authctl",
     "state.url: the database driver 'nosuchdriver' is not supported"),
    ("state", "sqlite:///:memory:", "state.url: an in-memory database would forget everything between runs"),
    ("state", "sqlite://", "state.url: an in-memory database would forget everything between runs"),
    ("state", ":memory:", "state.url: an in-memory database would forget everything between runs"),
    ("backend", "sqlite:///:memory:", "backend.path: an in-memory database would forget everything between runs"),
    ("backend", "redis://localhost/0", "backend.path: redis:// is not a supported database"),
])
def test_an_unusable_database_url_is_a_settings_error(demo: Path, run_cli, setting: str, value: str,
                                                      expected: str) -> None:
    settings = demo / "authctl.yaml"
    text = settings.read_text()
    old = "url: .authctl/state.db" if setting == "state" else "path: .authctl/platform.db"
    line = text.splitlines().index(f"  {old}") + 1
    settings.write_text(text.replace(old, f"{old.split(':')[0]}: \"{value}\""))
    for args in (("validate",), ("plan",), ("apply", "--auto-approve")):
        err = assert_clean_failure(run_cli(*args, cwd=demo, env=ENV))
        assert f"authctl.yaml:{line}: {expected}" in err, err
        assert "supported:" in err or "file path" in err
        assert "pw@" not in err, "a password in a URL is never echoed"
    assert not (demo / ".authctl").exists(), "nothing may be created"


def test_a_missing_database_driver_is_a_settings_error(demo: Path, run_cli) -> None:
    """psycopg2 is not installed (authctl uses psycopg 3): say so, and what to use instead."""
    pytest.importorskip("psycopg")
    try:
        import psycopg2  # noqa: F401
        pytest.skip("psycopg2 is installed here")
    except ImportError:
        pass
    settings = demo / "authctl.yaml"
    settings.write_text(settings.read_text().replace("url: .authctl/state.db",
                                                     "url: postgresql+psycopg2://u:pw@127.0.0.1/x"))
    err = assert_clean_failure(run_cli("plan", cwd=demo, env=ENV))
    assert "state.url: the database driver 'psycopg2' is not installed" in err, err
    assert "postgresql+psycopg://" in err


@pytest.mark.parametrize("days", ["1000000000000", "3651", "-1"])
def test_an_out_of_range_expiry_warning_days_is_a_settings_error(demo: Path, run_cli, days: str) -> None:
    settings = demo / "authctl.yaml"
    text = settings.read_text()
    line = text.splitlines().index("  expiry_warning_days: 14") + 1
    settings.write_text(text.replace("expiry_warning_days: 14", f"expiry_warning_days: {days}"))
    err = assert_clean_failure(run_cli("plan", cwd=demo, env=ENV))
    assert (f"authctl.yaml:{line}: policy.expiry_warning_days: must be a number of days from 0 to 3650 "
            f"(ten years), not {days}") in err, err


def test_the_expiry_warning_days_option_has_the_same_range(demo: Path, run_cli) -> None:
    err = assert_clean_failure(run_cli("plan", "--expiry-warning-days", "1000000000000", cwd=demo, env=ENV))
    assert "--expiry-warning-days" in err
    assert run_cli("plan", "--expiry-warning-days", "3650", cwd=demo, env=ENV).returncode == 0


def _bad_summary(d: dict) -> None:
    d["summary"] = "8 to create"


def _actions_dict(d: dict) -> None:
    d["actions"] = {"0": d["actions"][0]}


def _int_address(d: dict) -> None:
    d["actions"][0]["address"] = 42


def _no_changes(d: dict) -> None:
    del d["actions"][0]["changes"]


def _text_serial(d: dict) -> None:
    d["context"]["state_serial"] = "zero"


def _change_as_string(d: dict) -> None:
    d["actions"][0]["changes"] = ["config.x"]


def _unknown_action(d: dict) -> None:
    d["actions"][0]["action"] = "explode"


def _bool_phase(d: dict) -> None:
    d["actions"][0]["phase"] = True


@pytest.mark.parametrize(("mutate", "problem"), [
    (_bad_summary, "summary: expected an object, got a string"),
    (_actions_dict, "actions: expected a list, got an object"),
    (_int_address, "actions[0].address: expected a string, got an integer"),
    (_no_changes, "actions[0].changes: missing"),
    (_text_serial, "context.state_serial: expected an integer, got a string"),
    (_change_as_string, "actions[0].changes[0]: expected an object, got a string"),
    (_unknown_action, "actions[0].action: 'explode' is not one of create, update, replace, delete, reauthorize"),
    (_bool_phase, "actions[0].phase: expected an integer, got a boolean"),
])
def test_a_plan_file_with_fields_of_the_wrong_type_is_one_clean_error(demo: Path, run_cli, mutate,
                                                                       problem: str) -> None:
    planned = run_cli("plan", "-o", "plan.json", cwd=demo, env=ENV)
    assert planned.returncode == 0, planned.stderr
    data = json.loads((demo / "plan.json").read_text())
    assert data["actions"], "the fixture plan must hold actions"
    mutate(data)
    (demo / "bad.json").write_text(json.dumps(data))
    err = assert_clean_failure(run_cli("apply", "bad.json", cwd=demo, env=ENV))
    assert f"Error: plan file bad.json is not a valid authctl plan: {problem}" in err, err
    assert len([line for line in err.splitlines() if line.startswith("Error:")]) == 1
    assert not (demo / ".authctl").exists(), "nothing may be created"


def test_files_authctl_is_asked_to_write_where_it_cannot_are_clean_errors(demo: Path, run_cli) -> None:
    blocker = demo / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    err = assert_clean_failure(run_cli("schema", "-o", blocker / "schema.json", cwd=demo))
    assert f"Error: {blocker / 'schema.json'} cannot be written: {blocker} is not a folder" in err, err
    err = assert_clean_failure(run_cli("plan", "-o", blocker / "plan.json", cwd=demo, env=ENV))
    assert f"Error: plan file {blocker / 'plan.json'} cannot be written: {blocker} is not a folder" in err, err


# -- item 12 as a user without root's powers ---------------------------------------------------------
@needs_setpriv
def test_an_unreadable_key_file_is_a_clean_error(applied: Path) -> None:
    key = applied / ".authctl" / "platform.db.key"
    key.chmod(0o000)
    for args in (("plan",), ("status",), ("apply", "--auto-approve")):
        err = assert_clean_failure(run_without_root_powers(*args, cwd=applied))
        assert f"the platform key file {key} cannot be read: permission denied" in err, err


@needs_setpriv
def test_an_unreadable_data_folder_is_a_clean_error(applied: Path) -> None:
    data = applied / ".authctl"
    data.chmod(0o000)
    try:
        for args in (("plan",), ("status",), ("apply", "--auto-approve")):
            err = assert_clean_failure(run_without_root_powers(*args, cwd=applied))
            assert "permission denied" in err and str(data) in err, err
    finally:
        data.chmod(0o700)


@needs_setpriv
def test_a_read_only_data_folder_still_plans_and_shows_status_but_apply_says_why_not(applied: Path) -> None:
    data = applied / ".authctl"
    before = _digests(data)
    data.chmod(0o500)
    try:
        planned = run_without_root_powers("plan", cwd=applied)
        assert planned.returncode == 0, planned.stderr
        assert "No changes" in planned.stdout
        status = run_without_root_powers("status", cwd=applied)
        assert status.returncode == 0, status.stderr
        assert "Facebook Ads main (prod)" in status.stdout
        err = assert_clean_failure(run_without_root_powers("apply", "--auto-approve", cwd=applied))
        assert f"the folder {data} is read-only" in err, err
    finally:
        data.chmod(0o700)
    assert _digests(data) == before
