"""Faults during apply: a missing secret, a platform that refuses some objects, a label clash.

The platform's refusals are real: SQLite triggers installed in the embedded platform's
database abort particular inserts, as a platform that rejects one object would. The
rest of the apply must go on, the summary must say what was done, skipped and failed,
and once the cause is gone the next apply must converge without duplicates.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path


from apply_support import (
    AUTH,
    JOB,
    assert_no_duplicates,
    assert_no_orphans,
    assert_state_consistent,
    auth_doc,
    documents,
    job_doc,
    open_platform_of,
    read_world,
    settings,
    start_cli,
)


def test_a_missing_secret_fails_before_anything_changes(make_workspace, run_cli) -> None:
    docs = documents(auth_doc("first", "First", "FAULT_SET_TOKEN"), job_doc("first-job", "first"),
                     auth_doc("second", "Second", "FAULT_UNSET_TOKEN"), job_doc("second-job", "second"),
                     auth_doc("third", "Third", "FAULT_ALSO_UNSET"))
    root = make_workspace({"main.yaml": docs}, settings=settings("missing-secret"))
    env = {"FAULT_SET_TOKEN": "value", "FAULT_UNSET_TOKEN": None, "FAULT_ALSO_UNSET": None}
    result = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert "FAULT_UNSET_TOKEN" in err and "FAULT_ALSO_UNSET" in err  # every missing one, at once
    assert "Authorization/second" in err and "Authorization/third" in err
    assert "nothing was changed" in err
    assert "Traceback" not in err
    assert "] create" not in result.stdout
    world = read_world(root)
    assert world.auths == {} and world.all_jobs == {}, "something was created before the secret check"
    assert world.managed == {} and world.pending == []

    # A secret is needed only where it is applied: here a config change (replace) of "first", next to an
    # independent label edit of "second", which must not go ahead either.
    env.update({"FAULT_UNSET_TOKEN": "v", "FAULT_ALSO_UNSET": "v"})
    assert run_cli("apply", "--auto-approve", cwd=root, env=env).returncode == 0
    applied = read_world(root)
    env["FAULT_SET_TOKEN"] = None
    unchanged = run_cli("plan", "--detailed-exitcode", cwd=root, env=env)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr  # not needed: not compared
    (root / "main.yaml").write_text(docs.replace('"Second"', '"Second renamed"').replace(
        "account_id: \"549755885175\"\n  credentials:\n    token: {env: FAULT_SET_TOKEN}",
        "account_id: \"549755885176\"\n  credentials:\n    token: {env: FAULT_SET_TOKEN}"), encoding="utf-8")
    result = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert result.returncode == 1 and "FAULT_SET_TOKEN" in result.stderr
    after = read_world(root)
    assert after.managed == applied.managed
    assert {a.label for a in after.auths.values()} == {"First", "Second", "Third"}, "the label edit went ahead"


def _install_refusals(root: Path) -> None:
    with sqlite3.connect(root / ".authctl" / "platform.db") as conn:
        conn.executescript("""
            CREATE TRIGGER refuse_label BEFORE INSERT ON authorizations WHEN NEW.label = 'Refused label'
            BEGIN SELECT RAISE(ABORT, 'refused by the platform policy'); END;
            CREATE TRIGGER refuse_job BEFORE INSERT ON jobs WHEN NEW.name = 'refused-job'
            BEGIN SELECT RAISE(ABORT, 'refused by the platform policy'); END;
        """)


def _drop_refusals(root: Path) -> None:
    with sqlite3.connect(root / ".authctl" / "platform.db") as conn:
        conn.executescript("DROP TRIGGER refuse_label; DROP TRIGGER refuse_job;")


def test_a_platform_failing_mid_way_fails_only_the_affected_branch(make_workspace, run_cli) -> None:
    good = [auth_doc(f"good-{i}", f"Good {i}", f"FAULT_TOKEN_{i}") for i in range(5)]
    good_jobs = [job_doc(f"good-job-{i}", f"good-{i}") for i in range(5)]
    docs = documents(*good, *good_jobs,
                     auth_doc("refused", "Refused label", "FAULT_TOKEN_R"), job_doc("on-refused", "refused"),
                     job_doc("refused-job", "good-0"))
    root = make_workspace({"main.yaml": docs}, settings=settings("failing-platform"))
    env = {f"FAULT_TOKEN_{i}": f"t{i}" for i in range(5)} | {"FAULT_TOKEN_R": "tr"}
    open_platform_of(root).close()  # create the platform database, then make it refuse two objects
    _install_refusals(root)

    result = run_cli("apply", "--auto-approve", cwd=root, env=env, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"create Authorization/refused \.\.\. FAILED: .*refused\s+by\s+the\s+platform\s+policy", out,
                     re.DOTALL), out
    assert re.search(r"create Job/refused-job \.\.\. FAILED: .*refused\s+by\s+the\s+platform\s+policy", out,
                     re.DOTALL), out
    assert "[parameters:" not in out and "INSERT INTO" not in out  # one line, not the driver's SQL dump
    assert "create Job/on-refused ... skipped: dependency not applied: Authorization/refused" in out
    assert "Apply complete: 10 applied, 2 failed, 1 skipped." in out
    assert "Exit code 1" in out and "Exit code 3" not in out
    assert "Traceback" not in result.stderr
    world = read_world(root)
    assert set(world.managed_ids(AUTH)) == {f"good-{i}" for i in range(5)}
    assert set(world.managed_ids(JOB)) == {f"good-job-{i}" for i in range(5)}
    # Both refusals are definite (the platform's transaction rolled back, like a 4xx): their intents are
    # closed as failed, so the next apply need not check the platform for them.
    assert world.pending == []
    assert_state_consistent(world)
    assert_no_orphans(world)

    again = run_cli("apply", "--auto-approve", cwd=root, env=env, timeout=120)  # the cause is still there
    assert again.returncode == 1
    assert "Recovered from an interrupted apply" not in again.stdout
    assert "Apply complete: 0 applied, 2 failed, 1 skipped." in again.stdout
    assert len(read_world(root).auths) == 5

    _drop_refusals(root)  # the platform accepts them now
    fixed = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Apply complete: 3 applied." in fixed.stdout
    world = read_world(root)
    assert_state_consistent(world)
    assert_no_duplicates(world)
    assert_no_orphans(world)
    assert len(world.auths) == 6 and len(world.jobs) == 7 and len(world.all_jobs) == 7
    assert world.job_of("on-refused").auth_ids == (world.auth_of("refused").id,)
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=env).returncode == 0


def test_a_label_held_by_an_unmanaged_authorization_blocks_only_that_branch(make_workspace, run_cli) -> None:
    docs = documents(auth_doc("free", "Free label", "FAULT_A"), job_doc("free-job", "free"),
                     auth_doc("clash", "Taken label", "FAULT_B"), job_doc("clash-job", "clash"))
    root = make_workspace({"main.yaml": docs}, settings=settings("label-clash"))
    env = {"FAULT_A": "a", "FAULT_B": "b"}
    platform = open_platform_of(root)
    try:
        squatter = platform.create_authorization(provider="pinterest", method="capi_token", label="Taken label",
                                                 config={"account_id": "1"}, credentials={"token": "x"})
    finally:
        platform.close()

    plan = run_cli("plan", cwd=root, env=env)
    assert plan.returncode == 3 and "label already in use" in plan.stdout
    result = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "create Authorization/clash ... BLOCKED" in result.stdout
    assert "create Job/clash-job ... skipped" in result.stdout
    world = read_world(root)
    assert set(world.managed_ids(AUTH)) == {"free"} and set(world.managed_ids(JOB)) == {"free-job"}
    assert world.auths[squatter.id].label == "Taken label"  # unmanaged: never changed

    platform = open_platform_of(root)  # its owner renames it
    try:
        platform.update_authorization(squatter.id, label="Someone else's")
    finally:
        platform.close()
    fixed = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    world = read_world(root)
    assert_no_duplicates(world)
    assert_no_orphans(world, unmanaged_auths={squatter.id})
    assert world.auth_of("clash").label == "Taken label"
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=env).returncode == 0


def _create_intents(root: Path) -> int:
    """How many authorization creates the apply has started (journal intents), read without locking."""
    try:
        conn = sqlite3.connect(f"file:{root / '.authctl' / 'state.db'}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:  # not created yet
        return 0
    try:
        return conn.execute("SELECT count(*) FROM journal WHERE phase = 'intent' AND action = 'create'").fetchone()[0]
    except sqlite3.OperationalError:  # no tables yet
        return 0
    finally:
        conn.close()


def test_a_short_platform_outage_is_retried_and_the_apply_succeeds(make_workspace, run_cli) -> None:
    """Every authorization create is refused until about half a second after the first attempt: the
    calls are retried with backoff, the apply succeeds, and nothing is created twice."""
    docs = documents(*(auth_doc(f"a-{i}", f"Outage {i}", f"OUTAGE_{i}") for i in range(5)),
                     *(job_doc(f"j-{i}", f"a-{i}") for i in range(5)))
    root = make_workspace({"main.yaml": docs}, settings=settings("outage"))
    env = {f"OUTAGE_{i}": f"t{i}" for i in range(5)}
    open_platform_of(root).close()
    with sqlite3.connect(root / ".authctl" / "platform.db", timeout=30) as conn:
        # An operational failure (the driver's "no such table"), which is what an unavailable
        # database looks like; a constraint failure would be a definite refusal instead.
        conn.execute("CREATE TRIGGER outage BEFORE INSERT ON authorizations "
                     "BEGIN SELECT * FROM service_unavailable; END")

    apply = start_cli("apply", "--auto-approve", cwd=root, env=env)
    deadline = time.monotonic() + 60
    while _create_intents(root) == 0 and apply.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert apply.proc.poll() is None, apply.output()
    time.sleep(0.5)  # the outage lasts a little longer
    with sqlite3.connect(root / ".authctl" / "platform.db", timeout=30) as conn:
        conn.execute("DROP TRIGGER outage")
    assert apply.wait(timeout=120) == 0, apply.output()
    out = apply.stdout()
    assert "Apply complete: 10 applied." in out
    waited = [int(ms) for ms in re.findall(r"create Authorization/\S+ \.\.\. ok \((\d+) ms\)", out)]
    assert len(waited) == 5 and max(waited) >= 200, f"no create was retried: {waited}"
    world = read_world(root)
    assert_state_consistent(world)
    assert_no_duplicates(world)
    assert_no_orphans(world)
    assert len(world.auths) == 5 and len(world.all_jobs) == 5
    assert run_cli("plan", "--detailed-exitcode", cwd=root, env=env).returncode == 0
