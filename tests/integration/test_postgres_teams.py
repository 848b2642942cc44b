"""PostgreSQL for teams: the apply lock is a server-side advisory lock, and a server that cannot be reached says so.

The lock tests need a server (``AUTHCTL_TEST_PG_URL``, a fresh database per test through the
``pg_url`` fixture) and skip cleanly without one. Holders are real processes: a small
script that takes the lock, and `authctl apply` itself, stopped with SIGSTOP (outside any
SQLite write, as tests/apply_support.py does) or killed with SIGKILL. A killed holder's
record is then rewritten as if it came from another host with a pid unknown here: on
SQLite such a record is never taken over (tests/integration/test_state_store.py), so an
apply that proceeds shows that the server's release, not a guess about the process, freed it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_support import (
    AUTH,
    JOB,
    Running,
    assert_no_duplicates,
    assert_no_orphans,
    assert_state_consistent,
    auth_doc,
    documents,
    freeze,
    job_doc,
    kill_group,
    read_world,
    start_cli,
    thaw,
)
from sqlalchemy import create_engine, text

from reconciler.errors import LockHeldError, LockLostError, StateError
from reconciler.state.locking import _holder_backend, advisory_key
from reconciler.state.store import StateStore

N = 30  # 60 objects: an apply that is still running when the test stops or kills it

HOLDER = textwrap.dedent("""
    import sys
    from reconciler.state.store import StateStore
    store = StateStore.open(sys.argv[1], workspace="team")
    lock = store.acquire_lock("apply", holder="ci-runner@build-7")
    print(lock.lock_id, flush=True)
    if sys.stdin.readline():  # a line: let go; end of input (or a kill): just end
        store.release_lock(lock.lock_id)
        print("released", flush=True)
    sys.stdin.read()
""")


def _sql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _lock_backend(url: str, key: int) -> int | None:
    """The server process of the session holding advisory lock ``key``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return _holder_backend(conn, key)
    finally:
        engine.dispose()


