"""Helpers for the apply end-to-end and reliability tests (tests/e2e/test_apply_*.py, tests/reliability).

Importable as ``apply_support`` because pytest puts ``tests/`` (the folder of the root
conftest.py) on ``sys.path``. Everything here drives or inspects the real thing:

- ``start_cli`` runs ``python -m reconciler ...`` as a background subprocess in its own
  session (so ``kill_group`` can kill -9 it together with anything it forked), with
  stdout/stderr going to files and stdin closed (never a terminal).
- ``freeze``/``thaw`` stop and continue a running apply with SIGSTOP/SIGCONT, making
  sure it is frozen *outside* any SQLite write transaction (otherwise every other process
  would wait on the database instead of on the apply lock). That turns races such as
  "a job is started between the plan and the delete" into deterministic tests.
- ``read_world`` opens the workspace's embedded platform and state store the way the CLI
  does and returns one consistent picture for assertions.
- ``auth_doc``/``job_doc`` write manifests.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import cli_forkserver
from reconciler.backends.local import open_local_platform
from reconciler.vocabulary import Access
from reconciler.catalog import load_catalog
from reconciler.platform import AuthRecord, JobRecord, Platform
from reconciler.state.records import JournalEntry, ManagedObject
from reconciler.state.store import StateStore
from reconciler.workspace import load_workspace

AUTH, JOB, DEPOSED = "Authorization", "Job", "DeposedAuthorization"

SETTINGS = """\
name: {name}
backend: {{kind: local, path: .authctl/platform.db, mode: {mode}}}
state: {{url: .authctl/state.db}}
"""


def settings(name: str = "apply-tests", mode: str = "guarded") -> str:
    return SETTINGS.format(name=name, mode=mode)


def auth_doc(name: str, label: str, token_env: str, *, account: str = "549755885175",
             description: str = "") -> str:
    """A Pinterest Conversions API token authorization whose token comes from ``token_env``."""
    desc = f"  description: {description}\n" if description else ""
    return (f"apiVersion: authctl/v1\nkind: Authorization\nmetadata:\n  name: {name}\nspec:\n"
            f"  provider: pinterest\n  method: capi_token\n  label: \"{label}\"\n{desc}"
            f"  config:\n    account_id: \"{account}\"\n"
            f"  credentials:\n    token: {{env: {token_env}}}\n")


# The fields models.PinterestCapiExport requires (the catalog has them from the Lytics v2 document).
PINTEREST_CAPI_CONFIG = ("  config:\n    segment_id: all_converters\n"
                         "    identifier_mapping: [{lytics: email, pinterest: em}]\n"
                         "    required_mapping: [{lytics: event_time, pinterest: event_time}]\n")
#: The same config as data: what a job made from ``job_doc`` holds on the platform.
PINTEREST_CAPI_VALUES: dict[str, Any] = yaml.safe_load(PINTEREST_CAPI_CONFIG)["config"]


def job_doc(name: str, auth: str, state: str = "running", workflow: str = "pinterest-capi-export") -> str:
    config = PINTEREST_CAPI_CONFIG if workflow == "pinterest-capi-export" else ""
    return (f"apiVersion: authctl/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n"
            f"  workflow: {workflow}\n  authorizations: [{auth}]\n  state: {state}\n{config}")


def documents(*docs: str) -> str:
    return "---\n".join(docs)


# -- running the CLI ------------------------------------------------------------------------------
def cli_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment ``run_cli`` uses, plus unbuffered output; ``None`` values remove a variable."""
    environ = dict(os.environ)
    environ.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1"})
    environ.pop("AUTHCTL_PLATFORM_KEY", None)  # the key file beside the platform db, as the tests use
    for key, value in (extra or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return environ


@dataclass
class Running:
    """A CLI subprocess started with :func:`start_cli`; output goes to two files."""

    proc: subprocess.Popen[bytes] | cli_forkserver.ForkedProcess
    out_path: Path
    err_path: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def wait(self, timeout: float = 120) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(self)
            raise AssertionError(f"authctl (pid {self.pid}) did not finish in {timeout} s:\n{self.output()}")

    def wait_for_output(self, needle: str, timeout: float = 60) -> bool:
        """Poll stdout until ``needle`` appears; False if the process ended (or timed out) first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.stdout():
                return True
            if self.proc.poll() is not None:
                return needle in self.stdout()
            time.sleep(0.005)
        return False


def start_cli(*args: str | os.PathLike[str], cwd: Path, env: Mapping[str, str | None] | None = None,
              logs: Path | None = None, tag: str = "cli") -> Running:
    logs = logs or cwd.parent
    logs.mkdir(parents=True, exist_ok=True)
    stamp = f"{tag}-{time.monotonic_ns()}"
    out_path, err_path = logs / f"{stamp}.out", logs / f"{stamp}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = cli_forkserver.start(args, cwd=cwd, environ=cli_env(env), stdout=out.fileno(), stderr=err.fileno())
    return Running(proc, out_path, err_path)


def kill_group(running: Running) -> None:
    """kill -9 the CLI and anything it forked (its own session), then reap it."""
    try:
        os.killpg(running.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    running.proc.wait(timeout=30)


# -- freezing an apply at a safe point -------------------------------------------------------------
def write_locked(db: Path) -> bool:
    """True while some process holds a write transaction, or is checkpointing, on the SQLite ``db``.

    A process stopped in the middle of a WAL checkpoint (which runs right after a commit)
    holds no write lock but would still make other writers wait, so both are probed.
    """
    if not db.exists():
        return False
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        busy = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0]
        return busy != 0
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise
    finally:
        conn.close()


def wait_stopped(pid: int, timeout: float = 5.0) -> None:
    """Wait until every thread of ``pid`` has really stopped after a SIGSTOP.

    kill() returns before the target stops: a thread running on another CPU can still
    begin a transaction in between, and a probe made then would pass while the frozen
    process goes on to hold the write lock. Linux only (/proc); elsewhere a short sleep.
    """
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        time.sleep(0.05)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for stat in tasks.glob("*/stat"):
            try:
                states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
            except (OSError, IndexError):
                continue  # a thread that just ended
        if states and all(state in ("T", "t") for state in states):
            return
        time.sleep(0.0005)
    raise AssertionError(f"process {pid} did not stop after SIGSTOP")


def freeze(running: Running, root: Path, attempts: int = 500) -> None:
    """SIGSTOP the apply at a moment it holds no write transaction on either database."""
    dbs = [root / ".authctl" / "platform.db", root / ".authctl" / "state.db"]
    for _ in range(attempts):
        os.kill(running.pid, signal.SIGSTOP)
        wait_stopped(running.pid)
        if not any(write_locked(db) for db in dbs):
            return
        os.kill(running.pid, signal.SIGCONT)
        time.sleep(0.001)
    raise AssertionError("could not freeze the apply outside a database transaction")


def thaw(running: Running) -> None:
    os.kill(running.pid, signal.SIGCONT)


def current_lock_pid(root: Path) -> int | None:
    """The pid recorded in the apply lock, read without taking any database lock."""
    db = root / ".authctl" / "state.db"
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return None
    try:
        row = conn.execute("SELECT pid FROM locks WHERE name = 'apply'").fetchone()
    except sqlite3.OperationalError:  # tables not created yet
        return None
    finally:
        conn.close()
    return int(row[0]) if row else None


def wait_for_lock_holder(root: Path, pids: set[int], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = current_lock_pid(root)
        if pid in pids:
            return pid
        time.sleep(0.005)
    raise AssertionError(f"none of {sorted(pids)} took the apply lock within {timeout} s")


# -- reading the world -------------------------------------------------------------------------------
def open_platform_of(root: Path) -> Platform:
    return open_local_platform(load_workspace(root), load_catalog(), Access.WRITE)


def open_state_of(root: Path) -> StateStore:
    workspace = load_workspace(root)
    return StateStore.open(workspace.resolve_url(workspace.state.url), workspace=workspace.identity())


def current_lock(root: Path):  # type: ignore[no-untyped-def]
    """The apply lock as the state store reports it (None when free)."""
    state = open_state_of(root)
    try:
        return state.current_lock()
    finally:
        state.close()


@dataclass
class World:
    auths: dict[str, AuthRecord]  # live authorizations by id
    jobs: dict[str, JobRecord]  # live jobs (not deleted) by id
    all_jobs: dict[str, JobRecord]  # including soft-deleted ones
    managed: dict[tuple[str, str], ManagedObject]
    pending: list[JournalEntry]
    secrets: dict[str, dict[str, Any]]  # auth id -> decrypted {config, credentials} (for assertions only)

    def managed_ids(self, kind: str) -> dict[str, str]:
        return {name: obj.live_id for (k, name), obj in self.managed.items() if k == kind}

    def auth_by_label(self, label: str) -> AuthRecord | None:
        found = [a for a in self.auths.values() if a.label.casefold() == label.casefold()]
        assert len(found) <= 1, f"label {label!r} is used {len(found)} times"
        return found[0] if found else None

    def jobs_named(self, name: str) -> list[JobRecord]:
        return [j for j in self.jobs.values() if j.name == name]

    def auth_of(self, name: str) -> AuthRecord:
        return self.auths[self.managed[(AUTH, name)].live_id]

    def job_of(self, name: str) -> JobRecord:
        return self.jobs[self.managed[(JOB, name)].live_id]


def read_world(root: Path, *, with_secrets: bool = False) -> World:
    platform = open_platform_of(root)
    state = open_state_of(root)
    try:
        snap = platform.snapshot(include_deleted=True)
        auths = {a.id: a for a in snap.authorizations}
        all_jobs = {j.id: j for j in snap.jobs}
        secrets = {a: platform.stored_secrets(a) for a in auths} if with_secrets else {}
        return World(auths, {i: j for i, j in all_jobs.items() if j.status != "deleted"}, all_jobs,
                     state.managed(), state.pending_intents(), secrets)
    finally:
        state.close()
        platform.close()


def assert_no_duplicates(world: World, *, twin_names: list[str] | tuple[str, ...] = ()) -> None:
    """Unique labels; no job name twice, except once more per UI-made twin a test made on purpose."""
    labels = [a.label.casefold() for a in world.auths.values()]
    assert len(labels) == len(set(labels)), "duplicate authorization labels"
    names = [j.name for j in world.jobs.values()]
    dupes = sorted({n for n in names if names.count(n) > 1 + twin_names.count(n)})
    assert not dupes, f"jobs present more than once: {dupes}"


def assert_state_consistent(world: World) -> None:
    """Every managed id exists live; nothing is deposed; no half-recorded call is left."""
    for (kind, name), obj in world.managed.items():
        table = world.jobs if kind == JOB else world.auths
        assert obj.live_id in table, f"{kind}/{name} is managed as {obj.live_id}, which is not live"
    ids = [obj.live_id for obj in world.managed.values()]
    assert len(ids) == len(set(ids)), "one live object is managed under two names"
    assert not [k for k in world.managed if k[0] == DEPOSED], "a deposed authorization is left in state"
    assert not world.pending, f"journal intents left open: {world.pending}"


def assert_no_orphans(world: World, *, unmanaged_auths: set[str] = frozenset(),  # type: ignore[assignment]
                      unmanaged_jobs: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    managed = {obj.live_id for obj in world.managed.values()}
    orphan_auths = sorted(f"{a.label} ({a.id})" for a in world.auths.values()
                          if a.id not in managed and a.id not in unmanaged_auths)
    orphan_jobs = sorted(f"{j.name} ({j.id}, {j.status})" for j in world.jobs.values()
                         if j.id not in managed and j.id not in unmanaged_jobs)
    assert not orphan_auths, f"orphan authorizations (live, not managed): {orphan_auths}"
    assert not orphan_jobs, f"orphan jobs (live, not managed): {orphan_jobs}"
