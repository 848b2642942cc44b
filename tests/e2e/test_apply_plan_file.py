"""`authctl apply plan.json`: a saved plan is applied exactly as reviewed, or refused.

Also: apply without a terminal needs --auto-approve or a plan file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apply_support import (
    AUTH,
    JOB,
    auth_doc,
    documents,
    job_doc,
    open_platform_of,
    open_state_of,
    read_world,
    settings,
)

ENV = {"PF_TOKEN_A": "token-a", "PF_TOKEN_B": "token-b", "PF_TOKEN_C": "token-c"}


def _write(root: Path, labels: dict[str, str]) -> None:
    docs = [auth_doc(name, label, f"PF_TOKEN_{name[-1].upper()}") for name, label in sorted(labels.items())]
    docs += [job_doc(f"job-{name}", name) for name in sorted(labels)]
    (root / "manifests.yaml").write_text(documents(*docs), encoding="utf-8")


@pytest.fixture
def applied(make_workspace, run_cli) -> Path:
    """A workspace with auth-a, auth-b (and a job on each) applied."""
    root = make_workspace({}, settings=settings("plan-file"))
    _write(root, {"auth-a": "Label A", "auth-b": "Label B"})
    result = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def _lock_is_free(root: Path) -> bool:
    state = open_state_of(root)
    try:
        return state.current_lock() is None
    finally:
        state.close()


def test_a_plan_made_stale_on_the_platform_is_refused_naming_each_changed_object(applied: Path, run_cli) -> None:
    root = applied
    _write(root, {"auth-a": "Label A2", "auth-b": "Label B"})
    planned = run_cli("plan", "-o", "plan.json", cwd=root, env=ENV)
    assert planned.returncode == 0, planned.stderr
    assert "Authorization/auth-a" in planned.stdout

    before = read_world(root)
    a_id, b_id = before.managed_ids(AUTH)["auth-a"], before.managed_ids(AUTH)["auth-b"]
    platform = open_platform_of(root)  # someone edits both labels in the platform UI
    try:
        platform.update_authorization(a_id, label="Edited in the UI A")
        platform.update_authorization(b_id, label="Edited in the UI B")
    finally:
        platform.close()

    result = run_cli("apply", "plan.json", cwd=root, env=ENV, input="")
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert "stale" in err
    assert f"Authorization/auth-a: authorization {a_id} changed on the platform" in err
    assert "Authorization/auth-b" in err  # its label drifted: the plan now has an action the file did not
    assert "authctl plan -o" in err  # the hint
    assert "Traceback" not in err
    after = read_world(root)
    assert {a.label for a in after.auths.values()} == {"Edited in the UI A", "Edited in the UI B"}, "changed anyway"
    assert after.managed == before.managed
    assert _lock_is_free(root)

    # A fresh plan file applies without confirmation (it was reviewed), and then nothing is left to do.
    assert run_cli("plan", "-o", "plan.json", cwd=root, env=ENV).returncode == 0
    fresh = run_cli("apply", "plan.json", cwd=root, env=ENV, input="")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "Apply complete: 2 applied." in fresh.stdout
    labels = {a.label for a in read_world(root).auths.values()}
    assert labels == {"Label A2", "Label B"}
    again = run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV)
    assert again.returncode == 0, again.stdout
    assert "No changes" in again.stdout


def test_a_plan_made_stale_by_another_apply_is_refused(applied: Path, run_cli) -> None:
    root = applied
    _write(root, {"auth-a": "Label A", "auth-b": "Label B", "auth-c": "Label C"})
    assert run_cli("plan", "-o", "plan.json", cwd=root, env=ENV).returncode == 0
    other = run_cli("apply", "--auto-approve", cwd=root, env=ENV)  # a colleague applied meanwhile
    assert other.returncode == 0
    ids = read_world(root).managed_ids(AUTH)

    result = run_cli("apply", "plan.json", cwd=root, env=ENV, input="")
    assert result.returncode == 1
    assert "state serial moved" in result.stderr
    assert "Authorization/auth-c" in result.stderr and "Job/job-auth-c" in result.stderr
    world = read_world(root)
    assert world.managed_ids(AUTH) == ids
    assert len(world.auths) == 3 and len(world.jobs) == 3, "the stale plan created something twice"


def test_a_plan_made_stale_by_a_manifest_edit_is_refused(applied: Path, run_cli) -> None:
    root = applied
    _write(root, {"auth-a": "Label A", "auth-b": "Label B", "auth-c": "Label C"})
    assert run_cli("plan", "-o", "plan.json", cwd=root, env=ENV).returncode == 0
    _write(root, {"auth-a": "Label A", "auth-b": "Label B again"})

    result = run_cli("apply", "plan.json", cwd=root, env=ENV, input="")
    assert result.returncode == 1
    assert "the manifests changed since the plan was made" in result.stderr
    assert "Authorization/auth-c: the plan said create" in result.stderr
    assert "Authorization/auth-b: would now update" in result.stderr
    world = read_world(root)
    assert {a.label for a in world.auths.values()} == {"Label A", "Label B"}


def test_a_saved_plan_that_still_holds_applies_and_a_no_change_plan_says_so(applied: Path, run_cli) -> None:
    root = applied
    assert run_cli("plan", "-o", "empty.json", cwd=root, env=ENV).returncode == 0
    nothing = run_cli("apply", "empty.json", cwd=root, env=ENV, input="")
    assert nothing.returncode == 0
    assert "No changes" in nothing.stdout

    _write(root, {"auth-a": "Label A", "auth-c": "Label C"})  # delete b, create c
    planned = run_cli("plan", "-o", "plan.json", "--format", "json", cwd=root, env=ENV)
    assert planned.returncode == 0
    saved = json.loads((root / "plan.json").read_text())
    assert {(a["address"], a["action"]) for a in saved["actions"]} == {
        ("Authorization/auth-c", "create"), ("Job/job-auth-c", "create"),
        ("Authorization/auth-b", "delete"), ("Job/job-auth-b", "delete")}
    result = run_cli("apply", "plan.json", cwd=root, env=ENV, input="")
    assert result.returncode == 0, result.stdout + result.stderr
    world = read_world(root)
    assert set(world.managed_ids(AUTH)) == {"auth-a", "auth-c"}
    assert set(world.managed_ids(JOB)) == {"job-auth-a", "job-auth-c"}
    assert {a.label for a in world.auths.values()} == {"Label A", "Label C"}
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV).returncode == 0


def test_apply_without_a_terminal_needs_auto_approve_or_a_plan_file(make_workspace, run_cli) -> None:
    root = make_workspace({}, settings=settings("no-tty"))
    _write(root, {"auth-a": "Label A"})
    result = run_cli("apply", cwd=root, env=ENV, input="")
    assert result.returncode == 1
    assert "--auto-approve" in result.stderr and "plan file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / ".authctl" / "platform.db").exists() or read_world(root).auths == {}


def test_apply_of_a_missing_or_broken_plan_file_is_a_clean_error(applied: Path, run_cli) -> None:
    root = applied
    missing = run_cli("apply", "nope.json", cwd=root, env=ENV, input="")
    assert missing.returncode == 1 and "plan file not found" in missing.stderr
    (root / "broken.json").write_text('{"kind": "something else"}')
    broken = run_cli("apply", "broken.json", cwd=root, env=ENV, input="")
    assert broken.returncode == 1 and "not an authctl plan file" in broken.stderr
    assert "Traceback" not in missing.stderr + broken.stderr


def _on_a_terminal(root: Path, answer: str | None) -> tuple[int, str]:
    """Run `authctl apply` on a pseudo-terminal; answer the prompt, or press Ctrl-C at it (None)."""
    import os
    import pty
    import select
    import signal
    import subprocess
    import sys
    import time

    from apply_support import cli_env

    master, slave = pty.openpty()
    # Started as a person's shell starts it: SIGINT at its default and not blocked, whatever this
    # test process inherited (a child inherits an ignored or blocked SIGINT, and Python then never
    # raises KeyboardInterrupt); faulthandler on, so a child that hangs says where (SIGABRT below).
    fresh_signals = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                     "signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT]); "
                     "os.execv(sys.executable, [sys.executable, '-m', 'reconciler', 'apply'])")
    inherited = (signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    proc = subprocess.Popen([sys.executable, "-c", fresh_signals], cwd=root,
                            env=cli_env({**ENV, "COLUMNS": "200", "TERM": "dumb", "PYTHONFAULTHANDLER": "1"}),
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    seen, answered, interrupted_at, first_interrupt, aborted = b"", False, 0.0, 0.0, False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"Apply these changes?" in seen:
            if answer is None:
                os.kill(proc.pid, signal.SIGINT)
                interrupted_at = first_interrupt = time.monotonic()
            else:
                os.write(master, answer.encode() + b"\n")
            answered = True
        elif answer is None and answered and proc.poll() is None and time.monotonic() - interrupted_at > 3:
            # A person presses Ctrl-C again when the first one seems lost, and so does this test;
            # after 30 s it asks the child where it hangs (faulthandler dumps on SIGABRT).
            if not aborted and time.monotonic() - first_interrupt > 30:
                os.kill(proc.pid, signal.SIGABRT)
                aborted = True
            elif not aborted:
                os.kill(proc.pid, signal.SIGINT)
            interrupted_at = time.monotonic()
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=60)
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert not aborted, f"apply ignored Ctrl-C (SIGINT inherited by the test: {inherited}); where it hung:\n{text}"
    return code, text


@pytest.mark.parametrize("answer", ["n", None], ids=["no", "ctrl-c"])
def test_on_a_terminal_apply_asks_and_a_no_changes_nothing_and_frees_the_lock(make_workspace, answer) -> None:
    root = make_workspace({}, settings=settings("tty"))
    _write(root, {"auth-a": "Label A"})
    code, text = _on_a_terminal(root, answer)
    assert code == 1, text
    assert "Apply these changes?" in text and "Plan: 2 to create" in text
    if answer == "n":
        assert "Apply cancelled; nothing was changed." in text
    assert read_world(root).auths == {}
    assert _lock_is_free(root), "the lock was left behind"


def test_on_a_terminal_apply_asks_and_a_yes_applies(make_workspace, run_cli) -> None:
    root = make_workspace({}, settings=settings("tty-yes"))
    _write(root, {"auth-a": "Label A"})
    code, text = _on_a_terminal(root, "yes")
    assert code == 0, text
    assert "Apply complete: 2 applied." in text
    assert set(read_world(root).managed_ids(AUTH)) == {"auth-a"}
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV).returncode == 0
