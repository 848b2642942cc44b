"""Two applies at once on one workspace, and the lock commands, as real subprocesses.

Both applies are started together; whichever takes the state lock first is frozen
(SIGSTOP, outside any database transaction) while it holds it, so the other one meets
the lock for certain instead of only when the timing happens to overlap.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path


from apply_support import (
    AUTH,
    JOB,
    assert_no_duplicates,
    assert_no_orphans,
    assert_state_consistent,
    auth_doc,
    current_lock,
    documents,
    freeze,
    job_doc,
    open_state_of,
    read_world,
    settings,
    start_cli,
    thaw,
    wait_for_lock_holder,
)

N = 60  # 120 objects: an apply that takes a while


def _workspace(root: Path) -> dict[str, str]:
    root.mkdir(parents=True)
    (root / "authctl.yaml").write_text(settings("concurrency"), encoding="utf-8")
    (root / "auths.yaml").write_text(documents(*(auth_doc(f"a-{i:02d}", f"Concurrent {i:02d}", f"CC_TOKEN_{i:02d}")
                                                 for i in range(N))), encoding="utf-8")
    (root / "jobs.yaml").write_text(documents(*(job_doc(f"j-{i:02d}", f"a-{i:02d}") for i in range(N))),
                                    encoding="utf-8")
    return {f"CC_TOKEN_{i:02d}": f"token-{i}" for i in range(N)}


def _assert_applied_once(root: Path) -> None:
    world = read_world(root)
    assert_state_consistent(world)
    assert_no_duplicates(world)
    assert_no_orphans(world)
    assert len(world.managed_ids(AUTH)) == N and len(world.auths) == N
    assert len(world.managed_ids(JOB)) == N and len(world.jobs) == N
    assert len(world.all_jobs) == N, "a job was created twice (a deleted duplicate is left behind)"


def _created(output: str) -> list[str]:
    return re.findall(r"\] create (\S+) \.\.\. ok", output)


def test_two_applies_at_once_without_waiting_one_fails_with_the_lock_message(tmp_path: Path, run_cli) -> None:
    root = tmp_path / "ws"
    env = _workspace(root)
    first = start_cli("apply", "--auto-approve", "--lock-timeout", "0", cwd=root, env=env, tag="a")
    second = start_cli("apply", "--auto-approve", "--lock-timeout", "0", cwd=root, env=env, tag="b")
    runs = {first.pid: first, second.pid: second}
    holder_pid = wait_for_lock_holder(root, set(runs))
    holder = runs[holder_pid]
    other = second if holder is first else first
    freeze(holder, root)
    try:
        assert other.wait(timeout=120) == 1, other.output()
    finally:
        thaw(holder)
    assert holder.wait(timeout=120) == 0, holder.output()

    message = other.stderr()
    lock_id = re.search(r"lock id ([0-9a-f-]{36})", message)
    assert lock_id, message
    assert "the state is locked" in message
    assert f"on {socket.gethostname()} " in message  # host
    assert f"(pid {holder_pid})" in message  # pid
    assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", message)  # since
    assert re.search(r"held by \S+", message)  # holder
    assert f"authctl force-unlock {lock_id.group(1)}" in message  # what to do if the holder is gone
    assert "Traceback" not in message
    assert not _created(other.stdout()), "the apply that did not get the lock changed something"

    assert len(_created(holder.stdout())) == 2 * N
    _assert_applied_once(root)
    assert current_lock(root) is None
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=env).returncode == 0


def test_two_applies_at_once_with_lock_timeout_both_succeed_and_nothing_is_applied_twice(
        tmp_path: Path, run_cli) -> None:
    root = tmp_path / "ws"
    env = _workspace(root)
    first = start_cli("apply", "--auto-approve", "--lock-timeout", "30s", cwd=root, env=env, tag="a")
    second = start_cli("apply", "--auto-approve", "--lock-timeout", "30s", cwd=root, env=env, tag="b")
    runs = {first.pid: first, second.pid: second}
    holder = runs[wait_for_lock_holder(root, set(runs))]
    other = second if holder is first else first
    freeze(holder, root)  # the other one now has to wait for the lock
    time.sleep(2.0)
    assert other.proc.poll() is None, f"the second apply did not wait for the lock:\n{other.output()}"
    thaw(holder)
    assert holder.wait(timeout=120) == 0, holder.output()
    assert other.wait(timeout=120) == 0, other.output()

    created = _created(holder.stdout()) + _created(other.stdout())
    assert len(created) == len(set(created)) == 2 * N, "an object was created by both applies"
    _assert_applied_once(root)
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=env).returncode == 0


def test_a_lock_held_by_a_live_process_blocks_apply_until_force_unlock(tmp_path: Path, run_cli) -> None:
    root = tmp_path / "ws"
    env = _workspace(root)
    assert run_cli("plan", cwd=root, env=env).returncode == 0
    state = open_state_of(root)  # plan leaves no state behind; this creates it, as apply would
    try:
        lock = state.acquire_lock("apply", holder="someone-else")  # held by this (live) test process
    finally:
        state.close()

    blocked = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert blocked.returncode == 1
    assert lock.lock_id in blocked.stderr
    assert f"(pid {os.getpid()})" in blocked.stderr and "someone-else" in blocked.stderr
    assert f"authctl force-unlock {lock.lock_id}" in blocked.stderr
    assert read_world(root).auths == {}, "nothing may change while the lock is held"

    wrong = run_cli("force-unlock", "00000000-0000-0000-0000-000000000000", cwd=root)
    assert wrong.returncode == 1
    assert "does not match" in wrong.stderr and lock.lock_id in wrong.stderr
    assert current_lock(root) is not None

    unlocked = run_cli("force-unlock", lock.lock_id, cwd=root)
    assert unlocked.returncode == 0, unlocked.stderr
    assert lock.lock_id in unlocked.stdout
    assert current_lock(root) is None

    again = run_cli("force-unlock", lock.lock_id, cwd=root)
    assert again.returncode == 1 and "not locked" in again.stderr

    done = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_applied_once(root)


def test_force_unlock_without_a_state_store_is_a_clean_error(make_workspace, run_cli) -> None:
    root = make_workspace({}, settings=settings("no-state"))
    result = run_cli("force-unlock", "abc", cwd=root)
    assert result.returncode == 1
    assert "no state store" in result.stderr and "Traceback" not in result.stderr