def _eventually(check: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def holder(pg_url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Another process holding the apply lock (its lock id); it lets go on a line on stdin."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    try:
        yield proc, proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def store(pg_url: str) -> Iterator[StateStore]:
    s = StateStore.open(pg_url, workspace="team")
    yield s
    s.close()


# -- the lock itself -------------------------------------------------------------------------------
def test_a_held_lock_names_its_holder_and_cannot_be_forced_while_it_lives(
        holder: tuple[subprocess.Popen[str], str], store: StateStore) -> None:
    proc, lock_id = holder
    with pytest.raises(LockHeldError) as caught:
        store.acquire_lock("apply", holder="me")
    message = str(caught.value)
    for part in ("the state is locked: held by ci-runner@build-7", f"on {socket.gethostname()} ",
                 f"(pid {proc.pid})", "for apply since", f"lock id {lock_id}"):
        assert part in message, message
    assert caught.value.lock_id == lock_id and "no force-unlock is needed" in caught.value.hint
    with pytest.raises(LockHeldError, match=f"held by ci-runner@build-7 .* lock id {lock_id}"):
        store.acquire_lock("apply", holder="me", timeout=0.3)  # waited in the server, then named the holder
    assert store.current_lock() is not None and store.current_lock().lock_id == lock_id  # type: ignore[union-attr]

    with pytest.raises(StateError) as refused:
        store.force_unlock(lock_id)
    assert "still connected to the PostgreSQL server (server process " in str(refused.value)
    assert "pg_terminate_backend(" in refused.value.hint
    assert store.current_lock().lock_id == lock_id  # type: ignore[union-attr]


def test_a_lock_whose_session_ends_mid_apply_is_lost_and_checked_before_each_change(store: StateStore,
                                                                                    pg_url: str) -> None:
    """apply checks the lock before every change (Operations.intent); a closed session is LockLostError."""
    info = store.acquire_lock("apply", holder="me")
    store.check_lock(info.lock_id)  # held: nothing raised
    backend = _lock_backend(pg_url, advisory_key("apply", store.namespace))
    assert backend is not None
    _sql(pg_url, "SELECT pg_terminate_backend(:pid)", pid=backend)  # what a network failure does to it
    with pytest.raises(LockLostError) as lost:
        store.check_lock(info.lock_id)
    assert "was lost: the PostgreSQL session holding it ended" in str(lost.value)
    assert "run the apply again" in lost.value.hint
    assert store.current_lock() is None  # free for another apply, which is why nothing more may change
    other = StateStore.open(pg_url, workspace="team")
    try:
        taken = other.acquire_lock("apply", holder="the next apply")
        other.release_lock(taken.lock_id)
    finally:
        other.close()


def test_a_sqlite_lock_check_is_free(tmp_path: Path) -> None:
    sqlite = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", workspace="team")
    try:
        info = sqlite.acquire_lock("apply", holder="me")
        sqlite.check_lock(info.lock_id)  # the record is the lock: nothing to lose
        sqlite.release_lock(info.lock_id)
    finally:
        sqlite.close()


def test_a_waiting_apply_gets_the_lock_when_the_holder_lets_go(
        holder: tuple[subprocess.Popen[str], str], store: StateStore, pg_url: str) -> None:
    proc, _ = holder
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(store.acquire_lock("apply", holder="me", timeout=120)))
    waiter.start()
    _eventually(lambda: _sql(pg_url, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"),
                "the waiter queueing for the advisory lock")
    assert not got
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    waiter.join(timeout=120)
    assert got and got[0].holder == "me"  # type: ignore[attr-defined]
    assert store.current_lock() == got[0]


def test_a_holder_killed_with_sigkill_leaves_no_lock_even_from_another_host(
        holder: tuple[subprocess.Popen[str], str], store: StateStore, pg_url: str) -> None:
    proc, lock_id = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    _sql(pg_url, "UPDATE locks SET host = 'ci-runner-7', pid = 999999")  # a host this test cannot look at
    _eventually(lambda: store.current_lock() is None, "the server releasing the dead holder's lock")
    taken = store.acquire_lock("apply", holder="me")  # no force-unlock, no waiting
    assert taken.lock_id != lock_id and store.current_lock() == taken
    assert _sql(pg_url, "SELECT holder, host FROM locks") == [("me", socket.gethostname())]


def test_a_stale_record_is_no_lock_and_force_unlock_removes_it(store: StateStore, pg_url: str) -> None:
    stale = store.acquire_lock("apply", holder="gone")
    store.close()  # ends the lock's session without releasing: only the record is left, as after a crash
    again = StateStore.open(pg_url, workspace="team")
    try:
        assert _sql(pg_url, "SELECT lock_id FROM locks") == [(stale.lock_id,)]
        assert again.current_lock() is None
        assert again.force_unlock(stale.lock_id) == stale
        assert _sql(pg_url, "SELECT lock_id FROM locks") == []
    finally:
        again.close()


# -- two workspaces of one team, one state on the server --------------------------------------------
def _team(tmp_path: Path, pg_url: str) -> tuple[Path, Path, dict[str, str]]:
    """Two checkouts of one workspace ('team'), sharing the PostgreSQL state and one embedded platform."""
    shared = tmp_path / "shared"
    (shared / ".authctl").mkdir(parents=True)
    settings = (f"name: team\nbackend: {{kind: local, path: {shared / '.authctl' / 'platform.db'}}}\n"
                f"state: {{url: \"{pg_url}\"}}\n")
    roots = []
    for name in ("alice", "ci"):
        root = tmp_path / name
        root.mkdir()
        (root / "authctl.yaml").write_text(settings, encoding="utf-8")
        (root / "auths.yaml").write_text(documents(*(auth_doc(f"a-{i:02d}", f"Team {i:02d}", f"TEAM_TOKEN_{i:02d}")
                                                     for i in range(N))), encoding="utf-8")
        (root / "jobs.yaml").write_text(documents(*(job_doc(f"j-{i:02d}", f"a-{i:02d}") for i in range(N))),
                                        encoding="utf-8")
        roots.append(root)
    return roots[0], roots[1], {f"TEAM_TOKEN_{i:02d}": f"token-{i}" for i in range(N)}


def _lock_pid(pg_url: str) -> int | None:
    try:
        rows = _sql(pg_url, "SELECT pid FROM locks WHERE name = 'apply'")
    except Exception:  # noqa: BLE001 - the tables do not exist before the first apply opens the store
        return None
    return int(rows[0][0]) if rows else None  # type: ignore[call-overload]


def _created(output: str) -> list[str]:
    return re.findall(r"\] create (\S+) \.\.\. ok", output)


def _assert_applied_once(root: Path) -> None:
    world = read_world(root)
    assert_state_consistent(world)
    assert_no_duplicates(world)
    assert_no_orphans(world)
    assert len(world.managed_ids(AUTH)) == len(world.auths) == N
    assert len(world.managed_ids(JOB)) == len(world.jobs) == len(world.all_jobs) == N


def test_two_applies_from_two_checkouts_one_fails_naming_the_holder_one_waits(
        tmp_path: Path, pg_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    alice, ci, env = _team(tmp_path, pg_url)
    first = start_cli("apply", "--auto-approve", cwd=alice, env=env, tag="alice")
    try:
        _eventually(lambda: _lock_pid(pg_url) == first.pid or first.proc.poll() is not None, "alice's apply locking")
        freeze(first, tmp_path / "shared")  # holds the lock, outside any write to the shared platform

        refused = run_cli("apply", "--auto-approve", cwd=ci, env=env)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        for part in ("the state is locked: held by", f"on {socket.gethostname()} ", f"(pid {first.pid})",
                     "no force-unlock is needed"):
            assert part in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr and not _created(refused.stdout)

        waiting = start_cli("apply", "--auto-approve", "--lock-timeout", "5m", cwd=ci, env=env, tag="ci")
        _eventually(lambda: _sql(pg_url, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                    or waiting.proc.poll() is not None, "the second apply waiting for the lock")
        assert waiting.proc.poll() is None, waiting.output()
    finally:
        thaw(first)
    assert first.wait() == 0, first.output()
    assert waiting.wait() == 0, waiting.output()

    assert len(_created(first.stdout())) == 2 * N
    assert _created(waiting.stdout()) == [], "the waiting apply created what the first one had"
    assert "No changes." in waiting.stdout()
    _assert_applied_once(alice)
    for root in (alice, ci):
        assert run_cli("plan", "--detailed-exitcode", cwd=root, env=env).returncode == 0


def test_an_apply_whose_lock_session_is_closed_stops_changing_and_the_next_apply_finishes(
        tmp_path: Path, pg_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A network failure (here pg_terminate_backend) ends the lock's session mid-apply: no change after it."""

    alice, _ci, env = _team(tmp_path, pg_url)
    first = start_cli("apply", "--auto-approve", cwd=alice, env=env, tag="alice")
    try:
        _eventually(lambda: _lock_pid(pg_url) == first.pid or first.proc.poll() is not None, "alice's apply locking")
        freeze(first, tmp_path / "shared")
        backend = _lock_backend(pg_url, advisory_key("apply", ""))
        assert backend is not None
        assert _sql(pg_url, "SELECT pg_terminate_backend(:pid)", pid=backend) == [(True,)]
    finally:
        thaw(first)
    code = first.wait()
    assert code == 1, first.output()
    assert "was lost: the PostgreSQL session holding it ended" in first.output(), first.output()
    assert len(_created(first.stdout())) < 2 * N, "the apply went on changing the platform without its lock"
    again = run_cli("apply", "--auto-approve", cwd=alice, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    _assert_applied_once(alice)


def test_an_apply_killed_mid_way_does_not_lock_the_team_out(tmp_path: Path, pg_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    alice, ci, env = _team(tmp_path, pg_url)
    doomed: Running = start_cli("apply", "--auto-approve", cwd=alice, env=env, tag="doomed")
    assert doomed.wait_for_output("] create "), doomed.output()
    kill_group(doomed)  # SIGKILL: no clean-up of any kind
    _sql(pg_url, "UPDATE locks SET host = 'ci-runner-7', pid = 999999")
    state = StateStore.open(pg_url, workspace="team")
    try:
        _eventually(lambda: state.current_lock() is None, "the server releasing the killed apply's lock")
    finally:
        state.close()

    resumed = run_cli("apply", "--auto-approve", cwd=ci, env=env)  # --lock-timeout 0: no waiting, no force-unlock
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "force-unlock" not in resumed.stdout + resumed.stderr
    _assert_applied_once(ci)
    assert _sql(pg_url, "SELECT count(*) FROM locks") == [(0,)]
    assert run_cli("plan", "--detailed-exitcode", cwd=alice, env=env).returncode == 0


# -- a server that cannot be reached ---------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize("where", ["state", "environments.prod.state"])
def test_an_unreachable_postgresql_names_the_setting_and_never_the_password(
        make_workspace, run_cli, where: str) -> None:  # type: ignore[no-untyped-def]
    canary = f"Canary-{os.getpid()}-pw"
    url = f"postgresql+psycopg://alice:{canary}@127.0.0.1:{_closed_port()}/authctl"
    state = f'state: {{url: "{url}"}}'
    settings = (f"name: team\n{state}\n" if where == "state"
                else f"name: team\ndefault_environment: prod\nenvironments:\n  prod: {{{state}}}\n")
    root = make_workspace({"auths.yaml": auth_doc("a", "A", "TEAM_TOKEN")}, settings=settings)
    commands = [("plan",), ("apply", "--auto-approve"), ("force-unlock", "x")] if where == "state" else [("plan",)]
    for args in commands:
        result = run_cli(*args, cwd=root, env={"TEAM_TOKEN": "t"})
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "the state store postgresql+psycopg://alice:***@127.0.0.1:" in result.stderr, output
        assert f"({where}.url in authctl.yaml) cannot be used: connection failed" in result.stderr, output
        assert canary not in output and "Traceback" not in output


def test_a_server_that_never_answers_is_an_error_after_the_connect_timeout(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A listener that accepts and stays silent (a proxy or firewall that drops the rest) must not hang plan."""
    import threading

    from reconciler.db import SERVER_CONNECT_TIMEOUT, server_connect_args

    assert server_connect_args("postgresql+psycopg://u@h/db") == {"connect_timeout": SERVER_CONNECT_TIMEOUT}
    assert server_connect_args("postgresql+psycopg://u@h/db?connect_timeout=3") == {}  # the URL's own wins
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        url = f"postgresql+psycopg://alice@127.0.0.1:{silent.getsockname()[1]}/authctl?connect_timeout=1"
        root = make_workspace({"auths.yaml": auth_doc("a", "A", "TEAM_TOKEN")},
                              settings=f'name: team\nstate: {{url: "{url}"}}\n')
        result = run_cli("plan", cwd=root, env={"TEAM_TOKEN": "t"}, timeout=30)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "(state.url in authctl.yaml) cannot be used: " in result.stderr, result.stderr  # then the driver's words
        assert accepted, "the test server was never reached"
    finally:
        stop.set()
        thread.join(timeout=5)
        silent.close()
        for conn in accepted:
            conn.close()
